package smart_test

import (
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/lestrrat-go/jwx/v3/jwk"

	"tranche.dev/tranche/core/demo/demotest"
	"tranche.dev/tranche/core/smart"
)

func newClock() *demotest.Clock { return demotest.NewClock(time.Unix(1_800_000_000, 0)) }

// tokenServer is a fake token endpoint that checks every assertion with the
// independent verifier and answers with respond(n) for the n-th request.
type tokenServer struct {
	*httptest.Server
	mu         sync.Mutex
	assertions []string
	jtis       map[string]bool
}

func newTokenServer(t *testing.T, k jwk.Key, clk *demotest.Clock, respond func(n int) (int, string)) *tokenServer {
	t.Helper()
	jwks := mustJWKS(t, k)
	ts := &tokenServer{jtis: map[string]bool{}}
	ts.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := r.ParseForm(); err != nil {
			t.Errorf("token request form: %v", err)
		}
		for name, want := range map[string]string{
			"grant_type":            "client_credentials",
			"client_assertion_type": "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
			"scope":                 "system/*.rs system/Group.rs",
		} {
			if got := r.PostForm.Get(name); got != want {
				t.Errorf("token request %s = %q, want %q", name, got, want)
			}
		}
		a := r.PostForm.Get("client_assertion")
		c := checkAssertion(t, a, jwks, "client-1", ts.URL+"/token", clk.Now())
		ts.mu.Lock()
		if ts.jtis[c.Jti] {
			t.Errorf("assertion jti %q reused", c.Jti)
		}
		ts.jtis[c.Jti] = true
		ts.assertions = append(ts.assertions, a)
		n := len(ts.assertions)
		ts.mu.Unlock()
		status, body := respond(n)
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		fmt.Fprint(w, body)
	}))
	t.Cleanup(ts.Close)
	return ts
}

func (ts *tokenServer) requests() int {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	return len(ts.assertions)
}

func (ts *tokenServer) config(k jwk.Key, clk *demotest.Clock) *smart.Config {
	return &smart.Config{
		ClientID:   "client-1",
		TokenURL:   ts.URL + "/token",
		Scopes:     []string{"system/*.rs", "system/Group.rs"},
		Key:        k,
		HTTPClient: ts.Client(),
		Now:        clk.Now,
	}
}

func okToken(expiresIn string) func(n int) (int, string) {
	return func(n int) (int, string) {
		exp := ""
		if expiresIn != "" {
			exp = `,"expires_in":` + expiresIn
		}
		return 200, fmt.Sprintf(`{"access_token":"tok-%d","token_type":"bearer","scope":"system/*.rs"%s}`, n, exp)
	}
}

func TestSource_ReuseAndRefresh(t *testing.T) {
	tests := []struct {
		name      string
		expiresIn string        // raw JSON; "" = absent
		refresh   time.Duration // when a new token is fetched
	}{
		{"Number300", `300`, 270 * time.Second},
		{"String300", `"300"`, 270 * time.Second},
		{"Missing", ``, 270 * time.Second},
		{"Null", `null`, 270 * time.Second},
		{"Zero", `0`, 270 * time.Second},
		{"Negative", `-5`, 270 * time.Second},
		{"Garbage", `"soon"`, 270 * time.Second},
		{"Hour", `3600`, 3570 * time.Second},
		{"ShortHalfLife", `20`, 10 * time.Second},
		{"TenSeconds", `10`, 5 * time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			k := mustGenerate(t, smart.ES384)
			clk := newClock()
			srv := newTokenServer(t, k, clk, okToken(tt.expiresIn))
			src := srv.config(k, clk).TokenSource(t.Context())
			t0 := clk.Now()
			tok, err := src.Token()
			if err != nil {
				t.Fatalf("Token: %v", err)
			}
			if tok.AccessToken != "tok-1" || tok.Type() != "Bearer" {
				t.Fatalf("Token = %q %q, want tok-1 Bearer", tok.AccessToken, tok.Type())
			}
			if got, _ := tok.Extra("scope").(string); got != "system/*.rs" {
				t.Errorf("granted scope = %q, want system/*.rs", got)
			}
			clk.Set(t0.Add(tt.refresh - time.Second))
			if tok, err := src.Token(); err != nil || tok.AccessToken != "tok-1" {
				t.Fatalf("Token just before refresh = %v, %v; want the cached tok-1", tok, err)
			}
			clk.Set(t0.Add(tt.refresh))
			if tok, err := src.Token(); err != nil || tok.AccessToken != "tok-2" {
				t.Fatalf("Token at refresh = %v, %v; want a new tok-2", tok, err)
			}
			if got := srv.requests(); got != 2 {
				t.Fatalf("token requests = %d, want 2", got)
			}
		})
	}
}

