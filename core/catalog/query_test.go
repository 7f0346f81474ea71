package catalog_test

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"tranche.dev/tranche/core"
	"tranche.dev/tranche/core/catalog"
)

// deleteBundle is one line of a deleted file (a transaction Bundle).
func deleteBundle(refs ...string) string {
	var entries []string
	for _, r := range refs {
		entries = append(entries, fmt.Sprintf(`{"request":{"method":"DELETE","url":%q}}`, r))
	}
	return `{"resourceType":"Bundle","type":"transaction","entry":[` + strings.Join(entries, ",") + `]}`
}

// MustWalkPages walks every page of f, checking each keeps to f.Limit,
// and returns the rows seen.
func MustWalkPages(tb testing.TB, db *catalog.DB, f catalog.ResourceFilter) []catalog.Row {
	tb.Helper()
	var rows []catalog.Row
	for pages := 0; ; pages++ {
		if pages > 100 {
			tb.Fatal("paging does not end")
		}
		p, err := db.Resources(tb.Context(), f)
		if err != nil {
			tb.Fatalf("Resources(%+v) = %v", f, err)
		}
		if len(p.Rows) > f.Limit {
			tb.Fatalf("page of %d rows, limit %d", len(p.Rows), f.Limit)
		}
		rows = append(rows, p.Rows...)
		if p.Next == "" {
			return rows
		}
		f.After = p.Next
	}
}

func MustAppendDeletes(tb testing.TB, db *catalog.DB, f *core.ExportFile, refs ...string) {
	tb.Helper()
	f.Lines++
	rec := core.Record{Line: f.Lines, Raw: []byte(deleteBundle(refs...)), ResourceType: "Bundle", Deletes: refs}
	if err := db.AppendRecords(tb.Context(), f, []core.Record{rec}); err != nil {
		tb.Fatalf("AppendRecords(deleted) = %v", err)
	}
}

func TestDB_LatestView(t *testing.T) {
	db := MustOpenDB(t)
	// Exports are created out of order on purpose: the transaction time,
	// not the ingest order, decides which is newer. The offsets differ so
	// text order would be wrong: 2025-03-01T01:00+02:00 is before
	// 2025-03-01T00:30Z.
	newer := MustCreateExport(t, db, "2025-03-01T00:30:00Z")
	older := MustCreateExport(t, db, "2025-03-01T01:00:00+02:00")
	newest := MustCreateExport(t, db, "2025-04-01T00:00:00Z")

	fNew := MustAddFile(t, db, newer.ID, core.KindOutput, "Patient")
	MustAppend(t, db, fNew, patient("a", "New"), patient("b", "New"))
	fOld := MustAddFile(t, db, older.ID, core.KindOutput, "Patient")
	MustAppend(t, db, fOld, patient("a", "Old"), patient("c", "Old"), patient("d", "Old"))

	// Tombstones: c is deleted by a newer export; a's delete comes with an
	// older export than a's newest version, so a stays; d is deleted and
	// re-created in the same export, so d stays.
	MustAppendDeletes(t, db, MustAddFile(t, db, newest.ID, core.KindDeleted, ""), "Patient/c", "Patient/x", "garbage")
	MustAppendDeletes(t, db, MustAddFile(t, db, older.ID, core.KindDeleted, ""), "Patient/a")
	fNewest := MustAddFile(t, db, newest.ID, core.KindOutput, "Patient")
	MustAppendDeletes(t, db, MustAddFile(t, db, newest.ID, core.KindDeleted, "Patient"), "Patient/d")
	MustAppend(t, db, fNewest, patient("d", "Newest"))

	page, err := db.Resources(t.Context(), catalog.ResourceFilter{Type: "Patient"})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, r := range page.Rows {
		got = append(got, r.ID+" "+r.Values[1])
	}
	want := []string{"a Ann B New", "b Ann B New", "d Ann B Newest"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Resources(latest Patient) (-want +got):\n%s", diff)
	}
	counts, err := db.Counts(t.Context(), 0)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]catalog.TypeCount{{Type: "Patient", Count: 3}}, counts); diff != "" {
		t.Errorf("Counts(0) (-want +got):\n%s", diff)
	}

	// A file still downloading is not in the latest view; it joins when
	// it is done, even when the last step is UpdateFile.
	fLoading := MustAddFile(t, db, newest.ID, core.KindOutput, "Observation")
	fLoading.Lines, fLoading.State = 1, core.FileDownloading
	if err := db.AppendRecords(t.Context(), fLoading, []core.Record{record(t, 1, observation("o1", "a", "x", 1))}); err != nil {
		t.Fatal(err)
	}
	if counts, err := db.Counts(t.Context(), 0); err != nil || len(counts) != 1 {
		t.Errorf("Counts(0) while downloading = %v, %v; want Patient only", counts, err)
	}
	fLoading.State = core.FileLoaded
	if err := db.UpdateFile(t.Context(), fLoading); err != nil {
		t.Fatal(err)
	}
	counts, err = db.Counts(t.Context(), 0)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]catalog.TypeCount{{Type: "Observation", Count: 1}, {Type: "Patient", Count: 3}}, counts); diff != "" {
		t.Errorf("Counts(0) after the file loaded (-want +got):\n%s", diff)
	}

	r, err := db.Resource(t.Context(), "Patient", "c")
	if err != nil {
		t.Fatal(err)
	}
	if !r.Deleted || r.ExportID != older.ID {
		t.Errorf("Resource(Patient/c) = deleted %v, export %d; want deleted, export %d", r.Deleted, r.ExportID, older.ID)
	}
	if _, err := db.Resource(t.Context(), "Patient", "x"); !errors.Is(err, core.ErrNotFound) {
		t.Errorf("Resource(Patient/x) error = %v, want core.ErrNotFound", err)
	}
	ts, err := db.Tombstones(t.Context(), newest.ID, 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(ts) != 3 || ts[0].Type != "Patient" || ts[0].ID != "c" {
		t.Errorf("Tombstones(newest) = %+v, want Patient/c, Patient/x, Patient/d", ts)
	}
}

