package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime/pprof"
	"strconv"
	"sync/atomic"
	"time"

	"golang.org/x/sync/errgroup"

	"tranche.dev/tranche/core"
	"tranche.dev/tranche/core/bulk"
	"tranche.dev/tranche/core/catalog"
	"tranche.dev/tranche/core/demo"
	"tranche.dev/tranche/core/rss"
)

// benchResult is what a benchmark phase (a child process) reports.
type benchResult struct {
	Phase     string  `json:"phase"`
	Seconds   float64 `json:"seconds"`   // the download phase
	Total     float64 `json:"total"`     // including kick-off and polling
	Resources int64   `json:"resources"` // lines
	Bytes     int64   `json:"bytes"`     // uncompressed NDJSON bytes
	PeakRSSMB float64 `json:"peakRssMB"` // VmHWM of the phase's process
	// CPUSeconds is the CPU time of the phase's process, start-up included.
	CPUSeconds float64 `json:"cpuSeconds"`
	// The ingest phase's CPU seconds: the bare-insert floor and the
	// catalogue's insert path (see benchIngest).
	FloorCPU  float64 `json:"floorCpu,omitempty"`
	IngestCPU float64 `json:"ingestCpu,omitempty"`
	// AtPeak splits the highest RSS sampled during the phase.
	AtPeak memSample `json:"atPeak"`
}

// runBench runs "tranche bench": the demo server in this process, then two
// child processes so each peak RSS is its own: a plain parallel download of
// one export's files to disk (the baseline) and a full export into a fresh
// catalogue.
func runBench(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("tranche bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	patients := fs.Int("patients", 1000, "synthetic patients on the demo server")
	parallel := fs.Int("parallel", bulk.DefaultMaxParallel, "parallel downloads in both phases")
	phase := fs.String("phase", "", "internal: run one phase (baseline, export or ingest) against --url")
	target := fs.String("url", "", "internal: FHIR base URL for --phase")
	dir := fs.String("dir", "", "internal: working directory for --phase")
	cpuProfile := fs.String("cpuprofile", "", "write a CPU profile of the export phase to this file")
	if err := fs.Parse(args); err != nil {
		return err
	}
	ctx := context.Background()
	switch *phase {
	case "baseline":
		return benchPhase(stdout, func() (benchResult, error) { return benchBaseline(ctx, *target, *dir, *parallel) })
	case "export":
		if *cpuProfile != "" {
			f, err := os.Create(*cpuProfile)
			if err != nil {
				return err
			}
			defer f.Close()
			if err := pprof.StartCPUProfile(f); err != nil {
				return err
			}
			defer pprof.StopCPUProfile()
		}
		return benchPhase(stdout, func() (benchResult, error) { return benchExport(ctx, *target, *dir, *parallel) })
	case "ingest":
		return benchPhase(stdout, func() (benchResult, error) {
			return benchIngest(ctx, filepath.Join(*dir, "..", "baseline"), *dir)
		})
	case "":
	default:
		return &exitError{code: 2, err: fmt.Errorf("unknown phase %q", *phase)}
	}

	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	fmt.Fprintf(stdout, "Starting the demo server with %d patients...\n", *patients)
	srv := demo.NewServer(demo.Config{Patients: *patients, Seed: 1, Open: true, RetryAfter: 200 * time.Millisecond, MinPoll: -1, Logger: quiet})
	if err := srv.Open(); err != nil {
		return fmt.Errorf("demo server: %w", err)
	}
	defer srv.Close()
	work, err := os.MkdirTemp("", "tranche-bench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(work)
	self, err := os.Executable()
	if err != nil {
		return err
	}
	var results []benchResult
	for _, ph := range []string{"baseline", "export", "ingest"} {
		d := filepath.Join(work, ph)
		if err := os.MkdirAll(d, 0o700); err != nil {
			return err
		}
		cmd := exec.Command(self, "bench", "--phase", ph, "--url", srv.URL(), "--dir", d, "--parallel", strconv.Itoa(*parallel))
		if ph == "export" && *cpuProfile != "" {
			abs, err := filepath.Abs(*cpuProfile)
			if err != nil {
				return err
			}
			cmd.Args = append(cmd.Args, "--cpuprofile", abs)
		}
		cmd.Stderr = stderr
		out, err := cmd.Output()
		if err != nil {
			return fmt.Errorf("bench phase %s: %w", ph, err)
		}
		var r benchResult
		if err := json.Unmarshal(out, &r); err != nil {
			return fmt.Errorf("bench phase %s: %w (output %q)", ph, err, out)
		}
		results = append(results, r)
	}
	fmt.Fprintf(stdout, "%-9s %9s %9s %12s %9s %8s %10s\n", "phase", "seconds", "total s", "resources/s", "MB/s", "MB", "peak RSS")
	for _, r := range results[:2] {
		fmt.Fprintf(stdout, "%-9s %9.2f %9.2f %12.0f %9.1f %8.1f %7.1f MB\n", r.Phase, r.Seconds, r.Total,
			float64(r.Resources)/r.Seconds, float64(r.Bytes)/1e6/r.Seconds, float64(r.Bytes)/1e6, r.PeakRSSMB)
	}
	b, e := results[0], results[1]
	if b.Resources != e.Resources {
		fmt.Fprintf(stdout, "note: the phases moved different amounts (%d vs %d resources)\n", b.Resources, e.Resources)
	}
	fmt.Fprintf(stdout, "ratio (export MB/s over baseline MB/s, download phase): %.2f  (0.70 target retired: see README)\n",
		(float64(e.Bytes)/e.Seconds)/(float64(b.Bytes)/b.Seconds))
	pk := e.AtPeak
	fmt.Fprintf(stdout, "export peak RSS: %.1f MB (target <= 100 MB; at the highest sample: Go heap %.0f, free Go heap %.0f, Go runtime %.0f, outside Go %.0f MB)\n",
		e.PeakRSSMB, pk.HeapMB, pk.HeapFreeMB, pk.GoOtherMB, pk.OutsideMB)
	fmt.Fprintf(stdout, "export CPU: %.2f s per 100k resources (%.1f s in all)\n", e.CPUSeconds/float64(e.Resources)*1e5, e.CPUSeconds)
	if in := results[2]; in.FloorCPU > 0 {
		fmt.Fprintf(stdout, "ingest x-floor: %.2f  (catalogue insert path %.2f s over bare insert %.2f s of the same %d lines, CPU; target <= 2.0)\n",
			in.IngestCPU/in.FloorCPU, in.IngestCPU, in.FloorCPU, in.Resources)
	}
	return nil
}

func benchPhase(stdout io.Writer, run func() (benchResult, error)) error {
	var mem memSampler
	ctx, stop := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); mem.run(ctx, 20*time.Millisecond) }()
	r, err := run()
	stop()
	<-done
	if err != nil {
		return err
	}
	r.PeakRSSMB = rss.Peak()
	r.AtPeak = mem.atPeak()
	r.CPUSeconds = cpuTime().Seconds()
	return json.NewEncoder(stdout).Encode(r)
}

