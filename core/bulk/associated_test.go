package bulk_test

import (
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"
	"tranche.dev/tranche/core"
	"tranche.dev/tranche/core/bulk"
	"tranche.dev/tranche/core/demo"
)

const associatedSystem = "http://hl7.org/fhir/uv/bulkdata/CodeSystem/include-associated-data"

// capabilityStatement returns a CapabilityStatement that instantiates
// instantiates (if not "") and lists the export operations given as
// name → definition, system level under rest.operation and the others
// under their resources, as Bulk Data Access IG, CapabilityStatement (docs/protocol.md, Capabilities) says.
func capabilityStatement(instantiates string, ops ...[2]string) string {
	var sys, patient, group []map[string]string
	for _, op := range ops {
		o := map[string]string{"name": op[0], "definition": op[1]}
		switch {
		case strings.Contains(op[1], "patient-export"):
			patient = append(patient, o)
		case strings.Contains(op[1], "group-export"):
			group = append(group, o)
		default:
			sys = append(sys, o)
		}
	}
	cs := map[string]any{"resourceType": "CapabilityStatement", "fhirVersion": "4.0.1", "rest": []any{map[string]any{
		"mode": "server", "operation": sys,
		"resource": []any{
			map[string]any{"type": "Patient", "operation": patient},
			map[string]any{"type": "Group", "operation": group},
			map[string]any{"type": "Encounter"},
		},
	}}}
	if instantiates != "" {
		cs["instantiates"] = []string{instantiates}
	}
	b, _ := json.Marshal(cs)
	return string(b)
}

const (
	opSystem  = "http://hl7.org/fhir/uv/bulkdata/OperationDefinition/export"
	opPatient = "http://hl7.org/fhir/uv/bulkdata/OperationDefinition/patient-export"
	opGroup   = "http://hl7.org/fhir/uv/bulkdata/OperationDefinition/group-export"
)

