package catalog_test

import (
	"bytes"
	"flag"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"tranche.dev/tranche/core"
	"tranche.dev/tranche/core/catalog"
	"tranche.dev/tranche/core/ndjson"
)

var update = flag.Bool("update", false, "rewrite the CSV goldens in testdata/catalog")

var fixtureTypes = []string{"Patient", "Observation", "Condition", "Encounter", "MedicationRequest"}

// MustLoadFixtures loads testdata/ndjson/<Type>.ndjson into one export the
// way the export engine does (ndjson.Reader, ndjson.Parse, one batch) and
// returns it.
func MustLoadFixtures(tb testing.TB, db *catalog.DB) *core.Export {
	tb.Helper()
	e := MustCreateExport(tb, db, "2025-04-01T12:00:00Z")
	for _, typ := range fixtureTypes {
		f := MustAddFile(tb, db, e.ID, core.KindOutput, typ)
		file, err := os.Open(filepath.Join("..", "..", "testdata", "ndjson", typ+".ndjson"))
		if err != nil {
			tb.Fatal(err)
		}
		defer file.Close()
		rd := ndjson.NewReader(file)
		var recs []core.Record
		for {
			l, err := rd.Next()
			if err == io.EOF {
				break
			} else if err != nil {
				tb.Fatal(err)
			}
			rec := ndjson.Parse(bytes.Clone(l.Raw), core.KindOutput, typ)
			rec.Line = l.Num
			if rec.Problem != "" {
				tb.Fatalf("%s line %d: %s", typ, l.Num, rec.Problem)
			}
			recs = append(recs, rec)
			f.Lines, f.Bytes = l.Num, l.End
		}
		f.State = core.FileLoaded
		if err := db.AppendRecords(tb.Context(), f, recs); err != nil {
			tb.Fatal(err)
		}
	}
	return e
}

// TestDB_Fixtures checks, on realistic R4/R5 lines, that NDJSON comes back
// byte for byte and that the per-type columns (CSV and pages alike) read
// the usual shapes of each element.
func TestDB_Fixtures(t *testing.T) {
	db := MustOpenDB(t)
	e := MustLoadFixtures(t, db)
	for _, typ := range fixtureTypes {
		t.Run(typ, func(t *testing.T) {
			want, err := os.ReadFile(filepath.Join("..", "..", "testdata", "ndjson", typ+".ndjson"))
			if err != nil {
				t.Fatal(err)
			}
			var got bytes.Buffer
			if _, err := db.ExportNDJSON(t.Context(), &got, catalog.ResourceFilter{ExportID: e.ID, Type: typ}); err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got.Bytes(), want) {
				t.Errorf("ExportNDJSON(%s) =\n%s\nwant the fixture's exact bytes\n%s", typ, got.Bytes(), want)
			}

			var csv strings.Builder
			if _, err := db.ExportCSV(t.Context(), &csv, catalog.ResourceFilter{Type: typ}); err != nil {
				t.Fatal(err)
			}
			golden := filepath.Join("..", "..", "testdata", "catalog", typ+".csv")
			if *update {
				if err := os.WriteFile(golden, []byte(csv.String()), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			wantCSV, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run with -update to create it)", err)
			}
			if csv.String() != string(wantCSV) {
				t.Errorf("ExportCSV(%s) =\n%s\nwant (%s)\n%s", typ, csv.String(), golden, wantCSV)
			}
		})
	}
}