// benchBaseline kicks off an export, waits for the manifest and downloads
// its files to disk in parallel with nothing else: no parsing, no database.
func benchBaseline(ctx context.Context, base, dir string, parallel int) (benchResult, error) {
	start := time.Now()
	c := &bulk.Client{BaseURL: base, HTTPClient: http.DefaultClient, FileClient: http.DefaultClient}
	statusURL, _, err := c.Kickoff(ctx, core.ExportRequest{Level: core.LevelPatient})
	if err != nil {
		return benchResult{}, err
	}
	var m *bulk.Manifest
	for m == nil {
		st, err := c.Status(ctx, statusURL)
		if err != nil {
			return benchResult{}, err
		}
		if st.Done {
			m = st.Manifest
			break
		}
		time.Sleep(max(st.RetryAfter, 100*time.Millisecond))
	}
	dlStart := time.Now()
	var lines, size atomic.Int64
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(parallel)
	for i, f := range m.Files() {
		g.Go(func() error {
			req, err := http.NewRequestWithContext(gctx, http.MethodGet, f.URL, nil)
			if err != nil {
				return err
			}
			req.Header.Set("Accept", "application/fhir+ndjson")
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				return err
			}
			defer resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				return fmt.Errorf("GET %s: %s", f.URL, resp.Status)
			}
			out, err := os.Create(filepath.Join(dir, strconv.Itoa(i)+".ndjson"))
			if err != nil {
				return err
			}
			defer out.Close()
			n, err := io.Copy(out, resp.Body)
			size.Add(n)
			lines.Add(max(f.Count, 0))
			return err
		})
	}
	if err := g.Wait(); err != nil {
		return benchResult{}, err
	}
	c.Cancel(ctx, statusURL)
	end := time.Now()
	return benchResult{Phase: "baseline", Seconds: end.Sub(dlStart).Seconds(), Total: end.Sub(start).Seconds(),
		Resources: lines.Load(), Bytes: size.Load()}, nil
}

// benchExport runs a full export into a fresh catalogue, under the memory
// limit `tranche export` sets.
func benchExport(ctx context.Context, base, dir string, parallel int) (benchResult, error) {
	var memLimit goMemoryLimit
	defer memLimit.begin()()
	db := catalog.NewDB(filepath.Join(dir, "tranche.db"))
	db.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	if err := db.Open(); err != nil {
		return benchResult{}, err
	}
	defer db.Close()
	start := time.Now()
	var dlStart time.Time
	r := &bulk.Runner{
		Client:      &bulk.Client{BaseURL: base, HTTPClient: http.DefaultClient, FileClient: http.DefaultClient},
		Store:       db,
		MaxParallel: parallel,
		PollMin:     100 * time.Millisecond,
		OnEvent: func(ev core.Event) {
			if ev.Kind == core.EventStatusComplete && dlStart.IsZero() {
				dlStart = ev.Time
			}
		},
	}
	exp := &core.Export{FHIRBaseURL: base, Request: core.ExportRequest{Level: core.LevelPatient}}
	if err := r.Start(ctx, exp); err != nil {
		return benchResult{}, err
	}
	end := time.Now()
	files, err := db.FindFiles(ctx, exp.ID)
	if err != nil {
		return benchResult{}, err
	}
	res := benchResult{Phase: "export", Seconds: end.Sub(dlStart).Seconds(), Total: end.Sub(start).Seconds()}
	for _, f := range files {
		res.Resources += f.Lines
		res.Bytes += f.Bytes
	}
	if dlStart.IsZero() {
		return res, errors.New("no status_complete event")
	}
	return res, nil
}
