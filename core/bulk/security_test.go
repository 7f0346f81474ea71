package bulk_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/oauth2"

	"tranche.dev/tranche/core"
	"tranche.dev/tranche/core/bulk"
	"tranche.dev/tranche/core/demo"
	"tranche.dev/tranche/core/smart"
	"tranche.dev/tranche/sample-jwks"
)

// authLog records the Authorization header seen per path.
type authLog struct {
	mu   sync.Mutex
	seen map[string][]string
}

func (a *authLog) add(path, auth string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.seen == nil {
		a.seen = map[string][]string{}
	}
	a.seen[path] = append(a.seen[path], auth)
}

func (a *authLog) get(path string) []string {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.seen[path]
}

const line = `{"resourceType":"Patient","id":"%d"}` + "\n"

func TestTokenOnlyToFHIROrigin(t *testing.T) {
	var fhirSeen, otherSeen authLog
	other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		otherSeen.add(r.URL.Path, r.Header.Get("Authorization"))
		fmt.Fprintf(w, line, 1)
	}))
	defer other.Close()
	var fhir *httptest.Server
	mux := http.NewServeMux()
	mux.HandleFunc("GET /fhir/Patient/$export", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Location", fhir.URL+"/status")
		w.WriteHeader(http.StatusAccepted)
	})
	mux.HandleFunc("/status", func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodDelete {
			w.WriteHeader(http.StatusAccepted)
			return
		}
		fmt.Fprintf(w, `{"transactionTime":"2024-01-01T00:00:00Z","request":"x","requiresAccessToken":true,"output":[
			{"type":"Patient","url":"%[1]s/files/local","count":1},
			{"type":"Patient","url":"%[1]s/files/redirect","count":1},
			{"type":"Patient","url":"%[2]s/signed/direct?sig=1","count":1}],"error":[]}`, fhir.URL, other.URL)
	})
	mux.HandleFunc("/files/local", func(w http.ResponseWriter, r *http.Request) {
		fhirSeen.add(r.URL.Path, r.Header.Get("Authorization"))
		fmt.Fprintf(w, line, 2)
	})
	mux.HandleFunc("/files/redirect", func(w http.ResponseWriter, r *http.Request) {
		fhirSeen.add(r.URL.Path, r.Header.Get("Authorization"))
		http.Redirect(w, r, other.URL+"/signed/redirected?sig=2", http.StatusTemporaryRedirect)
	})
	fhir = httptest.NewServer(mux)
	defer fhir.Close()

	hc, err := smart.NewClient(nil, oauth2.StaticTokenSource(&oauth2.Token{AccessToken: "secret-token"}), fhir.URL+"/fhir")
	if err != nil {
		t.Fatal(err)
	}
	db := mustOpenDB(t)
	r, ev, _ := newRunner(t, fhir.URL+"/fhir", hc, db)
	exp := &core.Export{FHIRBaseURL: fhir.URL + "/fhir", Request: core.ExportRequest{Level: core.LevelPatient}}
	if err := r.Start(t.Context(), exp); err != nil {
		t.Fatalf("Start() = %v", err)
	}
	checkCatalogue(t, db, exp)
	if got := fhirSeen.get("/files/local"); len(got) != 1 || got[0] != "Bearer secret-token" {
		t.Errorf("FHIR-origin file got Authorization %q, want the token", got)
	}
	if got := fhirSeen.get("/files/redirect"); len(got) != 1 || got[0] != "Bearer secret-token" {
		t.Errorf("redirecting FHIR-origin file got Authorization %q, want the token", got)
	}
	for _, p := range []string{"/signed/direct", "/signed/redirected"} {
		if got := otherSeen.get(p); len(got) != 1 || got[0] != "" {
			t.Errorf("other origin %s got Authorization %q, want one request without it", p, got)
		}
	}
	if strings.Contains(ev.log.String(), "secret-token") {
		t.Error("the event log contains the token")
	}
}

// recordingSource remembers every token it hands out.
type recordingSource struct {
	src    oauth2.TokenSource
	mu     sync.Mutex
	tokens map[string]bool
}

