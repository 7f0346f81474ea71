package catalog_test

import (
	"fmt"
	"testing"

	"github.com/google/go-cmp/cmp"

	"tranche.dev/tranche/core"
	"tranche.dev/tranche/core/catalog"
)

// TestBrowser_DeletedAndErrors counts and pages tombstones and error lines
// with SQL (not by loading them), across exports and per export, and finds
// an error line by its file and line when two error files share a line
// number.
func TestBrowser_DeletedAndErrors(t *testing.T) {
	db := MustOpenDB(t)
	ctx := t.Context()
	outcome := func(text string) []byte {
		return []byte(`{"resourceType":"OperationOutcome","issue":[{"severity":"error","code":"processing","diagnostics":"` + text + `"}]}`)
	}
	var exports []*core.Export
	for e := range 2 {
		exp := MustCreateExport(t, db, fmt.Sprintf("2025-01-0%dT00:00:00Z", e+1))
		exports = append(exports, exp)
		del := MustAddFile(t, db, exp.ID, core.KindDeleted, "Bundle")
		var recs []core.Record
		for i := range 3 + e { // 3 tombstones in the first export, 4 in the second
			recs = append(recs, core.Record{Line: int64(i + 1), ResourceType: "Bundle",
				Raw: []byte(`{"resourceType":"Bundle"}`), Deletes: []string{fmt.Sprintf("Patient/e%d-%d", e, i)}})
		}
		del.Lines = int64(len(recs))
		if err := db.AppendRecords(ctx, del, recs); err != nil {
			t.Fatal(err)
		}
		for f := range 2 { // two error files, each with a line 1
			ef := &core.ExportFile{Kind: core.KindError, Type: "OperationOutcome", Count: -1, Lines: 1,
				URL: fmt.Sprintf("http://127.0.0.1/files/%d/error-%d.ndjson", exp.ID, f)}
			if err := db.AddFiles(ctx, exp.ID, []*core.ExportFile{ef}); err != nil {
				t.Fatal(err)
			}
			rec := core.Record{Line: 1, ResourceType: "OperationOutcome", Severity: "error", Raw: outcome(fmt.Sprintf("export %d file %d", e, f))}
			if err := db.AppendRecords(ctx, ef, []core.Record{rec}); err != nil {
				t.Fatal(err)
			}
		}
	}
	b := &catalog.Browser{DB: db}
	for _, tt := range []struct {
		exportID        int64
		deleted, errors int64
	}{{0, 7, 4}, {exports[0].ID, 3, 2}, {exports[1].ID, 4, 2}} {
		if got, err := b.DeletedCount(ctx, tt.exportID); err != nil || got != tt.deleted {
			t.Errorf("DeletedCount(%d) = %d, %v; want %d", tt.exportID, got, err, tt.deleted)
		}
		if got, err := b.ErrorCount(ctx, tt.exportID); err != nil || got != tt.errors {
			t.Errorf("ErrorCount(%d) = %d, %v; want %d", tt.exportID, got, err, tt.errors)
		}
	}

	p, err := b.Records(ctx, core.RecordQuery{Kind: core.RecordsDeleted, Offset: 2, Limit: 3})
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, r := range p.Rows {
		ids = append(ids, r.ID)
	}
	if diff := cmp.Diff([]string{"e0-2", "e1-0", "e1-1"}, ids); diff != "" || p.Total != 7 {
		t.Errorf("deleted page at 2 (total %d, want 7) (-want +got):\n%s", p.Total, diff)
	}

	p, err = b.Records(ctx, core.RecordQuery{Kind: core.RecordsErrors, ExportID: exports[1].ID, Limit: 10})
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Rows) != 2 || p.Total != 2 {
		t.Fatalf("error lines of export %d = %d rows (total %d), want 2", exports[1].ID, len(p.Rows), p.Total)
	}
	for f, row := range p.Rows {
		want := fmt.Sprintf("export 1 file %d", f)
		if got := row.Cells[1]; got != want {
			t.Errorf("row %d diagnostics = %q, want %q", f, got, want)
		}
		raw, err := b.Resource(ctx, core.RecordsErrors, row)
		if err != nil || string(raw) != string(outcome(want)) {
			t.Errorf("Resource(row %d) = %s, %v; want %s", f, raw, err, outcome(want))
		}
	}
}
