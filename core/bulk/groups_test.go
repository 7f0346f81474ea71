package bulk_test

import (
	"net/http"
	"testing"

	"tranche.dev/tranche/core/bulk"
	"tranche.dev/tranche/core/demo"
)

// TestGroups lists the demo server's Groups for the Group-level picker,
// and reads its CapabilityStatement through the same request path.
func TestGroups(t *testing.T) {
	srv := mustOpenDemo(t, demo.Config{Patients: 20, Open: true})
	c := &bulk.Client{BaseURL: srv.URL(), HTTPClient: http.DefaultClient, FileClient: http.DefaultClient}
	groups, err := c.Groups(t.Context())
	if err != nil || len(groups) == 0 {
		t.Fatalf("Groups() = %v, %v; want the demo's groups", groups, err)
	}
	members := 0
	for _, g := range groups {
		if g.ID == "" {
			t.Errorf("group %+v: want an id", g)
		}
		members += g.Quantity
	}
	if members == 0 {
		t.Errorf("groups %+v: no member counts read", groups)
	}
	caps, err := c.Capabilities(t.Context())
	if err != nil || len(caps.Types) == 0 {
		t.Errorf("Capabilities() = %v, %v; want resource types", caps, err)
	}
	bad := &bulk.Client{BaseURL: srv.URL() + "/nowhere", HTTPClient: http.DefaultClient, FileClient: http.DefaultClient}
	if _, err := bad.Groups(t.Context()); err == nil {
		t.Errorf("Groups() on a wrong base URL = nil error, want the server's refusal")
	}
}