func (s *recordingSource) Token() (*oauth2.Token, error) {
	tok, err := s.src.Token()
	if err == nil {
		s.mu.Lock()
		s.tokens[tok.AccessToken] = true
		s.mu.Unlock()
	}
	return tok, err
}

func (s *recordingSource) Invalidate() {
	if inv, ok := s.src.(smart.Invalidator); ok {
		inv.Invalidate()
	}
}

func TestTokenExpiryMidExport(t *testing.T) {
	clock := newFakeClock()
	var tokenRequests, unauthorized int
	var mu sync.Mutex
	srv := mustOpenDemo(t, demo.Config{TokenTTL: 10 * time.Second, FileLines: 100, Now: clock.Now,
		Faults: demo.Faults{JobDelay: 2 * time.Minute},
		OnRequest: func(l demo.RequestLog) {
			mu.Lock()
			defer mu.Unlock()
			if strings.HasSuffix(l.Path, "/token") {
				tokenRequests++
			}
			if l.Status == http.StatusUnauthorized {
				unauthorized++
			}
		}})
	raw, err := samplejwks.File("RS384.private.json")
	if err != nil {
		t.Fatal(err)
	}
	key, err := smart.ParseKey(raw, smart.RS384)
	if err != nil {
		t.Fatal(err)
	}
	cfg := smart.Config{ClientID: demo.DemoClientRS384, TokenURL: srv.TokenURL(), Scopes: []string{"system/*.rs"}, Key: key, Now: clock.Now}
	src := &recordingSource{src: cfg.TokenSource(t.Context()), tokens: map[string]bool{}}
	hc, err := smart.NewClient(nil, src, srv.URL())
	if err != nil {
		t.Fatal(err)
	}
	db := mustOpenDB(t)
	r, ev, _ := newRunner(t, srv.URL(), hc, db)
	r.Now, r.Sleep = clock.Now, clock.Sleep
	r.PollMin, r.PollMax = time.Second, time.Minute
	r.BatchLines = 20
	// Two seconds pass with every batch stored: tokens expire mid-file.
	r.OnEvent = func(e core.Event) {
		if e.Kind == core.EventDownloadProgress {
			clock.Sleep(context.Background(), 2*time.Second)
		}
		ev.handle(e)
	}
	exp := &core.Export{FHIRBaseURL: srv.URL(), Request: core.ExportRequest{Level: core.LevelPatient}}
	if err := r.Start(t.Context(), exp); err != nil {
		t.Fatalf("Start() = %v", err)
	}
	checkCatalogue(t, db, exp)
	mu.Lock()
	defer mu.Unlock()
	if tokenRequests < 5 {
		t.Errorf("%d token requests, want several: 10 s tokens over minutes of (simulated) export", tokenRequests)
	}
	log := ev.log.String()
	for tok := range src.tokens {
		if strings.Contains(log, tok) {
			t.Fatal("the event log contains an access token")
		}
	}
	t.Logf("%d token requests, %d answers 401 (each retried with a new token)", tokenRequests, unauthorized)
}

// TestNoTokenWhenNotRequired: requiresAccessToken=false means capability
// URLs, which SHALL NOT get the token, even on the FHIR server's origin.
func TestNoTokenWhenNotRequired(t *testing.T) {
	var seen authLog
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		seen.add(r.URL.Path, r.Header.Get("Authorization"))
		fmt.Fprintf(w, line, 1)
	}))
	defer srv.Close()
	hc, err := smart.NewClient(nil, oauth2.StaticTokenSource(&oauth2.Token{AccessToken: "secret-token"}), srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	c := &bulk.Client{BaseURL: srv.URL, HTTPClient: hc, FileClient: http.DefaultClient}
	for _, required := range []bool{false, true} {
		body, err := c.OpenFile(t.Context(), fmt.Sprintf("%s/file-%v", srv.URL, required), required, 0)
		if err != nil {
			t.Fatal(err)
		}
		body.Close()
	}
	if got := seen.get("/file-false"); len(got) != 1 || got[0] != "" {
		t.Errorf("requiresAccessToken=false: Authorization %q, want none", got)
	}
	if got := seen.get("/file-true"); len(got) != 1 || got[0] != "Bearer secret-token" {
		t.Errorf("requiresAccessToken=true: Authorization %q, want the token", got)
	}
}
