package bulk_test

import (
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"testing"

	"tranche.dev/tranche/core"
	"tranche.dev/tranche/core/bulk"
)

// TestManifestErrorsNameURL: a manifest that is HTML, cut short, empty or
// too large is an error that names its URL and says which.
func TestManifestErrorsNameURL(t *testing.T) {
	tests := []struct {
		name, body, want string
	}{
		{"HTML", "<html><body>Please log in</body></html>", "is HTML, not JSON"},
		{"Truncated", `{"transactionTime":"2024-01-01T00:00:00Z","output":[{"type":"Patient","url":"ht`, "is cut short after"},
		{"Empty", "", "is empty"},
		{"NotAnObject", `[1,2]`, "manifest from"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, tt.body) }))
			defer srv.Close()
			c := &bulk.Client{BaseURL: srv.URL, HTTPClient: http.DefaultClient}
			_, err := c.Status(t.Context(), srv.URL+"/status?job=1")
			if err == nil || !strings.Contains(err.Error(), tt.want) || !strings.Contains(err.Error(), srv.URL+"/status") {
				t.Fatalf("Status() = %v, want %q and the URL", err, tt.want)
			}
		})
	}
}

// TestManifestTooLarge: a manifest whose file items are far over the
// bound on their bytes is refused with its URL named, reading little more
// than the bound: memory stays bounded whatever the server sends. The
// export ends failed with the reason.
func TestManifestTooLarge(t *testing.T) {
	const bound = 1 << 20
	item := `{"type":"Patient","url":"https://files.example/` + strings.Repeat("x", 100) + `","count":1},`
	h := newHostile(t)
	h.status = func(w http.ResponseWriter, r *http.Request, n int64) {
		// 100 MB, streamed: no Content-Length to refuse it by.
		fmt.Fprint(w, `{"transactionTime":"2024-01-01T00:00:00Z","request":"x","requiresAccessToken":false,"output":[`)
		for range (100 << 20) / len(item) {
			if _, err := fmt.Fprint(w, item); err != nil {
				return
			}
		}
		fmt.Fprint(w, `{"type":"Patient","url":"https://files.example/last"}],"error":[]}`)
	}
	r, _, exp := h.runner(t)
	r.Client.MaxManifest = bound
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	err := r.Start(t.Context(), exp)
	runtime.ReadMemStats(&after)
	if !errors.Is(err, bulk.ErrManifestTooLarge) || !strings.Contains(err.Error(), h.srv.URL+"/status") {
		t.Fatalf("Start() = %v, want ErrManifestTooLarge naming the URL", err)
	}
	// The items are decoded one at a time, each leaving about 2 KB of
	// short-lived garbage (its strings, its URL parsed and resolved): about
	// 16 MiB for the 1 MiB of items read. 100 MB read whole would be 200 MB
	// and more.
	if got := after.TotalAlloc - before.TotalAlloc; got > 32*bound {
		t.Errorf("allocated %d MiB reading a 100 MB manifest with a 1 MiB bound, want under 32 MiB", got>>20)
	}
	got, _ := r.Store.FindExport(t.Context(), exp.ID)
	if got.State != core.StateFailed || len(got.Manifest) != 0 {
		t.Errorf("state %s with %d manifest bytes stored, want failed with none", got.State, len(got.Manifest))
	}
}
