package smart_test

import (
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"tranche.dev/tranche/core/smart"
)

func TestDiscover(t *testing.T) {
	const smartConfig = `{
		"token_endpoint": "../auth/token",
		"registration_endpoint": "/auth/register",
		"token_endpoint_auth_signing_alg_values_supported": ["RS384", "ES384"],
		"token_endpoint_auth_methods_supported": ["private_key_jwt"],
		"grant_types_supported": ["client_credentials"],
		"capabilities": ["client-confidential-asymmetric", "permission-v2"],
		"scopes_supported": ["system/*.rs"]
	}`
	const capability = `{"resourceType":"CapabilityStatement","rest":[{"mode":"server","security":{"extension":[
		{"url":"http://fhir-registry.smarthealthit.org/StructureDefinition/oauth-uris","extension":[
			{"url":"authorize","valueUri":"https://as.example/authorize"},
			{"url":"token","valueUri":"https://as.example/token"}]}]}}]}`
	tests := []struct {
		name     string
		routes   map[string]string // path → JSON body; others 404
		want     *smart.Discovery  // URLs relative to the server, prefixed at run time
		wantErr  string
		wantV1V2 [2]bool
	}{
		{
			name:   "SMARTConfiguration",
			routes: map[string]string{"/fhir/r4/.well-known/smart-configuration": smartConfig},
			want: &smart.Discovery{
				Source:               smart.SourceSMARTConfiguration,
				TokenEndpoint:        "{srv}/fhir/auth/token",
				RegistrationEndpoint: "{srv}/auth/register",
				SigningAlgs:          []string{"RS384", "ES384"},
				AuthMethods:          []string{"private_key_jwt"},
				GrantTypes:           []string{"client_credentials"},
				Capabilities:         []string{"client-confidential-asymmetric", "permission-v2"},
				ScopesSupported:      []string{"system/*.rs"},
			},
			wantV1V2: [2]bool{false, true},
		},
		{
			name:   "MetadataFallback",
			routes: map[string]string{"/fhir/r4/metadata": capability},
			want: &smart.Discovery{
				Source:        smart.SourceCapabilityStatement,
				TokenEndpoint: "https://as.example/token",
			},
		},
		{
			name: "WellKnownWithoutToken",
			routes: map[string]string{
				"/fhir/r4/.well-known/smart-configuration": `{"capabilities":[]}`,
				"/fhir/r4/metadata":                        capability,
			},
			want: &smart.Discovery{Source: smart.SourceCapabilityStatement, TokenEndpoint: "https://as.example/token"},
		},
		{
			name:    "Nothing",
			routes:  map[string]string{"/fhir/r4/metadata": `{"resourceType":"CapabilityStatement"}`},
			wantErr: "no oauth-uris token extension",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				body, ok := tt.routes[r.URL.Path]
				if !ok {
					http.NotFound(w, r)
					return
				}
				w.Header().Set("Content-Type", "application/json")
				fmt.Fprint(w, body)
			}))
			t.Cleanup(srv.Close)
			d, err := smart.Discover(t.Context(), srv.Client(), srv.URL+"/fhir/r4/")
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("Discover() err = %v, want one containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("Discover(): %v", err)
			}
			want := *tt.want
			want.TokenEndpoint = strings.Replace(want.TokenEndpoint, "{srv}", srv.URL, 1)
			want.RegistrationEndpoint = strings.Replace(want.RegistrationEndpoint, "{srv}", srv.URL, 1)
			if diff := cmp.Diff(&want, d); diff != "" {
				t.Errorf("Discover() (-want +got):\n%s", diff)
			}
			if got := [2]bool{d.ScopesV1(), d.ScopesV2()}; got != tt.wantV1V2 {
				t.Errorf("ScopesV1, ScopesV2 = %v, want %v", got, tt.wantV1V2)
			}
		})
	}
}

