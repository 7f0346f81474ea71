package core_test

import (
	"testing"

	"tranche.dev/tranche/core"
)

func TestOrigin(t *testing.T) {
	for _, tt := range []struct{ in, want string }{
		{"https://EHR.example.org/fhir", "https://ehr.example.org:443"},
		{"https://ehr.example.org:443/x", "https://ehr.example.org:443"},
		{"http://127.0.0.1:8080/fhir/", "http://127.0.0.1:8080"},
		{"http://[::1]/fhir", "http://[::1]:80"},
	} {
		if got, err := core.Origin(tt.in); err != nil || got != tt.want {
			t.Errorf("Origin(%q) = %q, %v; want %q", tt.in, got, err, tt.want)
		}
	}
	if _, err := core.Origin("/relative"); err == nil {
		t.Error("Origin(relative): err = nil, want an error")
	}
}

func TestSameOrigin(t *testing.T) {
	for _, tt := range []struct {
		a, b string
		want bool
	}{
		// The default port written out or left implicit is one origin
		// (issue 11: a file at :443 was fetched without the token).
		{"https://ehr.example/fhir", "https://ehr.example:443/files/1.ndjson", true},
		{"http://127.0.0.1/fhir", "http://127.0.0.1:80/files/1", true},
		{"https://EHR.example/fhir", "HTTPS://ehr.EXAMPLE/x", true},
		{"https://ehr.example/fhir", "http://ehr.example/fhir", false},
		{"https://ehr.example/fhir", "https://ehr.example:8443/fhir", false},
		{"http://127.0.0.1:80/fhir", "https://127.0.0.1:80/fhir", false},
		{"https://ehr.example/fhir", "https://files.ehr.example/fhir", false},
		{"https://ehr.example/fhir", "/relative", false},
		{"::bad", "::bad", false},
	} {
		if got := core.SameOrigin(tt.a, tt.b); got != tt.want {
			t.Errorf("SameOrigin(%q, %q) = %v, want %v", tt.a, tt.b, got, tt.want)
		}
	}
}
