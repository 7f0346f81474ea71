package bench

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"tranche.dev/tranche/core/demo"
	"tranche.dev/tranche/core/demo/demotest"
)

// TestPhases runs the three phases in this process against a small demo
// export: both downloads move the same lines, and the ingest phase
// measures both of its paths over them.
func TestPhases(t *testing.T) {
	srv := demotest.Start(t, demo.Config{Patients: 3, Seed: 1, Open: true, RetryAfter: 10 * time.Millisecond, MinPoll: -1})
	work := t.TempDir()
	got := map[string]Result{}
	for _, ph := range Phases {
		dir := filepath.Join(work, ph)
		if err := os.MkdirAll(dir, 0o700); err != nil {
			t.Fatal(err)
		}
		r, err := RunPhase(t.Context(), ph, srv.URL(), dir, 2, "")
		if err != nil {
			t.Fatalf("phase %s: %v", ph, err)
		}
		got[ph] = r
	}
	b, e, in := got["baseline"], got["export"], got["ingest"]
	if b.Resources == 0 || b.Resources != e.Resources || b.Bytes != e.Bytes {
		t.Errorf("baseline moved %d lines, %d bytes; export %d lines, %d bytes; want the same, not 0",
			b.Resources, b.Bytes, e.Resources, e.Bytes)
	}
	if in.Resources != b.Resources {
		t.Errorf("ingest read %d lines, want the baseline's %d", in.Resources, b.Resources)
	}
	if in.FloorCPU < 0 || in.IngestCPU < 0 {
		t.Errorf("ingest CPU floor %v, catalogue %v: want measured", in.FloorCPU, in.IngestCPU)
	}
	if _, err := RunPhase(t.Context(), "nonsense", srv.URL(), work, 1, ""); err == nil {
		t.Errorf("RunPhase(unknown phase) = nil error, want one")
	}
}
