package demo_test

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"math/big"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"testing"
	"time"

	"tranche.dev/tranche/core/demo"
)

// heap returns the live heap after a collection.
func heap() uint64 {
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapAlloc
}

// heapGrowth runs f and fails the test if the live heap grew by more than
// limit bytes: what the server kept of f's requests.
func heapGrowth(t *testing.T, limit uint64, f func()) {
	t.Helper()
	before := heap()
	f()
	after := heap()
	if after > before && after-before > limit {
		t.Errorf("live heap grew by %d KB, want at most %d KB", (after-before)>>10, limit>>10)
	}
}

// wantOutcome checks status and that the body is an OperationOutcome with
// issue code code whose diagnostics mention mention.
func wantOutcome(t *testing.T, r response, status int, code, mention string) {
	t.Helper()
	if r.status != status {
		t.Fatalf("status %d, want %d: %.300s", r.status, status, r.body)
	}
	if ct := r.header.Get("Content-Type"); ct != "application/fhir+json" {
		t.Errorf("Content-Type %q, want application/fhir+json", ct)
	}
	if got := r.issueCode(t); got != code {
		t.Errorf("issue code %q, want %q", got, code)
	}
	diag, _ := r.json(t)["issue"].([]any)[0].(map[string]any)["diagnostics"].(string)
	if !strings.Contains(diag, mention) {
		t.Errorf("diagnostics %q, want it to mention %q", diag, mention)
	}
}

// wantOAuthError checks an RFC 7591 §3.2.2 error answer.
func wantOAuthError(t *testing.T, r response, status int, code, mention string) {
	t.Helper()
	if r.status != status {
		t.Fatalf("status %d, want %d: %.300s", r.status, status, r.body)
	}
	m := r.json(t)
	if m["error"] != code {
		t.Errorf("error %v, want %q", m["error"], code)
	}
	if d, _ := m["error_description"].(string); !strings.Contains(d, mention) {
		t.Errorf("error_description %q, want it to mention %q", d, mention)
	}
}

// withHost sends GET u with the Host header host.
func withHost(t *testing.T, u, host string) response {
	t.Helper()
	req, err := http.NewRequest("GET", u, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Host = host
	resp, err := http.DefaultTransport.RoundTrip(req)
	if err != nil {
		t.Fatalf("GET %s (Host %s): %v", u, host, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return response{status: resp.StatusCode, header: resp.Header, body: b}
}

func TestHostHeader(t *testing.T) {
	s := newServer(t, demo.Config{Open: true})
	u := s.URL() + "/metadata"
	for _, tt := range []struct {
		host string
		ok   bool
	}{
		{"127.0.0.1", true},
		{"127.0.0.1:8080", true},
		{"127.42.0.9:1", true},
		{"localhost", true},
		{"LocalHost:9999", true},
		{"localhost.:80", true},
		{"[::1]", true},
		{"[::1]:8080", true},
		{"evil.example", false},
		{"evil.example:80", false},
		{"localhost.evil.example", false},
		{"127.0.0.1.nip.io", false},
		{"192.168.1.10:8080", false},
		{"[::2]:80", false},
		{"::1", false},
	} {
		t.Run(tt.host, func(t *testing.T) {
			r := withHost(t, u, tt.host)
			if tt.ok {
				if r.status != http.StatusOK {
					t.Fatalf("Host %q: status %d, want 200: %.200s", tt.host, r.status, r.body)
				}
				return
			}
			wantOutcome(t, r, http.StatusBadRequest, "security", "DNS rebinding")
		})
	}
}

// fakeRSAJWKS is a JWK Set with one RSA public key whose modulus has
// exactly bits bits. The modulus is random, not a product of two primes:
// the server checks only its size when the key is registered.
func fakeRSAJWKS(bits int) map[string]any {
	n, _ := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), uint(bits-1)))
	n.SetBit(n, bits-1, 1).SetBit(n, 0, 1)
	return map[string]any{"keys": []any{map[string]any{"kty": "RSA", "kid": fmt.Sprint("rsa", bits), "alg": "RS384",
		"n": base64.RawURLEncoding.EncodeToString(n.Bytes()), "e": "AQAB"}}}
}

