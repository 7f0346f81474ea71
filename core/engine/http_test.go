package engine_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"

	"tranche.dev/tranche/core"
	"tranche.dev/tranche/core/engine"
	"tranche.dev/tranche/core/smart"
)

// Every request goes out as Tranche/<version>, discovery included (it went
// out as Go-http-client/1.1).
func TestUserAgent(t *testing.T) {
	var mu sync.Mutex
	var got []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		got = append(got, r.URL.Path+" "+r.UserAgent())
		mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		w.Write([]byte(`{"token_endpoint":"http://127.0.0.1/token"}`))
	}))
	defer srv.Close()
	if _, err := smart.Discover(t.Context(), engine.NewHTTPClient(), srv.URL+"/fhir"); err != nil {
		t.Fatalf("Discover() = %v", err)
	}
	req, _ := http.NewRequestWithContext(context.Background(), http.MethodGet, srv.URL+"/file", nil)
	resp, err := (&http.Client{Transport: engine.NewTransport(4)}).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	mu.Lock()
	defer mu.Unlock()
	if len(got) == 0 {
		t.Fatal("no request reached the server")
	}
	for _, g := range got {
		if want := " " + core.UserAgent; len(g) < len(want) || g[len(g)-len(want):] != want {
			t.Errorf("request %q; want User-Agent %q", g, core.UserAgent)
		}
	}
}