// TestKickoffAssociatedData: GET sends includeAssociatedData as a comma
// list, whatever the server's version; POST sends valueCode to v2/v3
// servers and servers that do not say, valueCoding to servers whose
// CapabilityStatement says v4, and what AssociatedDataAs says when set.
func TestKickoffAssociatedData(t *testing.T) {
	v4 := capabilityStatement("", [2]string{"export", opSystem + "|4.0.0"},
		[2]string{"export", opPatient + "|4.0.0"}, [2]string{"export", opGroup + "|4.0.0"})
	code := func(c string) any { return map[string]any{"name": "includeAssociatedData", "valueCode": c} }
	coding := func(system, c string) any {
		v := map[string]any{"code": c}
		if system != "" {
			v["system"] = system
		}
		return map[string]any{"name": "includeAssociatedData", "valueCoding": v}
	}
	values := []string{"LatestProvenanceResources", "_mine"}
	asCodes := []any{code("LatestProvenanceResources"), code("_mine")}
	// The _custom value is not in the IG's CodeSystem: no system.
	asCodings := []any{coding(associatedSystem, "LatestProvenanceResources"), coding("", "_mine")}
	tests := []struct {
		name         string
		metadata     string // "" answers 404
		req          core.ExportRequest
		wantQuery    string // GET: the includeAssociatedData query value
		wantParams   []any  // POST: the includeAssociatedData entries
		wantMetadata int    // metadata reads by Kickoff
	}{
		{"GETUnchangedForV4", v4, core.ExportRequest{Level: core.LevelPatient}, "LatestProvenanceResources,_mine", nil, 0},
		{"GETUnchangedWithOverride", "", core.ExportRequest{Level: core.LevelPatient, AssociatedDataAs: core.AssociatedDataCode}, "LatestProvenanceResources,_mine", nil, 0},
		{"POSTV3", capabilityStatement("", [2]string{"export", opPatient + "|3.0.0"}),
			core.ExportRequest{Level: core.LevelPatient, POST: true}, "", asCodes, 1},
		{"POSTUnversioned", capabilityStatement("http://hl7.org/fhir/uv/bulkdata/CapabilityStatement/bulk-data", [2]string{"export", opPatient}),
			core.ExportRequest{Level: core.LevelPatient, POST: true}, "", asCodes, 1},
		{"POSTNoMetadata", "", core.ExportRequest{Level: core.LevelPatient, POST: true}, "", asCodes, 1},
		{"POSTV4Operation", v4, core.ExportRequest{Level: core.LevelGroup, GroupID: "g1", POST: true}, "", asCodings, 1},
		{"POSTV4Ballot", capabilityStatement("", [2]string{"export", opSystem + "|4.0.0-ballot"}),
			core.ExportRequest{Level: core.LevelSystem, POST: true}, "", asCodings, 1},
		{"POSTV4Instantiates", capabilityStatement("http://hl7.org/fhir/uv/bulkdata/CapabilityStatement/bulk-data|4.0.0", [2]string{"export", opPatient}),
			core.ExportRequest{Level: core.LevelPatient, POST: true}, "", asCodings, 1},
		{"POSTOperationBeatsInstantiates", capabilityStatement("http://hl7.org/fhir/uv/bulkdata/CapabilityStatement/bulk-data|4.0.0", [2]string{"export", opPatient + "|3.0.0"}),
			core.ExportRequest{Level: core.LevelPatient, POST: true}, "", asCodes, 1},
		{"POSTV4AtAnotherLevel", capabilityStatement("", [2]string{"export", opSystem + "|4.0.0"}, [2]string{"export", opPatient + "|3.0.0"}),
			core.ExportRequest{Level: core.LevelPatient, POST: true}, "", asCodes, 1},
		// Checklist X13: v4 offered beside v3 as $export-v4; we call $export.
		{"POSTV4AsExportV4", capabilityStatement("", [2]string{"export", opPatient + "|3.0.0"}, [2]string{"export-v4", opPatient + "|4.0.0"}),
			core.ExportRequest{Level: core.LevelPatient, POST: true}, "", asCodes, 1},
		{"OverrideCoding", "", core.ExportRequest{Level: core.LevelPatient, POST: true, AssociatedDataAs: core.AssociatedDataCoding}, "", asCodings, 0},
		{"OverrideCode", v4, core.ExportRequest{Level: core.LevelPatient, POST: true, AssociatedDataAs: core.AssociatedDataCode}, "", asCodes, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var mu sync.Mutex
			var metadataReads int
			var query []string
			var body struct {
				Parameter []map[string]any `json:"parameter"`
			}
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				mu.Lock()
				defer mu.Unlock()
				if r.URL.Path == "/fhir/metadata" {
					metadataReads++
					if tt.metadata == "" {
						http.NotFound(w, r)
						return
					}
					w.Header().Set("Content-Type", "application/fhir+json")
					io.WriteString(w, tt.metadata)
					return
				}
				query = r.URL.Query()["includeAssociatedData"]
				if r.Method == http.MethodPost {
					if err := json.NewDecoder(r.Body).Decode(&body); err != nil {
						t.Errorf("POST body: %v", err)
					}
				}
				w.Header().Set("Content-Location", "/status/1")
				w.WriteHeader(http.StatusAccepted)
			}))
			defer srv.Close()
			c := &bulk.Client{BaseURL: srv.URL + "/fhir", Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}
			req := tt.req
			req.IncludeAssociatedData = values
			if _, _, err := c.Kickoff(t.Context(), req); err != nil {
				t.Fatalf("Kickoff() = %v", err)
			}
			mu.Lock()
			defer mu.Unlock()
			var gotParams []any
			for _, p := range body.Parameter {
				if p["name"] == "includeAssociatedData" {
					gotParams = append(gotParams, p)
				}
			}
			if diff := cmp.Diff(tt.wantParams, gotParams); diff != "" {
				t.Errorf("POST includeAssociatedData (-want +got):\n%s", diff)
			}
			var wantQuery []string
			if tt.wantQuery != "" {
				wantQuery = []string{tt.wantQuery}
			}
			if diff := cmp.Diff(wantQuery, query); diff != "" {
				t.Errorf("GET includeAssociatedData (-want +got):\n%s", diff)
			}
			if metadataReads != tt.wantMetadata {
				t.Errorf("metadata reads = %d, want %d", metadataReads, tt.wantMetadata)
			}
		})
	}
}

// TestAssociatedDataCodingDemo: the demo server takes the v4 Coding from
// our client and honours it (Provenance comes back), as it does the v3
// code.
func TestAssociatedDataCodingDemo(t *testing.T) {
	for _, as := range []string{core.AssociatedDataCode, core.AssociatedDataCoding} {
		t.Run(as, func(t *testing.T) {
			t.Parallel()
			srv := mustOpenDemo(t, demo.Config{Open: true, FileLines: 500})
			db := mustOpenDB(t)
			r, _, _ := newRunner(t, srv.URL(), http.DefaultClient, db)
			exp := &core.Export{FHIRBaseURL: srv.URL(), Request: core.ExportRequest{Level: core.LevelPatient, POST: true,
				Types: []string{"Encounter"}, IncludeAssociatedData: []string{"RelevantProvenanceResources"}, AssociatedDataAs: as}}
			if err := r.Start(t.Context(), exp); err != nil {
				t.Fatalf("Start() = %v", err)
			}
			checkCatalogue(t, db, exp)
			counts, err := db.Counts(t.Context(), exp.ID)
			if err != nil {
				t.Fatal(err)
			}
			got := map[string]int{}
			for _, c := range counts {
				got[c.Type] = int(c.Count)
			}
			if got["Encounter"] == 0 || got["Provenance"] == 0 {
				t.Errorf("counts = %v, want Encounter and Provenance", got)
			}
		})
	}
}

