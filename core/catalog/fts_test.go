package catalog_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"tranche.dev/tranche/core"
	"tranche.dev/tranche/core/catalog"
)

func TestDB_Reindex(t *testing.T) {
	db := MustOpenDB(t)
	ctx := t.Context()
	e := MustCreateExport(t, db, "2025-01-01T00:00:00Z")
	f := MustAddFile(t, db, e.ID, core.KindOutput, "Observation")
	search := func(q string) []string {
		t.Helper()
		p, err := db.Resources(ctx, catalog.ResourceFilter{Query: q, Limit: 100})
		if err != nil {
			t.Fatalf("Resources(Query %q) = %v", q, err)
		}
		var ids []string
		for _, r := range p.Rows {
			ids = append(ids, r.ID)
		}
		return ids
	}

	MustAppend(t, db, f, observation("o1", "p1", "Hemoglobin", 1), observation("o2", "p1", "Glucose", 2))
	if got := search("hemoglobin"); got != nil {
		t.Errorf("search before Reindex = %q, want nothing (indexing is lazy)", got)
	}
	if got := MustUnindexed(t, db); got != 2 {
		t.Errorf("Unindexed() = %d, want 2", got)
	}
	if n, err := db.Reindex(ctx); err != nil || n != 2 {
		t.Fatalf("Reindex() = %d, %v; want 2, <nil>", n, err)
	}

	// The same file goes on loading (a resumed download), and a second file
	// starts: only the new lines are indexed, once each.
	MustAppend(t, db, f, observation("o3", "p2", "Hemoglobin A1c", 3))
	f2 := MustAddFile(t, db, e.ID, core.KindOutput, "Patient")
	MustAppend(t, db, f2, patient("p1", "Hemoglobinsson"))
	if got := MustUnindexed(t, db); got != 2 {
		t.Errorf("Unindexed() = %d, want 2", got)
	}
	if n, err := db.Reindex(ctx); err != nil || n != 2 {
		t.Fatalf("Reindex() = %d, %v; want 2, <nil>", n, err)
	}
	if n, err := db.Reindex(ctx); err != nil || n != 0 {
		t.Fatalf("Reindex() again = %d, %v; want 0, <nil>", n, err)
	}
	if diff := cmp.Diff([]string{"o1", "o3"}, search("hemoglobin")); diff != "" {
		t.Errorf("search(hemoglobin) (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"o1", "o3", "p1"}, search("hemoglobin*")); diff != "" {
		t.Errorf("search(hemoglobin*) (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"o3"}, search(`"hemoglobin a1c"`)); diff != "" {
		t.Errorf("search(phrase) (-want +got):\n%s", diff)
	}
}

func TestDB_Reindex_ManyBatches(t *testing.T) {
	db := MustOpenDB(t)
	e := MustCreateExport(t, db, "2025-01-01T00:00:00Z")
	f := MustAddFile(t, db, e.ID, core.KindOutput, "Observation")
	n := catalog.ReindexBatch + 7
	var recs []core.Record
	for i := range n {
		recs = append(recs, record(t, int64(i+1), observation(fmt.Sprintf("o%d", i), "p", "Glucose", 1)))
	}
	f.Lines, f.State = int64(n), core.FileLoaded
	if err := db.AppendRecords(t.Context(), f, recs); err != nil {
		t.Fatal(err)
	}
	if got, err := db.Reindex(t.Context()); err != nil || got != int64(n) {
		t.Fatalf("Reindex() = %d, %v; want %d, <nil>", got, err, n)
	}
	var buf strings.Builder
	got, err := db.ExportNDJSON(t.Context(), &buf, catalog.ResourceFilter{Query: "glucose"})
	if err != nil || got != n {
		t.Errorf("ExportNDJSON(glucose) = %d, %v; want %d", got, err, n)
	}
}

func TestDB_Resources_ExportViewAcrossFiles(t *testing.T) {
	db := MustOpenDB(t)
	a := MustCreateExport(t, db, "2025-01-01T00:00:00Z")
	b := MustCreateExport(t, db, "2025-02-01T00:00:00Z")
	// Files of the two exports interleave: a1, b1, a2.
	a1 := MustAddFile(t, db, a.ID, core.KindOutput, "Patient")
	b1 := MustAddFile(t, db, b.ID, core.KindOutput, "Patient")
	a2 := MustAddFile(t, db, a.ID, core.KindOutput, "Observation")
	MustAppend(t, db, a1, patient("p1", "A"), patient("p2", "A"))
	MustAppend(t, db, b1, patient("p1", "B"), patient("p3", "B"))
	MustAppend(t, db, a2, observation("o1", "p1", "x", 1), observation("o2", "p1", "x", 1), observation("o3", "p2", "x", 1))

	tests := []struct {
		name   string
		filter catalog.ResourceFilter
		want   []string
	}{
		{"AllTypes", catalog.ResourceFilter{ExportID: a.ID, Limit: 2}, []string{"p1", "p2", "o1", "o2", "o3"}},
		{"OnePerPage", catalog.ResourceFilter{ExportID: a.ID, Limit: 1}, []string{"p1", "p2", "o1", "o2", "o3"}},
		{"Type", catalog.ResourceFilter{ExportID: a.ID, Type: "Patient", Limit: 1}, []string{"p1", "p2"}},
		{"OtherExport", catalog.ResourceFilter{ExportID: b.ID, Limit: 10}, []string{"p1", "p3"}},
		{"Latest", catalog.ResourceFilter{Type: "Patient", Limit: 2}, []string{"p1", "p2", "p3"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got []string
			f := tt.filter
			for range 20 {
				p, err := db.Resources(t.Context(), f)
				if err != nil {
					t.Fatal(err)
				}
				for _, r := range p.Rows {
					got = append(got, r.ID)
				}
				if f.After = p.Next; f.After == "" {
					break
				}
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("pages of %+v (-want +got):\n%s", tt.filter, diff)
			}
		})
	}

	counts, err := db.Counts(t.Context(), a.ID)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]catalog.TypeCount{{Type: "Observation", Count: 3}, {Type: "Patient", Count: 2}}, counts); diff != "" {
		t.Errorf("Counts(a) (-want +got):\n%s", diff)
	}
	// The latest view takes p1 from the newer export b.
	r, err := db.Resource(t.Context(), "Patient", "p1")
	if err != nil {
		t.Fatal(err)
	}
	if r.ExportID != b.ID || !strings.Contains(string(r.Raw), `"family":"B"`) {
		t.Errorf("Resource(Patient/p1) from export %d: %s; want export %d's version", r.ExportID, r.Raw, b.ID)
	}
	at, err := db.ResourceAt(t.Context(), r.RowID)
	if err != nil || string(at.Raw) != string(r.Raw) {
		t.Errorf("ResourceAt(%d) = %v, %v; want the same version", r.RowID, at, err)
	}
}

