package demo_test

import (
	"encoding/json"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"tranche.dev/tranche/core/demo"
)

func TestKickoff_Rejects(t *testing.T) {
	s := newServer(t, demo.Config{})
	tok := s.demoToken(t)
	tests := []struct {
		name, query string
		headers     []string
		wantStatus  int
	}{
		{"OutputFormatCSV", "_outputFormat=text/csv", nil, 400},
		{"UnknownType", "_type=Patient,Spaceship", nil, 400},
		{"SinceNoZone", "_since=2020-01-01T00:00:00", nil, 400},
		{"SinceDateOnly", "_since=2020-01-01", nil, 400},
		{"UntilMalformed", "_until=soon", nil, 400},
		{"UntilBeforeSince", "_since=2022-01-01T00:00:00Z&_until=2021-01-01T00:00:00Z", nil, 400},
		{"TwoSince", "_since=2022-01-01T00:00:00Z&_since=2021-01-01T00:00:00Z", nil, 400},
		{"ElementsNested", "_elements=code.coding", nil, 400},
		{"ElementsUnknownType", "_elements=Spaceship.name", nil, 400},
		{"TypeFilterUnknownParam", "_typeFilter=" + url.QueryEscape("Observation?colour=red"), nil, 400},
		{"TypeFilterResultParam", "_typeFilter=" + url.QueryEscape("Observation?_sort=date"), nil, 400},
		{"TypeFilterNoQuery", "_typeFilter=Observation", nil, 400},
		{"TypeFilterBadDate", "_typeFilter=" + url.QueryEscape("Observation?date=ap2020"), nil, 400},
		{"IncludeCustom", "includeAssociatedData=_myStuff", nil, 400},
		{"IncludeUnknown", "includeAssociatedData=Everything", nil, 400},
		{"OrganizeOutputBy", "organizeOutputBy=Patient", nil, 400},
		{"UnknownParam", "_count=5", nil, 400},
		{"AcceptXML", "", []string{"Accept: application/fhir+xml"}, 400},
		{"AcceptJSON", "", []string{"Accept: application/json"}, 400},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := []string{"Prefer: respond-async"}
			if tt.headers == nil {
				h = append(h, "Accept: application/fhir+json")
			}
			r := do(t, "GET", s.URL()+"/$export?"+tt.query, tok, nil, append(h, tt.headers...)...)
			if r.status != tt.wantStatus || r.header.Get("Content-Type") != "application/fhir+json" {
				t.Errorf("got %d %q %s, want %d OperationOutcome", r.status, r.header.Get("Content-Type"), r.body, tt.wantStatus)
			}
			r.issueCode(t)
		})
	}
	t.Run("PatientLevelSharedType", func(t *testing.T) {
		r := do(t, "GET", s.URL()+"/Patient/$export?_type=Organization", tok, nil, kickoffHeaders...)
		if r.status != http.StatusBadRequest {
			t.Errorf("got %d, want 400", r.status)
		}
	})
}

func TestKickoff_Accepts(t *testing.T) {
	s := newServer(t, demo.Config{})
	tok := s.demoToken(t)
	for _, q := range []string{
		"_outputFormat=application/fhir%2Bndjson", "_outputFormat=application/ndjson", "_outputFormat=ndjson",
		"allowPartialManifests=true", "includeAssociatedData=LatestProvenanceResources",
	} {
		r := do(t, "GET", s.URL()+"/$export?"+q, tok, nil, kickoffHeaders...)
		if r.status != http.StatusAccepted {
			t.Errorf("%s: got %d %s, want 202", q, r.status, r.body)
		}
	}
	// No Accept and no Prefer: assumed (v2 MAY); */* covers fhir+json.
	if r := do(t, "GET", s.URL()+"/$export", tok, nil); r.status != http.StatusAccepted {
		t.Errorf("bare kick-off = %d, want 202", r.status)
	}
	if r := do(t, "GET", s.URL()+"/$export", tok, nil, "Accept: */*"); r.status != http.StatusAccepted {
		t.Errorf("kick-off with Accept */* = %d, want 202", r.status)
	}
}

