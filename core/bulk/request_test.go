package bulk_test

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/google/go-cmp/cmp"
	"tranche.dev/tranche/core"
	"tranche.dev/tranche/core/bulk"
)

// kickoffSeen is what a kick-off request looked like.
type kickoffSeen struct {
	Method, Path, Accept, Prefer, ContentType string
	Query                                     map[string][]string
	Body                                      any
}

func TestKickoffRequests(t *testing.T) {
	var seen kickoffSeen
	var srv *httptest.Server
	srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		seen = kickoffSeen{Method: r.Method, Path: r.URL.Path, Accept: r.Header.Get("Accept"), Prefer: r.Header.Get("Prefer"),
			ContentType: r.Header.Get("Content-Type"), Query: r.URL.Query()}
		if len(body) > 0 {
			json.Unmarshal(body, &seen.Body)
		}
		w.Header().Set("Content-Location", "/status/42") // relative: resolved by the client
		w.WriteHeader(http.StatusAccepted)
	}))
	defer srv.Close()
	c := &bulk.Client{BaseURL: srv.URL + "/fhir/"}
	all := core.ExportRequest{OutputFormat: "ndjson", Since: "2024-01-01T00:00:00Z", Until: "2024-06-01T00:00:00Z",
		Types: []string{"Patient", "Observation"}, Elements: []string{"Observation.code", "id"},
		TypeFilters: []string{"Observation?category=laboratory", "Observation?code=a,b"}, IncludeAssociatedData: []string{"LatestProvenanceResources"},
		OrganizeOutputBy: "Patient", AllowPartialManifests: true}
	tests := []struct {
		name string
		req  core.ExportRequest
		want kickoffSeen
	}{
		{"System", core.ExportRequest{Level: core.LevelSystem}, kickoffSeen{Method: "GET", Path: "/fhir/$export", Query: map[string][]string{}}},
		{"PatientLenient", core.ExportRequest{Level: core.LevelPatient, Lenient: true},
			kickoffSeen{Method: "GET", Path: "/fhir/Patient/$export", Prefer: "respond-async, handling=lenient", Query: map[string][]string{}}},
		{"SeparateExportStatus", core.ExportRequest{Level: core.LevelPatient, SeparateExportStatus: true},
			kickoffSeen{Method: "GET", Path: "/fhir/Patient/$export", Prefer: "respond-async,separate-export-status", Query: map[string][]string{}}},
		{"SeparateExportStatusLenient", core.ExportRequest{Level: core.LevelPatient, SeparateExportStatus: true, Lenient: true},
			kickoffSeen{Method: "GET", Path: "/fhir/Patient/$export", Prefer: "respond-async,separate-export-status, handling=lenient", Query: map[string][]string{}}},
		{"GroupAllParameters", func() core.ExportRequest { r := all; r.Level, r.GroupID = core.LevelGroup, "g 1"; return r }(),
			kickoffSeen{Method: "GET", Path: "/fhir/Group/g 1/$export", Query: map[string][]string{
				"_outputFormat": {"ndjson"}, "_since": {"2024-01-01T00:00:00Z"}, "_until": {"2024-06-01T00:00:00Z"},
				"_type": {"Patient,Observation"}, "_elements": {"Observation.code,id"},
				"_typeFilter":           {"Observation?category=laboratory", "Observation?code=a,b"},
				"includeAssociatedData": {"LatestProvenanceResources"}, "organizeOutputBy": {"Patient"}, "allowPartialManifests": {"true"},
			}}},
		{"PatientForcesPOST", core.ExportRequest{Level: core.LevelPatient, Patients: []string{"p1", "Patient/p2"}, Types: []string{"Condition"}, AllowPartialManifests: true, IncludeAssociatedData: []string{"_x"}},
			kickoffSeen{Method: "POST", Path: "/fhir/Patient/$export", ContentType: "application/fhir+json", Query: map[string][]string{},
				Body: map[string]any{"resourceType": "Parameters", "parameter": []any{
					map[string]any{"name": "_type", "valueString": "Condition"},
					map[string]any{"name": "patient", "valueReference": map[string]any{"reference": "Patient/p1"}},
					map[string]any{"name": "patient", "valueReference": map[string]any{"reference": "Patient/p2"}},
					map[string]any{"name": "includeAssociatedData", "valueCode": "_x"},
					map[string]any{"name": "allowPartialManifests", "valueBoolean": true},
				}}}},
		{"POSTAsked", core.ExportRequest{Level: core.LevelSystem, POST: true, Since: "2024-01-01T00:00:00Z"},
			kickoffSeen{Method: "POST", Path: "/fhir/$export", ContentType: "application/fhir+json", Query: map[string][]string{},
				Body: map[string]any{"resourceType": "Parameters", "parameter": []any{map[string]any{"name": "_since", "valueInstant": "2024-01-01T00:00:00Z"}}}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			statusURL, _, err := c.Kickoff(t.Context(), tt.req)
			if err != nil {
				t.Fatalf("Kickoff() error = %v", err)
			}
			if want := srv.URL + "/status/42"; statusURL != want {
				t.Errorf("status URL = %q, want %q", statusURL, want)
			}
			tt.want.Accept = "application/fhir+json"
			if tt.want.Prefer == "" {
				tt.want.Prefer = "respond-async"
			}
			if diff := cmp.Diff(tt.want, seen); diff != "" {
				t.Errorf("kick-off request (-want +got):\n%s", diff)
			}
		})
	}
}

func TestKickoffErrorOutcome(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Request-Id", "req-77")
		w.Header().Set("Content-Type", "application/fhir+json")
		w.WriteHeader(http.StatusBadRequest)
		io.WriteString(w, `{"resourceType":"OperationOutcome","issue":[{"severity":"error","code":"invalid","diagnostics":"unknown _type Foo"}]}`)
	}))
	defer srv.Close()
	c := &bulk.Client{BaseURL: srv.URL}
	_, _, err := c.Kickoff(t.Context(), core.ExportRequest{Level: core.LevelSystem})
	var he *bulk.HTTPError
	if !errors.As(err, &he) || he.StatusCode != 400 || he.Message != "unknown _type Foo" || he.Transient || he.Headers["X-Request-Id"] != "req-77" {
		t.Fatalf("Kickoff() error = %#v, want HTTP 400 'unknown _type Foo', not transient, X-Request-Id kept", err)
	}
}
