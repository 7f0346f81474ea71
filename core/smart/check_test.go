package smart_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"tranche.dev/tranche/core/smart"
)

func TestCheckConnection(t *testing.T) {
	k := mustGenerate(t, smart.ES384)
	tests := []struct {
		name      string
		tokenBody string
		tokenCode int
		alg       string
		wantOK    []bool
		wantText  []string
	}{
		{"OK", `{"access_token":"good","token_type":"Bearer","expires_in":300,"scope":"system/*.rs"}`, 200, "",
			[]bool{true, true, true}, []string{"1. Discovery: ok", "2. Access token: ok", `granted scope "system/*.rs"`, "3. Metadata read: ok", "FHIR 4.0.1 Demo 1.0"}},
		{"InvalidClient", `{"error":"invalid_client","error_description":"unknown kid"}`, 401, "",
			[]bool{true, false}, []string{"2. Access token: FAILED", "invalid_client: unknown kid", "public JWKS"}},
		{"AlgNotListed", `{"access_token":"good","token_type":"bearer"}`, 200, smart.RS384,
			[]bool{false, true, true}, []string{"1. Discovery: FAILED", "does not list", "RS384"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			mux := http.NewServeMux()
			srv := httptest.NewServer(mux)
			t.Cleanup(srv.Close)
			mux.HandleFunc("GET /fhir/.well-known/smart-configuration", func(w http.ResponseWriter, r *http.Request) {
				fmt.Fprintf(w, `{"token_endpoint":"%s/token","token_endpoint_auth_signing_alg_values_supported":["ES384"],"capabilities":["permission-v1","permission-v2"]}`, srv.URL)
			})
			mux.HandleFunc("POST /token", func(w http.ResponseWriter, r *http.Request) {
				w.WriteHeader(tt.tokenCode)
				fmt.Fprint(w, tt.tokenBody)
			})
			mux.HandleFunc("GET /fhir/metadata", func(w http.ResponseWriter, r *http.Request) {
				if r.Header.Get("Authorization") != "Bearer good" {
					w.WriteHeader(http.StatusUnauthorized)
					return
				}
				fmt.Fprint(w, `{"resourceType":"CapabilityStatement","fhirVersion":"4.0.1","software":{"name":"Demo","version":"1.0"}}`)
			})
			cfg := smart.Config{ClientID: "c", Key: k, Alg: tt.alg, Scopes: []string{"system/*.rs"}, HTTPClient: srv.Client()}
			if tt.alg == smart.RS384 {
				cfg.Key = mustGenerate(t, smart.RS384)
			}
			r := smart.CheckConnection(t.Context(), srv.URL+"/fhir", cfg)
			var gotOK []bool
			for _, s := range r.Steps {
				gotOK = append(gotOK, s.OK)
			}
			text := r.String()
			if fmt.Sprint(gotOK) != fmt.Sprint(tt.wantOK) {
				t.Fatalf("steps ok = %v, want %v\n%s", gotOK, tt.wantOK, text)
			}
			if r.OK() != (tt.name == "OK") {
				t.Errorf("OK() = %v\n%s", r.OK(), text)
			}
			for _, want := range tt.wantText {
				if !strings.Contains(text, want) {
					t.Errorf("report does not mention %q:\n%s", want, text)
				}
			}
		})
	}
}