func TestRegister_RSAKeySize(t *testing.T) {
	s := newServer(t, demo.Config{})
	post := func(body any) response {
		b, _ := json.Marshal(body)
		return do(t, "POST", s.RegistrationURL(), "", b, "Content-Type: application/json")
	}
	for _, tt := range []struct {
		bits   int
		status int
	}{
		{2047, http.StatusBadRequest},
		{2048, http.StatusCreated},
		{4096, http.StatusCreated},
		{8192, http.StatusCreated},
		{8193, http.StatusBadRequest},
		{16384, http.StatusBadRequest},
		{262144, http.StatusRequestEntityTooLarge}, // the body is over the bound first
	} {
		t.Run(fmt.Sprint(tt.bits), func(t *testing.T) {
			r := post(map[string]any{"jwks": fakeRSAJWKS(tt.bits)})
			switch tt.status {
			case http.StatusCreated:
				if r.status != tt.status {
					t.Fatalf("status %d, want 201: %s", r.status, r.body)
				}
			case http.StatusBadRequest:
				wantOAuthError(t, r, tt.status, "invalid_client_metadata", "2048")
			default:
				wantOAuthError(t, r, tt.status, "invalid_client_metadata", "over")
			}
		})
	}
	// Registered in code, with no body limit, a huge key is refused too.
	b, _ := json.Marshal(fakeRSAJWKS(262144))
	if _, err := s.RegisterClient(demo.Client{JWKS: b}); err == nil || !strings.Contains(err.Error(), "8192") {
		t.Errorf("RegisterClient(262144-bit key) = %v, want an error naming the 8192-bit bound", err)
	}
	// Too many keys in one set.
	var many []any
	for i := range 11 {
		k := fakeRSAJWKS(2048)["keys"].([]any)[0].(map[string]any)
		k["kid"] = fmt.Sprint("k", i)
		many = append(many, k)
	}
	wantOAuthError(t, post(map[string]any{"jwks": map[string]any{"keys": many}}), http.StatusBadRequest,
		"invalid_client_metadata", "at most 10")
}

// TestToken_JWKSURLKeySize: the same bound holds for keys published at a
// JWKS URL, and the client learns only that its JWKS could not be used.
func TestToken_JWKSURLKeySize(t *testing.T) {
	s := newServer(t, demo.Config{})
	huge, _ := json.Marshal(fakeRSAJWKS(16384))
	js, _ := jwksServer(t, huge, "")
	id, err := s.RegisterClient(demo.Client{JWKSURL: js.URL})
	if err != nil {
		t.Fatal(err)
	}
	status, body := s.postToken(t, tokenForm(sign(t, sampleKey(t, "RS384"), mustAlg("RS384"), nil, s.claimsFor(id)), "system/*.rs"))
	if status != http.StatusBadRequest || body["error"] != "invalid_client" {
		t.Fatalf("token with a 16384-bit JWKS URL key = %d %v, want 400 invalid_client", status, body)
	}
	if d, _ := body["error_description"].(string); d != "the client's JWKS could not be fetched from its registered jwks_uri" {
		t.Errorf("error_description %q, want only that the JWKS could not be fetched", d)
	}
}