// A second export indexes only its own rows: Reindex touches nothing of the
// first, which was indexed before, and reports its progress batch by batch.
func TestDB_Reindex_SecondExportOnly(t *testing.T) {
	db := MustOpenDB(t)
	ctx := t.Context()
	indexed := func() int64 {
		t.Helper()
		n, err := db.IndexedDocs(ctx)
		if err != nil {
			t.Fatal(err)
		}
		return n
	}
	load := func(tt, typ string, n int) {
		t.Helper()
		e := MustCreateExport(t, db, tt)
		f := MustAddFile(t, db, e.ID, core.KindOutput, typ)
		var recs []core.Record
		for i := range n {
			recs = append(recs, record(t, int64(i+1), observation(fmt.Sprintf("%s-%d", tt[:7], i), "p", "Glucose", 1)))
		}
		f.Lines, f.State = int64(n), core.FileLoaded
		if err := db.AppendRecords(ctx, f, recs); err != nil {
			t.Fatal(err)
		}
	}

	first := catalog.ReindexBatch + 5
	load("2025-01-01T00:00:00Z", "Observation", first)
	if n, err := db.Reindex(ctx); err != nil || n != int64(first) {
		t.Fatalf("Reindex() after the first export = %d, %v; want %d, <nil>", n, err, first)
	}

	second := catalog.ReindexBatch + 3
	load("2025-02-01T00:00:00Z", "Observation", second)
	if n, err := db.Unindexed(ctx); err != nil || n != int64(second) {
		t.Fatalf("Unindexed() after the second export = %d, %v; want %d (its rows only)", n, err, second)
	}
	var progress []int64
	n, err := db.ReindexWithProgress(ctx, func(done int64) { progress = append(progress, done) })
	if err != nil || n != int64(second) {
		t.Fatalf("ReindexWithProgress() after the second export = %d, %v; want %d, <nil>", n, err, second)
	}
	if want := []int64{catalog.ReindexBatch, int64(second)}; !cmp.Equal(progress, want) {
		t.Errorf("progress calls = %v, want %v (one per committed batch)", progress, want)
	}
	if got, want := indexed(), int64(first+second); got != want {
		t.Errorf("index holds %d resources, want %d: each once", got, want)
	}
	var buf strings.Builder
	if got, err := db.ExportNDJSON(ctx, &buf, catalog.ResourceFilter{Query: "glucose"}); err != nil || got != first+second {
		t.Errorf("ExportNDJSON(glucose) = %d, %v; want %d (both exports)", got, err, first+second)
	}
}

// MustUnindexed is how many stored resources the search index lacks.
func MustUnindexed(tb testing.TB, db *catalog.DB) int64 {
	tb.Helper()
	n, err := db.Unindexed(tb.Context())
	if err != nil {
		tb.Fatal(err)
	}
	return n
}
