package bulk_test

import (
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"

	"golang.org/x/oauth2"

	"tranche.dev/tranche/core"
	"tranche.dev/tranche/core/smart"
)

// fakeEHR answers as https://ehr.example without any network: it is an
// http.RoundTripper, so nothing is dialled. A file request without the
// token gets 401, as a real server's would. Any other host fails the test.
type fakeEHR struct {
	t    *testing.T
	mu   sync.Mutex
	auth map[string]string // path → Authorization of the last request
}

func (f *fakeEHR) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.URL.Hostname() != "ehr.example" {
		f.t.Errorf("request to %s: only ehr.example is expected", req.URL)
		return nil, fmt.Errorf("no such host %s", req.URL.Host)
	}
	f.mu.Lock()
	f.auth[req.URL.Path] = req.Header.Get("Authorization")
	f.mu.Unlock()
	answer := func(code int, h http.Header, body string) (*http.Response, error) {
		if h == nil {
			h = http.Header{}
		}
		return &http.Response{StatusCode: code, Header: h, Body: io.NopCloser(strings.NewReader(body)), Request: req}, nil
	}
	switch {
	case req.URL.Path == "/fhir/Patient/$export":
		return answer(http.StatusAccepted, http.Header{"Content-Location": {"https://ehr.example/fhir/status/1"}}, "")
	case req.URL.Path == "/fhir/status/1" && req.Method == http.MethodDelete:
		return answer(http.StatusAccepted, nil, "")
	case req.URL.Path == "/fhir/status/1":
		// The file URL spells out the default port; the base does not.
		return answer(http.StatusOK, http.Header{"Content-Type": {"application/json"}}, `{"transactionTime":"2024-01-01T00:00:00Z",
			"request":"https://ehr.example/fhir/Patient/$export","requiresAccessToken":true,
			"output":[{"type":"Patient","url":"https://ehr.example:443/files/Patient.1.ndjson","count":1}],"error":[]}`)
	case req.URL.Path == "/files/Patient.1.ndjson":
		if req.Header.Get("Authorization") != "Bearer tok" {
			return answer(http.StatusUnauthorized, nil, "")
		}
		return answer(http.StatusOK, nil, `{"resourceType":"Patient","id":"1"}`+"\n")
	}
	return answer(http.StatusNotFound, nil, "")
}

// A file on the FHIR server's origin with its default port written out
// (https://ehr.example:443/...) is the same origin as the base
// (https://ehr.example/fhir) and gets the token: one origin rule
// (core.Origin) for bulk and smart. Before, bulk compared hosts as text,
// sent the file to the plain client, got 401 and failed the file.
func TestDefaultPortIsSameOrigin(t *testing.T) {
	rt := &fakeEHR{t: t, auth: map[string]string{}}
	plain := &http.Client{Transport: rt}
	api, err := smart.NewClient(plain, oauth2.StaticTokenSource(&oauth2.Token{AccessToken: "tok"}), "https://ehr.example/fhir")
	if err != nil {
		t.Fatal(err)
	}
	db := mustOpenDB(t)
	r, _, _ := newRunner(t, "https://ehr.example/fhir", api, db)
	r.Client.FileClient = plain
	exp := &core.Export{FHIRBaseURL: "https://ehr.example/fhir", Request: core.ExportRequest{Level: core.LevelPatient}}
	if err := r.Start(t.Context(), exp); err != nil {
		t.Fatalf("Start() = %v, want nil", err)
	}
	checkCatalogue(t, db, exp)
	rt.mu.Lock()
	defer rt.mu.Unlock()
	if got := rt.auth["/files/Patient.1.ndjson"]; got != "Bearer tok" {
		t.Errorf("file at :443 got Authorization %q, want %q", got, "Bearer tok")
	}
}