// TestToken_JWKSURLFailureSaysLittle: whatever the JWKS URL answers, the
// registrant learns only that the JWKS could not be fetched: not the
// status, not the body, not whether the port is open.
func TestToken_JWKSURLFailureSaysLittle(t *testing.T) {
	closed := httptest.NewServer(http.NotFoundHandler())
	closedURL := closed.URL + "/jwks"
	closed.Close()
	for _, tt := range []struct {
		name string
		url  func(t *testing.T) string
	}{
		{"Status", func(t *testing.T) string {
			ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.WriteHeader(http.StatusTeapot)
				w.Write([]byte("internal-secret-page"))
			}))
			t.Cleanup(ts.Close)
			return ts.URL
		}},
		{"NotJSON", func(t *testing.T) string {
			js, _ := jwksServer(t, []byte("SSH-2.0-OpenSSH_9.6 internal-secret-page"), "")
			return js.URL
		}},
		{"Refused", func(t *testing.T) string { return closedURL }},
	} {
		t.Run(tt.name, func(t *testing.T) {
			s := newServer(t, demo.Config{})
			id, err := s.RegisterClient(demo.Client{JWKSURL: tt.url(t)})
			if err != nil {
				t.Fatal(err)
			}
			status, body := s.postToken(t, tokenForm(sign(t, sampleKey(t, "RS384"), mustAlg("RS384"), nil, s.claimsFor(id)), "system/*.rs"))
			d, _ := body["error_description"].(string)
			if status != http.StatusBadRequest || d != "the client's JWKS could not be fetched from its registered jwks_uri" {
				t.Errorf("got %d %q, want 400 and only that the JWKS could not be fetched", status, d)
			}
		})
	}
}

func TestToken_BodyBound(t *testing.T) {
	s := newServer(t, demo.Config{})
	form := tokenForm(strings.Repeat("x", 1<<20), "system/*.rs")
	heapGrowth(t, 2<<20, func() {
		for range 50 {
			r := do(t, "POST", s.TokenURL(), "", []byte(form.Encode()), "Content-Type: application/x-www-form-urlencoded")
			wantOAuthError(t, r, http.StatusRequestEntityTooLarge, "invalid_request", "over 65536 bytes")
		}
	})
}

func TestRegister_Bounds(t *testing.T) {
	s := newServer(t, demo.Config{MaxClients: 5})
	var pub map[string]any
	json.Unmarshal(sampleJWKS(t, "ES384"), &pub)
	post := func(body any) response {
		b, _ := json.Marshal(body)
		return do(t, "POST", s.RegistrationURL(), "", b, "Content-Type: application/json")
	}
	t.Run("Sizes", func(t *testing.T) {
		for _, tt := range []struct {
			name    string
			body    map[string]any
			status  int
			mention string
		}{
			{"Name200KB", map[string]any{"jwks": pub, "client_name": strings.Repeat("n", 200<<10)}, http.StatusRequestEntityTooLarge, "over 32768 bytes"},
			{"Name201", map[string]any{"jwks": pub, "client_name": strings.Repeat("n", 201)}, http.StatusBadRequest, "client_name is longer than 200"},
			{"Scope2KB", map[string]any{"jwks": pub, "scope": strings.Repeat("system/*.rs ", 200)}, http.StatusBadRequest, "scope is longer than 1024"},
			{"JWKSURI3KB", map[string]any{"jwks_uri": "http://127.0.0.1:9/" + strings.Repeat("j", 3<<10)}, http.StatusBadRequest, "jwks_uri is longer than 2048"},
		} {
			t.Run(tt.name, func(t *testing.T) {
				wantOAuthError(t, post(tt.body), tt.status, "invalid_client_metadata", tt.mention)
			})
		}
	})
	t.Run("Count", func(t *testing.T) {
		for i := range 5 {
			if r := post(map[string]any{"jwks": pub, "client_name": fmt.Sprint("c", i)}); r.status != http.StatusCreated {
				t.Fatalf("registration %d: status %d, want 201: %s", i+1, r.status, r.body)
			}
		}
		wantOAuthError(t, post(map[string]any{"jwks": pub}), http.StatusForbidden, "access_denied", "at most 5 registrations")
		// Clients registered in code (tests, the GUI) do not count.
		if _, err := s.RegisterClient(demo.Client{JWKS: sampleJWKS(t, "ES384")}); err != nil {
			t.Errorf("RegisterClient after the endpoint is full = %v, want nil", err)
		}
	})
	t.Run("Memory", func(t *testing.T) {
		// 300 registrations with 200 KB names once cost 93 MB.
		body, _ := json.Marshal(map[string]any{"jwks": pub, "client_name": strings.Repeat("n", 200<<10)})
		heapGrowth(t, 4<<20, func() {
			for range 300 {
				r := do(t, "POST", s.RegistrationURL(), "", body, "Content-Type: application/json")
				if r.status != http.StatusRequestEntityTooLarge {
					t.Fatalf("status %d, want 413", r.status)
				}
			}
		})
	})
}

