package bulk_test

import (
	"errors"
	"net/http"
	"testing"
	"time"

	"tranche.dev/tranche/core"
	"tranche.dev/tranche/core/demo"
	"tranche.dev/tranche/core/demo/demotest"
)

// newFakeClock is shared by the demo server and the runner: the runner's
// sleeps move it on, so a slow job or a 10 s token lifetime takes no time.
func newFakeClock() *demotest.Clock {
	return demotest.NewClock(time.Date(2026, 11, 23, 9, 0, 0, 0, time.UTC))
}

func TestRunnerFaults(t *testing.T) {
	tests := []struct {
		name      string
		faults    demo.Faults
		wantState core.ExportState
		check     func(t *testing.T, ev *events)
	}{
		{"SlowJob", demo.Faults{JobDelay: 10 * time.Minute}, core.StateComplete, func(t *testing.T, ev *events) {
			if n := len(ev.kinds(core.EventStatusProgress)); n < 3 {
				t.Errorf("%d status_progress events, want several while the job runs", n)
			}
		}},
		{"StatusErrors", demo.Faults{StatusErrors: 3}, core.StateComplete, func(t *testing.T, ev *events) {
			errs := ev.kinds(core.EventStatusError)
			if len(errs) != 3 || errs[0].Code != 500 || errs[0].Transient != true {
				t.Errorf("status_error events = %v, want 3 transient HTTP 500", errs)
			}
			for i, e := range errs {
				if e.RetryAfter <= 0 {
					t.Errorf("status_error %d: RetryAfter = %v, want the wait before the next try", i, e.RetryAfter)
				}
			}
		}},
		{"Burst429", demo.Faults{Burst429: 4}, core.StateComplete, func(t *testing.T, ev *events) {
			errs := ev.kinds(core.EventStatusError)
			if len(errs) != 4 || errs[0].Code != 429 {
				t.Errorf("status_error events = %v, want 4 HTTP 429", errs)
			}
			for i, e := range errs {
				if e.RetryAfter <= 0 {
					t.Errorf("429 %d: RetryAfter = %v, want the wait before the next try", i, e.RetryAfter)
				}
			}
		}},
		{"FileErrors", demo.Faults{FileErrors: 2}, core.StateComplete, func(t *testing.T, ev *events) {
			if n := len(ev.kinds(core.EventDownloadError)); n == 0 {
				t.Error("no download_error events")
			}
		}},
		{"DropMidFile", demo.Faults{DropMidFile: 2}, core.StateComplete, func(t *testing.T, ev *events) {
			resumed := false
			for _, e := range ev.kinds(core.EventDownloadRequest) {
				if e.Offset > 0 {
					resumed = true
				}
			}
			if !resumed {
				t.Error("no download_request with an offset: a cut file was not resumed")
			}
		}},
		{"ErrorFiles", demo.Faults{ErrorFiles: 2}, core.StateComplete, func(t *testing.T, ev *events) {
			found := false
			for _, e := range ev.kinds(core.EventDownloadComplete) {
				if e.FileKind == core.KindError && e.Severities != nil {
					found = true
				}
			}
			if !found {
				t.Error("no error file downloaded and summarised by severity")
			}
		}},
		{"ExpiredFiles", demo.Faults{ExpiredFiles: true}, core.StateExpired, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			clock := newFakeClock()
			srv := mustOpenDemo(t, demo.Config{Open: true, FileLines: 150, Faults: tt.faults, Now: clock.Now})
			db := mustOpenDB(t)
			r, ev, _ := newRunner(t, srv.URL(), http.DefaultClient, db)
			r.Now, r.Sleep = clock.Now, clock.Sleep
			r.PollMin, r.PollMax = time.Second, time.Minute
			exp := &core.Export{FHIRBaseURL: srv.URL(), Request: core.ExportRequest{Level: core.LevelSystem}}
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
			} else if !errors.Is(err, core.ErrExpired) {
				t.Errorf("Start() = %v, want core.ErrExpired", err)
			}
			if tt.check != nil {
				tt.check(t, ev)
			}
		})
	}
}

func TestRunnerExpiredJob(t *testing.T) {
	clock := newFakeClock()
	srv := mustOpenDemo(t, demo.Config{Open: true, Now: clock.Now})
	db := mustOpenDB(t)
	r, _, _ := newRunner(t, srv.URL(), http.DefaultClient, db)
	// Record an export whose job the server never heard of.
	exp := &core.Export{FHIRBaseURL: srv.URL(), StatusURL: srv.URL() + "/../jobs/gone", State: core.StatePolling,
		Request: core.ExportRequest{Level: core.LevelPatient}}
	if err := db.CreateExport(t.Context(), exp); err != nil {
		t.Fatal(err)
	}
	_, err := r.Resume(t.Context(), exp.ID)
	if !errors.Is(err, core.ErrExpired) {
		t.Fatalf("Resume() = %v, want core.ErrExpired", err)
	}
	got, _ := db.FindExport(t.Context(), exp.ID)
	if got.State != core.StateExpired || got.Error == "" {
		t.Errorf("state = %s, error %q; want expired with a reason", got.State, got.Error)
	}
}
