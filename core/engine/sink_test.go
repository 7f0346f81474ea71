package engine_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"tranche.dev/tranche/core"
	"tranche.dev/tranche/core/catalog"
	"tranche.dev/tranche/core/demo"
	"tranche.dev/tranche/core/demo/demotest"
	"tranche.dev/tranche/core/engine"
	"tranche.dev/tranche/core/registry"
	"tranche.dev/tranche/core/s3test"
)

// TestEngineSinkFollowsTheRegistration: a registration's exports land in
// its sink whichever front end starts them, naming no sink (the desktop
// app never does), and a stored sink export resumes into that sink, not
// into the catalogue. Before the rule moved into the engine, the app
// stored both in the catalogue.
func TestEngineSinkFollowsTheRegistration(t *testing.T) {
	s3 := s3test.Start(t)
	s3.MakeBucket(t, "lake")
	none := filepath.Join(t.TempDir(), "none")
	for k, v := range map[string]string{
		"AWS_ENDPOINT_URL": s3.URL(), "AWS_REGION": s3test.Region,
		"AWS_ACCESS_KEY_ID": s3test.AccessKey, "AWS_SECRET_ACCESS_KEY": s3test.SecretKey,
		"AWS_CONFIG_FILE": none, "AWS_SHARED_CREDENTIALS_FILE": none, "AWS_PROFILE": "",
	} {
		t.Setenv(k, v)
	}
	discard := slog.New(slog.NewTextHandler(io.Discard, nil))
	srv := demotest.Start(t, demo.Config{Patients: 5, Seed: 1, FileLines: 20, RetryAfter: 10 * time.Millisecond, MinPoll: -1})
	db := catalog.NewDB(filepath.Join(t.TempDir(), "tranche.db"))
	db.Logger = discard
	if err := db.Open(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	ctx := t.Context()
	if err := demo.ReadyRegistration(ctx, db, srv.URL(), srv.TokenURL()); err != nil {
		t.Fatal(err)
	}
	reg, err := db.FindRegistrationByName(ctx, demo.RegistrationName)
	if err != nil {
		t.Fatal(err)
	}
	reg.Sink = "s3://lake/ehr"
	if err := db.UpdateRegistration(ctx, reg); err != nil {
		t.Fatal(err)
	}
	keys := &registry.Registry{Store: db, SampleKeys: true}
	e := &engine.Engine{Store: db, LoadKey: keys.LoadKey, Logger: discard}

	// Stop the first run once a file is in the sink.
	runCtx, stop := context.WithCancel(ctx)
	defer stop()
	var landed []engine.SinkInfo
	exp := &core.Export{Request: core.ExportRequest{Level: core.LevelSystem}}
	err = e.Start(runCtx, exp, reg, engine.Options{Parallel: 1,
		OnSink: func(si engine.SinkInfo) { landed = append(landed, si) },
		OnEvent: func(ev core.Event) {
			if ev.Kind == core.EventDownloadComplete {
				stop()
			}
		}})
	if err == nil {
		t.Fatal("Start() = nil, want the run stopped after its first file")
	}
	if len(landed) != 1 || landed[0].Target != "s3://lake/ehr" {
		t.Fatalf("OnSink heard %+v, want one landing at s3://lake/ehr", landed)
	}
	if url, err := db.ExportSink(ctx, exp.ID); err != nil || url != "s3://lake/ehr" {
		t.Fatalf("ExportSink(%d) = %q, %v; want s3://lake/ehr recorded", exp.ID, url, err)
	}

	got, err := e.Resume(ctx, exp.ID, engine.Options{})
	if err != nil {
		t.Fatalf("Resume() = %v", err)
	}
	if got.State != core.StateComplete {
		t.Fatalf("after Resume: %s, want complete", got.State)
	}
	counts, err := db.Counts(ctx, 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(counts) != 0 {
		t.Errorf("catalogue counts after a sink export = %v, want none (the records are in the sink)", counts)
	}
	// Cancel and Release need no object storage: without credentials,
	// Cancel of the complete export gives the engine's rule, not the
	// sink's refusal.
	t.Setenv("AWS_ACCESS_KEY_ID", "")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "")
	if err := e.Cancel(ctx, exp.ID, engine.Options{}); !errors.Is(err, core.ErrFinished) {
		t.Errorf("Cancel(complete sink export, no credentials) = %v, want core.ErrFinished", err)
	}
	manifest := filepath.Join(s3.Root, "lake", "ehr", "exports", "export="+strconv.FormatInt(exp.ID, 10)+".json")
	if _, err := os.Stat(manifest); err != nil {
		t.Errorf("completion manifest: %v, want it in the sink", err)
	}
}
