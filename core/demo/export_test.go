package demo_test

import (
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"tranche.dev/tranche/core/demo"
)

func TestExport_SystemFlow(t *testing.T) {
	s := newServer(t, demo.Config{Faults: demo.Faults{JobDelay: 10 * time.Second}})
	tok := s.demoToken(t)
	r := do(t, "GET", s.URL()+"/$export", tok, nil, kickoffHeaders...)
	if r.status != http.StatusAccepted {
		t.Fatalf("kick-off = %d, want 202: %s", r.status, r.body)
	}
	loc := r.header.Get("Content-Location")
	if u, err := url.Parse(loc); err != nil || !u.IsAbs() || !strings.HasPrefix(loc, s.URL()) {
		t.Fatalf("Content-Location %q is not an absolute URL under the base", loc)
	}
	st := do(t, "GET", loc, tok, nil)
	if st.status != http.StatusAccepted || st.header.Get("Retry-After") != "1" || st.header.Get("X-Progress") == "" {
		t.Fatalf("running status = %d Retry-After %q X-Progress %q, want 202 1 non-empty",
			st.status, st.header.Get("Retry-After"), st.header.Get("X-Progress"))
	}
	s.clock.Advance(10 * time.Second)
	m := s.manifest(t, tok, loc)
	for _, k := range []string{"transactionTime", "request", "requiresAccessToken", "output", "error"} {
		if _, ok := m[k]; !ok {
			t.Errorf("manifest lacks %q", k)
		}
	}
	if _, ok := m["deleted"]; ok {
		t.Errorf("manifest has deleted[] without _since")
	}
	if m["request"] != s.URL()+"/$export" || m["requiresAccessToken"] != true {
		t.Errorf("manifest request %v requiresAccessToken %v", m["request"], m["requiresAccessToken"])
	}
	if got := items(m, "error"); len(got) != 0 {
		t.Errorf("error[] = %v, want []", got)
	}
	tx, err := time.Parse(time.RFC3339, m["transactionTime"].(string))
	if err != nil {
		t.Fatalf("transactionTime %v: %v", m["transactionTime"], err)
	}
	data := download(t, tok, m, "output")
	for _, typ := range []string{"Patient", "Observation", "Organization", "Practitioner", "Group", "Provenance", "Location"} {
		if len(data[typ]) == 0 {
			t.Errorf("system export has no %s", typ)
		}
	}
	for typ, rs := range data {
		for _, res := range rs {
			lu, _ := time.Parse(time.RFC3339, res["meta"].(map[string]any)["lastUpdated"].(string))
			if lu.After(tx) {
				t.Errorf("%s/%v lastUpdated %v after transactionTime", typ, res["id"], lu)
			}
		}
	}
	// Files split at FileLines.
	for _, it := range items(m, "output") {
		if c := it["count"].(float64); c > float64(s.cfg.FileLines) || c == 0 {
			t.Errorf("%s has %v lines, want 1..%d", it["url"], c, s.cfg.FileLines)
		}
	}
	if len(data["Observation"]) <= s.cfg.FileLines {
		t.Fatalf("test population too small to split Observation files")
	}
}

// TestExport_Regenerated checks that a file's bytes are the same on every
// download (they are regenerated, not stored).
func TestExport_Regenerated(t *testing.T) {
	s := newServer(t, demo.Config{})
	tok := s.demoToken(t)
	m := s.export(t, tok, "/$export?_type=Observation")
	u := items(m, "output")[1]["url"].(string)
	a := do(t, "GET", u, tok, nil, "Accept-Encoding: identity")
	b := do(t, "GET", u, tok, nil, "Accept-Encoding: identity")
	if string(a.body) != string(b.body) || a.header.Get("Content-Length") == "" {
		t.Errorf("two downloads differ or lack Content-Length")
	}
}

func TestExport_Levels(t *testing.T) {
	s := newServer(t, demo.Config{Patients: 30})
	tok := s.demoToken(t)
	t.Run("Patient", func(t *testing.T) {
		m := s.export(t, tok, "/Patient/$export")
		types := outputTypes(m)
		for _, shared := range []string{"Organization", "Practitioner", "PractitionerRole", "Location", "Group"} {
			if slices.Contains(types, shared) {
				t.Errorf("patient-level export contains %s", shared)
			}
		}
		if !slices.Contains(types, "Patient") || !slices.Contains(types, "Observation") {
			t.Errorf("patient-level types %v lack Patient or Observation", types)
		}
		if got := len(download(t, tok, only(m, "Patient"), "output")["Patient"]); got != 30 {
			t.Errorf("%d Patients, want 30", got)
		}
	})
	t.Run("Group", func(t *testing.T) {
		m := s.export(t, tok, "/Group/pilot/$export?_type=Patient,Observation")
		data := download(t, tok, m, "output")
		members := groupMembers(t, s, tok, "pilot")
		var ids []string
		for _, p := range data["Patient"] {
			ids = append(ids, "Patient/"+p["id"].(string))
		}
		slices.Sort(ids)
		if diff := cmp.Diff(members, ids); diff != "" {
			t.Errorf("group export patients (-members +got):\n%s", diff)
		}
		for _, o := range data["Observation"] {
			if ref := o["subject"].(map[string]any)["reference"].(string); !slices.Contains(members, ref) {
				t.Errorf("Observation of %s, not a member", ref)
			}
		}
	})
	t.Run("UnknownGroup", func(t *testing.T) {
		r := do(t, "GET", s.URL()+"/Group/nope/$export", tok, nil, kickoffHeaders...)
		if r.status != http.StatusNotFound || r.issueCode(t) != "not-found" {
			t.Errorf("got %d %s, want 404 OperationOutcome", r.status, r.body)
		}
	})
	t.Run("EmptyGroup", func(t *testing.T) {
		m := s.export(t, tok, "/Group/withdrawn/$export")
		if got := items(m, "output"); len(got) != 0 {
			t.Errorf("empty group output %v, want []", got)
		}
	})
}

