package bulk_test

import (
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"tranche.dev/tranche/core"
	"tranche.dev/tranche/core/bulk"
	"tranche.dev/tranche/core/catalog"
	"tranche.dev/tranche/core/demo"
)

// TestPartialAndPagedManifests: a 202 carrying a partial manifest (Bulk Data Access IG v3, Export: Bulk Data Status Request, Response - In-Progress Status),
// then a complete manifest with a relative v1-style file path and a link to
// a second page (Bulk Data Access IG v3, Export: Bulk Data Status Request, Response - Complete Status: link). Every file is loaded once and the pages are kept.
func TestPartialAndPagedManifests(t *testing.T) {
	var mu sync.Mutex
	polls := 0
	gets := map[string]int{}
	var srv *httptest.Server
	mux := http.NewServeMux()
	mux.HandleFunc("GET /fhir/Patient/$export", func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Query().Get("allowPartialManifests") != "true" {
			t.Errorf("kick-off query %q lacks allowPartialManifests=true", r.URL.RawQuery)
		}
		w.Header().Set("Content-Location", srv.URL+"/status")
		w.WriteHeader(http.StatusAccepted)
	})
	mux.HandleFunc("DELETE /status", func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusAccepted) })
	mux.HandleFunc("GET /status", func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		polls++
		n := polls
		mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		partial := fmt.Sprintf(`{"transactionTime":"2024-01-01T00:00:00Z","request":"x","requiresAccessToken":false,"output":[{"type":"Patient","url":"%s/files/a","count":1}],"error":[]}`, srv.URL)
		switch {
		case n == 1:
			w.Header().Set("X-Progress", "10%")
			w.WriteHeader(http.StatusAccepted)
		case n <= 3:
			w.Header().Set("X-Progress", "50%")
			w.WriteHeader(http.StatusAccepted)
			fmt.Fprint(w, partial) // the same partial manifest twice
		default:
			fmt.Fprintf(w, `{"transactionTime":"2024-01-01T00:00:00Z","request":"x","requiresAccessToken":false,
				"output":[{"type":"Patient","url":"files/b","count":1}],"error":[],
				"link":[{"relation":"next","url":"%s/page2"}]}`, srv.URL)
		}
	})
	mux.HandleFunc("GET /page2", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, `{"transactionTime":"2024-01-01T00:00:00Z","request":"x","requiresAccessToken":false,
			"output":[{"type":"Observation","url":"%s/files/c","count":1}],"deleted":[{"url":"%s/files/d"}],"error":[]}`, srv.URL, srv.URL)
	})
	mux.HandleFunc("GET /files/{name}", func(w http.ResponseWriter, r *http.Request) {
		name := r.PathValue("name")
		mu.Lock()
		gets[name]++
		mu.Unlock()
		switch name {
		case "c":
			fmt.Fprint(w, `{"resourceType":"Observation","id":"c","subject":{"reference":"Patient/a"}}`)
		case "d":
			fmt.Fprint(w, `{"resourceType":"Bundle","type":"transaction","entry":[{"request":{"method":"DELETE","url":"Patient/gone"}}]}`)
		default:
			fmt.Fprintf(w, `{"resourceType":"Patient","id":"%s"}`, name)
		}
	})
	srv = httptest.NewServer(mux)
	defer srv.Close()

	db := mustOpenDB(t)
	r, ev, _ := newRunner(t, srv.URL+"/fhir", http.DefaultClient, db)
	exp := &core.Export{FHIRBaseURL: srv.URL + "/fhir", Request: core.ExportRequest{Level: core.LevelPatient, AllowPartialManifests: true}}
	if err := r.Start(t.Context(), exp); err != nil {
		t.Fatalf("Start() = %v", err)
	}
	checkCatalogue(t, db, exp)
	mu.Lock()
	defer mu.Unlock()
	for _, name := range []string{"a", "b", "c", "d"} {
		if gets[name] != 1 {
			t.Errorf("file %s fetched %d times, want once", name, gets[name])
		}
	}
	got, _ := db.FindExport(t.Context(), exp.ID)
	if !strings.HasPrefix(string(got.Manifest), "[") || got.Progress != "50%" {
		t.Errorf("stored manifest %.40q… progress %q; want the pages as a JSON array, progress 50%%", got.Manifest, got.Progress)
	}
	mc := ev.kinds(core.EventManifestComplete)
	if len(mc) != 1 || mc[0].Manifests != 2 || mc[0].DeletedFiles != 1 {
		t.Errorf("manifest_complete = %v, want 2 manifests with 1 deleted file", mc)
	}
}

// fixture is a test server for manifestExport: it answers kick-off (with
// 429 the first refusals times) and DELETE, and status and files with the
// handlers given (base is the server's URL).
type fixture struct {
	partial      bool
	refusals     int
	status, file func(w http.ResponseWriter, r *http.Request, base string)
}

