package bulk_test

import (
	"errors"
	"net/http"
	"sync/atomic"
	"testing"
	"time"

	"tranche.dev/tranche/core"
	"tranche.dev/tranche/core/bulk"
	"tranche.dev/tranche/core/demo"
	"tranche.dev/tranche/core/smart"
	samplejwks "tranche.dev/tranche/sample-jwks"
)

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// TestTokenEndpointDown: the token endpoint unreachable while the job
// runs (tokens of 10 s, a job of 2 minutes) leaves the export resumable,
// and one Resume, with the endpoint back, stores exactly the manifest's
// resources.
func TestTokenEndpointDown(t *testing.T) {
	clock := newFakeClock()
	srv := mustOpenDemo(t, demo.Config{TokenTTL: 10 * time.Second, FileLines: 100, Now: clock.Now,
		Faults: demo.Faults{JobDelay: 2 * time.Minute}})
	raw, err := samplejwks.File("RS384.private.json")
	if err != nil {
		t.Fatal(err)
	}
	key, err := smart.ParseKey(raw, smart.RS384)
	if err != nil {
		t.Fatal(err)
	}
	var down atomic.Bool
	tokenClient := &http.Client{Transport: roundTripFunc(func(r *http.Request) (*http.Response, error) {
		if down.Load() {
			return nil, errors.New("connect: connection refused")
		}
		return http.DefaultTransport.RoundTrip(r)
	})}
	cfg := smart.Config{ClientID: demo.DemoClientRS384, TokenURL: srv.TokenURL(), Scopes: []string{"system/*.rs"},
		Key: key, Now: clock.Now, HTTPClient: tokenClient}
	hc, err := smart.NewClient(nil, cfg.TokenSource(t.Context()), srv.URL())
	if err != nil {
		t.Fatal(err)
	}
	db := mustOpenDB(t)
	r, ev, _ := newRunner(t, srv.URL(), hc, db)
	r.Now, r.Sleep = clock.Now, clock.Sleep
	r.PollMin, r.PollMax, r.MaxTransient = time.Second, time.Minute, 3
	r.OnEvent = func(e core.Event) {
		if e.Kind == core.EventKickoff {
			down.Store(true) // from the first poll on
		}
		ev.handle(e)
	}
	exp := &core.Export{FHIRBaseURL: srv.URL(), Request: core.ExportRequest{Level: core.LevelPatient}}
	err = r.Start(t.Context(), exp)
	var re *bulk.ResumableError
	if !errors.As(err, &re) {
		t.Fatalf("Start() = %v, want a ResumableError", err)
	}
	if got, _ := db.FindExport(t.Context(), exp.ID); got.State.Final() || got.StatusURL == "" {
		t.Fatalf("state %s, status URL %q: want resumable", got.State, got.StatusURL)
	}
	down.Store(false)
	r.OnEvent = ev.handle
	if _, err := r.Resume(t.Context(), exp.ID); err != nil {
		t.Fatalf("Resume() = %v", err)
	}
	got, _ := db.FindExport(t.Context(), exp.ID)
	if got.State != core.StateComplete {
		t.Fatalf("state %s (%s), want complete", got.State, got.Error)
	}
	checkCatalogue(t, db, got)
}
