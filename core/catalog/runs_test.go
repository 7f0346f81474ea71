package catalog_test

import (
	"fmt"
	"testing"

	"github.com/google/go-cmp/cmp"
	"tranche.dev/tranche/core"
	"tranche.dev/tranche/core/catalog"
)

// patientIDs pages through a patient filter one row at a time, so every
// page starts from a cursor, and returns the ids in order.
func patientIDs(t *testing.T, db *catalog.DB, f catalog.ResourceFilter) []string {
	t.Helper()
	f.Limit = 1
	var ids []string
	for _, r := range MustWalkPages(t, db, f) {
		ids = append(ids, r.ID)
	}
	return ids
}

// TestDB_PatientRuns checks the patient index, kept as runs of a file's
// lines (migration/0004_patient_runs.sql): runs broken by another patient,
// by a resource of no patient and by a batch's end, held across a problem
// line, a batch appended again after a crash, and a file still
// downloading, whose lines join the index when it is loaded, as they join
// the latest view.
func TestDB_PatientRuns(t *testing.T) {
	db := MustOpenDB(t)
	e := MustCreateExport(t, db, "2025-01-01T00:00:00Z")
	f := MustAddFile(t, db, e.ID, core.KindOutput, "Observation")
	obs := func(line int64, id, patient string) core.Record {
		r := record(t, line, observation(id, patient, "x", 1))
		if patient == "" {
			r.Patient = ""
		}
		return r
	}
	first := []core.Record{
		obs(1, "o1", "p1"), obs(2, "o2", "p1"),
		{Line: 3, Raw: []byte(`{"resourceType":"Observation"}`), Problem: "no id"},
		obs(4, "o3", "p1"), obs(5, "o4", "p2"), obs(6, "o5", ""), obs(7, "o6", "p1"),
	}
	f.Lines, f.State = 7, core.FileDownloading
	if err := db.AppendRecords(t.Context(), f, first); err != nil {
		t.Fatal(err)
	}
	for _, ef := range []catalog.ResourceFilter{{Patient: "p1"}, {Patient: "p1", ExportID: e.ID}} {
		if got := patientIDs(t, db, ef); len(got) != 0 {
			t.Errorf("while downloading, Resources(%+v) = %v, want none", ef, got)
		}
	}
	// The engine appends the first batch again from line 4, in the middle
	// of p1's first run (a crash after its commit), then the rest: o7
	// continues p1's run across the batch boundary.
	f.Lines, f.State = 9, core.FileLoaded
	again := append(first[3:], obs(8, "o7", "p1"), obs(9, "o8", "p2"))
	if err := db.AppendRecords(t.Context(), f, again); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		filter catalog.ResourceFilter
		want   []string
	}{
		{catalog.ResourceFilter{Patient: "p1"}, []string{"o1", "o2", "o3", "o6", "o7"}},
		{catalog.ResourceFilter{Patient: "Patient/p2", ExportID: e.ID}, []string{"o4", "o8"}},
		{catalog.ResourceFilter{Patient: "p1", ExportID: e.ID + 1}, nil},
		{catalog.ResourceFilter{Patient: "p3"}, nil},
	}
	for _, tt := range tests {
		if diff := cmp.Diff(tt.want, patientIDs(t, db, tt.filter)); diff != "" {
			t.Errorf("Resources(%+v) (-want +got):\n%s", tt.filter, diff)
		}
	}
	rows, err := db.PatientResources(t.Context(), "p2")
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, r := range rows {
		got = append(got, r.ID)
	}
	if diff := cmp.Diff([]string{"o4", "o8"}, got); diff != "" {
		t.Errorf("PatientResources(p2) (-want +got):\n%s", diff)
	}
}

// TestDB_PatientRunsReset checks files reset (ResetFile) and downloaded
// again whole: one reset while downloading, whose lines come back with
// other patients, and one that failed (its lines merged), was retried and
// reset on a bad verdict, whose new download makes a longer run from the
// same first line than its first download left. Every line is found under
// its patient, and only there.
func TestDB_PatientRunsReset(t *testing.T) {
	type batch struct {
		state    core.FileState
		patients []string // one line each, after the file's progress
	}
	tests := []struct {
		name   string
		before []batch
		again  []string // patients of the lines downloaded again
		want   map[string][]string
	}{
		{"WhileDownloading", []batch{{core.FileDownloading, []string{"p1", "p1"}}}, []string{"p2", "p3"},
			map[string][]string{"p1": nil, "p2": {"o1"}, "p3": {"o2"}}},
		{"AfterRetry", []batch{{core.FileFailed, []string{"p1", "p1"}}, {core.FileDownloading, []string{"p1"}}},
			[]string{"p1", "p1", "p1"}, map[string][]string{"p1": {"o1", "o2", "o3"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			db := MustOpenDB(t)
			e := MustCreateExport(t, db, "2025-01-01T00:00:00Z")
			f := MustAddFile(t, db, e.ID, core.KindOutput, "Observation")
			for _, b := range tt.before {
				var recs []core.Record
				for _, p := range b.patients {
					f.Lines++
					recs = append(recs, record(t, f.Lines, observation(fmt.Sprintf("o%d", f.Lines), p, "x", 1)))
				}
				f.State = b.state
				if err := db.AppendRecords(t.Context(), f, recs); err != nil {
					t.Fatal(err)
				}
			}
			if err := db.ResetFile(t.Context(), f); err != nil {
				t.Fatal(err)
			}
			var lines []string
			for i, p := range tt.again {
				lines = append(lines, observation(fmt.Sprintf("o%d", i+1), p, "x", 1))
			}
			MustAppend(t, db, f, lines...)
			for p, want := range tt.want {
				if diff := cmp.Diff(want, patientIDs(t, db, catalog.ResourceFilter{Patient: p})); diff != "" {
					t.Errorf("Resources(Patient %s) (-want +got):\n%s", p, diff)
				}
			}
		})
	}
}

// TestDB_PatientRunsOddReferences checks that references which need JSON
// escapes keep their runs: the index stores each batch's runs as JSON.
func TestDB_PatientRunsOddReferences(t *testing.T) {
	for _, ref := range []string{`Patient/a"b`, `Patient/a\b`, "Patient/é\u2028", "Patient/a\tb", "urn:uuid:1/2"} {
		t.Run(ref, func(t *testing.T) {
			db := MustOpenDB(t)
			e := MustCreateExport(t, db, "2025-01-01T00:00:00Z")
			f := MustAddFile(t, db, e.ID, core.KindOutput, "Observation")
			var recs []core.Record
			for i, id := range []string{"o1", "o2", "o3"} {
				r := record(t, int64(i+1), observation(id, "x", "x", 1))
				r.Patient = ref
				recs = append(recs, r)
			}
			f.Lines, f.State = 3, core.FileLoaded
			if err := db.AppendRecords(t.Context(), f, recs); err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff([]string{"o1", "o2", "o3"}, patientIDs(t, db, catalog.ResourceFilter{Patient: ref})); diff != "" {
				t.Errorf("Resources(Patient %q) (-want +got):\n%s", ref, diff)
			}
		})
	}
}
