package bulk_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"tranche.dev/tranche/core"
	"tranche.dev/tranche/core/bulk"
	"tranche.dev/tranche/core/demo"
)

// badFile has 6 lines: 3 good, invalid JSON, a wrong type, and one over the
// 300 byte limit the test sets.
var badFile = strings.Join([]string{
	`{"resourceType":"Patient","id":"1"}`,
	`{"resourceType":"Patient","id":"2"`,
	`{"resourceType":"Observation","id":"3"}`,
	`{"resourceType":"Patient","id":"4","text":"` + strings.Repeat("x", 400) + `"}`,
	`{"resourceType":"Patient","id":"5"}`,
	"",
	`{"resourceType":"Patient","id":"6"}`,
}, "\n")

func TestValidationProblemsDoNotAbort(t *testing.T) {
	var srv *httptest.Server
	mux := http.NewServeMux()
	mux.HandleFunc("GET /fhir/Patient/$export", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Location", srv.URL+"/status")
		w.WriteHeader(http.StatusAccepted)
	})
	mux.HandleFunc("GET /status", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, `{"transactionTime":"2024-01-01T00:00:00Z","request":"x","requiresAccessToken":false,"output":[
			{"type":"Patient","url":"%[1]s/bad","count":6},
			{"type":"Patient","url":"%[1]s/short","count":5},
			{"type":"Patient","url":"%[1]s/good","count":2}],"error":[]}`, srv.URL)
	})
	mux.HandleFunc("GET /bad", func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, badFile) })
	mux.HandleFunc("GET /short", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, `{"resourceType":"Patient","id":"7"}`+"\n")
	})
	mux.HandleFunc("GET /good", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, `{"resourceType":"Patient","id":"8"}`+"\r\n"+`{"resourceType":"Patient","id":"9"}`+"\r\n")
	})
	srv = httptest.NewServer(mux)
	defer srv.Close()
	db := mustOpenDB(t)
	r, _, _ := newRunner(t, srv.URL+"/fhir", http.DefaultClient, db)
	r.MaxLine = 300
	exp := &core.Export{FHIRBaseURL: srv.URL + "/fhir", Request: core.ExportRequest{Level: core.LevelPatient}}
	if err := r.Start(t.Context(), exp); err == nil {
		t.Fatal("Start() = nil, want an error: two files failed their checks")
	}
	files, err := db.FindFiles(t.Context(), exp.ID)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, f := range files {
		got[f.URL[len(srv.URL):]] = fmt.Sprintf("%s lines=%d problems=%d", f.State, f.Lines, f.Problems)
	}
	want := map[string]string{
		"/bad":   "invalid lines=6 problems=3",
		"/short": "invalid lines=1 problems=0",
		"/good":  "loaded lines=2 problems=0",
	}
	for k, w := range want {
		if got[k] != w {
			t.Errorf("file %s: %s, want %s", k, got[k], w)
		}
	}
	fin, _ := db.FindExport(t.Context(), exp.ID)
	if fin.State != core.StateFailed || !strings.Contains(fin.Error, "2 of 3 files not verified") || fin.Released {
		t.Errorf("export state %s error %q released %v; want failed, '2 of 3 files not verified', not released", fin.State, fin.Error, fin.Released)
	}
	counts, _ := db.Counts(t.Context(), exp.ID)
	if len(counts) != 1 || counts[0].Count != 6 { // 1, 5, 6, 7, 8, 9
		t.Errorf("stored resources = %v, want 6 Patients", counts)
	}
}

