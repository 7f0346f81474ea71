package catalog_test

import (
	"flag"
	"fmt"
	"io"
	"testing"
	"time"

	"tranche.dev/tranche/core"
	"tranche.dev/tranche/core/catalog"
)

var benchRows = flag.Int("bench-rows", 200_000, "Observation rows loaded by BenchmarkQueries")

// BenchmarkQueries loads -bench-rows Observations (50 per patient, ids in
// no particular order) and measures the queries the GUI makes. Every page
// query must stay flat as the catalogue grows: run with -bench-rows
// 1000000 to check.
func BenchmarkQueries(b *testing.B) {
	db := MustOpenDB(b)
	ctx := b.Context()
	e := MustCreateExport(b, db, "2025-06-01T12:00:00Z")
	f := MustAddFile(b, db, e.ID, core.KindOutput, "Observation")
	start := time.Now()
	const batch = 1000
	recs := make([]core.Record, 0, batch)
	for i := range *benchRows {
		// A multiplicative hash scatters ids, as UUIDs would be.
		id := fmt.Sprintf("obs-%08x", uint32(i)*2654435761)
		line := benchObservation(i)
		f.Lines++
		f.Bytes += int64(len(line)) + 1
		recs = append(recs, core.Record{Line: f.Lines, Raw: []byte(line), ResourceType: "Observation", ID: id,
			LastUpdated: "2025-06-01T12:00:00.000Z", Patient: fmt.Sprintf("Patient/pat-%06d", i/50)})
		if len(recs) == batch || i == *benchRows-1 {
			if i == *benchRows-1 {
				f.State = core.FileLoaded
			}
			if err := db.AppendRecords(ctx, f, recs); err != nil {
				b.Fatal(err)
			}
			recs = recs[:0]
		}
	}
	load := time.Since(start)
	start = time.Now()
	if _, err := db.Reindex(ctx); err != nil {
		b.Fatal(err)
	}
	reindex := time.Since(start)
	b.Logf("%d rows: load %v (%.0f rows/s), reindex %v (%.0f rows/s)", *benchRows,
		load.Round(time.Millisecond), float64(*benchRows)/load.Seconds(),
		reindex.Round(time.Millisecond), float64(*benchRows)/reindex.Seconds())

	// A cursor near the end, for the "deep page" cases.
	deep := func(f catalog.ResourceFilter) string {
		f.Limit = catalog.MaxPageSize
		var after string
		for i := 0; i < *benchRows/catalog.MaxPageSize-1; i++ {
			f.After = after
			p, err := db.Resources(ctx, f)
			if err != nil {
				b.Fatal(err)
			}
			if p.Next == "" {
				break
			}
			after = p.Next
		}
		return after
	}
	latestDeep := deep(catalog.ResourceFilter{Type: "Observation"})
	exportDeep := deep(catalog.ResourceFilter{ExportID: e.ID})

	page := func(f catalog.ResourceFilter) func(b *testing.B) {
		return func(b *testing.B) {
			for b.Loop() {
				p, err := db.Resources(ctx, f)
				if err != nil {
					b.Fatal(err)
				}
				if len(p.Rows) == 0 {
					b.Fatal("empty page")
				}
			}
		}
	}
	b.Run("CountsLatest", func(b *testing.B) {
		for b.Loop() {
			if _, err := db.Counts(ctx, 0); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("CountsExport", func(b *testing.B) {
		for b.Loop() {
			if _, err := db.Counts(ctx, e.ID); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("PageLatestFirst", page(catalog.ResourceFilter{Type: "Observation"}))
	b.Run("PageLatestDeep", page(catalog.ResourceFilter{Type: "Observation", After: latestDeep}))
	b.Run("PageExportFirst", page(catalog.ResourceFilter{ExportID: e.ID}))
	b.Run("PageExportDeep", page(catalog.ResourceFilter{ExportID: e.ID, After: exportDeep}))
	b.Run("PagePatient", page(catalog.ResourceFilter{Patient: "pat-000123"}))
	b.Run("PageSearchCommon", page(catalog.ResourceFilter{Query: "glucose"}))
	b.Run("PageSearchRare", page(catalog.ResourceFilter{Query: "enc-00000077"}))
	b.Run("PatientResources", func(b *testing.B) {
		for b.Loop() {
			if _, err := db.PatientResources(ctx, "pat-000123"); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("ExportNDJSON", func(b *testing.B) {
		var n int
		for b.Loop() {
			var err error
			if n, err = db.ExportNDJSON(ctx, io.Discard, catalog.ResourceFilter{Type: "Observation"}); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(n)*float64(b.N)/b.Elapsed().Seconds(), "rows/s")
	})
}
