package demo_test

import (
	"bytes"
	"compress/gzip"
	"io"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"tranche.dev/tranche/core/demo"
)

func TestScopes_Enforced(t *testing.T) {
	s := newServer(t, demo.Config{})
	obs := s.token(t, demo.DemoClientRS384, "RS384", "system/Observation.rs")
	t.Run("TypeOmitted", func(t *testing.T) {
		if got := outputTypes(s.export(t, obs, "/$export")); !slices.Equal(got, []string{"Observation"}) {
			t.Errorf("output types %v, want only [Observation]", got)
		}
	})
	t.Run("UnauthorisedType", func(t *testing.T) {
		r := do(t, "GET", s.URL()+"/$export?_type=Observation,Patient", obs, nil, kickoffHeaders...)
		if r.status != http.StatusForbidden || r.issueCode(t) != "forbidden" {
			t.Errorf("got %d %s, want 403 OperationOutcome", r.status, r.body)
		}
	})
	t.Run("GroupNeedsGroupRead", func(t *testing.T) {
		r := do(t, "GET", s.URL()+"/Group/pilot/$export", obs, nil, kickoffHeaders...)
		if r.status != http.StatusForbidden {
			t.Errorf("group export without Group scope = %d, want 403", r.status)
		}
		if r := do(t, "GET", s.URL()+"/Group/pilot", obs, nil); r.status != http.StatusForbidden {
			t.Errorf("Group read without Group scope = %d, want 403", r.status)
		}
	})
	t.Run("V1Scopes", func(t *testing.T) {
		v1 := s.token(t, demo.DemoClientES384, "ES384", "system/Patient.read system/Group.read")
		if got := outputTypes(s.export(t, v1, "/Group/pilot/$export")); !slices.Equal(got, []string{"Patient"}) {
			t.Errorf("output types %v, want [Patient]", got)
		}
	})
	t.Run("SearchOnlyIsNotRead", func(t *testing.T) {
		so := s.token(t, demo.DemoClientRS384, "RS384", "system/*.s")
		if r := do(t, "GET", s.URL()+"/$export", so, nil, kickoffHeaders...); r.status != http.StatusForbidden {
			t.Errorf("export with system/*.s = %d, want 403", r.status)
		}
	})
}

func TestAuth_Required(t *testing.T) {
	s := newServer(t, demo.Config{})
	tok := s.demoToken(t)
	loc := s.kickoff(t, tok, "/$export?_type=Patient")
	m := s.manifest(t, tok, loc)
	file := items(m, "output")[0]["url"].(string)
	for _, u := range []string{s.URL() + "/$export", s.URL() + "/Patient/$export", s.URL() + "/Group/pilot/$export", loc, file, s.URL() + "/Group/pilot", s.URL() + "/Group"} {
		for _, bad := range []string{"", "not-a-token"} {
			r := do(t, "GET", u, bad, nil, kickoffHeaders...)
			if r.status != http.StatusUnauthorized || r.header.Get("WWW-Authenticate") == "" {
				t.Errorf("GET %s with token %q = %d, want 401 with WWW-Authenticate", u, bad, r.status)
			}
		}
	}
	s.clock.Advance(301 * time.Second)
	if r := do(t, "GET", loc, tok, nil); r.status != http.StatusUnauthorized {
		t.Errorf("expired token = %d, want 401", r.status)
	}
}

func TestAccess_OtherClient(t *testing.T) {
	s := newServer(t, demo.Config{})
	mine := s.demoToken(t)
	theirs := s.token(t, demo.DemoClientES384, "ES384", "system/*.rs")
	loc := s.kickoff(t, mine, "/$export?_type=Patient")
	m := s.manifest(t, mine, loc)
	file := items(m, "output")[0]["url"].(string)
	for _, u := range []string{loc, file} {
		if r := do(t, "GET", u, theirs, nil); r.status != http.StatusNotFound {
			t.Errorf("other client GET %s = %d, want 404", u, r.status)
		}
	}
	if r := do(t, "DELETE", loc, theirs, nil); r.status != http.StatusNotFound {
		t.Errorf("other client DELETE = %d, want 404", r.status)
	}
	if r := do(t, "GET", file, mine, nil); r.status != http.StatusOK {
		t.Errorf("owner GET file = %d, want 200", r.status)
	}
}