// TestDB_LatestViewLaterLineWins checks that within one export the last
// line of a (type, id) is its latest version, whatever order the merge
// sorts the file's rows in, including lines merged after the file was
// merged once (a retried file).
func TestDB_LatestViewLaterLineWins(t *testing.T) {
	db := MustOpenDB(t)
	e := MustCreateExport(t, db, "2025-01-01T00:00:00Z")
	f := MustAddFile(t, db, e.ID, core.KindOutput, "Patient")
	MustAppend(t, db, f, patient("b", "One"), patient("a", "One"), patient("a", "Two"),
		patient("c", "One"), patient("a", "Three"))
	MustAppend(t, db, f, patient("b", "Two"), patient("d", "One"), patient("b", "Three"))

	page, err := db.Resources(t.Context(), catalog.ResourceFilter{Type: "Patient"})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, r := range page.Rows {
		got = append(got, r.ID+" "+r.Values[1])
	}
	want := []string{"a Ann B Three", "b Ann B Three", "c Ann B One", "d Ann B One"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Resources(latest Patient) (-want +got):\n%s", diff)
	}
}

func TestDB_Resources(t *testing.T) {
	db := MustOpenDB(t)
	e := MustCreateExport(t, db, "2025-01-01T00:00:00Z")
	fp := MustAddFile(t, db, e.ID, core.KindOutput, "Patient")
	fo := MustAddFile(t, db, e.ID, core.KindOutput, "Observation")
	var obs []string
	for i := range 25 {
		pid := fmt.Sprintf("p%02d", i%5)
		if i < 5 {
			MustAppend(t, db, fp, patient(pid, "Fam"+pid))
		}
		code := "Glucose"
		if i%2 == 1 {
			code = "Cholesterol"
		}
		line := observation(fmt.Sprintf("o%02d", i), pid, code, float64(i)+0.5)
		obs = append(obs, line)
		MustAppend(t, db, fo, line)
	}

	// collect walks every page of f and returns the ids seen.
	collect := func(t *testing.T, f catalog.ResourceFilter) []string {
		t.Helper()
		var ids []string
		for _, r := range MustWalkPages(t, db, f) {
			ids = append(ids, r.Type+"/"+r.ID)
		}
		return ids
	}
	ids := func(typ, format string, is ...int) []string {
		var out []string
		for _, i := range is {
			out = append(out, typ+"/"+fmt.Sprintf(format, i))
		}
		return out
	}
	seq := func(from, to, step int) []int {
		var out []int
		for i := from; i < to; i += step {
			out = append(out, i)
		}
		return out
	}

	if _, err := db.Reindex(t.Context()); err != nil {
		t.Fatal(err)
	}
	allObs := ids("Observation", "o%02d", seq(0, 25, 1)...)
	tests := []struct {
		name   string
		filter catalog.ResourceFilter
		want   []string
	}{
		{"LatestByType", catalog.ResourceFilter{Type: "Observation", Limit: 7}, allObs},
		{"LatestAllTypes", catalog.ResourceFilter{Limit: 4}, append(slicesClone(allObs), ids("Patient", "p%02d", seq(0, 5, 1)...)...)},
		{"ExportView", catalog.ResourceFilter{ExportID: e.ID, Type: "Observation", Limit: 10}, allObs},
		{"Patient", catalog.ResourceFilter{Patient: "p01", Type: "Observation", Limit: 2}, ids("Observation", "o%02d", seq(1, 25, 5)...)},
		{"PatientRef", catalog.ResourceFilter{ExportID: e.ID, Patient: "Patient/p01", Type: "Observation", Limit: 3}, ids("Observation", "o%02d", seq(1, 25, 5)...)},
		{"Search", catalog.ResourceFilter{Query: "cholesterol", Limit: 5}, ids("Observation", "o%02d", seq(1, 25, 2)...)},
		{"SearchPrefixAndType", catalog.ResourceFilter{Query: "fam*", Type: "Patient", Limit: 2}, ids("Patient", "p%02d", seq(0, 5, 1)...)},
		{"SearchReference", catalog.ResourceFilter{Query: "Patient/p01 AND glucose", Limit: 5}, ids("Observation", "o%02d", 6, 16)},
		{"SearchHyphen", catalog.ResourceFilter{Query: "1234-5", Type: "Observation", Limit: 30}, allObs},
		{"SearchNothing", catalog.ResourceFilter{Query: "zebra", Limit: 5}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if diff := cmp.Diff(tt.want, collect(t, tt.filter)); diff != "" {
				t.Errorf("Resources(%+v) (-want +got):\n%s", tt.filter, diff)
			}
		})
	}

	t.Run("Columns", func(t *testing.T) {
		p, err := db.Resources(t.Context(), catalog.ResourceFilter{Type: "Observation", Limit: 1})
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(catalog.Columns("Observation"), p.Columns); diff != "" {
			t.Errorf("Page.Columns (-want +got):\n%s", diff)
		}
		want := []string{"o00", "Glucose", "0.5 mg/dL", "2024-05-06T07:08:09Z", "Patient/p00", ""}
		if diff := cmp.Diff(want, p.Rows[0].Values); diff != "" {
			t.Errorf("Values (-want +got):\n%s", diff)
		}
		p, err = db.Resources(t.Context(), catalog.ResourceFilter{Type: "Patient", Limit: 1})
		if err != nil {
			t.Fatal(err)
		}
		want = []string{"p00", "Ann B Famp00", "female", "1970-02-03", "2025-01-01T00:00:00Z"}
		if diff := cmp.Diff(want, p.Rows[0].Values); diff != "" {
			t.Errorf("Patient values (-want +got):\n%s", diff)
		}
	})

	t.Run("PatientResources", func(t *testing.T) {
		rows, err := db.PatientResources(t.Context(), "p02")
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, r := range rows {
			got = append(got, r.Type+"/"+r.ID)
		}
		want := append([]string{"Patient/p02"}, ids("Observation", "o%02d", seq(2, 25, 5)...)...)
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("PatientResources(p02) (-want +got):\n%s", diff)
		}
	})

	t.Run("NDJSONExactBytes", func(t *testing.T) {
		var buf strings.Builder
		n, err := db.ExportNDJSON(t.Context(), &buf, catalog.ResourceFilter{Type: "Observation", After: "ignored", Limit: 1})
		if err != nil {
			t.Fatal(err)
		}
		if got, want := buf.String(), strings.Join(obs, "\n")+"\n"; n != 25 || got != want {
			t.Errorf("ExportNDJSON() = %d,\n%s\nwant 25,\n%s", n, got, want)
		}
	})

	t.Run("CSV", func(t *testing.T) {
		var buf strings.Builder
		n, err := db.ExportCSV(t.Context(), &buf, catalog.ResourceFilter{Patient: "p00", Type: "Observation"})
		if err != nil {
			t.Fatal(err)
		}
		want := "id,code,value,effective,patient,lastUpdated\n" +
			"o00,Glucose,0.5 mg/dL,2024-05-06T07:08:09Z,Patient/p00,\n" +
			"o05,Cholesterol,5.5 mg/dL,2024-05-06T07:08:09Z,Patient/p00,\n" +
			"o10,Glucose,10.5 mg/dL,2024-05-06T07:08:09Z,Patient/p00,\n" +
			"o15,Cholesterol,15.5 mg/dL,2024-05-06T07:08:09Z,Patient/p00,\n" +
			"o20,Glucose,20.5 mg/dL,2024-05-06T07:08:09Z,Patient/p00,\n"
		if got := buf.String(); n != 5 || got != want {
			t.Errorf("ExportCSV() = %d,\n%s\nwant 5,\n%s", n, got, want)
		}
	})

	t.Run("ErrBadCursor", func(t *testing.T) {
		if _, err := db.Resources(t.Context(), catalog.ResourceFilter{After: "r12"}); err == nil {
			t.Error("Resources(latest, rowid cursor) = nil error, want invalid cursor")
		}
	})
}

func slicesClone(s []string) []string { return append([]string(nil), s...) }
