package sink_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime/debug"
	"runtime/pprof"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"
	"golang.org/x/sync/errgroup"

	"tranche.dev/tranche/core"
	"tranche.dev/tranche/core/bulk"
	"tranche.dev/tranche/core/catalog"
	"tranche.dev/tranche/core/demo"
	"tranche.dev/tranche/core/rss"
	"tranche.dev/tranche/core/s3test"
	"tranche.dev/tranche/core/sink"
	"tranche.dev/tranche/core/sink/sinktest"
)

// TestMain doubles as the sink benchmark's child: with
// TRANCHE_SINK_BENCH=1 the test binary runs one export into the sink and
// prints its result, so its peak RSS is the sink's alone (not the demo
// server's, which runs in the parent, nor versitygw's).
func TestMain(m *testing.M) {
	if os.Getenv("TRANCHE_SINK_BENCH") != "1" {
		os.Exit(m.Run())
	}
	if err := benchChild(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	os.Exit(0)
}

type benchResult struct {
	Seconds   float64 `json:"seconds"` // from the manifest to the completion manifest
	Bytes     int64   `json:"bytes"`   // NDJSON bytes served
	Resources int64   `json:"resources"`
	Files     []int64 `json:"files"` // each file's bytes
	PeakRSSMB float64 `json:"peak_rss_mb"`
}

func benchChild() error {
	ctx := context.Background()
	if os.Getenv("GOMEMLIMIT") == "" {
		debug.SetMemoryLimit(sink.MemoryLimit) // as tranche export --sink does
	}
	base, endpoint, dir := os.Getenv("BENCH_FHIR"), os.Getenv("BENCH_S3"), os.Getenv("BENCH_DIR")
	c, err := minio.NewCore(endpoint, &minio.Options{Creds: credentials.NewStaticV4(s3test.AccessKey, s3test.SecretKey, ""), Region: s3test.Region})
	if err != nil {
		return err
	}
	db := catalog.NewDB(filepath.Join(dir, "tranche.db"))
	db.Logger = quiet
	if err := db.Open(); err != nil {
		return err
	}
	defer db.Close()
	st := &sink.Store{Inner: db, Client: c, Target: sink.Target{Bucket: "lake", Prefix: os.Getenv("BENCH_PREFIX")}, TempDir: dir, Logger: quiet}
	var dlStart time.Time
	r := &bulk.Runner{
		Client:  &bulk.Client{BaseURL: base, HTTPClient: http.DefaultClient, FileClient: http.DefaultClient, Logger: quiet},
		Store:   st,
		PollMin: 50 * time.Millisecond,
		Logger:  quiet,
		OnEvent: func(ev core.Event) {
			if ev.Kind == core.EventStatusComplete && dlStart.IsZero() {
				dlStart = ev.Time
			}
		},
	}
	exp := &core.Export{FHIRBaseURL: base, Request: core.ExportRequest{Level: core.LevelPatient}}
	if p := os.Getenv("BENCH_CPUPROFILE"); p != "" {
		f, err := os.Create(p)
		if err != nil {
			return err
		}
		defer f.Close()
		pprof.StartCPUProfile(f)
		defer pprof.StopCPUProfile()
	}
	if err := r.Start(ctx, exp); err != nil {
		return err
	}
	if p := os.Getenv("BENCH_MEMPROFILE"); p != "" {
		f, err := os.Create(p)
		if err != nil {
			return err
		}
		defer f.Close()
		pprof.WriteHeapProfile(f)
	}
	res := benchResult{Seconds: time.Since(dlStart).Seconds(), PeakRSSMB: rss.Peak()}
	files, err := db.FindFiles(ctx, exp.ID)
	if err != nil {
		return err
	}
	for _, f := range files {
		res.Bytes += f.Bytes
		res.Resources += f.Lines
		res.Files = append(res.Files, f.Bytes)
	}
	return json.NewEncoder(os.Stdout).Encode(res)
}

// BenchmarkSink exports the demo server's patients into versitygw through
// the sink (in a child process, for its own peak RSS), then uploads the
// same bytes, file for file, with plain parallel PUTs to the same server:
// ratio is the sink's MB/s over the plain upload's, both measured here.
// Peak RSS at 200 and 1,000 patients shows memory flat in export size.
func BenchmarkSink(b *testing.B) {
	for _, patients := range []int{200, 1000} {
		b.Run(fmt.Sprintf("patients=%d", patients), func(b *testing.B) { benchSink(b, patients) })
	}
}

func benchSink(b *testing.B, patients int) {
	srv := mustOpenDemo(b, demo.Config{Patients: patients})
	s3 := s3test.Start(b)
	c, err := minio.NewCore(s3.Endpoint, &minio.Options{Creds: credentials.NewStaticV4(s3test.AccessKey, s3test.SecretKey, ""), Region: s3test.Region})
	if err != nil {
		b.Fatal(err)
	}
	if err := c.MakeBucket(b.Context(), "lake", minio.MakeBucketOptions{Region: s3test.Region}); err != nil {
		b.Fatal(err)
	}
	var sinkSec, plainSec, downSec, rss float64
	var total int64
	i := 0
	for b.Loop() {
		i++
		dir := b.TempDir()
		cmd := exec.Command(os.Args[0], "-test.run=^$")
		cmd.Env = append(os.Environ(), "TRANCHE_SINK_BENCH=1", "BENCH_FHIR="+srv.URL(), "BENCH_S3="+s3.Endpoint,
			"BENCH_DIR="+dir, "BENCH_PREFIX=sink/"+strconv.Itoa(i))
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		if p := os.Getenv("BENCH_CHILD_STDERR"); p != "" {
			f, err := os.Create(p)
			if err != nil {
				b.Fatal(err)
			}
			defer f.Close()
			cmd.Stderr = f
		}
		out, err := cmd.Output()
		if err != nil {
			b.Fatalf("sink child: %v\n%s", err, stderr.String())
		}
		var res benchResult
		if err := json.Unmarshal(out, &res); err != nil {
			b.Fatalf("sink child: %v (%q)", err, out)
		}
		// The run is also an end-to-end check at this size: every object
		// read back against the catalogue's record of the export.
		b.StopTimer()
		checkChild(b, c, dir, "sink/"+strconv.Itoa(i))
		b.StartTimer()
		sec, err := plainUpload(b.Context(), c, "plain/"+strconv.Itoa(i), res.Files)
		if err != nil {
			b.Fatal(err)
		}
		dlSec, dlBytes, err := plainDownload(b.Context(), srv.URL())
		if err != nil {
			b.Fatal(err)
		}
		if dlBytes != res.Bytes {
			b.Fatalf("plain download moved %d bytes, the sink %d", dlBytes, res.Bytes)
		}
		sinkSec += res.Seconds
		plainSec += sec
		downSec += dlSec
		rss = max(rss, res.PeakRSSMB)
		total += res.Bytes
	}
	mb := float64(total) / 1e6
	b.ReportMetric(mb/sinkSec, "sink_MB/s")
	b.ReportMetric(mb/plainSec, "plain_upload_MB/s")
	b.ReportMetric((mb/sinkSec)/(mb/plainSec), "ratio")
	// The sink cannot beat the download it lands: the demo server's
	// plain parallel download, measured here too, is its ceiling.
	b.ReportMetric(mb/downSec, "plain_download_MB/s")
	b.ReportMetric(rss, "peak_RSS_MB")
	b.ReportMetric(float64(total)/float64(i)/1e6, "export_MB")
}

// checkChild compares what the child wrote under prefix with its catalogue.
func checkChild(b *testing.B, c *minio.Core, dir, prefix string) {
	b.Helper()
	db := catalog.NewDB(filepath.Join(dir, "tranche.db"))
	db.Logger = quiet
	if err := db.Open(); err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	files, err := db.FindFiles(b.Context(), 1)
	if err != nil {
		b.Fatal(err)
	}
	sinktest.Check(b, c, "lake", prefix, 1, files)
}

// plainUpload PUTs objects of the given sizes, four at a time (the
// runner's default parallelism), and returns the seconds it took.
func plainUpload(ctx context.Context, c *minio.Core, prefix string, sizes []int64) (float64, error) {
	start := time.Now()
	var g errgroup.Group
	g.SetLimit(bulk.DefaultMaxParallel)
	for i, n := range sizes {
		g.Go(func() error {
			_, err := c.Client.PutObject(ctx, "lake", fmt.Sprintf("%s/%06d.ndjson", prefix, i), io.LimitReader(zeros{}, n), n,
				minio.PutObjectOptions{ContentType: "application/fhir+ndjson"})
			return err
		})
	}
	err := g.Wait()
	return time.Since(start).Seconds(), err
}

// plainDownload kicks off an export on the demo server and GETs its files
// four at a time into nothing: no parsing, no storage.
func plainDownload(ctx context.Context, base string) (float64, int64, error) {
	c := &bulk.Client{BaseURL: base, HTTPClient: http.DefaultClient, FileClient: http.DefaultClient, Logger: quiet}
	statusURL, _, err := c.Kickoff(ctx, core.ExportRequest{Level: core.LevelPatient})
	if err != nil {
		return 0, 0, err
	}
	defer c.Cancel(context.WithoutCancel(ctx), statusURL)
	var m *bulk.Manifest
	for m == nil {
		st, err := c.Status(ctx, statusURL)
		if err != nil {
			return 0, 0, err
		}
		if st.Done {
			m = st.Manifest
			break
		}
		time.Sleep(50 * time.Millisecond) // the demo's job clock, not a goroutine
	}
	start := time.Now()
	var size atomic.Int64
	var g errgroup.Group
	g.SetLimit(bulk.DefaultMaxParallel)
	for _, f := range m.Files() {
		g.Go(func() error {
			req, err := http.NewRequestWithContext(ctx, http.MethodGet, f.URL, nil)
			if err != nil {
				return err
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				return err
			}
			defer resp.Body.Close()
			n, err := io.Copy(io.Discard, resp.Body)
			size.Add(n)
			return err
		})
	}
	err = g.Wait()
	return time.Since(start).Seconds(), size.Load(), err
}

// zeros reads as an endless run of spaces: the baseline's bytes cost
// nothing to make.
type zeros struct{}

func (zeros) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = ' '
	}
	return len(p), nil
}
