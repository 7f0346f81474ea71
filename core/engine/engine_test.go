package engine_test

import (
	"errors"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"tranche.dev/tranche/core"
	"tranche.dev/tranche/core/bulk"
	"tranche.dev/tranche/core/catalog"
	"tranche.dev/tranche/core/demo"
	"tranche.dev/tranche/core/demo/demotest"
	"tranche.dev/tranche/core/engine"
	"tranche.dev/tranche/core/smart"
)

func newEngine(t *testing.T) (*engine.Engine, *demo.Server) {
	t.Helper()
	discard := slog.New(slog.NewTextHandler(io.Discard, nil))
	srv := demotest.Start(t, demo.Config{Open: true, Patients: 5, Seed: 1, RetryAfter: 10 * time.Millisecond, MinPoll: -1})
	db := catalog.NewDB(filepath.Join(t.TempDir(), "tranche.db"))
	db.Logger = discard
	if err := db.Open(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return &engine.Engine{Store: db, Logger: discard}, srv
}

// The control actions follow core.Export's rules whichever front end
// calls them.
func TestEngineControlActions(t *testing.T) {
	e, srv := newEngine(t)
	ctx := t.Context()
	exp := &core.Export{FHIRBaseURL: srv.URL(), Request: core.ExportRequest{Level: core.LevelPatient}}
	if err := e.Start(ctx, exp, nil, engine.Options{KeepJob: true}); err != nil {
		t.Fatalf("Start() = %v", err)
	}
	if _, err := e.Resume(ctx, exp.ID, engine.Options{}); !errors.Is(err, core.ErrFinished) {
		t.Errorf("Resume(complete) = %v, want core.ErrFinished", err)
	}
	if err := e.Cancel(ctx, exp.ID, engine.Options{}); !errors.Is(err, core.ErrFinished) {
		t.Errorf("Cancel(complete) = %v, want core.ErrFinished", err)
	}
	if _, err := e.RetryFailed(ctx, exp.ID, engine.Options{}); !errors.Is(err, bulk.ErrNothingToRetry) {
		t.Errorf("RetryFailed(nothing failed) = %v, want bulk.ErrNothingToRetry", err)
	}
	if err := e.Release(ctx, exp.ID, engine.Options{}); err != nil {
		t.Fatalf("Release(complete) = %v, want nil", err)
	}
	got, err := e.Store.FindExport(ctx, exp.ID)
	if err != nil || !got.Released || got.State != core.StateComplete {
		t.Errorf("after Release: %+v, %v; want complete and released", got, err)
	}
	if err := e.Release(ctx, exp.ID, engine.Options{}); !errors.Is(err, bulk.ErrNothingToRelease) {
		t.Errorf("Release(released) = %v, want bulk.ErrNothingToRelease", err)
	}
}

// Files gone from the server (410) end the export as expired, which no
// retry can help: RetryFailed refuses it.
func TestEngineExpiredIsFinal(t *testing.T) {
	e, srv := newEngine(t)
	ctx := t.Context()
	srv.SetFaults(demo.Faults{ExpiredFiles: true})
	exp := &core.Export{FHIRBaseURL: srv.URL(), Request: core.ExportRequest{Level: core.LevelPatient, Types: []string{"Patient"}}}
	err := e.Start(ctx, exp, nil, engine.Options{})
	if !errors.Is(err, core.ErrExpired) {
		t.Fatalf("Start() with expired files = %v, want core.ErrExpired", err)
	}
	if _, err := e.RetryFailed(ctx, exp.ID, engine.Options{}); !errors.Is(err, core.ErrFinished) {
		t.Errorf("RetryFailed(expired) = %v, want core.ErrFinished: only a fresh export helps", err)
	}
}

// A wrong key is the first thing said, as the token endpoint put it, and
// nothing is recorded or kicked off.
func TestEngineRefusedTokenFirst(t *testing.T) {
	srv := demotest.Start(t, demo.Config{Patients: 2, Seed: 1})
	e, _ := newEngine(t)
	key, err := smart.GenerateKey(smart.ES384, 0) // not the key the demo client registered
	if err != nil {
		t.Fatal(err)
	}
	exp := &core.Export{FHIRBaseURL: srv.URL(), Request: core.ExportRequest{Level: core.LevelSystem}}
	err = e.Start(t.Context(), exp, nil, engine.Options{Auth: &engine.Auth{ClientID: demo.DemoClientES384,
		TokenURL: srv.TokenURL(), Scopes: []string{"system/*.rs"}, Key: key}})
	if err == nil || !strings.HasPrefix(err.Error(), "the token request was refused: invalid_client") {
		t.Fatalf("Start() with a wrong key = %v, want it to begin with %q", err, "the token request was refused: invalid_client")
	}
	if exp.ID != 0 {
		t.Errorf("export recorded as %d, want nothing recorded before a token is had", exp.ID)
	}
}

// TestEngineLogs: with Logs set, every run's events go to its export's
// log.ndjson, whichever front end asked, and the file is closed when the
// run returns.
func TestEngineLogs(t *testing.T) {
	e, srv := newEngine(t)
	dir := t.TempDir()
	e.Logs = &bulk.LogDir{Dir: dir}
	ctx := t.Context()
	var heard atomic.Int64 // events the log keeps (not the progress ones)
	exp := &core.Export{FHIRBaseURL: srv.URL(), Request: core.ExportRequest{Level: core.LevelPatient}}
	err := e.Start(ctx, exp, nil, engine.Options{OnEvent: func(ev core.Event) {
		if ev.Kind != core.EventStatusProgress && ev.Kind != core.EventDownloadProgress {
			heard.Add(1)
		}
	}})
	if err != nil {
		t.Fatalf("Start() = %v", err)
	}
	data, err := os.ReadFile(filepath.Join(dir, strconv.FormatInt(exp.ID, 10), "log.ndjson"))
	if err != nil {
		t.Fatal(err)
	}
	if lines := int64(strings.Count(string(data), "\n")); heard.Load() == 0 || lines != heard.Load() {
		t.Errorf("log.ndjson holds %d lines, the caller heard %d events; want each logged once", lines, heard.Load())
	}
	fds, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Fatal(err)
	}
	for _, fd := range fds {
		if target, err := os.Readlink(filepath.Join("/proc/self/fd", fd.Name())); err == nil && strings.HasPrefix(target, dir) {
			t.Errorf("%s is still open after the runs returned", target)
		}
	}
}
