package demo_test

import (
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"testing"

	"tranche.dev/tranche/core/demo"
)

func TestSMARTConfiguration(t *testing.T) {
	s := newServer(t, demo.Config{})
	root := strings.TrimSuffix(s.URL(), "/fhir")
	for _, u := range []string{s.URL() + "/.well-known/smart-configuration", root + "/.well-known/smart-configuration"} {
		for _, accept := range []string{"", "application/fhir+json", "text/html"} {
			var h []string
			if accept != "" {
				h = append(h, "Accept: "+accept)
			}
			r := do(t, "GET", u, "", nil, h...)
			if r.status != http.StatusOK || r.header.Get("Content-Type") != "application/json" {
				t.Fatalf("GET %s (Accept %q) = %d %q, want 200 application/json", u, accept, r.status, r.header.Get("Content-Type"))
			}
			var c struct {
				TokenEndpoint        string   `json:"token_endpoint"`
				RegistrationEndpoint string   `json:"registration_endpoint"`
				GrantTypes           []string `json:"grant_types_supported"`
				Capabilities         []string `json:"capabilities"`
				CodeChallenge        []string `json:"code_challenge_methods_supported"`
				AuthMethods          []string `json:"token_endpoint_auth_methods_supported"`
				Algs                 []string `json:"token_endpoint_auth_signing_alg_values_supported"`
				Scopes               []string `json:"scopes_supported"`
			}
			if err := json.Unmarshal(r.body, &c); err != nil {
				t.Fatal(err)
			}
			ok := c.TokenEndpoint == s.TokenURL() && c.RegistrationEndpoint == s.RegistrationURL() &&
				slices.Equal(c.GrantTypes, []string{"client_credentials"}) &&
				slices.Contains(c.Capabilities, "client-confidential-asymmetric") &&
				slices.Contains(c.Capabilities, "permission-v1") && slices.Contains(c.Capabilities, "permission-v2") &&
				slices.Equal(c.CodeChallenge, []string{"S256"}) && slices.Equal(c.AuthMethods, []string{"private_key_jwt"}) &&
				slices.Equal(c.Algs, []string{"RS384", "ES384"}) && slices.Contains(c.Scopes, "system/*.rs")
			if !ok {
				t.Errorf("smart-configuration %s", r.body)
			}
		}
	}
}

func TestMetadata(t *testing.T) {
	s := newServer(t, demo.Config{})
	r := do(t, "GET", s.URL()+"/metadata", "", nil)
	if r.status != http.StatusOK {
		t.Fatalf("GET metadata = %d", r.status)
	}
	var cs struct {
		ResourceType string   `json:"resourceType"`
		FHIRVersion  string   `json:"fhirVersion"`
		Instantiates []string `json:"instantiates"`
		Rest         []struct {
			Operation []struct{ Name, Definition string }
			Resource  []struct {
				Type        string
				Operation   []struct{ Name, Definition string }
				SearchParam []struct{ Name, Type string }
			}
			Security struct {
				Extension []struct {
					URL       string `json:"url"`
					Extension []struct {
						URL      string `json:"url"`
						ValueURI string `json:"valueUri"`
					} `json:"extension"`
				} `json:"extension"`
			}
		}
	}
	if err := json.Unmarshal(r.body, &cs); err != nil {
		t.Fatal(err)
	}
	if cs.ResourceType != "CapabilityStatement" || cs.FHIRVersion != "4.0.1" ||
		!slices.Contains(cs.Instantiates, "http://hl7.org/fhir/uv/bulkdata/CapabilityStatement/bulk-data") {
		t.Errorf("CapabilityStatement header wrong: %s", r.body[:200])
	}
	rest := cs.Rest[0]
	if len(rest.Operation) != 1 || rest.Operation[0].Definition != "http://hl7.org/fhir/uv/bulkdata/OperationDefinition/export" {
		t.Errorf("rest.operation %v", rest.Operation)
	}
	defs := map[string]string{}
	params := map[string][]string{}
	for _, res := range rest.Resource {
		for _, op := range res.Operation {
			defs[res.Type] = op.Definition
		}
		for _, p := range res.SearchParam {
			params[res.Type] = append(params[res.Type], p.Name)
		}
	}
	if defs["Patient"] != "http://hl7.org/fhir/uv/bulkdata/OperationDefinition/patient-export" ||
		defs["Group"] != "http://hl7.org/fhir/uv/bulkdata/OperationDefinition/group-export" {
		t.Errorf("resource operations %v", defs)
	}
	if !slices.Contains(params["Observation"], "code") || !slices.Contains(params["Patient"], "birthdate") {
		t.Errorf("searchParams %v", params)
	}
	token := ""
	for _, e := range rest.Security.Extension {
		for _, sub := range e.Extension {
			if e.URL == "http://fhir-registry.smarthealthit.org/StructureDefinition/oauth-uris" && sub.URL == "token" {
				token = sub.ValueURI
			}
		}
	}
	if token != s.TokenURL() {
		t.Errorf("oauth-uris token = %q, want %q", token, s.TokenURL())
	}
}

func TestGroup_ReadAndSearch(t *testing.T) {
	s := newServer(t, demo.Config{})
	tok := s.demoToken(t)
	if r := do(t, "GET", s.URL()+"/Group/pilot", tok, nil); r.status != 200 || r.json(t)["id"] != "pilot" {
		t.Errorf("read Group/pilot = %d %s", r.status, r.body)
	}
	if r := do(t, "GET", s.URL()+"/Group/nope", tok, nil); r.status != 404 {
		t.Errorf("read Group/nope = %d, want 404", r.status)
	}
	tests := []struct {
		query string
		want  []string
	}{
		{"", []string{"diabetes", "over-65", "pilot", "withdrawn"}},
		{"?name=remote", []string{"pilot"}},
		{"?name:contains=COHORT", []string{"diabetes"}},
		{"?name:exact=remote", nil},
		{"?identifier=urn:tranche:synth:group|withdrawn", []string{"withdrawn"}},
		{"?identifier=diabetes", []string{"diabetes"}},
		{"?_id=pilot,diabetes", []string{"diabetes", "pilot"}},
		{"?_id=pilot&name=diab", nil},
	}
	for _, tt := range tests {
		r := do(t, "GET", s.URL()+"/Group"+tt.query, tok, nil)
		b := r.json(t)
		if r.status != 200 || b["resourceType"] != "Bundle" || b["type"] != "searchset" {
			t.Fatalf("search %q = %d %s", tt.query, r.status, r.body)
		}
		var got []string
		for _, e := range b["entry"].([]any) {
			got = append(got, e.(map[string]any)["resource"].(map[string]any)["id"].(string))
		}
		slices.Sort(got)
		if !slices.Equal(got, tt.want) || b["total"] != float64(len(tt.want)) {
			t.Errorf("search %q = %v (total %v), want %v", tt.query, got, b["total"], tt.want)
		}
	}
}

func TestNotFoundAndMethod(t *testing.T) {
	s := newServer(t, demo.Config{})
	if r := do(t, "GET", s.URL()+"/Spaceship/1", "", nil); r.status != 404 || r.issueCode(t) != "not-found" {
		t.Errorf("unknown path = %d", r.status)
	}
	if r := do(t, "PUT", s.URL()+"/$export", "", nil); r.status != 405 || r.issueCode(t) != "not-supported" {
		t.Errorf("PUT $export = %d", r.status)
	}
}