func TestRegister(t *testing.T) {
	k := mustGenerate(t, smart.ES384)
	jwks := mustJWKS(t, k)
	var got map[string]any
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if ct := r.Header.Get("Content-Type"); ct != "application/json" {
			t.Errorf("Content-Type = %q, want application/json", ct)
		}
		body, _ := io.ReadAll(r.Body)
		got = nil
		if err := jsonUnmarshal(body, &got); err != nil {
			t.Errorf("request body: %v", err)
		}
		w.Header().Set("Content-Type", "application/json")
		if got["client_name"] == "bad" {
			w.WriteHeader(http.StatusBadRequest)
			fmt.Fprint(w, `{"error":"invalid_client_metadata","error_description":"jwks has a private key"}`)
			return
		}
		w.WriteHeader(http.StatusCreated)
		fmt.Fprint(w, `{"client_id":"abc123","client_id_issued_at":1800000000,"client_name":"Tranche"}`)
	}))
	t.Cleanup(srv.Close)

	rc, err := smart.Register(t.Context(), srv.Client(), srv.URL, smart.ClientMetadata{
		ClientName: "Tranche", JWKS: jwks, Scope: "system/*.rs",
	})
	if err != nil {
		t.Fatalf("Register: %v", err)
	}
	if rc.ClientID != "abc123" {
		t.Errorf("client id = %q, want abc123", rc.ClientID)
	}
	if got["token_endpoint_auth_method"] != "private_key_jwt" || got["scope"] != "system/*.rs" {
		t.Errorf("request = %v, want private_key_jwt and scope", got)
	}
	if gt, _ := got["grant_types"].([]any); len(gt) != 1 || gt[0] != "client_credentials" {
		t.Errorf("grant_types = %v, want [client_credentials]", got["grant_types"])
	}
	if keys, _ := got["jwks"].(map[string]any)["keys"].([]any); len(keys) != 1 {
		t.Errorf("jwks = %v, want one key", got["jwks"])
	}

	_, err = smart.Register(t.Context(), srv.Client(), srv.URL, smart.ClientMetadata{ClientName: "bad", JWKS: jwks})
	var re *smart.RegistrationError
	if !errors.As(err, &re) || err.Error() != "invalid_client_metadata: jwks has a private key" || re.Status != 400 {
		t.Fatalf("Register() err = %v, want *RegistrationError invalid_client_metadata: jwks has a private key", err)
	}
	if _, err := smart.Register(t.Context(), srv.Client(), srv.URL, smart.ClientMetadata{}); err == nil {
		t.Fatal("Register() without keys: err = nil, want an error")
	}
}

// TestRegisterTellsOtherEndpoints: an endpoint that is not RFC 7591's (the
// SMART reference server's form-style one) is told apart from an RFC 7591
// refusal, so a person hears to register by hand.
func TestRegisterTellsOtherEndpoints(t *testing.T) {
	jwks := mustJWKS(t, mustGenerate(t, smart.ES384))
	for _, tt := range []struct {
		name   string
		status int
		body   string
		other  bool
	}{
		{"RFC 7591 refusal", 400, `{"error":"invalid_client_metadata","error_description":"bad scope"}`, false},
		{"content type refused", 400, `{"error":"invalid_request","error_description":"Invalid request content-type header (must be \"application/x-www-form-urlencoded\")"}`, true},
		{"unsupported media type", 415, `{"error":"invalid_request"}`, true},
		{"HTML error page", 400, `<html><body>Bad Request</body></html>`, true},
		{"JSON without an error code", 400, `{"message":"jwks is required"}`, true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.WriteHeader(tt.status)
				fmt.Fprint(w, tt.body)
			}))
			t.Cleanup(srv.Close)
			_, err := smart.Register(t.Context(), srv.Client(), srv.URL, smart.ClientMetadata{JWKS: jwks})
			if err == nil {
				t.Fatal("Register() = nil error, want a refusal")
			}
			if got := errors.Is(err, smart.ErrNotRFC7591); got != tt.other {
				t.Errorf("errors.Is(%v, ErrNotRFC7591) = %v, want %v", err, got, tt.other)
			}
		})
	}
}

// TestDiscoverUnreachable: a server that does not answer at all is said to
// be unreachable, once, instead of two joined transport errors.
func TestDiscoverUnreachable(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	base := "http://" + ln.Addr().String() + "/fhir"
	ln.Close() // nothing listens there now
	_, err = smart.Discover(t.Context(), http.DefaultClient, base)
	if err == nil || !strings.HasPrefix(err.Error(), "cannot reach the server at "+base+": ") || strings.Contains(err.Error(), "metadata") {
		t.Errorf("Discover(closed port) = %v, want one 'cannot reach the server at %s' error", err, base)
	}
}