// TestResumeAfterInterrupt cancels a run mid-download, then resumes it: no
// file is fetched again from the start once loaded, and no line twice.
func TestResumeAfterInterrupt(t *testing.T) {
	srv := mustOpenDemo(t, demo.Config{Open: true, FileLines: 200, Patients: 30})
	db := mustOpenDB(t)
	r, ev, _ := newRunner(t, srv.URL(), http.DefaultClient, db)
	r.BatchLines = 40
	ctx, cancel := context.WithCancel(t.Context())
	var batches atomic.Int64
	r.OnEvent = func(e core.Event) {
		ev.handle(e)
		if e.Kind == core.EventDownloadProgress && batches.Add(1) == 12 {
			cancel()
		}
	}
	exp := &core.Export{FHIRBaseURL: srv.URL(), Request: core.ExportRequest{Level: core.LevelPatient}}
	if err := r.Start(ctx, exp); err == nil {
		t.Fatal("Start() = nil after cancel, want an error")
	}
	mid, _ := db.FindExport(t.Context(), exp.ID)
	if mid.State.Final() || mid.StatusURL == "" {
		t.Fatalf("after the interrupt: state %s, status url %q; want resumable", mid.State, mid.StatusURL)
	}
	loadedBefore := map[string]bool{}
	partial := 0
	files, _ := db.FindFiles(t.Context(), exp.ID)
	for _, f := range files {
		if f.State == core.FileLoaded {
			loadedBefore[f.URL] = true
		} else if f.Lines > 0 {
			partial++
		}
	}
	if partial == 0 {
		t.Fatal("no partly loaded file after the interrupt; the test does not test resuming a file")
	}

	r2, ev2, _ := newRunner(t, srv.URL(), http.DefaultClient, db)
	got, err := r2.Resume(t.Context(), exp.ID)
	if err != nil {
		t.Fatalf("Resume() = %v", err)
	}
	if got.State != core.StateComplete {
		t.Fatalf("state after resume = %s, want complete", got.State)
	}
	checkCatalogue(t, db, got)
	ranged := 0
	for _, e := range ev2.kinds(core.EventDownloadRequest) {
		if loadedBefore[e.FileURL] {
			t.Errorf("resume downloaded %s again, which was loaded before", e.FileURL)
		}
		if e.Offset > 0 {
			ranged++
		}
	}
	if ranged != partial {
		t.Errorf("%d resumed downloads with an offset, want %d (one per partly loaded file)", ranged, partial)
	}
}

func TestCancel(t *testing.T) {
	clock := newFakeClock()
	srv := mustOpenDemo(t, demo.Config{Open: true, Now: clock.Now, Faults: demo.Faults{JobDelay: time.Hour}})
	db := mustOpenDB(t)
	r, _, _ := newRunner(t, srv.URL(), http.DefaultClient, db)
	r.Now, r.Sleep = clock.Now, clock.Sleep
	r.Deadline = time.Minute // give up waiting long before the job is done
	exp := &core.Export{FHIRBaseURL: srv.URL(), Request: core.ExportRequest{Level: core.LevelPatient}}
	if err := r.Start(t.Context(), exp); err == nil || !strings.Contains(err.Error(), "deadline") {
		t.Fatalf("Start() = %v, want the deadline error", err)
	}
	if err := r.Cancel(t.Context(), exp.ID); err != nil {
		t.Fatalf("Cancel() = %v", err)
	}
	got, _ := db.FindExport(t.Context(), exp.ID)
	if got.State != core.StateCancelled || !got.Released {
		t.Errorf("state %s released %v, want cancelled and released", got.State, got.Released)
	}
	// The server forgot the job: polling it now says so.
	if _, err := r.Client.Status(t.Context(), got.StatusURL); !errors.Is(err, core.ErrExpired) {
		t.Errorf("Status() after DELETE = %v, want core.ErrExpired (404)", err)
	}
}

// TestResumeWhilePolling: an export interrupted before its manifest polls
// the same job again on resume.
func TestResumeWhilePolling(t *testing.T) {
	clock := newFakeClock()
	srv := mustOpenDemo(t, demo.Config{Open: true, Now: clock.Now, FileLines: 300, Faults: demo.Faults{JobDelay: 10 * time.Minute}})
	db := mustOpenDB(t)
	r, _, _ := newRunner(t, srv.URL(), http.DefaultClient, db)
	r.Now, r.Sleep = clock.Now, clock.Sleep
	r.PollMin, r.PollMax, r.Deadline = time.Second, time.Minute, 2*time.Minute
	exp := &core.Export{FHIRBaseURL: srv.URL(), Request: core.ExportRequest{Level: core.LevelPatient}}
	if err := r.Start(t.Context(), exp); !errors.Is(err, bulk.ErrDeadline) {
		t.Fatalf("Start() = %v, want bulk.ErrDeadline", err)
	}
	mid, _ := db.FindExport(t.Context(), exp.ID)
	if mid.State != core.StatePolling || mid.StatusURL == "" {
		t.Fatalf("after the deadline: state %s, status url %q; want polling with the url kept", mid.State, mid.StatusURL)
	}
	r.Deadline = time.Hour
	got, err := r.Resume(t.Context(), exp.ID)
	if err != nil {
		t.Fatalf("Resume() = %v", err)
	}
	if got.State != core.StateComplete || got.StatusURL != mid.StatusURL {
		t.Errorf("after resume: state %s, status url %q; want complete on the same job %q", got.State, got.StatusURL, mid.StatusURL)
	}
	checkCatalogue(t, db, got)
}
