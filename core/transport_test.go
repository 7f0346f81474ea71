package core_test

import (
	"errors"
	"strings"
	"testing"

	"tranche.dev/tranche/core"
)

func TestCheckURL(t *testing.T) {
	tests := []struct {
		url  string
		ok   bool
		want string // part of the error
	}{
		{"https://ehr.example.org/fhir", true, ""},
		{"HTTPS://ehr.example.org:8443/fhir", true, ""},
		{"http://127.0.0.1:8080/fhir", true, ""},
		{"http://127.3.2.1/fhir", true, ""},
		{"http://[::1]:8080/fhir", true, ""},
		{"http://localhost:8080/fhir", true, ""},
		{"http://[::ffff:127.0.0.1]/fhir", true, ""},
		{"http://192.0.2.10/fhir", false, "plain http is allowed only to this computer"},
		{"http://ehr.example.org/fhir", false, "plain http"},
		{"http://localhost.example.org/fhir", false, "plain http"},
		{"http://127.0.0.1.nip.io/fhir", false, "plain http"},
		{"http://0.0.0.0/fhir", false, "plain http"},
		{"file:///etc/passwd", false, "a file: URL"},
		{"ftp://ehr.example.org/f.ndjson", false, "a ftp: URL"},
		{"javascript:alert(1)", false, "a javascript: URL"},
		{"/relative/path", false, "not an absolute https URL"},
		{"https:///nohost", false, "not an absolute https URL"},
		{"http://%zz", false, "unreadable"},
	}
	for _, tt := range tests {
		t.Run(tt.url, func(t *testing.T) {
			err := core.CheckURL(tt.url)
			if tt.ok {
				if err != nil {
					t.Fatalf("CheckURL(%q) = %v, want nil", tt.url, err)
				}
				return
			}
			if err == nil || !errors.Is(err, core.ErrInsecureURL) || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("CheckURL(%q) = %v, want an ErrInsecureURL saying %q", tt.url, err, tt.want)
			}
		})
	}
}

// TestCheckURLHidesQuery: a refused URL is named without its query, which
// may hold a capability (a pre-signed storage signature).
func TestCheckURLHidesQuery(t *testing.T) {
	err := core.CheckURL("http://files.example/f.ndjson?sig=SECRET")
	if err == nil || strings.Contains(err.Error(), "SECRET") {
		t.Fatalf("CheckURL = %v, want a refusal without the query", err)
	}
}

func FuzzCheckURL(f *testing.F) {
	for _, s := range []string{"https://a.example/fhir", "http://127.0.0.1/x", "http://[::1]:1/", "file:///x", "http://10.0.0.1/"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		err := core.CheckURL(s)
		if err == nil {
			if !strings.HasPrefix(strings.ToLower(strings.TrimSpace(s)), "https://") && !strings.HasPrefix(strings.ToLower(strings.TrimSpace(s)), "http://") {
				t.Fatalf("CheckURL(%q) accepted a URL that is neither https nor http", s)
			}
			return
		}
		if !errors.Is(err, core.ErrInsecureURL) || err.Error() == "" {
			t.Fatalf("CheckURL(%q) = %v, want an ErrInsecureURL", s, err)
		}
	})
}
