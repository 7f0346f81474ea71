package bulk_test

import (
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"tranche.dev/tranche/core/bulk"
)

func TestParseManifestFixtures(t *testing.T) {
	base, _ := url.Parse("https://ehr.example/fhir/status/1")
	tests := []struct {
		file string
		want *bulk.Manifest
	}{
		{"v1.json", &bulk.Manifest{
			TransactionTime: "2019-08-01T12:00:00.000+10:00", Request: "https://ehr.example/fhir/Patient/$export?_type=Patient,Observation",
			RequiresAccessToken: true,
			Output: []bulk.ManifestFile{
				{Type: "Patient", URL: "https://ehr.example/fhir/status/files/patient_1.ndjson", Count: -1},
				{Type: "Observation", URL: "https://ehr.example/fhir/files/observation_1.ndjson", Count: 10},
			},
			Error: []bulk.ManifestFile{{Type: "OperationOutcome", URL: "https://ehr.example/fhir/status/files/err.ndjson", Count: -1}},
		}},
		{"v2.json", &bulk.Manifest{
			TransactionTime: "2021-01-01T00:00:00Z", Request: "https://ehr.example/fhir/Group/g1/$export?_since=2020-01-01T00:00:00Z",
			RequiresAccessToken: true,
			Output: []bulk.ManifestFile{
				{Type: "Patient", URL: "https://ehr.example/files/p1.ndjson", Count: 3},
				{Type: "Observation", URL: "https://ehr.example/files/o1.ndjson", Count: 7},
			},
			Deleted: []bulk.ManifestFile{{Type: "Bundle", URL: "https://ehr.example/files/del.ndjson", Count: 1}},
		}},
		{"v3.json", &bulk.Manifest{
			TransactionTime: "2025-11-01T00:00:00Z", Request: "https://ehr.example/fhir/Patient/$export?organizeOutputBy=Patient&allowPartialManifests=true",
			OutputOrganizedBy: "Patient",
			Output: []bulk.ManifestFile{
				{URL: "https://bucket.example/signed/1.ndjson?sig=abc", Count: -1, ContinuesInFile: "https://bucket.example/signed/2.ndjson?sig=def"},
				{URL: "https://bucket.example/signed/2.ndjson?sig=def", Count: -1},
			},
			Error: []bulk.ManifestFile{{Type: "OperationOutcome", URL: "https://bucket.example/signed/err.ndjson?sig=x", Count: 2}},
			Next:  "https://ehr.example/fhir/status/9?page=2",
		}},
		{"v4d.json", &bulk.Manifest{
			TransactionTime: "2026-09-01T00:00:00Z", RequiresAccessToken: true,
			Output:  []bulk.ManifestFile{{Type: "Condition", URL: "https://ehr.example/files/c.ndjson", Count: 5}},
			Deleted: []bulk.ManifestFile{{URL: "https://ehr.example/files/d.ndjson", Count: 1}},
			Error:   []bulk.ManifestFile{{URL: "https://ehr.example/files/oo.ndjson", Count: 1}},
			Next:    "https://ehr.example/fhir/status/10/2",
		}},
		{"odd.json", &bulk.Manifest{
			TransactionTime: "2024-02-29T23:59:59.999-05:00", RequiresAccessToken: true,
			Output: []bulk.ManifestFile{
				{Type: "Encounter", URL: "https://ehr.example/files/e.ndjson", Count: 12},
				{Type: "Encounter", URL: "https://ehr.example/files/e2.ndjson", Count: -1},
			},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			body, err := os.ReadFile(filepath.Join("..", "..", "testdata", "manifests", tt.file))
			if err != nil {
				t.Fatal(err)
			}
			got, err := bulk.ParseManifest(body, base)
			if err != nil {
				t.Fatalf("ParseManifest(%s) error = %v", tt.file, err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("ParseManifest(%s) (-want +got):\n%s", tt.file, diff)
			}
		})
	}
}

func TestParseManifestErrors(t *testing.T) {
	body, err := os.ReadFile(filepath.Join("..", "..", "testdata", "manifests", "bad-no-url.json"))
	if err != nil {
		t.Fatal(err)
	}
	for name, b := range map[string][]byte{"NoURL": body, "NotJSON": []byte("<html>"), "Array": []byte("[]")} {
		if _, err := bulk.ParseManifest(b, nil); err == nil {
			t.Errorf("ParseManifest(%s) error = nil, want an error", name)
		}
	}
	if _, err := bulk.ParseManifest([]byte(`{"output":[{"url":"rel.ndjson"}]}`), nil); err == nil {
		t.Error("ParseManifest(relative url, no base) error = nil, want an error")
	}
}

func FuzzParseManifest(f *testing.F) {
	names, _ := filepath.Glob(filepath.Join("..", "..", "testdata", "manifests", "*.json"))
	for _, n := range names {
		b, _ := os.ReadFile(n)
		f.Add(b)
	}
	base, _ := url.Parse("https://ehr.example/fhir/status/1")
	f.Fuzz(func(t *testing.T, body []byte) {
		m, err := bulk.ParseManifest(body, base)
		if err != nil {
			return
		}
		for _, fl := range m.Files() {
			u, err := url.Parse(fl.URL)
			if err != nil || !u.IsAbs() {
				t.Fatalf("file url %q is not absolute", fl.URL)
			}
			if fl.Count < -1 {
				t.Fatalf("count %d", fl.Count)
			}
		}
	})
}

func TestParseRetryAfter(t *testing.T) {
	now := time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)
	tests := []struct {
		in     string
		want   time.Duration
		wantOK bool
	}{
		{"120", 120 * time.Second, true},
		{" 1 ", time.Second, true},
		{"0", 0, true},
		{"1.5", 1500 * time.Millisecond, true},
		{"Mon, 23 Nov 2026 10:00:30 GMT", 30 * time.Second, true},
		{"Mon, 23 Nov 2026 09:00:00 GMT", 0, true}, // in the past
		{"Monday, 23-Nov-26 10:01:00 GMT", time.Minute, true},
		{strconvItoa(now.Unix() + 90), 90 * time.Second, true},               // reference server 429: epoch seconds
		{strconvItoa(now.UnixMilli() + 2500), 2500 * time.Millisecond, true}, // …or milliseconds
		{"", 0, false},
		{"soon", 0, false},
		{"-5", 0, false},
		{"Fri, 31 Dec 9999 23:59:59 GMT", bulk.MaxRetryAfter, true}, // clamped, not overflowed
		{"99999999", bulk.MaxRetryAfter, true},
		{"1e300", bulk.MaxRetryAfter, true},
		{"+Inf", bulk.MaxRetryAfter, true},
	}
	for _, tt := range tests {
		got, ok := bulk.ParseRetryAfter(tt.in, now)
		if got != tt.want || ok != tt.wantOK {
			t.Errorf("ParseRetryAfter(%q) = %v, %v; want %v, %v", tt.in, got, ok, tt.want, tt.wantOK)
		}
	}
}

func FuzzParseRetryAfter(f *testing.F) {
	for _, s := range []string{"120", "1.5", "Mon, 23 Nov 2026 10:00:30 GMT", "1795000000", "1795000000000", "", "x", "-1", "NaN", "1e300"} {
		f.Add(s)
	}
	now := time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, s string) {
		d, ok := bulk.ParseRetryAfter(s, now)
		if d < 0 || d > bulk.MaxRetryAfter {
			t.Fatalf("ParseRetryAfter(%q) = %v, outside [0, MaxRetryAfter]", s, d)
		}
		if !ok && d != 0 {
			t.Fatalf("ParseRetryAfter(%q) = %v, false; want 0 when not ok", s, d)
		}
	})
}

func strconvItoa(n int64) string { return strconv.FormatInt(n, 10) }