// TestSource_LongExport walks an injected clock through three hours of
// 300-second tokens: every call gets a token that is valid for at least the
// leeway, and each token request carried a fresh assertion.
func TestSource_LongExport(t *testing.T) {
	k := mustGenerate(t, smart.RS384)
	clk := newClock()
	srv := newTokenServer(t, k, clk, okToken("300"))
	src := srv.config(k, clk).TokenSource(t.Context())
	t0 := clk.Now()
	for at := time.Duration(0); at < 3*time.Hour; at += 7 * time.Second {
		clk.Set(t0.Add(at))
		tok, err := src.Token()
		if err != nil {
			t.Fatalf("Token at +%v: %v", at, err)
		}
		if left := tok.Expiry.Sub(clk.Now()); left < 30*time.Second {
			t.Fatalf("token at +%v has %v left, want >= 30s", at, left)
		}
	}
	// 3 h / 270 s ≈ 40 tokens.
	if got := srv.requests(); got < 39 || got > 42 {
		t.Fatalf("token requests over 3 h = %d, want about 40", got)
	}
}

func TestSource_Invalidate(t *testing.T) {
	k := mustGenerate(t, smart.ES384)
	clk := newClock()
	srv := newTokenServer(t, k, clk, okToken("300"))
	src := srv.config(k, clk).TokenSource(t.Context())
	if _, err := src.Token(); err != nil {
		t.Fatal(err)
	}
	src.(smart.Invalidator).Invalidate()
	tok, err := src.Token()
	if err != nil || tok.AccessToken != "tok-2" {
		t.Fatalf("Token after Invalidate = %v, %v; want tok-2", tok, err)
	}
}

func TestSource_TokenType(t *testing.T) {
	for _, tt := range []struct {
		typ string
		ok  bool
	}{{"bearer", true}, {"Bearer", true}, {"BEARER", true}, {"", true}, {"mac", false}, {"DPoP", false}} {
		t.Run("Type"+tt.typ, func(t *testing.T) {
			k := mustGenerate(t, smart.ES384)
			clk := newClock()
			srv := newTokenServer(t, k, clk, func(int) (int, string) {
				return 200, `{"access_token":"x","token_type":"` + tt.typ + `","expires_in":300}`
			})
			tok, err := srv.config(k, clk).TokenSource(t.Context()).Token()
			if tt.ok && (err != nil || tok.Type() != "Bearer") {
				t.Fatalf("Token() = %v, %v; want a Bearer token", tok, err)
			}
			if !tt.ok && err == nil {
				t.Fatalf("Token() with token_type %q: err = nil, want an error", tt.typ)
			}
		})
	}
}

func TestSource_TokenError(t *testing.T) {
	tests := []struct {
		name    string
		status  int
		body    string
		want    string
		code    string
		private string // must not appear in the message
	}{
		{"InvalidClient", 401, `{"error":"invalid_client","error_description":"unknown kid"}`, "invalid_client: unknown kid", "invalid_client", ""},
		{"InvalidScope", 400, `{"error":"invalid_scope"}`, "invalid_scope", "invalid_scope", ""},
		{"HTML500", 500, `<html>stack trace at db.go:12 password=hunter2</html>`, "token endpoint answered HTTP 500 Internal Server Error", "", "hunter2"},
		{"ErrorWith200", 200, `{"error":"invalid_grant","error_description":"jti reused"}`, "invalid_grant: jti reused", "invalid_grant", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			k := mustGenerate(t, smart.ES384)
			clk := newClock()
			srv := newTokenServer(t, k, clk, func(int) (int, string) { return tt.status, tt.body })
			_, err := srv.config(k, clk).TokenSource(t.Context()).Token()
			var te *smart.TokenError
			if !errors.As(err, &te) {
				t.Fatalf("Token() err = %v (%T), want *smart.TokenError", err, err)
			}
			if err.Error() != tt.want || te.Code != tt.code || te.Status != tt.status {
				t.Fatalf("Token() err = %q (code %q, status %d), want %q (code %q, status %d)", err, te.Code, te.Status, tt.want, tt.code, tt.status)
			}
			if tt.private != "" && strings.Contains(err.Error(), tt.private) {
				t.Fatalf("error %q quotes the response body", err)
			}
			srv.mu.Lock()
			a := srv.assertions[0]
			srv.mu.Unlock()
			if strings.Contains(err.Error(), a[len(a)-20:]) {
				t.Fatalf("error %q contains the assertion", err)
			}
		})
	}
	t.Run("NoAccessToken", func(t *testing.T) {
		k := mustGenerate(t, smart.ES384)
		clk := newClock()
		srv := newTokenServer(t, k, clk, func(int) (int, string) { return 200, `{"token_type":"bearer"}` })
		if _, err := srv.config(k, clk).TokenSource(t.Context()).Token(); err == nil || !strings.Contains(err.Error(), "access_token") {
			t.Fatalf("Token() err = %v, want one about access_token", err)
		}
	})
}

// TestSource_Concurrent checks that concurrent callers share one token
// request (and that the source is race-free under -race).
func TestSource_Concurrent(t *testing.T) {
	k := mustGenerate(t, smart.ES384)
	clk := newClock()
	srv := newTokenServer(t, k, clk, okToken("300"))
	src := srv.config(k, clk).TokenSource(t.Context())
	var wg sync.WaitGroup
	for range 20 {
		wg.Go(func() {
			if tok, err := src.Token(); err != nil || tok.AccessToken != "tok-1" {
				t.Errorf("Token() = %v, %v; want tok-1", tok, err)
			}
		})
	}
	wg.Wait()
	if got := srv.requests(); got != 1 {
		t.Fatalf("token requests = %d, want 1", got)
	}
}
