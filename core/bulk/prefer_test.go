package bulk_test

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"tranche.dev/tranche/core"
	"tranche.dev/tranche/core/bulk"
	"tranche.dev/tranche/core/demo"
)

// TestStatusExportStatus: a 200 with X-Export-Status is read as if
// X-Export-Status were the HTTP status (Bulk Data Access IG, Export: Bulk Data Status Request, Response); other HTTP
// statuses describe the poll and keep their meaning.
func TestStatusExportStatus(t *testing.T) {
	manifest := `{"transactionTime":"2024-01-01T00:00:00Z","request":"x","requiresAccessToken":false,"output":[{"type":"Patient","url":"http://files.example/a","count":1}],"error":[]}`
	outcome := func(code, msg string) string {
		return fmt.Sprintf(`{"resourceType":"OperationOutcome","issue":[{"severity":"error","code":%q,"diagnostics":%q}]}`, code, msg)
	}
	tests := []struct {
		name         string
		httpStatus   int
		exportStatus string
		retryAfter   string
		body         string
		wantDone     bool
		wantProgress string
		wantRetry    time.Duration
		wantErr      string // substring; "" = no error
		wantCode     int    // HTTPError.StatusCode
		transient    bool
		expired      bool
	}{
		{name: "Running", httpStatus: 200, exportStatus: "202 Accepted", retryAfter: "7",
			wantProgress: "50% complete", wantRetry: 7 * time.Second},
		{name: "RunningCodeOnly", httpStatus: 200, exportStatus: "202", wantProgress: "50% complete"},
		{name: "Complete", httpStatus: 200, exportStatus: "200 OK", body: manifest, wantDone: true, wantProgress: "50% complete"},
		{name: "FailedJob", httpStatus: 200, exportStatus: "500 Internal Server Error", body: outcome("processing", "export failed"),
			wantErr: "X-Export-Status 500: export failed", wantCode: 500},
		{name: "FailedBadRequest", httpStatus: 200, exportStatus: "400 Bad Request", body: outcome("invalid", "bad _typeFilter"),
			wantErr: "bad _typeFilter", wantCode: 400},
		{name: "TransientOutcome", httpStatus: 200, exportStatus: "503 Service Unavailable", retryAfter: "30", body: outcome("transient", "busy"),
			wantErr: "busy", wantCode: 503, transient: true, wantRetry: 30 * time.Second},
		{name: "BareFailure", httpStatus: 200, exportStatus: "502 Bad Gateway", body: "<html>oops</html>",
			wantErr: "X-Export-Status 502", wantCode: 502, transient: true},
		{name: "Gone", httpStatus: 200, exportStatus: "404 Not Found", body: outcome("not-found", "no such job"),
			wantErr: "X-Export-Status 404: no such job", wantCode: 404, expired: true},
		{name: "UnreadableLetsTheBodySpeak", httpStatus: 200, exportStatus: "done", body: manifest, wantDone: true, wantProgress: "50% complete"},
		// Only a 200 carries the job's status.
		{name: "HTTP202WinsOver200", httpStatus: 202, exportStatus: "200 OK", wantProgress: "50% complete"},
		{name: "Throttled", httpStatus: 429, exportStatus: "202 Accepted", retryAfter: "3", body: outcome("throttled", "slow down"),
			wantErr: "HTTP 429: slow down", wantCode: 429, transient: true, wantRetry: 3 * time.Second},
		{name: "PlainFailure", httpStatus: 500, body: outcome("processing", "export failed"),
			wantErr: "HTTP 500: export failed", wantCode: 500},
		{name: "NoHeaderManifest", httpStatus: 200, body: manifest, wantDone: true, wantProgress: "50% complete"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if tt.exportStatus != "" {
					w.Header().Set("X-Export-Status", tt.exportStatus)
				}
				if tt.retryAfter != "" {
					w.Header().Set("Retry-After", tt.retryAfter)
				}
				w.Header().Set("X-Progress", "50% complete")
				w.WriteHeader(tt.httpStatus)
				io.WriteString(w, tt.body)
			}))
			defer srv.Close()
			c := &bulk.Client{BaseURL: srv.URL, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}
			st, err := c.Status(t.Context(), srv.URL+"/status")
			if tt.wantErr == "" {
				if err != nil {
					t.Fatalf("Status() error = %v, want nil", err)
				}
				if st.Done != tt.wantDone || st.Progress != tt.wantProgress || st.RetryAfter != tt.wantRetry {
					t.Errorf("Status() = done %v, progress %q, retry %s; want done %v, progress %q, retry %s",
						st.Done, st.Progress, st.RetryAfter, tt.wantDone, tt.wantProgress, tt.wantRetry)
				}
				if tt.wantDone && (st.Manifest == nil || len(st.Manifest.Output) != 1) {
					t.Errorf("Status() manifest = %+v, want one output", st.Manifest)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("Status() error = %v, want one containing %q", err, tt.wantErr)
			}
			var he *bulk.HTTPError
			if !errors.As(err, &he) {
				t.Fatalf("Status() error = %T %v, want *bulk.HTTPError", err, err)
			}
			if he.StatusCode != tt.wantCode || he.Transient != tt.transient || he.RetryAfter != tt.wantRetry {
				t.Errorf("HTTPError = code %d, transient %v, retry %s; want %d, %v, %s",
					he.StatusCode, he.Transient, he.RetryAfter, tt.wantCode, tt.transient, tt.wantRetry)
			}
			if got := errors.Is(err, core.ErrExpired); got != tt.expired {
				t.Errorf("errors.Is(err, core.ErrExpired) = %v, want %v", got, tt.expired)
			}
		})
	}
}

