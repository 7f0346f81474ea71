package smart_test

import (
	"errors"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"tranche.dev/tranche/core/demo"
	"tranche.dev/tranche/core/demo/demotest"
	"tranche.dev/tranche/core/smart"
	samplejwks "tranche.dev/tranche/sample-jwks"
)

// These tests run our client against the loopback demo server, an
// independent implementation of the server side.

// demoLog counts the demo server's answers by path and status.
type demoLog struct {
	mu     sync.Mutex
	tokens int
	status map[int]int
}

func (l *demoLog) record(r demo.RequestLog) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if strings.HasSuffix(r.Path, "/auth/token") {
		l.tokens++
		return
	}
	l.status[r.Status]++
}

func (l *demoLog) counts() (int, map[int]int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	m := map[int]int{}
	for k, v := range l.status {
		m[k] = v
	}
	return l.tokens, m
}

func startDemoServer(t *testing.T, now func() time.Time) (*demo.Server, *demoLog) {
	t.Helper()
	log := &demoLog{status: map[int]int{}}
	s := demotest.Start(t, demo.Config{Patients: 5, TokenTTL: 10 * time.Second, Now: now, OnRequest: log.record})
	return s, log
}

func sampleConfig(t *testing.T, s *demo.Server, now func() time.Time) *smart.Config {
	t.Helper()
	raw, err := samplejwks.File("RS384.private.json")
	if err != nil {
		t.Fatal(err)
	}
	k, err := smart.ParseKey(raw, smart.RS384)
	if err != nil {
		t.Fatal(err)
	}
	return &smart.Config{ClientID: demo.DemoClientRS384, TokenURL: s.TokenURL(), Scopes: []string{"system/*.rs"}, Key: k, Now: now}
}

func getGroups(t *testing.T, c *http.Client, base string) int {
	t.Helper()
	req, _ := http.NewRequestWithContext(t.Context(), http.MethodGet, base+"/Group", nil)
	req.Header.Set("Accept", "application/fhir+json")
	resp, err := c.Do(req)
	if err != nil {
		t.Fatalf("GET Group: %v", err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode
}

// TestDemo_RefreshAcrossExpiry makes a request every simulated second for a
// minute with 10-second tokens: the source refreshes at half-life, so no
// request ever meets an expired token.
func TestDemo_RefreshAcrossExpiry(t *testing.T) {
	clk := newClock()
	s, log := startDemoServer(t, clk.Now)
	cfg := sampleConfig(t, s, clk.Now)
	c, err := smart.NewClient(nil, cfg.TokenSource(t.Context()), s.URL())
	if err != nil {
		t.Fatal(err)
	}
	t0 := clk.Now()
	for i := range 60 {
		clk.Set(t0.Add(time.Duration(i) * time.Second))
		if got := getGroups(t, c, s.URL()); got != http.StatusOK {
			t.Fatalf("GET Group at +%ds = %d, want 200", i, got)
		}
	}
	tokens, status := log.counts()
	if status[http.StatusUnauthorized] != 0 {
		t.Errorf("demo answered 401 %d times, want 0", status[http.StatusUnauthorized])
	}
	// A new token every 5 s over 60 s.
	if tokens != 12 {
		t.Errorf("token requests = %d, want 12", tokens)
	}
}

// TestDemo_ReauthAfterServerExpiry lets the server's clock run past the
// token's life while ours stands still: the first request gets a 401, and
// the client re-authenticates once and succeeds.
func TestDemo_ReauthAfterServerExpiry(t *testing.T) {
	serverClock, ourClock := newClock(), newClock()
	s, log := startDemoServer(t, serverClock.Now)
	cfg := sampleConfig(t, s, ourClock.Now)
	c, err := smart.NewClient(nil, cfg.TokenSource(t.Context()), s.URL())
	if err != nil {
		t.Fatal(err)
	}
	if got := getGroups(t, c, s.URL()); got != http.StatusOK {
		t.Fatalf("first GET Group = %d, want 200", got)
	}
	serverClock.Set(serverClock.Now().Add(11 * time.Second))
	ourClock.Set(ourClock.Now().Add(1 * time.Second)) // the assertion needs a new iat
	if got := getGroups(t, c, s.URL()); got != http.StatusOK {
		t.Fatalf("GET Group after server-side expiry = %d, want 200 after one re-auth", got)
	}
	tokens, status := log.counts()
	if tokens != 2 || status[http.StatusUnauthorized] != 1 {
		t.Fatalf("token requests = %d, 401s = %d; want 2 and 1", tokens, status[http.StatusUnauthorized])
	}
}

func TestDemo_Register(t *testing.T) {
	s, _ := startDemoServer(t, nil)
	d, err := smart.Discover(t.Context(), nil, s.URL())
	if err != nil {
		t.Fatalf("Discover: %v", err)
	}
	if d.RegistrationEndpoint == "" || !d.ScopesV1() || !d.ScopesV2() || !d.SupportsAlg(smart.ES384) {
		t.Fatalf("Discover() = %+v, want a registration endpoint, v1+v2 scopes and ES384", d)
	}
	k := mustGenerate(t, smart.ES384)
	rc, err := smart.Register(t.Context(), nil, d.RegistrationEndpoint, smart.ClientMetadata{
		ClientName: "smart test", JWKS: mustJWKS(t, k), Scope: "system/*.rs",
	})
	if err != nil {
		t.Fatalf("Register: %v", err)
	}
	cfg := smart.Config{ClientID: rc.ClientID, TokenURL: d.TokenEndpoint, Scopes: []string{"system/*.rs"}, Key: k}
	r := smart.CheckConnection(t.Context(), s.URL(), cfg)
	if !r.OK() {
		t.Fatalf("CheckConnection with the registered client:\n%s", r)
	}

	// An unknown client gets a readable invalid_client.
	cfg.ClientID = "nobody"
	_, err = cfg.TokenSource(t.Context()).Token()
	var te *smart.TokenError
	if !errors.As(err, &te) || te.Code != "invalid_client" {
		t.Fatalf("Token() for an unknown client: err = %v, want invalid_client", err)
	}

	// RFC 7591 errors read as code: description.
	_, err = smart.Register(t.Context(), nil, d.RegistrationEndpoint, smart.ClientMetadata{
		JWKS: mustJWKS(t, k), JWKSURI: "http://127.0.0.1:1/jwks.json",
	})
	var re *smart.RegistrationError
	if !errors.As(err, &re) || re.Code != "invalid_client_metadata" || !strings.HasPrefix(err.Error(), "invalid_client_metadata: ") {
		t.Fatalf("Register(jwks and jwks_uri) err = %v, want invalid_client_metadata: …", err)
	}
}