func groupMembers(t *testing.T, s *testServer, tok, id string) []string {
	t.Helper()
	r := do(t, "GET", s.URL()+"/Group/"+id, tok, nil)
	if r.status != http.StatusOK {
		t.Fatalf("GET Group/%s = %d", id, r.status)
	}
	var out []string
	for _, m := range r.json(t)["member"].([]any) {
		out = append(out, m.(map[string]any)["entity"].(map[string]any)["reference"].(string))
	}
	slices.Sort(out)
	return out
}

func TestExport_POST(t *testing.T) {
	s := newServer(t, demo.Config{Patients: 30})
	tok := s.demoToken(t)
	get := s.export(t, tok, "/Patient/$export?_type=Patient,Condition&_since=2022-01-01T00:00:00Z&_outputFormat=ndjson")
	r := s.kickoffPOST(t, tok, "/Patient/$export", params(
		[3]any{"_type", "valueString", "Patient"},
		[3]any{"_type", "valueString", "Condition"},
		[3]any{"_since", "valueInstant", "2022-01-01T00:00:00Z"},
		[3]any{"_outputFormat", "valueString", "application/fhir+ndjson"},
	))
	if r.status != http.StatusAccepted {
		t.Fatalf("POST kick-off = %d: %s", r.status, r.body)
	}
	post := s.manifest(t, tok, r.header.Get("Content-Location"))
	count := func(m map[string]any) map[string]float64 {
		c := map[string]float64{}
		for _, it := range items(m, "output") {
			c[it["type"].(string)] += it["count"].(float64)
		}
		return c
	}
	if diff := cmp.Diff(count(get), count(post)); diff != "" {
		t.Errorf("GET and POST counts differ (-get +post):\n%s", diff)
	}
	if post["request"] != s.URL()+"/Patient/$export" {
		t.Errorf("POST manifest request = %v, want the URL without parameters", post["request"])
	}

	t.Run("Patient", func(t *testing.T) {
		r := s.kickoffPOST(t, tok, "/Patient/$export", params(
			[3]any{"patient", "valueReference", map[string]string{"reference": "Patient/pat-3"}},
			[3]any{"patient", "valueReference", map[string]string{"reference": "Patient/pat-7"}},
			[3]any{"_type", "valueString", "Patient,Encounter"},
		))
		if r.status != http.StatusAccepted {
			t.Fatalf("POST = %d: %s", r.status, r.body)
		}
		data := download(t, tok, s.manifest(t, tok, r.header.Get("Content-Location")), "output")
		var ids []string
		for _, p := range data["Patient"] {
			ids = append(ids, p["id"].(string))
		}
		if diff := cmp.Diff([]string{"pat-3", "pat-7"}, ids); diff != "" {
			t.Errorf("patients (-want +got):\n%s", diff)
		}
		for _, e := range data["Encounter"] {
			if ref := e["subject"].(map[string]any)["reference"]; ref != "Patient/pat-3" && ref != "Patient/pat-7" {
				t.Errorf("Encounter of %v leaked", ref)
			}
		}
	})
	pilot := groupMembers(t, s, tok, "pilot")
	var outsider string
	for i := range 30 {
		if ref := "Patient/pat-" + strconv.Itoa(i); !slices.Contains(pilot, ref) {
			outsider = ref
			break
		}
	}
	bad := []struct {
		name, path string
		body       []byte
	}{
		{"UnknownPatient", "/Patient/$export", params([3]any{"patient", "valueReference", map[string]string{"reference": "Patient/nobody"}})},
		{"NotInGroup", "/Group/pilot/$export", params([3]any{"patient", "valueReference", map[string]string{"reference": outsider}})},
		{"SystemLevelPatient", "/$export", params([3]any{"patient", "valueReference", map[string]string{"reference": "Patient/pat-1"}})},
		{"WrongValueType", "/$export", params([3]any{"_since", "valueString", "2022-01-01T00:00:00Z"})},
		{"NotParameters", "/$export", []byte(`{"resourceType":"Patient"}`)},
		{"UnknownParameter", "/$export", params([3]any{"_foo", "valueString", "x"})},
	}
	for _, tt := range bad {
		t.Run(tt.name, func(t *testing.T) {
			r := s.kickoffPOST(t, tok, tt.path, tt.body)
			if r.status != http.StatusBadRequest || r.header.Get("Content-Type") != "application/fhir+json" {
				t.Errorf("got %d %s, want 400 OperationOutcome", r.status, r.body)
			}
			r.issueCode(t)
		})
	}
	t.Run("PatientOnGET", func(t *testing.T) {
		r := do(t, "GET", s.URL()+"/Patient/$export?patient=Patient/pat-1", tok, nil, kickoffHeaders...)
		if r.status != http.StatusBadRequest {
			t.Errorf("GET with patient = %d, want 400", r.status)
		}
	})
}
