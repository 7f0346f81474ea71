package bulk_test

import (
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"tranche.dev/tranche/core"
	"tranche.dev/tranche/core/bulk"
	"tranche.dev/tranche/core/dialtest"
)

// TestInsecureFileURLsRefused: file URLs with another scheme than https
// (or http on loopback) are refused at once with a sentence, not retried
// as network errors, and the export ends failed with that reason.
func TestInsecureFileURLsRefused(t *testing.T) {
	var srv *httptest.Server
	mux := http.NewServeMux()
	mux.HandleFunc("GET /fhir/Patient/$export", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Location", srv.URL+"/status")
		w.WriteHeader(http.StatusAccepted)
	})
	mux.HandleFunc("GET /status", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, `{"transactionTime":"2024-01-01T00:00:00Z","request":"x","requiresAccessToken":false,"output":[
			{"type":"Patient","url":"file:///etc/passwd","count":1},
			{"type":"Patient","url":"ftp://192.0.2.10/a.ndjson","count":1},
			{"type":"Patient","url":"javascript:alert(1)","count":1},
			{"type":"Patient","url":"http://192.0.2.10/b.ndjson?sig=x","count":1},
			{"type":"Patient","url":"%s/good","count":1}],"error":[]}`, srv.URL)
	})
	mux.HandleFunc("GET /good", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, `{"resourceType":"Patient","id":"1"}`+"\n")
	})
	mux.HandleFunc("GET /redirect", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "http://192.0.2.10/c.ndjson", http.StatusFound)
	})
	srv = httptest.NewServer(mux)
	defer srv.Close()
	db := mustOpenDB(t)
	hc := dialtest.LoopbackClient(t)
	r, ev, _ := newRunner(t, srv.URL+"/fhir", hc, db)
	r.Client.FileClient = hc
	exp := &core.Export{FHIRBaseURL: srv.URL + "/fhir", Request: core.ExportRequest{Level: core.LevelPatient}}
	if err := r.Start(t.Context(), exp); err == nil {
		t.Fatal("Start() = nil, want the refused files not verified")
	}
	got, _ := db.FindExport(t.Context(), exp.ID)
	if got.State != core.StateFailed {
		t.Errorf("state = %s, want failed: no resume can fetch an insecure URL", got.State)
	}
	if n := len(ev.kinds(core.EventDownloadRequest)); n != 5 {
		t.Errorf("%d download requests, want 5: one per file, no retries", n)
	}
	files, _ := db.FindFiles(t.Context(), exp.ID)
	for _, f := range files {
		if strings.HasSuffix(f.URL, "/good") {
			if f.State != core.FileLoaded {
				t.Errorf("good file %s, want loaded", f.State)
			}
			continue
		}
		if f.State != core.FileInvalid || !strings.Contains(f.Error, "refusing") || strings.Contains(f.Error, "sig=") {
			t.Errorf("file %s: %s %q, want invalid with a refusal that hides the query", f.URL, f.State, f.Error)
		}
	}
}

// TestInsecureRedirectRefused: a redirect to plain http off loopback is
// not followed, for files and for status.
func TestInsecureRedirectRefused(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "http://192.0.2.10/elsewhere", http.StatusFound)
	}))
	defer srv.Close()
	hc := dialtest.LoopbackClient(t)
	r, _, _ := newRunner(t, srv.URL+"/fhir", hc, mustOpenDB(t))
	r.Client.FileClient = hc
	if _, err := r.Client.OpenFile(t.Context(), srv.URL+"/f", false, 0); !errors.Is(err, core.ErrInsecureURL) {
		t.Errorf("OpenFile = %v, want a refused redirect", err)
	}
	if _, err := r.Client.OpenFile(t.Context(), srv.URL+"/f", true, 0); !errors.Is(err, core.ErrInsecureURL) {
		t.Errorf("OpenFile with token = %v, want a refused redirect", err)
	}
	if _, err := r.Client.Status(t.Context(), srv.URL+"/status"); !errors.Is(err, core.ErrInsecureURL) {
		t.Errorf("Status = %v, want a refused redirect", err)
	}
	r.Client.BaseURL = "http://192.0.2.10/fhir"
	exp := &core.Export{FHIRBaseURL: r.Client.BaseURL, Request: core.ExportRequest{Level: core.LevelSystem}}
	if err := r.Start(t.Context(), exp); !errors.Is(err, core.ErrInsecureURL) || exp.ID != 0 {
		t.Errorf("Start = %v (export id %d), want a refusal before anything is stored", err, exp.ID)
	}
}

// TestRetryAfterFarFuture: Retry-After in the year 9999 waits the longest
// poll delay, not the shortest (it used to overflow and poll every second).
func TestRetryAfterFarFuture(t *testing.T) {
	var srv *httptest.Server
	polls := 0
	mux := http.NewServeMux()
	mux.HandleFunc("GET /fhir/Patient/$export", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Location", srv.URL+"/status")
		w.WriteHeader(http.StatusAccepted)
	})
	mux.HandleFunc("GET /status", func(w http.ResponseWriter, r *http.Request) {
		polls++
		if polls == 1 {
			w.Header().Set("Retry-After", "Fri, 31 Dec 9999 23:59:59 GMT")
			w.WriteHeader(http.StatusAccepted)
			return
		}
		fmt.Fprintf(w, `{"transactionTime":"2024-01-01T00:00:00Z","request":"x","requiresAccessToken":false,"output":[],"error":[]}`)
	})
	mux.HandleFunc("DELETE /status", func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusAccepted) })
	srv = httptest.NewServer(mux)
	defer srv.Close()
	r, _, sl := newRunner(t, srv.URL+"/fhir", http.DefaultClient, mustOpenDB(t))
	exp := &core.Export{FHIRBaseURL: srv.URL + "/fhir", Request: core.ExportRequest{Level: core.LevelPatient}}
	r.Start(t.Context(), exp) // no files: the outcome does not matter here
	if len(sl.ds) == 0 || sl.ds[0] != r.PollMax {
		t.Fatalf("sleeps = %v, want the first to be PollMax %v", sl.ds, r.PollMax)
	}
}

// TestStatusRedirectToPlainHTTP: a status poll redirected to plain http
// off this computer is not followed, and the export stays resumable with
// the reason.
func TestStatusRedirectToPlainHTTP(t *testing.T) {
	h := newHostile(t)
	h.status = func(w http.ResponseWriter, r *http.Request, n int64) {
		http.Redirect(w, r, "http://192.0.2.10/status/1", http.StatusFound)
	}
	hc := dialtest.LoopbackClient(t)
	r, _, _ := newRunner(t, h.srv.URL+"/fhir", hc, mustOpenDB(t))
	r.Client.FileClient = hc
	exp := &core.Export{FHIRBaseURL: h.srv.URL + "/fhir", Request: core.ExportRequest{Level: core.LevelPatient}}
	err := r.Start(t.Context(), exp)
	var re *bulk.ResumableError
	if !errors.As(err, &re) || !errors.Is(err, core.ErrInsecureURL) || !strings.Contains(err.Error(), "refusing http://192.0.2.10/status/1") {
		t.Fatalf("Start() = %v, want a ResumableError naming the refused URL", err)
	}
	if got, _ := r.Store.FindExport(t.Context(), exp.ID); got.State.Final() {
		t.Errorf("state %s, want resumable", got.State)
	}
}