func TestKickoff_Bounds(t *testing.T) {
	s := newServer(t, demo.Config{})
	tok := s.demoToken(t)
	t.Run("URL", func(t *testing.T) {
		for _, n := range []int{9 << 10, 1 << 20} {
			q := "/$export?_typeFilter=" + strings.Repeat("x", n)
			r := do(t, "GET", s.URL()+q, tok, nil, kickoffHeaders...)
			wantOutcome(t, r, http.StatusRequestURITooLong, "too-costly", "at most 8192")
		}
	})
	t.Run("Body", func(t *testing.T) {
		big := params([3]any{"_typeFilter", "valueString", "Patient?name=" + strings.Repeat("x", 1<<20)})
		wantOutcome(t, s.kickoffPOST(t, tok, "/$export", big), http.StatusRequestEntityTooLarge, "too-costly", "over 65536 bytes")
	})
	t.Run("Memory", func(t *testing.T) {
		q := "/$export?_typeFilter=" + strings.Repeat("x", 1<<20)
		big := params([3]any{"_typeFilter", "valueString", "Patient?name=" + strings.Repeat("x", 1<<20)})
		heapGrowth(t, 4<<20, func() {
			for range 50 {
				if r := do(t, "GET", s.URL()+q, tok, nil, kickoffHeaders...); r.status != http.StatusRequestURITooLong {
					t.Fatalf("GET status %d, want 414", r.status)
				}
				if r := s.kickoffPOST(t, tok, "/$export", big); r.status != http.StatusRequestEntityTooLarge {
					t.Fatalf("POST status %d, want 413", r.status)
				}
			}
		})
	})
}

func TestKickoff_KeptJobs(t *testing.T) {
	s := newServer(t, demo.Config{Patients: 2})
	tok := s.demoToken(t)
	// Near-limit URLs (an unknown parameter, ignored under lenient
	// handling): the most a client can make the server keep per job.
	q := "/Patient/$export?_type=Patient&padding=" + strings.Repeat("x", 7<<10)
	lenient := "Prefer: handling=lenient"
	var first string
	heapGrowth(t, 4<<20, func() {
		for i := range 32 {
			statusURL := s.kickoff(t, tok, q, lenient)
			s.manifest(t, tok, statusURL)
			if i == 0 {
				first = statusURL
			}
		}
		for range 100 {
			r := do(t, "GET", s.URL()+q, tok, nil, append(kickoffHeaders, lenient)...)
			wantOutcome(t, r, http.StatusTooManyRequests, "throttled", "32 exports kept for this client")
		}
	})
	// Deleting one makes room for one.
	if r := do(t, "DELETE", first, tok, nil); r.status != http.StatusAccepted {
		t.Fatalf("DELETE = %d, want 202", r.status)
	}
	s.kickoff(t, tok, q, lenient)
	// Another client is not affected.
	other := s.token(t, demo.DemoClientES384, "ES384", "system/*.rs")
	s.kickoff(t, other, q, lenient)
}

