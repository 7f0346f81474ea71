package sink_test

import (
	"errors"
	"io"
	"log/slog"
	"path/filepath"
	"testing"

	"tranche.dev/tranche/core"
	"tranche.dev/tranche/core/catalog"
	"tranche.dev/tranche/core/sink"
)

var _ sink.Recorder = (*catalog.DB)(nil)

func view(name string) []byte {
	return []byte(`{"resourceType":"ViewDefinition","name":"` + name + `","resource":"Patient","status":"active","select":[{"column":[{"name":"id","path":"id"}]}]}`)
}

// TestResumeOptions: a resumed sink export lands where it was started with
// the views recorded then; the same views may be given again, other ones
// are refused, and an export from before views were recorded takes the
// command's.
func TestResumeOptions(t *testing.T) {
	ctx := t.Context()
	db := catalog.NewDB(filepath.Join(t.TempDir(), "tranche.db"))
	db.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	if err := db.Open(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	mk := func() int64 {
		exp := &core.Export{FHIRBaseURL: "http://127.0.0.1:1/fhir", Request: core.ExportRequest{Level: core.LevelPatient}, State: core.StateDownloading}
		if err := db.CreateExport(ctx, exp); err != nil {
			t.Fatal(err)
		}
		return exp.ID
	}
	plain, withViews, older := mk(), mk(), mk()
	for _, id := range []int64{withViews, older} {
		if err := db.SetExportSink(ctx, id, "s3://lake/fhir"); err != nil {
			t.Fatal(err)
		}
	}
	if err := db.SetExportSinkViews(ctx, withViews, [][]byte{view("pats")}); err != nil {
		t.Fatal(err)
	}
	if o, err := sink.ResumeOptions(ctx, db, plain, nil); err != nil || o.URL != "" {
		t.Errorf("ResumeOptions(no sink) = %+v, %v; want no sink", o, err)
	}
	for _, given := range [][][]byte{nil, {view("pats")}} {
		o, err := sink.ResumeOptions(ctx, db, withViews, given)
		if err != nil || o.URL != "s3://lake/fhir" || len(o.Views) != 1 || string(o.Views[0]) != string(view("pats")) {
			t.Errorf("ResumeOptions(recorded views, given %d) = %+v, %v; want the sink and its view", len(given), o, err)
		}
	}
	if _, err := sink.ResumeOptions(ctx, db, withViews, [][]byte{view("other")}); !errors.Is(err, sink.ErrViewsChanged) {
		t.Errorf("ResumeOptions(other views) = %v, want ErrViewsChanged", err)
	}
	if o, err := sink.ResumeOptions(ctx, db, older, [][]byte{view("given")}); err != nil || len(o.Views) != 1 || string(o.Views[0]) != string(view("given")) {
		t.Errorf("ResumeOptions(no recorded views) = %+v, %v; want the given view", o, err)
	}
}

func TestParseViews(t *testing.T) {
	for _, tt := range []struct {
		name string
		defs [][]byte
		ok   bool
	}{
		{"two", [][]byte{view("a"), view("b_2")}, true},
		{"twice", [][]byte{view("a"), view("a")}, false},
		{"not a directory name", [][]byte{view("A b")}, false},
		{"not a view", [][]byte{[]byte(`{}`)}, false},
		{"export column", [][]byte{[]byte(`{"resourceType":"ViewDefinition","name":"x","resource":"Patient","status":"active","select":[{"column":[{"name":"Export","path":"id"}]}]}`)}, false},
	} {
		if _, err := sink.ParseViews(tt.defs); (err == nil) != tt.ok {
			t.Errorf("ParseViews(%s) = %v, want ok %v", tt.name, err, tt.ok)
		}
	}
}

// TestOpenWithoutCredentials: a sink with no credentials anywhere in the
// AWS environment is refused when it is opened, before an export starts,
// not at its first upload; with them it opens.
func TestOpenWithoutCredentials(t *testing.T) {
	t.Setenv("AWS_ACCESS_KEY_ID", "")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "")
	none := filepath.Join(t.TempDir(), "none")
	env := map[string]string{"AWS_ENDPOINT_URL": "http://127.0.0.1:9", "AWS_REGION": "us-east-1",
		"AWS_CONFIG_FILE": none, "AWS_SHARED_CREDENTIALS_FILE": none}
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", none) // the credentials chain reads the process's
	db := catalog.NewDB(filepath.Join(t.TempDir(), "tranche.db"))
	db.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	if err := db.Open(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	getenv := func(k string) string { return env[k] }
	if _, _, err := sink.Open(db, sink.Options{URL: "s3://lake/ehr", Getenv: getenv}); !errors.Is(err, sink.ErrNoCredentials) {
		t.Fatalf("Open() without credentials = %v, want ErrNoCredentials", err)
	}
	t.Setenv("AWS_ACCESS_KEY_ID", "tranche-test")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "not-a-real-secret")
	if _, endpoint, err := sink.Open(db, sink.Options{URL: "s3://lake/ehr", Getenv: getenv}); err != nil || endpoint != "127.0.0.1:9" {
		t.Fatalf("Open() with credentials = %q, %v; want it open at 127.0.0.1:9", endpoint, err)
	}
}
