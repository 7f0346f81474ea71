package bulk

import (
	"net/url"
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// FuzzEncodeManifest: what is stored of a manifest too large to store as
// received (encodeManifest) reads back as the same manifest.
func FuzzEncodeManifest(f *testing.F) {
	names, _ := filepath.Glob(filepath.Join("..", "..", "testdata", "manifests", "*.json"))
	for _, n := range names {
		b, _ := os.ReadFile(n)
		f.Add(b)
	}
	base, _ := url.Parse("https://ehr.example/fhir/status/1")
	f.Fuzz(func(t *testing.T, body []byte) {
		m, err := ParseManifest(body, base)
		if err != nil {
			return
		}
		stored := encodeManifest(m)
		got, err := ParseManifest(stored, base)
		if err != nil {
			t.Fatalf("stored form %s of %q: %v", stored, body, err)
		}
		if diff := cmp.Diff(m, got); diff != "" {
			t.Fatalf("stored form %s of %q reads back differently (-want +got):\n%s", stored, body, diff)
		}
	})
}