func TestKickoff_Lenient(t *testing.T) {
	s := newServer(t, demo.Config{})
	tok := s.demoToken(t)
	q := "/$export?_type=Patient,Spaceship&organizeOutputBy=Patient&_count=5&_typeFilter=" +
		url.QueryEscape("Patient?colour=red&gender=female")
	m := s.export(t, tok, q, "Prefer: handling=lenient")
	if got := outputTypes(m); !slices.Equal(got, []string{"Patient"}) {
		t.Errorf("output types %v, want [Patient]", got)
	}
	errs := download(t, tok, m, "error")["OperationOutcome"]
	if len(errs) != 4 {
		t.Fatalf("%d OperationOutcomes in error[], want 4 (one per ignored parameter): %v", len(errs), errs)
	}
	for _, oo := range errs {
		if sev := oo["issue"].([]any)[0].(map[string]any)["severity"]; sev != "warning" {
			t.Errorf("lenient outcome severity %v, want warning", sev)
		}
	}
	for _, p := range download(t, tok, m, "output")["Patient"] {
		if p["gender"] != "female" {
			t.Errorf("Patient %v gender %v passed the filter that was kept", p["id"], p["gender"])
		}
	}
}

func TestKickoff_Type(t *testing.T) {
	s := newServer(t, demo.Config{})
	tok := s.demoToken(t)
	m := s.export(t, tok, "/$export?_type=Condition&_type=Patient,Immunization")
	if got, want := outputTypes(m), []string{"Condition", "Immunization", "Patient"}; !slices.Equal(got, want) {
		t.Errorf("output types %v, want %v", got, want)
	}
}

func TestKickoff_SinceUntil(t *testing.T) {
	s := newServer(t, demo.Config{Patients: 20})
	tok := s.demoToken(t)
	since, _ := time.Parse(time.RFC3339, "2023-01-01T00:00:00Z")
	until, _ := time.Parse(time.RFC3339, "2024-06-30T00:00:00Z")
	all := download(t, tok, s.export(t, tok, "/Patient/$export?_type=Observation,Encounter"), "output")
	m := s.export(t, tok, "/Patient/$export?_type=Observation,Encounter&_since=2023-01-01T00:00:00Z&_until=2024-06-30T00:00:00Z")
	got := download(t, tok, m, "output")
	for _, typ := range []string{"Observation", "Encounter"} {
		want := 0
		for _, r := range all[typ] {
			if lu := lastUpdated(r); lu.After(since) && !lu.After(until) {
				want++
			}
		}
		if len(got[typ]) != want || want == 0 || want == len(all[typ]) {
			t.Errorf("%s: %d in window, want %d of %d", typ, len(got[typ]), want, len(all[typ]))
		}
		for _, r := range got[typ] {
			if lu := lastUpdated(r); !lu.After(since) || lu.After(until) {
				t.Errorf("%s/%v lastUpdated %v outside the window", typ, r["id"], lu)
			}
		}
	}
	// deleted[] with _since: Bundles of DELETE entries, none also in output.
	if _, ok := m["deleted"]; !ok {
		t.Fatalf("no deleted[] with _since")
	}
	dels := download(t, tok, m, "deleted")["Bundle"]
	if len(dels) == 0 {
		t.Fatalf("no deleted resources in the window; enlarge the test population")
	}
	ids := map[string]bool{}
	for typ, rs := range got {
		for _, r := range rs {
			ids[typ+"/"+r["id"].(string)] = true
		}
	}
	for _, b := range dels {
		if b["type"] != "transaction" {
			t.Errorf("deleted Bundle type %v, want transaction", b["type"])
		}
		for _, e := range b["entry"].([]any) {
			req := e.(map[string]any)["request"].(map[string]any)
			u := req["url"].(string)
			if req["method"] != "DELETE" || ids[u] || (!strings.HasPrefix(u, "Observation/") && !strings.HasPrefix(u, "Encounter/")) {
				t.Errorf("bad deleted entry %v", req)
			}
		}
	}
}

