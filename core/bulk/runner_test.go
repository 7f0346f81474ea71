package bulk_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"tranche.dev/tranche/core"
	"tranche.dev/tranche/core/bulk"
	"tranche.dev/tranche/core/catalog"
	"tranche.dev/tranche/core/demo"
	"tranche.dev/tranche/core/demo/demotest"
)

func mustOpenDB(tb testing.TB) *catalog.DB {
	tb.Helper()
	db := catalog.NewDB(filepath.Join(tb.TempDir(), "tranche.db"))
	db.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	if err := db.Open(); err != nil {
		tb.Fatalf("open catalog: %v", err)
	}
	tb.Cleanup(func() { db.Close() })
	return db
}

func mustOpenDemo(tb testing.TB, cfg demo.Config) *demo.Server {
	tb.Helper()
	if cfg.Patients == 0 {
		cfg.Patients = 20
	}
	cfg.Seed = 1
	cfg.RetryAfter = time.Millisecond * 10
	cfg.MinPoll = -1
	cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	s := demotest.Start(tb, cfg)
	return s
}

// events collects a run's events.
type events struct {
	mu  sync.Mutex
	evs []core.Event
	log bytes.Buffer
	lw  *bulk.LogWriter
}

func (e *events) handle(ev core.Event) {
	e.mu.Lock()
	e.evs = append(e.evs, ev)
	e.mu.Unlock()
	e.lw.Handle(ev)
}

func (e *events) kinds(kind core.EventKind) []core.Event {
	e.mu.Lock()
	defer e.mu.Unlock()
	var out []core.Event
	for _, ev := range e.evs {
		if ev.Kind == kind {
			out = append(out, ev)
		}
	}
	return out
}

// sleeps records requested sleeps and returns at once.
type sleeps struct {
	mu sync.Mutex
	ds []time.Duration
}

func (s *sleeps) sleep(ctx context.Context, d time.Duration) error {
	s.mu.Lock()
	s.ds = append(s.ds, d)
	s.mu.Unlock()
	// Yield briefly so a server-side job clock moves on.
	t := time.NewTimer(time.Millisecond)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func newRunner(tb testing.TB, base string, hc *http.Client, store core.ExportStore) (*bulk.Runner, *events, *sleeps) {
	ev := &events{}
	ev.lw = &bulk.LogWriter{W: &ev.log, Progress: true}
	sl := &sleeps{}
	r := &bulk.Runner{
		Client:     &bulk.Client{BaseURL: base, HTTPClient: hc, FileClient: http.DefaultClient, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))},
		Store:      store,
		PollMin:    time.Millisecond,
		PollMax:    50 * time.Millisecond,
		BatchLines: 50,
		OnEvent:    ev.handle,
		Logger:     slog.New(slog.NewTextHandler(io.Discard, nil)),
		Sleep:      sl.sleep,
	}
	return r, ev, sl
}

// checkCatalogue compares every file's stored lines with its manifest count,
// and the catalogue's per-type counts with the manifest's.
func checkCatalogue(tb testing.TB, db *catalog.DB, exp *core.Export) {
	tb.Helper()
	ctx := context.Background()
	files, err := db.FindFiles(ctx, exp.ID)
	if err != nil {
		tb.Fatal(err)
	}
	if len(files) == 0 {
		tb.Fatalf("export %d has no files", exp.ID)
	}
	want := map[string]int64{}
	for _, f := range files {
		if f.State != core.FileLoaded {
			tb.Errorf("file %s state = %s (%s), want loaded", f.URL, f.State, f.Error)
		}
		if f.Count >= 0 && f.Lines != f.Count {
			tb.Errorf("file %s lines = %d, want manifest count %d", f.URL, f.Lines, f.Count)
		}
		if f.Kind == core.KindOutput {
			want[f.Type] += f.Count
		}
	}
	counts, err := db.Counts(ctx, exp.ID)
	if err != nil {
		tb.Fatal(err)
	}
	got := map[string]int64{}
	for _, c := range counts {
		got[c.Type] = int64(c.Count)
	}
	for typ, n := range want {
		if got[typ] != n {
			tb.Errorf("catalogue %s = %d resources, want %d (manifest)", typ, got[typ], n)
		}
	}
}

func TestRunnerOpenPatientLevel(t *testing.T) {
	srv := mustOpenDemo(t, demo.Config{Open: true, FileLines: 100})
	db := mustOpenDB(t)
	r, ev, _ := newRunner(t, srv.URL(), http.DefaultClient, db)
	exp := &core.Export{FHIRBaseURL: srv.URL(), Request: core.ExportRequest{Level: core.LevelPatient}}
	if err := r.Start(t.Context(), exp); err != nil {
		t.Fatalf("Start() = %v", err)
	}
	got, err := db.FindExport(t.Context(), exp.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.State != core.StateComplete || !got.Released || got.TransactionTime == "" {
		t.Errorf("export state %s released %v transactionTime %q; want complete, released, set", got.State, got.Released, got.TransactionTime)
	}
	checkCatalogue(t, db, got)
	for _, k := range []core.EventKind{core.EventKickoff, core.EventStatusComplete, core.EventManifestComplete, core.EventDownloadRequest, core.EventDownloadComplete, core.EventExportComplete} {
		if len(ev.kinds(k)) == 0 {
			t.Errorf("no %s event", k)
		}
	}
	// The log is BDC-shaped NDJSON.
	for i, line := range strings.Split(strings.TrimSpace(ev.log.String()), "\n") {
		var item struct {
			ExportID    string         `json:"exportId"`
			Timestamp   string         `json:"timestamp"`
			EventID     string         `json:"eventId"`
			EventDetail map[string]any `json:"eventDetail"`
		}
		if err := json.Unmarshal([]byte(line), &item); err != nil || item.ExportID != got.StatusURL || item.EventID == "" || item.Timestamp == "" {
			t.Fatalf("log line %d = %s (err %v); want exportId %s, eventId, timestamp", i+1, line, err, got.StatusURL)
		}
	}
}
