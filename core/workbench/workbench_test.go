package workbench_test

import (
	"bytes"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"tranche.dev/tranche/core"
	"tranche.dev/tranche/core/bulk"
	"tranche.dev/tranche/core/catalog"
	"tranche.dev/tranche/core/demo"
	"tranche.dev/tranche/core/demo/demotest"
	"tranche.dev/tranche/core/tables"
	"tranche.dev/tranche/core/viewlib"
	"tranche.dev/tranche/core/workbench"
)

// demoCatalogue exports a small demo server's data into a new catalogue.
func demoCatalogue(t *testing.T) *catalog.DB {
	t.Helper()
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	srv := demotest.Start(t, demo.Config{Patients: 4, Seed: 1, Open: true, RetryAfter: 10 * time.Millisecond, MinPoll: -1})
	db := catalog.NewDB(filepath.Join(t.TempDir(), "tranche.db"))
	db.Logger = quiet
	if err := db.Open(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	r := &bulk.Runner{Client: &bulk.Client{BaseURL: srv.URL(), HTTPClient: http.DefaultClient, FileClient: http.DefaultClient, Logger: quiet},
		Store: db, PollMin: time.Millisecond, PollMax: 20 * time.Millisecond, Logger: quiet}
	if err := r.Start(t.Context(), &core.Export{FHIRBaseURL: srv.URL(), Request: core.ExportRequest{Level: core.LevelSystem}}); err != nil {
		t.Fatal(err)
	}
	return db
}

// TestWorkbench goes the Views tab's way with the demographics view:
// library, path sample, preview, a table, its pages and its file, the
// patient header, and a column profile.
func TestWorkbench(t *testing.T) {
	ctx := t.Context()
	w := &workbench.Workbench{DB: demoCatalogue(t)}
	var def []byte
	for _, v := range viewlib.All() {
		if v.Name == "patient_demographics" {
			def = v.JSON
		}
	}
	lib, err := w.Library(ctx)
	if err != nil || len(lib) < len(viewlib.All()) {
		t.Fatalf("Library() = %d views, %v; want at least the %d built-in ones", len(lib), err, len(viewlib.All()))
	}
	ps, err := w.Paths(ctx, "Patient")
	if err != nil || ps.Resources != 4 || len(ps.Paths) == 0 {
		t.Fatalf("Paths(Patient) = %+v, %v; want the 4 patients' paths", ps, err)
	}
	pv, err := w.Preview(ctx, def, 2)
	if err != nil || len(pv.Rows) != 2 || pv.Total != 4 {
		t.Fatalf("Preview(limit 2) = %+v, %v; want 2 rows of 4", pv, err)
	}
	st, err := w.Materialise(ctx, def, nil)
	if err != nil || st.Rows != 4 {
		t.Fatalf("Materialise() = %+v, %v; want 4 rows", st, err)
	}
	tp, err := w.TableRows(ctx, "patient_demographics", "", 1, 2)
	if err != nil || len(tp.Rows) != 2 || tp.Total != 4 {
		t.Fatalf("TableRows(offset 1, limit 2) = %+v, %v; want 2 rows of 4", tp, err)
	}
	var csv bytes.Buffer
	if n, err := w.WriteTable(ctx, "patient_demographics", &csv, tables.FormatCSV); err != nil || n != 4 || strings.Count(csv.String(), "\n") != 5 {
		t.Errorf("WriteTable(csv) = %d, %v, %d lines; want 4 rows and a header", n, err, strings.Count(csv.String(), "\n"))
	}
	id, _ := tp.Rows[0][0].(string)
	if _, err := w.Demographics(ctx, "Patient/"+id); err != nil {
		t.Errorf("Demographics(Patient/%s) = %v", id, err)
	}
	p, err := w.Profile(ctx, workbench.ProfileSource{Table: "patient_demographics"}, tp.Columns[0].Name)
	if err != nil || p == nil {
		t.Errorf("Profile(table, %s) = %v, %v", tp.Columns[0].Name, p, err)
	}
}

// TestResolve reads a view argument as a built-in name, a file, or
// neither.
func TestResolve(t *testing.T) {
	ctx := t.Context()
	if v, err := workbench.Resolve(ctx, nil, "patient_demographics"); err != nil || v.Resource() != "Patient" {
		t.Errorf("Resolve(built-in) = %v, %v; want the Patient view", v, err)
	}
	file := filepath.Join(t.TempDir(), "v.json")
	if err := os.WriteFile(file, []byte(`{"resourceType":"ViewDefinition","name":"ids","resource":"Observation","status":"active","select":[{"column":[{"name":"id","path":"id"}]}]}`), 0o600); err != nil {
		t.Fatal(err)
	}
	if v, err := workbench.Resolve(ctx, nil, file); err != nil || v.Resource() != "Observation" {
		t.Errorf("Resolve(file) = %v, %v; want the Observation view", v, err)
	}
	if _, err := workbench.Resolve(ctx, nil, "no_such_view"); !errors.Is(err, workbench.ErrNoSuchView) {
		t.Errorf("Resolve(unknown) = %v, want ErrNoSuchView", err)
	}
}