// TestKickoffPreferenceApplied: Preference-Applied may be comma-joined or
// repeated (Bulk Data Access IG, Export: Bulk Data Kick-off Request, Headers); when we asked and the server did not apply
// it, the client says so in its log and carries on.
func TestKickoffPreferenceApplied(t *testing.T) {
	tests := []struct {
		name    string
		ask     bool
		applied []string // Preference-Applied headers
		wantLog bool     // "did not apply" logged
	}{
		{"CommaJoined", true, []string{"respond-async,separate-export-status"}, false},
		{"Spaces", true, []string{"respond-async, separate-export-status"}, false},
		{"Repeated", true, []string{"respond-async", "separate-export-status"}, false},
		{"Missing", true, nil, true},
		{"OnlyAsync", true, []string{"respond-async"}, true},
		{"NotAsked", false, nil, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var prefer string
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				prefer = r.Header.Get("Prefer")
				for _, v := range tt.applied {
					w.Header().Add("Preference-Applied", v)
				}
				w.Header().Set("Content-Location", "/status")
				w.WriteHeader(http.StatusAccepted)
			}))
			defer srv.Close()
			var logs bytes.Buffer
			c := &bulk.Client{BaseURL: srv.URL, Logger: slog.New(slog.NewTextHandler(&logs, nil))}
			statusURL, _, err := c.Kickoff(t.Context(), core.ExportRequest{Level: core.LevelSystem, SeparateExportStatus: tt.ask})
			if err != nil || statusURL != srv.URL+"/status" {
				t.Fatalf("Kickoff() = %q, %v; want %q, nil", statusURL, err, srv.URL+"/status")
			}
			wantPrefer := "respond-async"
			if tt.ask {
				wantPrefer = "respond-async,separate-export-status"
			}
			if prefer != wantPrefer {
				t.Errorf("Prefer = %q, want %q", prefer, wantPrefer)
			}
			if got := strings.Contains(logs.String(), "did not apply separate-export-status"); got != tt.wantLog {
				t.Errorf("logged %q; want the did-not-apply line: %v", logs.String(), tt.wantLog)
			}
		})
	}
}

// statusCodes records the HTTP status of every status request the demo
// server answers.
type statusCodes struct {
	mu    sync.Mutex
	codes []int
}

func (s *statusCodes) record(l demo.RequestLog) {
	if l.Method == http.MethodGet && strings.Contains(l.Path, "/bulkstatus/") {
		s.mu.Lock()
		s.codes = append(s.codes, l.Status)
		s.mu.Unlock()
	}
}

func (s *statusCodes) get() []int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]int(nil), s.codes...)
}

