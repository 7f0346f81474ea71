package demo_test

import (
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/lestrrat-go/jwx/v3/jwa"
	"github.com/lestrrat-go/jwx/v3/jwk"
	"github.com/lestrrat-go/jwx/v3/jws"

	"tranche.dev/tranche/core/demo"
	"tranche.dev/tranche/core/demo/demotest"
	samplejwks "tranche.dev/tranche/sample-jwks"
)

func newClock() *demotest.Clock { return demotest.NewClock(time.Now().Truncate(time.Second)) }

// testServer is an open demo.Server with its clock.
type testServer struct {
	*demo.Server
	clock *demotest.Clock
	cfg   demo.Config
}

// newServer opens a small server on loopback. cfg may be zero.
func newServer(tb testing.TB, cfg demo.Config) *testServer {
	tb.Helper()
	if cfg.Patients == 0 {
		cfg.Patients = 12
	}
	if cfg.FileLines == 0 {
		cfg.FileLines = 100
	}
	c := newClock()
	cfg.Now, cfg.SyncJobs = c.Now, true
	cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	s := demo.NewServer(cfg)
	if err := s.Open(); err != nil {
		tb.Fatalf("Open() = %v", err)
	}
	tb.Cleanup(func() { s.Close() })
	return &testServer{Server: s, clock: c, cfg: cfg}
}

// sampleKey returns the private key of a sample key set.
func sampleKey(tb testing.TB, alg string) jwk.Key {
	tb.Helper()
	b, err := samplejwks.File(alg + ".private.json")
	if err != nil {
		tb.Fatal(err)
	}
	set, err := jwk.Parse(b)
	if err != nil {
		tb.Fatal(err)
	}
	for i := range set.Len() {
		k, _ := set.Key(i)
		if ok, _ := jwk.IsPrivateKey(k); ok {
			return k
		}
	}
	tb.Fatalf("no private key in %s.private.json", alg)
	return nil
}