func lastUpdated(r map[string]any) time.Time {
	t, _ := time.Parse(time.RFC3339, r["meta"].(map[string]any)["lastUpdated"].(string))
	return t
}

func TestKickoff_Elements(t *testing.T) {
	s := newServer(t, demo.Config{})
	tok := s.demoToken(t)
	m := s.export(t, tok, "/Patient/$export?_type=Patient,Condition&_elements=Patient.gender,Condition.code")
	data := download(t, tok, m, "output")
	allowed := map[string][]string{
		"Patient":   {"resourceType", "id", "meta", "gender"},
		"Condition": {"resourceType", "id", "meta", "subject", "code"}, // subject is mandatory
	}
	for typ, rs := range data {
		if len(rs) == 0 {
			t.Errorf("no %s", typ)
		}
		for _, r := range rs {
			for k := range r {
				if !slices.Contains(allowed[typ], k) {
					t.Errorf("%s keeps %q", typ, k)
				}
			}
			for _, k := range allowed[typ][3:] {
				if _, ok := r[k]; !ok && !(typ == "Patient" && k == "gender") {
					t.Errorf("%s lost %q", typ, k)
				}
			}
			tags, _ := json.Marshal(r["meta"].(map[string]any)["tag"])
			if !strings.Contains(string(tags), `"SUBSETTED"`) {
				t.Errorf("%s/%v not tagged SUBSETTED: %s", typ, r["id"], tags)
			}
		}
	}
}

func TestKickoff_TypeFilter(t *testing.T) {
	s := newServer(t, demo.Config{Patients: 20})
	tok := s.demoToken(t)
	hr := url.QueryEscape("Observation?code=http://loinc.org|8867-4")
	temp := url.QueryEscape("Observation?code=8310-5&date=ge2022-01-01")
	female := url.QueryEscape("Patient?gender=female")
	m := s.export(t, tok, "/Patient/$export?_type=Observation,Patient,Condition&_typeFilter="+hr+"&_typeFilter="+temp+"&_typeFilter="+female)
	data := download(t, tok, m, "output")
	var hrN, tempN int
	for _, o := range data["Observation"] {
		code := o["code"].(map[string]any)["coding"].([]any)[0].(map[string]any)["code"]
		switch code {
		case "8867-4":
			hrN++
		case "8310-5":
			tempN++
			if eff := o["effectiveDateTime"].(string); eff < "2022-01-01" {
				t.Errorf("temperature at %s passed date=ge2022-01-01", eff)
			}
		default:
			t.Errorf("Observation with code %v passed the filters", code)
		}
	}
	if hrN == 0 || tempN == 0 {
		t.Errorf("heart rate %d, temperature %d: want both filters (OR) to match", hrN, tempN)
	}
	for _, p := range data["Patient"] {
		if p["gender"] != "female" {
			t.Errorf("Patient gender %v passed gender=female", p["gender"])
		}
	}
	if len(data["Condition"]) == 0 {
		t.Errorf("Condition (no filter) was filtered out")
	}
}

func TestKickoff_IncludeAssociatedData(t *testing.T) {
	s := newServer(t, demo.Config{})
	tok := s.demoToken(t)
	m := s.export(t, tok, "/Patient/$export?_type=Encounter&includeAssociatedData=RelevantProvenanceResources")
	data := download(t, tok, m, "output")
	encs := map[string]bool{}
	for _, e := range data["Encounter"] {
		encs["Encounter/"+e["id"].(string)] = true
	}
	if len(data["Provenance"]) == 0 {
		t.Fatalf("no Provenance with RelevantProvenanceResources")
	}
	for _, p := range data["Provenance"] {
		hit := false
		for _, tg := range p["target"].([]any) {
			hit = hit || encs[tg.(map[string]any)["reference"].(string)]
		}
		if !hit {
			t.Errorf("Provenance %v targets no exported Encounter", p["id"])
		}
	}
	// Without it, _type leaves Provenance out.
	if types := outputTypes(s.export(t, tok, "/Patient/$export?_type=Encounter")); slices.Contains(types, "Provenance") {
		t.Errorf("Provenance exported without being asked for")
	}
}