// TestSeparateExportStatusDemo runs exports end to end against the demo
// server with and without Prefer: separate-export-status: in progress then
// complete, a failed job, transient failures. With the preference every
// status answer is HTTP 200 and the job's state comes from X-Export-Status.
func TestSeparateExportStatusDemo(t *testing.T) {
	tests := []struct {
		name      string
		separate  bool
		faults    demo.Faults
		wantState core.ExportState
		wantCodes func(codes []int) bool // HTTP statuses of the polls
		check     func(t *testing.T, exp *core.Export, ev *events)
	}{
		{"InProgressThenComplete", true, demo.Faults{JobDelay: 10 * time.Minute}, core.StateComplete, all200,
			func(t *testing.T, exp *core.Export, ev *events) {
				prog := ev.kinds(core.EventStatusProgress)
				if len(prog) < 3 {
					t.Errorf("%d status_progress events, want several while the job runs", len(prog))
				}
				for _, e := range prog {
					if x := e.Progress; !strings.Contains(x, "complete") && !strings.Contains(x, "finishing in") {
						t.Errorf("status_progress xProgress = %q, want the server's X-Progress", x)
					}
				}
				if len(ev.kinds(core.EventStatusError)) != 0 {
					t.Errorf("status_error events = %v, want none", ev.kinds(core.EventStatusError))
				}
			}},
		{"FailedJob", true, demo.Faults{FailJobs: true}, core.StateFailed, all200,
			func(t *testing.T, exp *core.Export, ev *events) {
				errs := ev.kinds(core.EventStatusError)
				if len(errs) != 1 || errs[0].Code != 500 || errs[0].Transient != false {
					t.Errorf("status_error events = %v, want one, HTTP 500, not transient (not retried)", errs)
				}
				if !strings.Contains(exp.Error, "export failed (simulated fault)") {
					t.Errorf("export error = %q, want the OperationOutcome's diagnostics", exp.Error)
				}
			}},
		{"TransientThenComplete", true, demo.Faults{StatusErrors: 3}, core.StateComplete, all200,
			func(t *testing.T, exp *core.Export, ev *events) {
				errs := ev.kinds(core.EventStatusError)
				if len(errs) != 3 || errs[0].Code != 500 || errs[0].Transient != true {
					t.Errorf("status_error events = %v, want 3 transient HTTP 500", errs)
				}
			}},
		{"NotAsked", false, demo.Faults{JobDelay: 10 * time.Minute}, core.StateComplete,
			func(codes []int) bool { return len(codes) > 1 && codes[0] == 202 && codes[len(codes)-1] == 200 }, nil},
		{"NotAskedFailedJob", false, demo.Faults{FailJobs: true}, core.StateFailed,
			func(codes []int) bool {
				return len(codes) > 0 && codes[len(codes)-1] == 500 && slices.Index(codes, 500) == len(codes)-1
			}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			clock := newFakeClock()
			codes := &statusCodes{}
			srv := mustOpenDemo(t, demo.Config{Open: true, FileLines: 150, Faults: tt.faults, Now: clock.Now, OnRequest: codes.record})
			db := mustOpenDB(t)
			r, ev, _ := newRunner(t, srv.URL(), http.DefaultClient, db)
			r.Now, r.Sleep = clock.Now, clock.Sleep
			r.PollMin, r.PollMax = time.Second, time.Minute
			exp := &core.Export{FHIRBaseURL: srv.URL(), Request: core.ExportRequest{Level: core.LevelSystem, SeparateExportStatus: tt.separate}}
			err := r.Start(t.Context(), exp)
			got, ferr := db.FindExport(t.Context(), exp.ID)
			if ferr != nil {
				t.Fatal(ferr)
			}
			if got.State != tt.wantState {
				t.Fatalf("state = %s (Start error %v), want %s", got.State, err, tt.wantState)
			}
			if tt.wantState == core.StateComplete {
				if err != nil {
					t.Fatalf("Start() = %v", err)
				}
				checkCatalogue(t, db, got)
			}
			if c := codes.get(); !tt.wantCodes(c) {
				t.Errorf("HTTP statuses of the polls = %v, not as expected", c)
			}
			if tt.check != nil {
				tt.check(t, got, ev)
			}
		})
	}
}

func all200(codes []int) bool {
	for _, c := range codes {
		if c != 200 {
			return false
		}
	}
	return len(codes) > 0
}