// manifestExport runs a Patient-level export against fx and returns the
// catalogue, the export and its events.
func manifestExport(t *testing.T, fx fixture) (*catalog.DB, *core.Export, *events) {
	t.Helper()
	var srv *httptest.Server
	var mu sync.Mutex
	kickoffs := 0
	mux := http.NewServeMux()
	mux.HandleFunc("GET /fhir/Patient/$export", func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		kickoffs++
		n := kickoffs
		mu.Unlock()
		if n <= fx.refusals {
			w.Header().Set("Retry-After", "120")
			w.Header().Set("Content-Type", "application/fhir+json")
			w.WriteHeader(http.StatusTooManyRequests)
			fmt.Fprint(w, `{"resourceType":"OperationOutcome","issue":[{"severity":"error","code":"throttled","diagnostics":"too many exports"}]}`)
			return
		}
		w.Header().Set("Content-Location", srv.URL+"/status")
		w.WriteHeader(http.StatusAccepted)
	})
	mux.HandleFunc("DELETE /status", func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusAccepted) })
	mux.HandleFunc("GET /status", func(w http.ResponseWriter, r *http.Request) { fx.status(w, r, srv.URL) })
	mux.HandleFunc("GET /files/{name}", func(w http.ResponseWriter, r *http.Request) { fx.file(w, r, srv.URL) })
	srv = httptest.NewServer(mux)
	t.Cleanup(srv.Close)

	db := mustOpenDB(t)
	r, ev, _ := newRunner(t, srv.URL+"/fhir", http.DefaultClient, db)
	exp := &core.Export{FHIRBaseURL: srv.URL + "/fhir", Request: core.ExportRequest{Level: core.LevelPatient, AllowPartialManifests: fx.partial}}
	if err := r.Start(t.Context(), exp); err != nil {
		t.Fatalf("Start() = %v, want nil", err)
	}
	return db, exp, ev
}

// TestPartialManifestRepeatedAsFinal: the SMART reference server sends the
// same manifest body with its last 202 and with the 200. The files are
// fetched once and the export completes (it used to panic on an empty
// page list).
func TestPartialManifestRepeatedAsFinal(t *testing.T) {
	var mu sync.Mutex
	polls, gets := 0, 0
	db, exp, _ := manifestExport(t, fixture{partial: true, status: func(w http.ResponseWriter, r *http.Request, base string) {
		mu.Lock()
		polls++
		n := polls
		mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		if n == 1 {
			w.WriteHeader(http.StatusAccepted)
		}
		fmt.Fprintf(w, `{"transactionTime":"2024-01-01T00:00:00Z","request":"x","requiresAccessToken":false,"output":[{"type":"Patient","url":"%s/files/a","count":1}],"error":[]}`, base)
	}, file: func(w http.ResponseWriter, r *http.Request, base string) {
		mu.Lock()
		gets++
		mu.Unlock()
		fmt.Fprint(w, `{"resourceType":"Patient","id":"a"}`)
	}})
	checkCatalogue(t, db, exp)
	mu.Lock()
	defer mu.Unlock()
	if gets != 1 {
		t.Errorf("file fetched %d times, want once", gets)
	}
}

// TestSinceAuto: a second export with _since=auto asks for changes since
// the first one's transactionTime.
func TestSinceAuto(t *testing.T) {
	srv := mustOpenDemo(t, demo.Config{Open: true, FileLines: 500})
	db := mustOpenDB(t)
	var first *core.Export
	for i, since := range []string{"auto", "auto"} {
		r, ev, _ := newRunner(t, srv.URL(), http.DefaultClient, db)
		exp := &core.Export{FHIRBaseURL: srv.URL(), Scope: "system/*.rs", Request: core.ExportRequest{Level: core.LevelSystem, Types: []string{"Patient"}, Since: since}}
		if err := r.Start(t.Context(), exp); err != nil {
			t.Fatalf("export %d: %v", i+1, err)
		}
		kick := ev.kinds(core.EventKickoff)[0].KickoffURL
		if i == 0 {
			first = exp
			if strings.Contains(kick, "_since") {
				t.Errorf("first export sent %s; want no _since (nothing to go on)", kick)
			}
			continue
		}
		if exp.Request.Since != first.TransactionTime || !strings.Contains(kick, "_since=") {
			t.Errorf("second export: since %q, kick-off %s; want since = first transactionTime %q", exp.Request.Since, kick, first.TransactionTime)
		}
	}
}