// TestStatus_FinishedJobThrottled: polls of a finished (or failed) job
// follow the same rate rule as polls of a running one.
func TestStatus_FinishedJobThrottled(t *testing.T) {
	for _, tt := range []struct {
		name   string
		faults demo.Faults
		status int
	}{
		{"Done", demo.Faults{}, http.StatusOK},
		{"Failed", demo.Faults{FailJobs: true}, http.StatusInternalServerError},
	} {
		t.Run(tt.name, func(t *testing.T) {
			s := newServer(t, demo.Config{Faults: tt.faults, RetryAfter: 2 * time.Second})
			tok := s.demoToken(t)
			statusURL := s.kickoff(t, tok, "/Patient/$export?_type=Patient")
			// Poll until the job is over, MinPoll apart: the fake clock
			// moves only as far as the rule needs, so the token outlives
			// hundreds of polls on a slow machine.
			r := do(t, "GET", statusURL, tok, nil)
			for r.status == http.StatusAccepted {
				s.clock.Advance(time.Second)
				runtime.Gosched()
				r = do(t, "GET", statusURL, tok, nil)
			}
			if r.status != tt.status {
				t.Fatalf("final poll = %d, want %d: %s", r.status, tt.status, r.body)
			}
			heapGrowth(t, 1<<20, func() {
				for range 200 {
					r := do(t, "GET", statusURL, tok, nil)
					wantOutcome(t, r, http.StatusTooManyRequests, "throttled", "polling too fast")
					if r.header.Get("Retry-After") != "2" {
						t.Fatalf("Retry-After %q, want 2", r.header.Get("Retry-After"))
					}
				}
			})
			s.clock.Advance(time.Second) // MinPoll is half of Retry-After
			if r := do(t, "GET", statusURL, tok, nil); r.status != tt.status {
				t.Errorf("poll after the wait = %d, want %d", r.status, tt.status)
			}
		})
	}
}

func TestOpen_TokenTTL(t *testing.T) {
	for _, tt := range []struct {
		ttl     time.Duration
		breaks  bool
		wantErr bool
	}{
		{5 * time.Minute, false, false},
		{5*time.Minute + time.Second, false, true},
		{24 * time.Hour, false, true},
		{24 * time.Hour, true, false},
	} {
		t.Run(fmt.Sprint(tt.ttl, tt.breaks), func(t *testing.T) {
			s := demo.NewServer(demo.Config{TokenTTL: tt.ttl, TokenTTLBreaksSpec: tt.breaks, Patients: 1})
			err := s.Open()
			defer s.Close()
			if tt.wantErr {
				if err == nil || !strings.Contains(err.Error(), "at most 5 minutes") {
					t.Errorf("Open() = %v, want an error saying tokens live at most 5 minutes", err)
				}
			} else if err != nil {
				t.Errorf("Open() = %v, want nil", err)
			}
		})
	}
}

// TestToken_AssertionBound: one client may use at most 100 assertions in
// five minutes (each jti is kept that long against replay); the 101st gets
// 429, and the bound frees up as they expire.
func TestToken_AssertionBound(t *testing.T) {
	s := newServer(t, demo.Config{})
	key := sampleKey(t, "ES384")
	heapGrowth(t, 1<<20, func() {
		for range 100 {
			s.token(t, demo.DemoClientES384, "ES384", "system/*.rs")
		}
		for range 200 {
			status, body := s.postToken(t, tokenForm(sign(t, key, mustAlg("ES384"), nil, s.claimsFor(demo.DemoClientES384)), "system/*.rs"))
			if status != http.StatusTooManyRequests || !strings.Contains(fmt.Sprint(body["error_description"]), "more than 100 client assertions") {
				t.Fatalf("assertion past the bound = %d %v, want 429 saying more than 100 client assertions", status, body)
			}
		}
	})
	// Another client is not affected.
	s.token(t, demo.DemoClientRS384, "RS384", "system/*.rs")
	// Once the first assertions have expired (4 minutes plus the skew
	// allowance), the client may sign again.
	s.clock.Advance(5 * time.Minute)
	s.token(t, demo.DemoClientES384, "ES384", "system/*.rs")
}

// TestToken_LiveTokenBound: one client holds at most 20 live tokens; a new
// one makes the oldest invalid.
func TestToken_LiveTokenBound(t *testing.T) {
	s := newServer(t, demo.Config{})
	var toks []string
	for range 21 {
		toks = append(toks, s.token(t, demo.DemoClientES384, "ES384", "system/*.rs"))
		s.clock.Advance(time.Second) // so "oldest" is well defined
	}
	wantOutcome(t, do(t, "GET", s.URL()+"/Group", toks[0], nil), http.StatusUnauthorized, "expired", "unknown or expired")
	for _, tok := range toks[1:] {
		if r := do(t, "GET", s.URL()+"/Group", tok, nil); r.status != http.StatusOK {
			t.Fatalf("a newer token: GET /Group = %d, want 200: %s", r.status, r.body)
		}
	}
}
