package bulk_test

import (
	"bytes"
	"io"
	"net/http"
	"testing"

	"tranche.dev/tranche/core"
	"tranche.dev/tranche/core/catalog"
	"tranche.dev/tranche/core/demo"
)

// The catalogue keeps each line exactly as the server sent it, whatever the
// batching: small batches make the line arena be reused many times per file
// and, with a byte limit below some lines' size, replaced mid-batch.
func TestRunnerStoresExactBytes(t *testing.T) {
	srv := mustOpenDemo(t, demo.Config{Open: true, Patients: 6, FileLines: 60})
	db := mustOpenDB(t)
	for _, tc := range []struct {
		name         string
		lines, bytes int
	}{
		{"SmallBatches", 7, 0},
		{"ByteLimitedBatches", 0, 4000},
		{"Default", 0, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r, _, _ := newRunner(t, srv.URL(), http.DefaultClient, db)
			r.BatchLines, r.BatchBytes, r.KeepJob = tc.lines, tc.bytes, true
			exp := &core.Export{FHIRBaseURL: srv.URL(), Request: core.ExportRequest{Level: core.LevelPatient}}
			if err := r.Start(t.Context(), exp); err != nil {
				t.Fatalf("Start() = %v", err)
			}
			files, err := db.FindFiles(t.Context(), exp.ID)
			if err != nil {
				t.Fatal(err)
			}
			served := map[string]*bytes.Buffer{}
			var types []string
			for _, f := range files {
				if f.Kind != core.KindOutput {
					continue
				}
				if served[f.Type] == nil {
					served[f.Type] = &bytes.Buffer{}
					types = append(types, f.Type)
				}
				resp, err := http.Get(f.URL)
				if err != nil {
					t.Fatal(err)
				}
				_, err = io.Copy(served[f.Type], resp.Body)
				resp.Body.Close()
				if err != nil || resp.StatusCode != http.StatusOK {
					t.Fatalf("GET %s: status %d, err %v", f.URL, resp.StatusCode, err)
				}
			}
			if len(types) < 2 {
				t.Fatalf("export has output files of %d types, want several", len(types))
			}
			for _, typ := range types {
				var stored bytes.Buffer
				if _, err := db.ExportNDJSON(t.Context(), &stored, catalog.ResourceFilter{ExportID: exp.ID, Type: typ}); err != nil {
					t.Fatal(err)
				}
				if got, want := stored.Bytes(), served[typ].Bytes(); !bytes.Equal(got, want) {
					t.Errorf("%s: stored %d bytes differ from the %d served, first at byte %d", typ, len(got), len(want), firstDiff(got, want))
				}
			}
		})
	}
}

func firstDiff(a, b []byte) int {
	for i := range min(len(a), len(b)) {
		if a[i] != b[i] {
			return i
		}
	}
	return min(len(a), len(b))
}
