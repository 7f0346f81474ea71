package bulk_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"tranche.dev/tranche/core"
	"tranche.dev/tranche/core/mock"
)

// TestStoreFailureIsNotSilent: when the catalogue cannot store records, the
// export fails with that reason instead of reporting success.
func TestStoreFailureIsNotSilent(t *testing.T) {
	var srv *httptest.Server
	mux := http.NewServeMux()
	mux.HandleFunc("GET /fhir/$export", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Location", srv.URL+"/status")
		w.WriteHeader(http.StatusAccepted)
	})
	mux.HandleFunc("GET /status", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, `{"transactionTime":"2024-01-01T00:00:00Z","requiresAccessToken":false,"output":[{"type":"Patient","url":"%s/f","count":1}]}`, srv.URL)
	})
	mux.HandleFunc("GET /f", func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, `{"resourceType":"Patient","id":"1"}`) })
	srv = httptest.NewServer(mux)
	defer srv.Close()

	var mu sync.Mutex
	var last core.Export
	diskFull := errors.New("database or disk is full")
	store := &mock.Store{
		CreateExportFn: func(_ context.Context, e *core.Export) error { e.ID = 1; return nil },
		UpdateExportFn: func(_ context.Context, e *core.Export) error { mu.Lock(); last = *e; mu.Unlock(); return nil },
		AddFilesFn: func(_ context.Context, _ int64, fs []*core.ExportFile) error {
			for i, f := range fs {
				f.ID = int64(i + 1)
			}
			return nil
		},
		AppendRecordsFn: func(context.Context, *core.ExportFile, []core.Record) error { return diskFull },
	}
	r, _, _ := newRunner(t, srv.URL+"/fhir", http.DefaultClient, store)
	exp := &core.Export{FHIRBaseURL: srv.URL + "/fhir", Request: core.ExportRequest{Level: core.LevelSystem}}
	err := r.Start(t.Context(), exp)
	if !errors.Is(err, diskFull) {
		t.Fatalf("Start() = %v, want the store's error", err)
	}
	mu.Lock()
	defer mu.Unlock()
	if last.State != core.StateFailed || !strings.Contains(last.Error, "disk is full") {
		t.Errorf("recorded state %s, error %q; want failed with the reason", last.State, last.Error)
	}
}