// TestSeparateExportStatusResume: the kick-off asked for
// separate-export-status, but the export is then picked up from its status
// URL alone (tranche export --status, or a catalogue from before the
// field existed). Polling needs nothing from the kick-off: X-Export-Status
// is read on every 200.
func TestSeparateExportStatusResume(t *testing.T) {
	clock := newFakeClock()
	codes := &statusCodes{}
	srv := mustOpenDemo(t, demo.Config{Open: true, FileLines: 150, Faults: demo.Faults{JobDelay: 5 * time.Minute}, Now: clock.Now, OnRequest: codes.record})
	c := &bulk.Client{BaseURL: srv.URL()}
	statusURL, _, err := c.Kickoff(t.Context(), core.ExportRequest{Level: core.LevelSystem, SeparateExportStatus: true})
	if err != nil {
		t.Fatal(err)
	}
	db := mustOpenDB(t)
	exp := &core.Export{FHIRBaseURL: srv.URL(), StatusURL: statusURL, State: core.StatePolling, Request: core.ExportRequest{Level: core.LevelSystem}}
	if err := db.CreateExport(t.Context(), exp); err != nil {
		t.Fatal(err)
	}
	r, ev, _ := newRunner(t, srv.URL(), http.DefaultClient, db)
	r.Now, r.Sleep = clock.Now, clock.Sleep
	r.PollMin, r.PollMax = time.Second, time.Minute
	if _, err := r.Resume(t.Context(), exp.ID); err != nil {
		t.Fatalf("Resume() = %v", err)
	}
	got, _ := db.FindExport(t.Context(), exp.ID)
	if got.State != core.StateComplete {
		t.Fatalf("state = %s (%s), want complete", got.State, got.Error)
	}
	checkCatalogue(t, db, got)
	if c := codes.get(); !all200(c) {
		t.Errorf("HTTP statuses of the polls = %v, want all 200 (the job answers with X-Export-Status)", c)
	}
	if len(ev.kinds(core.EventStatusProgress)) == 0 {
		t.Error("no status_progress event: the 200 + X-Export-Status: 202 polls were not read as in progress")
	}
}

// TestSeparateExportStatusTolerance: servers that get the preference half
// right. One answers with X-Export-Status but never says
// Preference-Applied; one ignores the preference and answers 202 and 200.
// Both exports complete.
func TestSeparateExportStatusTolerance(t *testing.T) {
	tests := []struct {
		name      string
		ask       bool
		xStatus   bool // answer polls with 200 + X-Export-Status
		wantPolls int
	}{
		{"XExportStatusWithoutPreferenceApplied", true, true, 3},
		{"XExportStatusNotAsked", false, true, 3},
		{"PreferenceIgnored", true, false, 3},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var mu sync.Mutex
			polls := 0
			var srv *httptest.Server
			mux := http.NewServeMux()
			mux.HandleFunc("GET /fhir/metadata", http.NotFound)
			mux.HandleFunc("GET /fhir/$export", func(w http.ResponseWriter, r *http.Request) {
				if got, want := strings.Contains(r.Header.Get("Prefer"), "separate-export-status"), tt.ask; got != want {
					t.Errorf("Prefer %q: separate-export-status asked = %v, want %v", r.Header.Get("Prefer"), got, want)
				}
				w.Header().Set("Content-Location", srv.URL+"/status") // and no Preference-Applied
				w.WriteHeader(http.StatusAccepted)
			})
			mux.HandleFunc("DELETE /status", func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusAccepted) })
			mux.HandleFunc("GET /status", func(w http.ResponseWriter, r *http.Request) {
				mu.Lock()
				polls++
				n := polls
				mu.Unlock()
				status := http.StatusOK
				if n < 3 {
					status = http.StatusAccepted
					w.Header().Set("X-Progress", fmt.Sprintf("step %d", n))
					w.Header().Set("Retry-After", "1")
				}
				if tt.xStatus {
					w.Header().Set("X-Export-Status", fmt.Sprintf("%d %s", status, http.StatusText(status)))
					status = http.StatusOK
				}
				if n < 3 {
					w.WriteHeader(status)
					return
				}
				w.Header().Set("Content-Type", "application/json")
				w.WriteHeader(status)
				fmt.Fprintf(w, `{"transactionTime":"2024-01-01T00:00:00Z","request":"x","requiresAccessToken":false,"output":[{"type":"Patient","url":"%s/files/a","count":1}],"error":[]}`, srv.URL)
			})
			mux.HandleFunc("GET /files/{name}", func(w http.ResponseWriter, r *http.Request) {
				fmt.Fprint(w, `{"resourceType":"Patient","id":"a"}`)
			})
			srv = httptest.NewServer(mux)
			defer srv.Close()

			db := mustOpenDB(t)
			r, ev, _ := newRunner(t, srv.URL+"/fhir", http.DefaultClient, db)
			exp := &core.Export{FHIRBaseURL: srv.URL + "/fhir", Request: core.ExportRequest{Level: core.LevelSystem, SeparateExportStatus: tt.ask}}
			if err := r.Start(t.Context(), exp); err != nil {
				t.Fatalf("Start() = %v", err)
			}
			checkCatalogue(t, db, exp)
			mu.Lock()
			defer mu.Unlock()
			if polls != tt.wantPolls {
				t.Errorf("polls = %d, want %d", polls, tt.wantPolls)
			}
			prog := ev.kinds(core.EventStatusProgress)
			if len(prog) != 2 || prog[1].Progress != "step 2" {
				t.Errorf("status_progress events = %v, want two, the last with X-Progress step 2", prog)
			}
		})
	}
}