func TestJob_Delete(t *testing.T) {
	s := newServer(t, demo.Config{Faults: demo.Faults{JobDelay: time.Hour}})
	tok := s.demoToken(t)
	t.Run("Cancel", func(t *testing.T) {
		loc := s.kickoff(t, tok, "/$export")
		if r := do(t, "DELETE", loc, tok, nil); r.status != http.StatusAccepted {
			t.Fatalf("DELETE = %d, want 202", r.status)
		}
		r := do(t, "GET", loc, tok, nil)
		if r.status != http.StatusNotFound || r.issueCode(t) != "not-found" {
			t.Errorf("GET after DELETE = %d %s, want 404 OperationOutcome", r.status, r.body)
		}
		if r := do(t, "DELETE", loc, tok, nil); r.status != http.StatusNotFound {
			t.Errorf("second DELETE = %d, want 404", r.status)
		}
	})
	t.Run("Release", func(t *testing.T) {
		loc := s.kickoff(t, tok, "/$export?_type=Patient")
		s.clock.Advance(time.Hour)
		tok := s.demoToken(t) // the first one expired meanwhile
		m := s.manifest(t, tok, loc)
		file := items(m, "output")[0]["url"].(string)
		if r := do(t, "DELETE", loc, tok, nil); r.status != http.StatusAccepted {
			t.Fatalf("DELETE = %d, want 202", r.status)
		}
		if r := do(t, "GET", file, tok, nil); r.status != http.StatusNotFound {
			t.Errorf("file after DELETE = %d, want 404", r.status)
		}
	})
}

func TestStatus_PollingTooFast(t *testing.T) {
	s := newServer(t, demo.Config{Faults: demo.Faults{JobDelay: time.Minute}})
	tok := s.demoToken(t)
	loc := s.kickoff(t, tok, "/$export")
	if r := do(t, "GET", loc, tok, nil); r.status != http.StatusAccepted {
		t.Fatalf("first poll = %d, want 202", r.status)
	}
	r := do(t, "GET", loc, tok, nil) // the clock has not moved
	if r.status != http.StatusTooManyRequests || r.header.Get("Retry-After") == "" || r.issueCode(t) != "throttled" {
		t.Errorf("fast poll = %d Retry-After %q %s, want 429 with Retry-After", r.status, r.header.Get("Retry-After"), r.body)
	}
	s.clock.Advance(time.Second)
	if r := do(t, "GET", loc, tok, nil); r.status != http.StatusAccepted {
		t.Errorf("poll after Retry-After = %d, want 202", r.status)
	}
}

func TestFiles_EncodingAndRange(t *testing.T) {
	s := newServer(t, demo.Config{})
	tok := s.demoToken(t)
	m := s.export(t, tok, "/$export?_type=Observation")
	u := items(m, "output")[0]["url"].(string)
	plain := do(t, "GET", u, tok, nil, "Accept-Encoding: identity")
	if plain.header.Get("Content-Encoding") != "" || plain.header.Get("Content-Length") == "" {
		t.Errorf("identity: Content-Encoding %q Content-Length %q", plain.header.Get("Content-Encoding"), plain.header.Get("Content-Length"))
	}
	gz := do(t, "GET", u, tok, nil, "Accept-Encoding: gzip")
	if gz.header.Get("Content-Encoding") != "gzip" {
		t.Fatalf("gzip: Content-Encoding %q", gz.header.Get("Content-Encoding"))
	}
	zr, err := gzip.NewReader(bytes.NewReader(gz.body))
	if err != nil {
		t.Fatal(err)
	}
	unzipped, _ := io.ReadAll(zr)
	if !bytes.Equal(unzipped, plain.body) {
		t.Errorf("gzip body differs from identity body")
	}
	rg := do(t, "GET", u, tok, nil, "Range: bytes=100-199", "Accept-Encoding: identity")
	if rg.status != http.StatusPartialContent || !bytes.Equal(rg.body, plain.body[100:200]) {
		t.Errorf("Range: %d, %d bytes, want 206 with bytes 100-199", rg.status, len(rg.body))
	}
	tail := do(t, "GET", u, tok, nil, "Range: bytes=-50", "Accept-Encoding: identity")
	if !bytes.Equal(tail.body, plain.body[len(plain.body)-50:]) {
		t.Errorf("suffix range wrong")
	}
	if r := do(t, "GET", u, tok, nil, "Range: bytes=99999999-"); r.status != http.StatusRequestedRangeNotSatisfiable {
		t.Errorf("unsatisfiable range = %d, want 416", r.status)
	}
}

