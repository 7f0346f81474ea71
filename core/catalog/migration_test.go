package catalog_test

import (
	"database/sql"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/google/go-cmp/cmp"
	"tranche.dev/tranche/core"
	"tranche.dev/tranche/core/catalog"
)

// TestDB_MigratePatientIndex opens a catalogue written with the schema of
// migrations 0001-0002, whose patient index was resources_patient, and
// checks that 0003 moves the merged lines into resource_patients, and
// 0004 into patient_runs, with the lines not merged pending: a
// patient's resources are found as before, those of a file still
// downloading once it is loaded, and the old index is gone.
func TestDB_MigratePatientIndex(t *testing.T) {
	path := filepath.Join(t.TempDir(), "old.db")
	old, err := sql.Open("sqlite", "file:"+path+"?_pragma=page_size(32768)&_pragma=journal_mode(WAL)")
	if err != nil {
		t.Fatal(err)
	}
	old.SetMaxOpenConns(1)
	mustExec := func(q string, args ...any) {
		t.Helper()
		if _, err := old.Exec(q, args...); err != nil {
			t.Fatalf("%.60s: %v", q, err)
		}
	}
	mustExec(`CREATE TABLE migrations (name TEXT PRIMARY KEY)`)
	for _, name := range []string{"0001_init.sql", "0002_sink.sql", "0002_view_tables.sql"} {
		b, err := os.ReadFile(filepath.Join("migration", name))
		if err != nil {
			t.Fatal(err)
		}
		mustExec(string(b))
		mustExec(`INSERT INTO migrations (name) VALUES (?)`, "migration/"+name)
	}
	// One export: file 1 loaded (merged through line 4), file 2 still
	// downloading (nothing merged), each with lines of patient p1.
	mustExec(`INSERT INTO exports (id, state, tt, created_at, updated_at) VALUES (1, 'complete', 1, '', '')`)
	mustExec(`INSERT INTO files (id, export_id, kind, type, url, state, lines, merged) VALUES
		(1, 1, 'output', 'Observation', 'http://127.0.0.1/1', 'loaded', 4, 4),
		(2, 1, 'output', 'Observation', 'http://127.0.0.1/2', 'downloading', 1, 0)`)
	for _, r := range []struct {
		file, line  int64
		id, patient string
	}{{1, 1, "o1", "p1"}, {1, 2, "o2", "p2"}, {1, 3, "o3", "p1"}, {1, 4, "o5", "p1"}, {2, 1, "o4", "p1"}} {
		rid := r.file<<32 | r.line
		mustExec(`INSERT INTO resources (rid, file_id, export_id, line, type, res_id, patient, raw)
			VALUES (?, ?, 1, ?, 'Observation', ?, ?, ?)`, rid, r.file, r.line, r.id, "Patient/"+r.patient,
			observation(r.id, r.patient, "x", 1))
		if r.file == 1 {
			mustExec(`INSERT INTO latest (type, res_id, rid, tt, export_id) VALUES ('Observation', ?, ?, 1, 1)`, r.id, rid)
		}
	}
	if err := old.Close(); err != nil {
		t.Fatal(err)
	}

	db := NewTestDB(path)
	if err := db.Open(); err != nil {
		t.Fatalf("Open(old catalogue) = %v", err)
	}
	patientIDs := func(f catalog.ResourceFilter) []string {
		t.Helper()
		page, err := db.Resources(t.Context(), f)
		if err != nil {
			t.Fatal(err)
		}
		var ids []string
		for _, r := range page.Rows {
			ids = append(ids, r.ID)
		}
		return ids
	}
	if diff := cmp.Diff([]string{"o1", "o3", "o5"}, patientIDs(catalog.ResourceFilter{Patient: "p1"})); diff != "" {
		t.Errorf("Resources(latest, p1) after the migration (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"o1", "o3", "o5"}, patientIDs(catalog.ResourceFilter{Patient: "p1", ExportID: 1})); diff != "" {
		t.Errorf("Resources(export 1, p1) while file 2 downloads (-want +got):\n%s", diff)
	}
	f := &core.ExportFile{ID: 2, ExportID: 1, Kind: core.KindOutput, Type: "Observation", URL: "http://127.0.0.1/2",
		Count: -1, Lines: 1, State: core.FileLoaded}
	if err := db.UpdateFile(t.Context(), f); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"o1", "o3", "o5", "o4"}, patientIDs(catalog.ResourceFilter{Patient: "p1", ExportID: 1})); diff != "" {
		t.Errorf("Resources(export 1, p1) after file 2 loaded (-want +got):\n%s", diff)
	}
	rows, err := db.PatientResources(t.Context(), "p2")
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != 1 || rows[0].ID != "o2" {
		t.Errorf("PatientResources(p2) = %+v, want o2", rows)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}

	again, err := sql.Open("sqlite", "file:"+path)
	if err != nil {
		t.Fatal(err)
	}
	defer again.Close()
	var indexes []string
	rs, err := again.Query(`SELECT name FROM sqlite_schema WHERE type = 'index' AND tbl_name = 'resources'`)
	if err != nil {
		t.Fatal(err)
	}
	for rs.Next() {
		var n string
		rs.Scan(&n)
		indexes = append(indexes, n)
	}
	if slices.Contains(indexes, "resources_patient") {
		t.Errorf("indexes of resources after the migration = %v, want no resources_patient", indexes)
	}
	// p1's lines 3 and 4 of file 1 are one run.
	type run struct {
		Patient    string
		File, Line int64
		N          int64
	}
	var runs []run
	rs, err = again.Query(`SELECT patient, first >> 32, first & 4294967295, n FROM patient_runs ORDER BY first`)
	if err != nil {
		t.Fatal(err)
	}
	for rs.Next() {
		var r run
		if err := rs.Scan(&r.Patient, &r.File, &r.Line, &r.N); err != nil {
			t.Fatal(err)
		}
		runs = append(runs, r)
	}
	want := []run{{"Patient/p1", 1, 1, 0}, {"Patient/p2", 1, 2, 0}, {"Patient/p1", 1, 3, 1}, {"Patient/p1", 2, 1, 0}}
	if diff := cmp.Diff(want, runs); diff != "" {
		t.Errorf("patient_runs after the migration and file 2's merge (-want +got):\n%s", diff)
	}
	var tables int
	if err := again.QueryRow(`SELECT count(*) FROM sqlite_schema WHERE name = 'resource_patients'`).Scan(&tables); err != nil || tables != 0 {
		t.Errorf("resource_patients after the migration: %d tables (%v), want none", tables, err)
	}
}
