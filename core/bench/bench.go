// Package bench measures Tranche's export against a plain download of the
// same export, each phase in its own process so each peak RSS is its own
// (tranche bench, make bench): a plain parallel download of one export's
// files to disk (the baseline), a full export into a fresh catalogue, and
// the catalogue's insert path against SQLite's bare-insert floor on the
// baseline's files.
package bench

import (
	"context"
	"encoding/json"
	"errors"
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
	"tranche.dev/tranche/core/engine"
	"tranche.dev/tranche/core/rss"
)

// Result is what a benchmark phase (a child process) reports.
type Result struct {
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
	AtPeak MemSample `json:"atPeak"`
}

// Phases are the phases Compare runs, in order.
var Phases = []string{"baseline", "export", "ingest"}

// RunPhase runs one phase against the FHIR server at base, working in dir,
// and reports it (in the process it runs in). cpuProfile, if set, is
// where the export phase writes a CPU profile.
func RunPhase(ctx context.Context, phase, base, dir string, parallel int, cpuProfile string) (Result, error) {
	switch phase {
	case "baseline":
		return measure(func() (Result, error) { return baseline(ctx, base, dir, parallel) })
	case "export":
		if cpuProfile != "" {
			f, err := os.Create(cpuProfile)
			if err != nil {
				return Result{}, err
			}
			defer f.Close()
			if err := pprof.StartCPUProfile(f); err != nil {
				return Result{}, err
			}
			defer pprof.StopCPUProfile()
		}
		return measure(func() (Result, error) { return export(ctx, base, dir, parallel) })
	case "ingest":
		return measure(func() (Result, error) { return ingest(ctx, filepath.Join(dir, "..", "baseline"), dir) })
	}
	return Result{}, fmt.Errorf("unknown phase %q", phase)
}

// Config is one comparison.
type Config struct {
	Patients   int
	Parallel   int
	CPUProfile string // a CPU profile of the export phase, if set
	// Command runs one phase in a child process (tranche bench --phase):
	// its stdout is the phase's Result as JSON.
	Command func(phase, base, dir string) *exec.Cmd
	Stderr  io.Writer
	// Started, if set, is told the demo server is up.
	Started func()
}

// Compare starts the demo server with cfg.Patients and runs each of Phases
// in a child process against it, returning their results in order.
func Compare(ctx context.Context, cfg Config) ([]Result, error) {
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	srv := demo.NewServer(demo.Config{Patients: cfg.Patients, Seed: 1, Open: true, RetryAfter: 200 * time.Millisecond, MinPoll: -1, Logger: quiet})
	if err := srv.Open(); err != nil {
		return nil, fmt.Errorf("demo server: %w", err)
	}
	defer srv.Close()
	if cfg.Started != nil {
		cfg.Started()
	}
	work, err := os.MkdirTemp("", "tranche-bench-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(work)
	var results []Result
	for _, ph := range Phases {
		d := filepath.Join(work, ph)
		if err := os.MkdirAll(d, 0o700); err != nil {
			return nil, err
		}
		cmd := cfg.Command(ph, srv.URL(), d)
		cmd.Args = append(cmd.Args, "--parallel", strconv.Itoa(cfg.Parallel))
		if ph == "export" && cfg.CPUProfile != "" {
			abs, err := filepath.Abs(cfg.CPUProfile)
			if err != nil {
				return nil, err
			}
			cmd.Args = append(cmd.Args, "--cpuprofile", abs)
		}
		cmd.Stderr = cfg.Stderr
		out, err := cmd.Output()
		if err != nil {
			return nil, fmt.Errorf("bench phase %s: %w", ph, err)
		}
		var r Result
		if err := json.Unmarshal(out, &r); err != nil {
			return nil, fmt.Errorf("bench phase %s: %w (output %q)", ph, err, out)
		}
		results = append(results, r)
	}
	return results, nil
}

// measure runs one phase and adds its process's peak RSS, the memory
// split at the highest sample, and the CPU time.
func measure(run func() (Result, error)) (Result, error) {
	var mem memSampler
	ctx, stop := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); mem.run(ctx, 20*time.Millisecond) }()
	r, err := run()
	stop()
	<-done
	if err != nil {
		return r, err
	}
	r.PeakRSSMB = rss.Peak()
	r.AtPeak = mem.atPeak()
	r.CPUSeconds = rss.CPUTime().Seconds()
	return r, nil
}

// baseline kicks off an export, waits for the manifest and downloads
// its files to disk in parallel with nothing else: no parsing, no database.
func baseline(ctx context.Context, base, dir string, parallel int) (Result, error) {
	start := time.Now()
	c := &bulk.Client{BaseURL: base, HTTPClient: http.DefaultClient, FileClient: http.DefaultClient}
	statusURL, _, err := c.Kickoff(ctx, core.ExportRequest{Level: core.LevelPatient})
	if err != nil {
		return Result{}, err
	}
	var m *bulk.Manifest
	for m == nil {
		st, err := c.Status(ctx, statusURL)
		if err != nil {
			return Result{}, err
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
		return Result{}, err
	}
	c.Cancel(ctx, statusURL)
	end := time.Now()
	return Result{Phase: "baseline", Seconds: end.Sub(dlStart).Seconds(), Total: end.Sub(start).Seconds(),
		Resources: lines.Load(), Bytes: size.Load()}, nil
}

// export runs a full export into a fresh catalogue, under the memory
// limit `tranche export` sets.
func export(ctx context.Context, base, dir string, parallel int) (Result, error) {
	db := catalog.NewDB(filepath.Join(dir, "tranche.db"))
	discard := slog.New(slog.NewTextHandler(io.Discard, nil))
	db.Logger = discard
	if err := db.Open(); err != nil {
		return Result{}, err
	}
	defer db.Close()
	start := time.Now()
	var dlStart time.Time
	// The engine that runs tranche export, with its transport and its
	// memory limit.
	e := &engine.Engine{Store: db, Logger: discard}
	exp := &core.Export{FHIRBaseURL: base, Request: core.ExportRequest{Level: core.LevelPatient}}
	err := e.Start(ctx, exp, nil, engine.Options{Parallel: parallel, PollMin: 100 * time.Millisecond,
		OnEvent: func(ev core.Event) {
			if ev.Kind == core.EventStatusComplete && dlStart.IsZero() {
				dlStart = ev.Time
			}
		}})
	if err != nil {
		return Result{}, err
	}
	end := time.Now()
	files, err := db.FindFiles(ctx, exp.ID)
	if err != nil {
		return Result{}, err
	}
	res := Result{Phase: "export", Seconds: end.Sub(dlStart).Seconds(), Total: end.Sub(start).Seconds()}
	for _, f := range files {
		res.Resources += f.Lines
		res.Bytes += f.Bytes
	}
	if dlStart.IsZero() {
		return res, errors.New("no status_complete event")
	}
	return res, nil
}