func TestStatusOddAnswers(t *testing.T) {
	tests := []struct {
		name      string
		handler   http.HandlerFunc
		wantDone  bool
		wantErr   string
		transient bool
	}{
		{"SeparateExportStatusRunning", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("X-Export-Status", "202 Accepted")
			w.Header().Set("X-Progress", "busy")
		}, false, "", false},
		{"SeparateExportStatusFailed", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("X-Export-Status", "500 Internal Server Error")
			fmt.Fprint(w, `{"resourceType":"OperationOutcome","issue":[{"severity":"error","code":"exception","diagnostics":"db down"}]}`)
		}, false, "X-Export-Status 500: db down", true},
		{"OutcomeWith200", func(w http.ResponseWriter, r *http.Request) {
			fmt.Fprint(w, `{"resourceType":"OperationOutcome","issue":[{"severity":"fatal","code":"processing","diagnostics":"job failed"}]}`)
		}, false, "job failed", false},
		{"FailedJobOutcome", func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(http.StatusInternalServerError) // the reference server's file_generation_failed
			fmt.Fprint(w, `{"resourceType":"OperationOutcome","issue":[{"severity":"error","code":"processing","diagnostics":"File generation failed"}]}`)
		}, false, "File generation failed", false},
		{"TransientOutcome", func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(http.StatusInternalServerError)
			fmt.Fprint(w, `{"resourceType":"OperationOutcome","issue":[{"severity":"error","code":"transient","diagnostics":"try again"}]}`)
		}, false, "try again", true},
		{"Bare502", func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(http.StatusBadGateway)
			fmt.Fprint(w, "<html>Bad Gateway</html>")
		}, false, "HTTP 502", true},
		{"NotFound", func(w http.ResponseWriter, r *http.Request) { http.NotFound(w, r) }, false, core.ErrExpired.Error(), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := httptest.NewServer(tt.handler)
			defer srv.Close()
			c := &bulk.Client{BaseURL: srv.URL}
			st, err := c.Status(t.Context(), srv.URL+"/status")
			if tt.wantErr == "" {
				if err != nil || st.Done != tt.wantDone {
					t.Fatalf("Status() = %+v, %v; want done=%v, no error", st, err, tt.wantDone)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("Status() error = %v, want %q", err, tt.wantErr)
			}
			var he *bulk.HTTPError
			if errors.As(err, &he) && he.Transient != tt.transient {
				t.Errorf("Transient = %v, want %v", he.Transient, tt.transient)
			}
		})
	}
}

// TestErrorFileCountNotChecked: an error item's count is the number of
// resources that failed (the SMART reference server copies it from the
// output item), not the OperationOutcome lines, so it does not make the
// error file invalid.
func TestErrorFileCountNotChecked(t *testing.T) {
	db, exp, _ := manifestExport(t, fixture{status: func(w http.ResponseWriter, r *http.Request, base string) {
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, `{"transactionTime":"2024-01-01T00:00:00Z","request":"x","requiresAccessToken":false,"output":[],
			"error":[{"type":"OperationOutcome","url":"%s/files/e","count":639}]}`, base)
	}, file: func(w http.ResponseWriter, r *http.Request, base string) {
		fmt.Fprint(w, `{"resourceType":"OperationOutcome","issue":[{"severity":"error","code":"processing","diagnostics":"File generation failed"}]}`)
	}})
	files, err := db.FindFiles(t.Context(), exp.ID)
	if err != nil || len(files) != 1 {
		t.Fatalf("FindFiles() = %v, %v; want one error file", files, err)
	}
	if got, want := files[0].State, core.FileLoaded; got != want {
		t.Errorf("error file state = %s (%s), want %s", got, files[0].Error, want)
	}
}

// TestKickoffRefusedSaysSo: a 429 at kick-off is waited out, and while it
// waits the runner says why (a status_progress event the CLI and GUI show),
// instead of sitting silent for the server's Retry-After.
func TestKickoffRefusedSaysSo(t *testing.T) {
	_, exp, ev := manifestExport(t, fixture{refusals: 2, status: func(w http.ResponseWriter, r *http.Request, base string) {
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, `{"transactionTime":"2024-01-01T00:00:00Z","request":"x","requiresAccessToken":false,"output":[{"type":"Patient","url":"%s/files/a","count":1}],"error":[]}`, base)
	}, file: func(w http.ResponseWriter, r *http.Request, base string) {
		fmt.Fprint(w, `{"resourceType":"Patient","id":"a"}`)
	}})
	if exp.State != core.StateComplete {
		t.Fatalf("state = %s (%s), want complete", exp.State, exp.Error)
	}
	said := 0
	for _, e := range ev.kinds(core.EventStatusProgress) {
		if strings.Contains(e.Progress, "kick-off refused (HTTP 429)") {
			said++
		}
	}
	if said != 2 {
		t.Errorf("status_progress events naming the refused kick-off = %d, want 2 (one per 429)", said)
	}
}