// TestStartAdaptsToServerVersion: Start reads the CapabilityStatement once
// and settles the kick-off by it: a v4 server gets a POST even when GET
// was asked for (v4 allows no GET kick-off) and the includeAssociatedData
// Coding; other servers get what was asked, with codes. The settled
// request is the one stored.
func TestStartAdaptsToServerVersion(t *testing.T) {
	v4 := capabilityStatement("", [2]string{"export", opPatient + "|4.0.0"})
	v3 := capabilityStatement("", [2]string{"export", opPatient + "|3.0.0"})
	values := []string{"LatestProvenanceResources"}
	tests := []struct {
		name       string
		metadata   string // "" answers 404
		req        core.ExportRequest
		wantMethod string
		wantAs     string // the stored AssociatedDataAs
		wantValue  string // "valueCode", "valueCoding" or "query"
	}{
		{"V4GETBecomesPOST", v4, core.ExportRequest{Level: core.LevelPatient, IncludeAssociatedData: values},
			http.MethodPost, core.AssociatedDataCoding, "valueCoding"},
		{"V4NoParameters", v4, core.ExportRequest{Level: core.LevelPatient}, http.MethodPost, "", ""},
		{"V4CodeOverride", v4, core.ExportRequest{Level: core.LevelPatient, IncludeAssociatedData: values, AssociatedDataAs: core.AssociatedDataCode},
			http.MethodPost, core.AssociatedDataCode, "valueCode"},
		{"V3StaysGET", v3, core.ExportRequest{Level: core.LevelPatient, IncludeAssociatedData: values},
			http.MethodGet, core.AssociatedDataCode, "query"},
		{"V3POST", v3, core.ExportRequest{Level: core.LevelPatient, POST: true, IncludeAssociatedData: values},
			http.MethodPost, core.AssociatedDataCode, "valueCode"},
		{"NoMetadataPOST", "", core.ExportRequest{Level: core.LevelPatient, POST: true, IncludeAssociatedData: values},
			http.MethodPost, core.AssociatedDataCode, "valueCode"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var mu sync.Mutex
			var metadataReads int
			var method, gotValue string
			var srv *httptest.Server
			srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				mu.Lock()
				defer mu.Unlock()
				switch {
				case r.URL.Path == "/fhir/metadata":
					metadataReads++
					if tt.metadata == "" {
						http.NotFound(w, r)
						return
					}
					io.WriteString(w, tt.metadata)
				case strings.HasSuffix(r.URL.Path, "/$export"):
					method = r.Method
					if r.URL.Query().Has("includeAssociatedData") {
						gotValue = "query"
					}
					if r.Method == http.MethodPost {
						var body struct {
							Parameter []map[string]any `json:"parameter"`
						}
						if err := json.NewDecoder(r.Body).Decode(&body); err != nil {
							t.Errorf("POST body: %v", err)
						}
						for _, p := range body.Parameter {
							for _, k := range []string{"valueCode", "valueCoding"} {
								if p["name"] == "includeAssociatedData" && p[k] != nil {
									gotValue = k
								}
							}
						}
					}
					w.Header().Set("Content-Location", srv.URL+"/status/1")
					w.WriteHeader(http.StatusAccepted)
				case r.URL.Path == "/status/1" && r.Method == http.MethodGet:
					io.WriteString(w, `{"transactionTime":"2026-01-01T00:00:00Z","requiresAccessToken":false,"output":[],"error":[]}`)
				case r.URL.Path == "/status/1" && r.Method == http.MethodDelete:
					w.WriteHeader(http.StatusAccepted)
				default:
					http.NotFound(w, r)
				}
			}))
			defer srv.Close()
			db := mustOpenDB(t)
			r, _, _ := newRunner(t, srv.URL+"/fhir", http.DefaultClient, db)
			exp := &core.Export{FHIRBaseURL: srv.URL + "/fhir", Request: tt.req}
			if err := r.Start(t.Context(), exp); err != nil {
				t.Fatalf("Start() = %v", err)
			}
			mu.Lock()
			defer mu.Unlock()
			if method != tt.wantMethod || gotValue != tt.wantValue || metadataReads != 1 {
				t.Errorf("kick-off = %s with includeAssociatedData as %q after %d metadata reads; want %s, %q, 1",
					method, gotValue, metadataReads, tt.wantMethod, tt.wantValue)
			}
			stored, err := db.FindExport(t.Context(), exp.ID)
			if err != nil {
				t.Fatal(err)
			}
			if got, want := stored.Request.POST, tt.wantMethod == http.MethodPost; got != want || stored.Request.AssociatedDataAs != tt.wantAs {
				t.Errorf("stored request POST %v, AssociatedDataAs %q; want %v, %q", got, stored.Request.AssociatedDataAs, want, tt.wantAs)
			}
		})
	}
}
