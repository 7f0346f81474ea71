package smart_test

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"golang.org/x/oauth2"

	"tranche.dev/tranche/core/smart"
)

// countingSource hands out tok-1, tok-2, … and counts invalidations.
type countingSource struct {
	mu          sync.Mutex
	n           int
	cur         string
	invalidated int
}

func (s *countingSource) Token() (*oauth2.Token, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cur == "" {
		s.n++
		s.cur = fmt.Sprintf("tok-%d", s.n)
	}
	return &oauth2.Token{AccessToken: s.cur, TokenType: "Bearer"}, nil
}

func (s *countingSource) Invalidate() {
	s.mu.Lock()
	s.cur = ""
	s.invalidated++
	s.mu.Unlock()
}

// authLog records the Authorization header of each request per path.
type authLog struct {
	mu   sync.Mutex
	seen []string
}

func (l *authLog) add(r *http.Request) {
	l.mu.Lock()
	l.seen = append(l.seen, r.URL.Path+" "+r.Header.Get("Authorization"))
	l.mu.Unlock()
}

func (l *authLog) get() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]string(nil), l.seen...)
}

func TestNewClient_Origin(t *testing.T) {
	var other authLog
	otherSrv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		other.add(r)
		fmt.Fprint(w, "other")
	}))
	t.Cleanup(otherSrv.Close)
	var fhir authLog
	fhirSrv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fhir.add(r)
		switch r.URL.Path {
		case "/fhir/redirect-out":
			http.Redirect(w, r, otherSrv.URL+"/file", http.StatusFound)
		case "/fhir/redirect-in":
			http.Redirect(w, r, "/fhir/metadata", http.StatusFound)
		default:
			fmt.Fprint(w, "fhir")
		}
	}))
	t.Cleanup(fhirSrv.Close)

	src := &countingSource{}
	c, err := smart.NewClient(fhirSrv.Client(), src, fhirSrv.URL+"/fhir")
	if err != nil {
		t.Fatal(err)
	}
	get := func(u string, hdr string) {
		t.Helper()
		req, _ := http.NewRequestWithContext(t.Context(), http.MethodGet, u, nil)
		if hdr != "" {
			req.Header.Set("Authorization", hdr)
		}
		resp, err := c.Do(req)
		if err != nil {
			t.Fatalf("GET %s: %v", u, err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}
	get(fhirSrv.URL+"/fhir/metadata", "")
	get(otherSrv.URL+"/direct", "")
	get(fhirSrv.URL+"/fhir/redirect-out", "")
	get(fhirSrv.URL+"/fhir/redirect-in", "")

	wantFHIR := []string{
		"/fhir/metadata Bearer tok-1",
		"/fhir/redirect-out Bearer tok-1",
		"/fhir/redirect-in Bearer tok-1",
		"/fhir/metadata Bearer tok-1",
	}
	if got := fhir.get(); strings.Join(got, "\n") != strings.Join(wantFHIR, "\n") {
		t.Errorf("FHIR server saw:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(wantFHIR, "\n"))
	}
	wantOther := []string{"/direct ", "/file "}
	if got := other.get(); strings.Join(got, "\n") != strings.Join(wantOther, "\n") {
		t.Errorf("other origin saw:\n%q\nwant no token:\n%q", got, wantOther)
	}
}

func TestTransport_ReauthOnce(t *testing.T) {
	tests := []struct {
		name         string
		method       string
		body         func() io.Reader // nil: no body
		unauthorized int              // how many 401s the server gives first
		wantStatus   int
		wantTries    int32
		wantInval    int
	}{
		{"GetRecovers", "GET", nil, 1, 200, 2, 1},
		{"GetTwice401", "GET", nil, 5, 401, 2, 1},
		{"PostReplayable", "POST", func() io.Reader { return strings.NewReader(`{"a":1}`) }, 1, 200, 2, 1},
		// A body without GetBody cannot be replayed: the 401 is returned.
		{"PostOneShot", "POST", func() io.Reader { return io.NopCloser(strings.NewReader(`{"a":1}`)) }, 1, 401, 1, 0},
		{"NoAuthProblem", "GET", nil, 0, 200, 1, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var tries atomic.Int32
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				n := tries.Add(1)
				if r.Method == "POST" {
					if b, _ := io.ReadAll(r.Body); string(b) != `{"a":1}` {
						t.Errorf("try %d body = %q, want the original", n, b)
					}
				}
				if int(n) <= tt.unauthorized {
					w.WriteHeader(http.StatusUnauthorized)
					return
				}
				if got, want := r.Header.Get("Authorization"), fmt.Sprintf("Bearer tok-%d", n); got != want {
					t.Errorf("try %d Authorization = %q, want %q", n, got, want)
				}
			}))
			t.Cleanup(srv.Close)
			src := &countingSource{}
			c, err := smart.NewClient(srv.Client(), src, srv.URL)
			if err != nil {
				t.Fatal(err)
			}
			var body io.Reader
			if tt.body != nil {
				body = tt.body()
			}
			req, _ := http.NewRequestWithContext(t.Context(), tt.method, srv.URL+"/x", body)
			resp, err := c.Do(req)
			if err != nil {
				t.Fatalf("Do: %v", err)
			}
			resp.Body.Close()
			if resp.StatusCode != tt.wantStatus || tries.Load() != tt.wantTries || src.invalidated != tt.wantInval {
				t.Fatalf("status %d, tries %d, invalidations %d; want %d, %d, %d",
					resp.StatusCode, tries.Load(), src.invalidated, tt.wantStatus, tt.wantTries, tt.wantInval)
			}
		})
	}
}
