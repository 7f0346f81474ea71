package smart_test

import (
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"

	"tranche.dev/tranche/core"
	"tranche.dev/tranche/core/dialtest"
	"tranche.dev/tranche/core/smart"
)

// TestPlainHTTPRefused: no assertion, token or registration goes over
// plain http off this computer, whoever named the URL (SMART risk R5).
func TestPlainHTTPRefused(t *testing.T) {
	hc := dialtest.LoopbackClient(t)
	// A loopback server whose discovery names plain-http endpoints elsewhere.
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/fhir/.well-known/smart-configuration":
			fmt.Fprint(w, `{"token_endpoint":"http://192.0.2.10/token","registration_endpoint":"https://192.0.2.10/register"}`)
		case "/redirect/.well-known/smart-configuration":
			http.Redirect(w, r, "http://192.0.2.10/.well-known/smart-configuration", http.StatusFound)
		default:
			http.NotFound(w, r)
		}
	}))
	defer srv.Close()

	if _, err := smart.Discover(t.Context(), hc, "http://192.0.2.10/fhir"); !errors.Is(err, core.ErrInsecureURL) {
		t.Errorf("Discover(plain http base) = %v, want a refusal", err)
	}
	if _, err := smart.Discover(t.Context(), hc, srv.URL+"/fhir"); !errors.Is(err, core.ErrInsecureURL) {
		t.Errorf("Discover(advertising a plain http token endpoint) = %v, want a refusal", err)
	}
	if _, err := smart.Discover(t.Context(), hc, srv.URL+"/redirect"); err == nil {
		t.Error("Discover followed a redirect to plain http")
	}
	cfg := smart.Config{ClientID: "c", TokenURL: "http://192.0.2.10/token", Scopes: []string{"system/*.rs"},
		Key: mustGenerate(t, smart.RS384), HTTPClient: hc}
	if _, err := cfg.TokenSource(t.Context()).Token(); !errors.Is(err, core.ErrInsecureURL) {
		t.Errorf("Token() = %v, want a refusal before the assertion is sent", err)
	}
	if _, err := smart.Register(t.Context(), hc, "http://192.0.2.10/register", smart.ClientMetadata{JWKSURI: "https://a.example/jwks"}); !errors.Is(err, core.ErrInsecureURL) {
		t.Errorf("Register() = %v, want a refusal", err)
	}
	if _, err := smart.NewClient(hc, cfg.TokenSource(t.Context()), "http://192.0.2.10/fhir"); !errors.Is(err, core.ErrInsecureURL) {
		t.Errorf("NewClient() = %v, want a refusal", err)
	}
}
