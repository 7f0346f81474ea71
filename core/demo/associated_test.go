package demo_test

import (
	"net/http"
	"strings"
	"testing"

	"tranche.dev/tranche/core/demo"
)

// TestKickoff_AssociatedDataCoding: a POST body may carry
// includeAssociatedData as valueCode (v2/v3) or valueCoding (v4) with the
// IG's CodeSystem; a Coding with another system is a 400 that says so.
func TestKickoff_AssociatedDataCoding(t *testing.T) {
	s := newServer(t, demo.Config{})
	tok := s.demoToken(t)
	tests := []struct {
		name       string
		key        string
		value      any
		wantStatus int
		wantMsg    string // in the OperationOutcome's diagnostics
	}{
		{"Code", "valueCode", "RelevantProvenanceResources", 202, ""},
		{"Coding", "valueCoding", map[string]string{"system": "http://hl7.org/fhir/uv/bulkdata/CodeSystem/include-associated-data", "code": "RelevantProvenanceResources"}, 202, ""},
		{"CodingNoSystem", "valueCoding", map[string]string{"code": "RelevantProvenanceResources"}, 202, ""},
		{"CodingWrongSystem", "valueCoding", map[string]string{"system": "http://example.org/provenance", "code": "RelevantProvenanceResources"}, 400,
			`system "http://example.org/provenance" is not http://hl7.org/fhir/uv/bulkdata/CodeSystem/include-associated-data`},
		{"CodingCustomWithIGSystem", "valueCoding", map[string]string{"system": "http://hl7.org/fhir/uv/bulkdata/CodeSystem/include-associated-data", "code": "_mine"}, 400,
			"send it without a system"},
		{"CodingNoCode", "valueCoding", map[string]string{"system": "http://hl7.org/fhir/uv/bulkdata/CodeSystem/include-associated-data"}, 400, "needs a code"},
		{"String", "valueString", "RelevantProvenanceResources", 400, "want valueCode or valueCoding"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := s.kickoffPOST(t, tok, "/Patient/$export", params(
				[3]any{"_type", "valueString", "Encounter"},
				[3]any{"includeAssociatedData", tt.key, tt.value},
			))
			if r.status != tt.wantStatus {
				t.Fatalf("POST kick-off = %d %s, want %d", r.status, r.body, tt.wantStatus)
			}
			if tt.wantStatus != http.StatusAccepted {
				if code := r.issueCode(t); code != "invalid" {
					t.Errorf("issue code = %q, want invalid", code)
				}
				diag, _ := r.json(t)["issue"].([]any)[0].(map[string]any)["diagnostics"].(string)
				if !strings.Contains(diag, tt.wantMsg) {
					t.Errorf("diagnostics = %q, want it to say %q", diag, tt.wantMsg)
				}
				return
			}
			m := s.manifest(t, tok, r.header.Get("Content-Location"))
			if types := outputTypes(m); len(types) != 2 || types[1] != "Provenance" {
				t.Errorf("output types = %v, want [Encounter Provenance]: the value was not applied", types)
			}
		})
	}
}
