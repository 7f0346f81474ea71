package demo_test

import (
	"io"
	"net/http"
	"testing"

	"tranche.dev/tranche/core/demo"
)

// BenchmarkDownload measures serving speed: every file of a system-level
// export of 200 patients, downloaded uncompressed one after another.
func BenchmarkDownload(b *testing.B) {
	s := newServer(b, demo.Config{Patients: 200, FileLines: 10000})
	tok := s.demoToken(b)
	m := s.export(b, tok, "/$export")
	var urls []string
	for _, it := range items(m, "output") {
		urls = append(urls, it["url"].(string))
	}
	b.ResetTimer()
	var total int64
	for range b.N {
		total = 0
		for _, u := range urls {
			req, _ := http.NewRequest("GET", u, nil)
			req.Header.Set("Authorization", "Bearer "+tok)
			req.Header.Set("Accept-Encoding", "identity")
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				b.Fatal(err)
			}
			n, err := io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if err != nil || resp.StatusCode != http.StatusOK {
				b.Fatalf("GET %s: %d %v", u, resp.StatusCode, err)
			}
			total += n
		}
	}
	b.SetBytes(total)
}