func TestFiles_PathTraversal(t *testing.T) {
	s := newServer(t, demo.Config{})
	tok := s.demoToken(t)
	loc := s.kickoff(t, tok, "/$export?_type=Patient")
	m := s.manifest(t, tok, loc)
	file := items(m, "output")[0]["url"].(string)
	jobDir := file[:strings.LastIndex(file, "/")+1]
	for _, u := range []string{
		jobDir + "..%2F..%2F..%2Fetc%2Fpasswd",
		jobDir + "%2e%2e%2fdemo.go",
		jobDir + "Patient.1.ndjson%00",
		jobDir + "Patient.99.ndjson",
		s.URL() + "/bulkfiles/..%2F..%2Fetc/passwd",
		s.URL() + "/bulkstatus/..%2F..%2Fetc%2Fpasswd",
		s.URL() + "/bulkstatus/00000000000000000000000000000000",
	} {
		r := do(t, "GET", u, tok, nil)
		if r.status != http.StatusNotFound || strings.Contains(string(r.body), "root:") {
			t.Errorf("GET %s = %d, want 404", u, r.status)
		}
	}
}

func TestFaults(t *testing.T) {
	t.Run("StatusErrorsAndBurst429", func(t *testing.T) {
		s := newServer(t, demo.Config{Faults: demo.Faults{StatusErrors: 2, Burst429: 1}})
		tok := s.demoToken(t)
		loc := s.kickoff(t, tok, "/$export?_type=Patient")
		for i, want := range []int{500, 500, 429} {
			r := do(t, "GET", loc, tok, nil)
			if r.status != want {
				t.Fatalf("poll %d = %d, want %d", i+1, r.status, want)
			}
			if code := r.issueCode(t); (want == 500 && code != "transient") || (want == 429 && r.header.Get("Retry-After") == "") {
				t.Errorf("poll %d: issue %q Retry-After %q", i+1, code, r.header.Get("Retry-After"))
			}
		}
		s.manifest(t, tok, loc)
	})
	t.Run("FileErrorsAndDrop", func(t *testing.T) {
		s := newServer(t, demo.Config{Faults: demo.Faults{FileErrors: 1, DropMidFile: 1}})
		tok := s.demoToken(t)
		u := items(s.export(t, tok, "/$export?_type=Observation"), "output")[0]["url"].(string)
		if r := do(t, "GET", u, tok, nil); r.status != 500 || r.issueCode(t) != "transient" {
			t.Errorf("first download = %d, want 500 transient", r.status)
		}
		req, _ := http.NewRequest("GET", u, nil)
		req.Header.Set("Authorization", "Bearer "+tok)
		req.Header.Set("Accept-Encoding", "identity")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		_, err = io.ReadAll(resp.Body)
		resp.Body.Close()
		if err == nil {
			t.Errorf("second download read fully, want a dropped connection")
		}
		if r := do(t, "GET", u, tok, nil); r.status != 200 {
			t.Errorf("third download = %d, want 200", r.status)
		}
	})
	t.Run("SlowFiles", func(t *testing.T) {
		// Paced downloads carry exactly the bytes of unpaced ones, with
		// and without gzip (the pacing is wall-clock, so it is not timed
		// here; the CLI crash test relies on it for its kill window).
		plain := newServer(t, demo.Config{})
		slow := newServer(t, demo.Config{Faults: demo.Faults{SlowFiles: 8 << 20}})
		var bodies [2][2][]byte
		for i, s := range []*testServer{plain, slow} {
			tok := s.demoToken(t)
			u := items(s.export(t, tok, "/$export?_type=Observation"), "output")[0]["url"].(string)
			for j, enc := range []string{"identity", "gzip"} {
				r := do(t, "GET", u, tok, nil, "Accept-Encoding: "+enc)
				if r.status != 200 {
					t.Fatalf("download (%s) = %d", enc, r.status)
				}
				body := r.body
				if r.header.Get("Content-Encoding") == "gzip" {
					// Compressed bytes differ (each paced chunk is flushed);
					// what they carry must not.
					zr, err := gzip.NewReader(bytes.NewReader(body))
					if err != nil {
						t.Fatal(err)
					}
					if body, err = io.ReadAll(zr); err != nil {
						t.Fatalf("gunzip (%s): %v", enc, err)
					}
				}
				bodies[i][j] = body
			}
		}
		for j, enc := range []string{"identity", "gzip"} {
			if !bytes.Equal(bodies[0][j], bodies[1][j]) || len(bodies[0][j]) == 0 {
				t.Errorf("%s: slow download has %d bytes, plain %d; want identical, non-empty", enc, len(bodies[1][j]), len(bodies[0][j]))
			}
		}
	})
	t.Run("ExpiredFiles", func(t *testing.T) {
		s := newServer(t, demo.Config{Faults: demo.Faults{ExpiredFiles: true}})
		tok := s.demoToken(t)
		u := items(s.export(t, tok, "/$export?_type=Patient"), "output")[0]["url"].(string)
		if r := do(t, "GET", u, tok, nil); r.status != http.StatusGone {
			t.Errorf("download = %d, want 410", r.status)
		}
	})
	t.Run("ErrorFiles", func(t *testing.T) {
		s := newServer(t, demo.Config{Faults: demo.Faults{ErrorFiles: 2}})
		tok := s.demoToken(t)
		m := s.export(t, tok, "/$export?_type=Observation")
		out, errs := items(m, "output"), download(t, tok, m, "error")["OperationOutcome"]
		if len(errs) == 0 || len(out) == 0 {
			t.Fatalf("%d outputs, %d errors: want both", len(out), len(errs))
		}
		if sev := errs[0]["issue"].([]any)[0].(map[string]any)["severity"]; sev != "error" {
			t.Errorf("failed file outcome severity %v, want error", sev)
		}
		c := newServer(t, demo.Config{})
		clean := items(c.export(t, c.demoToken(t), "/$export?_type=Observation"), "output")
		if got, want := len(out), len(clean)-len(clean)/2; got != want || len(errs) != len(clean)/2 {
			t.Errorf("%d outputs and %d errors of %d files, want %d and %d", got, len(errs), len(clean), want, len(clean)/2)
		}
		for _, it := range out {
			if strings.HasSuffix(it["url"].(string), "/Observation.2.ndjson") {
				t.Errorf("failed file %s still in output[]", it["url"])
			}
		}
	})
	t.Run("JobDelayAndSetFaults", func(t *testing.T) {
		s := newServer(t, demo.Config{})
		tok := s.demoToken(t)
		s.SetFaults(demo.Faults{JobDelay: time.Hour})
		loc := s.kickoff(t, tok, "/$export?_type=Patient")
		if r := do(t, "GET", loc, tok, nil); r.status != http.StatusAccepted {
			t.Errorf("delayed job = %d, want 202", r.status)
		}
		s.clock.Advance(time.Hour)
		s.manifest(t, s.demoToken(t), loc)
	})
	t.Run("PerClient", func(t *testing.T) {
		s := newServer(t, demo.Config{})
		id, err := s.RegisterClient(demo.Client{JWKS: sampleJWKS(t, "RS384"), Faults: &demo.Faults{StatusErrors: 1}})
		if err != nil {
			t.Fatal(err)
		}
		faulty := s.token(t, id, "RS384", "system/*.rs")
		loc := s.kickoff(t, faulty, "/$export?_type=Patient")
		if r := do(t, "GET", loc, faulty, nil); r.status != 500 {
			t.Errorf("faulty client first poll = %d, want 500", r.status)
		}
		healthy := s.demoToken(t)
		loc = s.kickoff(t, healthy, "/$export?_type=Patient")
		s.manifest(t, healthy, loc) // fails on a 500
	})
}

