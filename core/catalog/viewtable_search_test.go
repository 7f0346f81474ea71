package catalog_test

import (
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"tranche.dev/tranche/core"
	"tranche.dev/tranche/core/catalog"
)

// searchRows is the size of the search tests' table: four write batches
// (SQLite under the race detector reads a few thousand rows a second).
const searchRows = 4 * catalog.ViewTableBatch

// mustSearchTable builds table "big" of searchRows rows: n, code
// ("needle_N" every 1000th row from the 7th, else "row-N"), flag (true
// every 5000th) and tags, a collection.
func mustSearchTable(tb testing.TB, db *catalog.DB) {
	tb.Helper()
	ctx := tb.Context()
	e := MustCreateExport(tb, db, "2025-01-01T00:00:00Z")
	MustAppend(tb, db, MustAddFile(tb, db, e.ID, core.KindOutput, "Patient"), patient("a", "Ash"))
	w, err := db.CreateViewTable(ctx, catalog.ViewTable{Name: "big", Resource: "Patient", ViewJSON: []byte(`{}`),
		Columns: []catalog.TableColumn{{Name: "n", Type: "integer"}, {Name: "code", Type: "string"},
			{Name: "flag", Type: "boolean"}, {Name: "tags", Type: "string", Collection: true}}})
	if err != nil {
		tb.Fatal(err)
	}
	for i := range searchRows {
		code := fmt.Sprintf("row-%d", i)
		if i%1000 == 7 {
			code = fmt.Sprintf("needle_%d", i)
		}
		if err := w.Write([]any{int64(i), code, i%2000 == 0, []any{"t", fmt.Sprint(i % 3)}}); err != nil {
			tb.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		tb.Fatal(err)
	}
}

func TestDB_ViewTableSearch(t *testing.T) {
	db := MustOpenDB(t)
	ctx := t.Context()
	mustSearchTable(t, db)
	ns := func(rows [][]any) []int64 {
		var out []int64
		for _, r := range rows {
			out = append(out, r[0].(int64))
		}
		return out
	}
	for _, tt := range []struct {
		name          string
		text          string
		offset, limit int
		want          []int64
		total         int64
	}{
		{"first page", "NEEDLE", 0, 3, []int64{7, 1007, 2007}, 8},
		{"later page", "needle", 6, 5, []int64{6007, 7007}, 8},
		{"past the end", "needle", 8, 5, nil, 8},
		{"a number", "7999", 0, 5, []int64{7999}, 1},
		{"booleans as text", "true", 0, 10, []int64{0, 2000, 4000, 6000}, 4},
		{"underscore is no wildcard", "w_1", 0, 5, nil, 0},
		{"percent is no wildcard", "%", 0, 5, nil, 0},
		{"collections as JSON", `"t","2"`, 0, 2, []int64{2, 5}, searchRows / 3},
	} {
		t.Run(tt.name, func(t *testing.T) {
			rows, err := db.ViewTableSearch(ctx, "big", tt.text, tt.offset, tt.limit)
			if err != nil {
				t.Fatalf("ViewTableSearch(%q) = %v", tt.text, err)
			}
			if got := ns(rows); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("ViewTableSearch(%q, %d, %d) = rows %v, want %v", tt.text, tt.offset, tt.limit, got, tt.want)
			}
			n, err := db.ViewTableCount(ctx, "big", tt.text)
			if err != nil || n != tt.total {
				t.Errorf("ViewTableCount(%q) = %d, %v; want %d", tt.text, n, err, tt.total)
			}
		})
	}
	// The rows come back typed as the view runner gives them.
	rows, err := db.ViewTableSearch(ctx, "big", "needle_7", 0, 1)
	if err != nil {
		t.Fatal(err)
	}
	if want := []any{int64(7), "needle_7", false, []any{"t", "1"}}; len(rows) != 1 || !reflect.DeepEqual(rows[0], want) {
		t.Errorf("ViewTableSearch(needle_7) = %#v, want [%#v]", rows, want)
	}
	if n, err := db.ViewTableCount(ctx, "big", ""); err != nil || n != searchRows {
		t.Errorf("ViewTableCount(\"\") = %d, %v; want every row, %d", n, err, searchRows)
	}
	if _, err := db.ViewTableSearch(ctx, "missing", "x", 0, 3); err == nil {
		t.Errorf("ViewTableSearch(missing) = nil error, want not found")
	}
	if _, err := db.ViewTableSearch(ctx, "big", "x", -1, 3); err == nil {
		t.Errorf("ViewTableSearch(offset -1) = nil error, want an error")
	}
}

// BenchmarkViewTableSearch times the first page of 100 matches of a
// search (a common text, "row-", and a rare one, "needle", whose 8th match
// is near the end) and the count of matches, each against the baseline of
// the app before: reading every row and matching its text in Go, timed
// in the same run ("x-baseline" is how many times faster).
func BenchmarkViewTableSearch(b *testing.B) {
	db := MustOpenDB(b)
	ctx := b.Context()
	mustSearchTable(b, db)
	readAll := func() {
		err := db.ViewTableRows(ctx, "big", func(row []any) error {
			_ = strings.Contains(strings.ToLower(fmt.Sprint(row...)), "needle")
			return nil
		})
		if err != nil {
			b.Fatal(err)
		}
	}
	start := time.Now()
	const baselineRuns = 5
	for range baselineRuns {
		readAll()
	}
	baseline := time.Since(start) / baselineRuns
	report := func(b *testing.B) {
		b.ReportMetric(float64(baseline)/(float64(b.Elapsed())/float64(b.N)), "x-baseline")
	}
	for _, text := range []string{"row-", "needle"} {
		b.Run("first-page-"+text, func(b *testing.B) {
			for b.Loop() {
				if _, err := db.ViewTableSearch(ctx, "big", text, 0, 100); err != nil {
					b.Fatal(err)
				}
			}
			report(b)
		})
	}
	b.Run("count", func(b *testing.B) {
		for b.Loop() {
			if _, err := db.ViewTableCount(ctx, "big", "needle"); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(searchRows)/(b.Elapsed().Seconds()/float64(b.N)), "rows/s")
		report(b)
	})
}