func sampleJWKS(tb testing.TB, alg string) []byte {
	tb.Helper()
	b, err := samplejwks.File(alg + ".public.json")
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

func randomString() string {
	b := make([]byte, 12)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// claimsFor returns valid assertion claims for clientID.
func (s *testServer) claimsFor(clientID string) map[string]any {
	return map[string]any{
		"iss": clientID, "sub": clientID, "aud": s.TokenURL(),
		"exp": s.clock.Now().Add(4 * time.Minute).Unix(), "jti": randomString(),
	}
}

// sign signs claims with key under alg; hdr adds or overrides headers
// (kid defaults to the key's, typ to JWT).
func sign(tb testing.TB, key jwk.Key, alg jwa.SignatureAlgorithm, hdr map[string]any, claims map[string]any) string {
	tb.Helper()
	payload, _ := json.Marshal(claims)
	h := jws.NewHeaders()
	h.Set("typ", "JWT")
	if kid, ok := key.KeyID(); ok {
		h.Set("kid", kid)
	}
	for k, v := range hdr {
		h.Set(k, v)
	}
	// Sign with the raw key so that jws takes kid from h, not from key.
	var raw any
	if err := jwk.Export(key, &raw); err != nil {
		tb.Fatalf("export key: %v", err)
	}
	out, err := jws.Sign(payload, jws.WithKey(alg, raw, jws.WithProtectedHeaders(h)))
	if err != nil {
		tb.Fatalf("sign: %v", err)
	}
	return string(out)
}

// unsigned builds a JWT with alg none.
func unsigned(claims map[string]any, kid string) string {
	h, _ := json.Marshal(map[string]string{"alg": "none", "typ": "JWT", "kid": kid})
	p, _ := json.Marshal(claims)
	return base64.RawURLEncoding.EncodeToString(h) + "." + base64.RawURLEncoding.EncodeToString(p) + "."
}

func tokenForm(assertion, scope string) url.Values {
	return url.Values{
		"grant_type":            {"client_credentials"},
		"client_assertion_type": {"urn:ietf:params:oauth:client-assertion-type:jwt-bearer"},
		"client_assertion":      {assertion},
		"scope":                 {scope},
	}
}

// postToken posts a token request and returns the status and JSON body.
func (s *testServer) postToken(tb testing.TB, form url.Values) (int, map[string]any) {
	tb.Helper()
	resp, err := http.PostForm(s.TokenURL(), form)
	if err != nil {
		tb.Fatal(err)
	}
	defer resp.Body.Close()
	var body map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
		tb.Fatalf("token response is not JSON: %v", err)
	}
	return resp.StatusCode, body
}

// token gets an access token for a demo client.
func (s *testServer) token(tb testing.TB, clientID, alg, scope string) string {
	tb.Helper()
	a := sign(tb, sampleKey(tb, alg), mustAlg(alg), nil, s.claimsFor(clientID))
	status, body := s.postToken(tb, tokenForm(a, scope))
	if status != http.StatusOK {
		tb.Fatalf("token(%s, %q) status %d: %v", clientID, scope, status, body)
	}
	return body["access_token"].(string)
}

func (s *testServer) demoToken(tb testing.TB) string {
	return s.token(tb, demo.DemoClientRS384, "RS384", "system/*.rs")
}

func mustAlg(name string) jwa.SignatureAlgorithm {
	a, _ := jwa.LookupSignatureAlgorithm(name)
	return a
}

// response is a read HTTP response.
type response struct {
	status int
	header http.Header
	body   []byte
}

func (r response) json(tb testing.TB) map[string]any {
	tb.Helper()
	var m map[string]any
	if err := json.Unmarshal(r.body, &m); err != nil {
		tb.Fatalf("body is not JSON (%v): %s", err, r.body)
	}
	return m
}

// issueCode returns the first OperationOutcome issue code of the body.
func (r response) issueCode(tb testing.TB) string {
	tb.Helper()
	m := r.json(tb)
	if m["resourceType"] != "OperationOutcome" {
		tb.Fatalf("body is not an OperationOutcome: %s", r.body)
	}
	return m["issue"].([]any)[0].(map[string]any)["code"].(string)
}

// do sends a request. headers are "Name: value" strings.
func do(tb testing.TB, method, u, token string, body []byte, headers ...string) response {
	tb.Helper()
	req, err := http.NewRequest(method, u, bytes.NewReader(body))
	if err != nil {
		tb.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	for _, h := range headers {
		k, v, _ := strings.Cut(h, ": ")
		req.Header.Add(k, v)
	}
	resp, err := http.DefaultTransport.RoundTrip(req)
	if err != nil {
		tb.Fatalf("%s %s: %v", method, u, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		tb.Fatalf("%s %s: read body: %v", method, u, err)
	}
	return response{status: resp.StatusCode, header: resp.Header, body: b}
}

var kickoffHeaders = []string{"Accept: application/fhir+json", "Prefer: respond-async"}

// kickoff starts a GET export at path?query and returns the status URL.
func (s *testServer) kickoff(tb testing.TB, token, pathQuery string, headers ...string) string {
	tb.Helper()
	r := do(tb, "GET", s.URL()+pathQuery, token, nil, append(kickoffHeaders, headers...)...)
	if r.status != http.StatusAccepted {
		tb.Fatalf("GET %s = %d, want 202: %s", pathQuery, r.status, r.body)
	}
	return r.header.Get("Content-Location")
}

// params builds a Parameters body; each pair is name, value[x] key, value.
func params(entries ...[3]any) []byte {
	var ps []map[string]any
	for _, e := range entries {
		ps = append(ps, map[string]any{"name": e[0], e[1].(string): e[2]})
	}
	b, _ := json.Marshal(map[string]any{"resourceType": "Parameters", "parameter": ps})
	return b
}

func (s *testServer) kickoffPOST(tb testing.TB, token, path string, body []byte) response {
	tb.Helper()
	return do(tb, "POST", s.URL()+path, token, body,
		append(kickoffHeaders, "Content-Type: application/fhir+json")...)
}

// manifest polls statusURL (advancing the clock past Retry-After each
// time) until the export completes.
func (s *testServer) manifest(tb testing.TB, token, statusURL string) map[string]any {
	tb.Helper()
	// Each 202 advances the fake clock one second (so polls are not "too
	// fast"); the job was counted before its kick-off answered (SyncJobs),
	// so the clock alone decides each answer.
	for range 2000 {
		r := do(tb, "GET", statusURL, token, nil, "Accept: application/json")
		switch r.status {
		case http.StatusOK:
			if ct := r.header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
				tb.Errorf("manifest Content-Type = %q, want application/json", ct)
			}
			return r.json(tb)
		case http.StatusAccepted:
			s.clock.Advance(time.Second)
		default:
			tb.Fatalf("GET %s = %d: %s", statusURL, r.status, r.body)
		}
	}
	tb.Fatalf("export %s did not finish", statusURL)
	return nil
}

// export runs a GET export to completion and returns its manifest.
func (s *testServer) export(tb testing.TB, token, pathQuery string, headers ...string) map[string]any {
	tb.Helper()
	return s.manifest(tb, token, s.kickoff(tb, token, pathQuery, headers...))
}

// items returns a manifest array ("output", "error", "deleted").
func items(m map[string]any, key string) []map[string]any {
	var out []map[string]any
	arr, _ := m[key].([]any)
	for _, it := range arr {
		out = append(out, it.(map[string]any))
	}
	return out
}

// download fetches every file of a manifest array and returns the decoded
// lines by type.
func download(tb testing.TB, token string, m map[string]any, key string) map[string][]map[string]any {
	tb.Helper()
	out := make(map[string][]map[string]any)
	for _, it := range items(m, key) {
		r := do(tb, "GET", it["url"].(string), token, nil)
		if r.status != http.StatusOK {
			tb.Fatalf("GET %s = %d: %s", it["url"], r.status, r.body)
		}
		if ct := r.header.Get("Content-Type"); ct != "application/fhir+ndjson" {
			tb.Errorf("file Content-Type = %q, want application/fhir+ndjson", ct)
		}
		lines := bytes.Split(bytes.TrimSuffix(r.body, []byte("\n")), []byte("\n"))
		if len(r.body) == 0 {
			lines = nil
		}
		if got, want := len(lines), int(it["count"].(float64)); got != want {
			tb.Errorf("%s has %d lines, manifest count %d", it["url"], got, want)
		}
		for _, l := range lines {
			var res map[string]any
			if err := json.Unmarshal(l, &res); err != nil {
				tb.Fatalf("%s: bad line %q: %v", it["url"], l, err)
			}
			if res["resourceType"] != it["type"] {
				tb.Errorf("%s: resourceType %v in a %v file", it["url"], res["resourceType"], it["type"])
			}
			out[it["type"].(string)] = append(out[it["type"].(string)], res)
		}
	}
	return out
}

// outputTypes lists the distinct output types of a manifest.
func outputTypes(m map[string]any) []string {
	var ts []string
	for _, it := range items(m, "output") {
		t := it["type"].(string)
		if len(ts) == 0 || ts[len(ts)-1] != t {
			ts = append(ts, t)
		}
	}
	return ts
}

// only returns a copy of manifest m whose output[] holds only typ's files.
func only(m map[string]any, typ string) map[string]any {
	var out []any
	for _, it := range items(m, "output") {
		if it["type"] == typ {
			out = append(out, it)
		}
	}
	return map[string]any{"output": out}
}