func TestOpenMode(t *testing.T) {
	var mu sync.Mutex
	var logs []demo.RequestLog
	s := newServer(t, demo.Config{Open: true, OnRequest: func(l demo.RequestLog) {
		mu.Lock()
		logs = append(logs, l)
		mu.Unlock()
	}})
	m := s.export(t, "", "/$export?_type=Patient")
	if m["requiresAccessToken"] != false {
		t.Errorf("requiresAccessToken = %v, want false", m["requiresAccessToken"])
	}
	if len(download(t, "", m, "output")["Patient"]) != 12 {
		t.Errorf("open download lacks patients")
	}
	mu.Lock()
	defer mu.Unlock()
	if len(logs) < 3 || logs[0].Method != "GET" || logs[0].Status != http.StatusAccepted || logs[0].Path != "/fhir/$export" {
		t.Errorf("request log %+v", logs)
	}
}

func TestRequestLog_ClientID(t *testing.T) {
	var mu sync.Mutex
	var ids []string
	s := newServer(t, demo.Config{OnRequest: func(l demo.RequestLog) {
		mu.Lock()
		ids = append(ids, l.ClientID)
		mu.Unlock()
	}})
	tok := s.demoToken(t)
	do(t, "GET", s.URL()+"/Group", tok, nil)
	mu.Lock()
	defer mu.Unlock()
	if !slices.Equal(ids, []string{demo.DemoClientRS384, demo.DemoClientRS384}) {
		t.Errorf("logged client ids %v", ids)
	}
}

func TestOpen_RefusesRemote(t *testing.T) {
	s := demo.NewServer(demo.Config{Addr: "0.0.0.0:0"})
	if err := s.Open(); err == nil {
		s.Close()
		t.Errorf("Open(0.0.0.0) = nil, want a loopback error")
	}
}
