package bulk_test

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/sync/errgroup"

	"tranche.dev/tranche/core"
)

// staticExport serves a finished export of nFiles Observation files of
// nLines lines each, from memory, so the benchmarks measure the client.
func staticExport(tb testing.TB, nFiles, nLines int) (*httptest.Server, int64) {
	tb.Helper()
	var file bytes.Buffer
	for i := range nLines {
		fmt.Fprintf(&file, `{"resourceType":"Observation","id":"obs-%d","meta":{"lastUpdated":"2024-05-01T10:00:00.000Z"},"status":"final","category":[{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/observation-category","code":"vital-signs","display":"Vital signs"}]}],"code":{"coding":[{"system":"http://loinc.org","code":"8867-4","display":"Heart rate"}],"text":"Heart rate"},"subject":{"reference":"Patient/pat-%d"},"effectiveDateTime":"2024-04-30T09:12:00Z","valueQuantity":{"value":72.50,"unit":"/min","system":"http://unitsofmeasure.org","code":"/min"}}`+"\n", i, i%1000)
	}
	data := file.Bytes()
	mux := http.NewServeMux()
	var srv *httptest.Server
	mux.HandleFunc("GET /fhir/Patient/$export", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Location", srv.URL+"/status/1")
		w.WriteHeader(http.StatusAccepted)
	})
	mux.HandleFunc("GET /fhir/metadata", func(w http.ResponseWriter, r *http.Request) { http.Error(w, "no", 404) })
	mux.HandleFunc("DELETE /status/1", func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusAccepted) })
	mux.HandleFunc("GET /status/1", func(w http.ResponseWriter, r *http.Request) {
		var out []string
		for i := range nFiles {
			out = append(out, fmt.Sprintf(`{"type":"Observation","url":"%s/files/%d","count":%d}`, srv.URL, i, nLines))
		}
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, `{"transactionTime":"2024-05-01T00:00:00Z","request":"x","requiresAccessToken":false,"output":[%s],"error":[]}`, strings.Join(out, ","))
	})
	mux.HandleFunc("GET /files/{n}", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/fhir+ndjson")
		http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(data))
	})
	srv = httptest.NewServer(mux)
	tb.Cleanup(srv.Close)
	return srv, int64(len(data)) * int64(nFiles)
}

// BenchmarkExportToCatalogue runs a whole export into a fresh catalogue;
// compare its MB/s with BenchmarkPlainDownload's (same files, to disk).
func BenchmarkExportToCatalogue(b *testing.B) {
	for _, batch := range []int{500, 2000, 10000} {
		b.Run(fmt.Sprintf("batch=%d", batch), func(b *testing.B) { benchExport(b, batch) })
	}
}

func benchExport(b *testing.B, batch int) {
	srv, size := staticExport(b, 8, 5000)
	b.SetBytes(size)
	for b.Loop() {
		b.StopTimer()
		db := mustOpenDB(b)
		r, _, _ := newRunner(b, srv.URL+"/fhir", http.DefaultClient, db)
		r.BatchLines = batch
		r.OnEvent = nil
		b.StartTimer()
		exp := &core.Export{FHIRBaseURL: srv.URL + "/fhir", Request: core.ExportRequest{Level: core.LevelPatient}}
		if err := r.Start(b.Context(), exp); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkPlainDownload(b *testing.B) {
	srv, size := staticExport(b, 8, 5000)
	b.SetBytes(size)
	for b.Loop() {
		dir := b.TempDir()
		var g errgroup.Group
		g.SetLimit(4)
		for i := range 8 {
			g.Go(func() error {
				resp, err := http.Get(srv.URL + "/files/" + strconv.Itoa(i))
				if err != nil {
					return err
				}
				defer resp.Body.Close()
				f, err := os.Create(filepath.Join(dir, strconv.Itoa(i)))
				if err != nil {
					return err
				}
				defer f.Close()
				_, err = io.Copy(f, resp.Body)
				return err
			})
		}
		if err := g.Wait(); err != nil {
			b.Fatal(err)
		}
	}
}
