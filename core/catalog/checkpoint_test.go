package catalog_test

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"tranche.dev/tranche/core"
	"tranche.dev/tranche/core/catalog"
)

// The background checkpointer copies each commit's WAL frames into the
// database file, so the WAL restarts from its beginning instead of growing
// to the writer's auto-checkpoint size, and nothing is lost on Close.
func TestDB_BackgroundCheckpoint(t *testing.T) {
	path := filepath.Join(t.TempDir(), "tranche.db")
	db := NewTestDB(path)
	checkpointed := make(chan struct{}, 1)
	db.SetOnCheckpoint(func() {
		select {
		case checkpointed <- struct{}{}:
		default:
		}
	})
	if err := db.Open(); err != nil {
		t.Fatalf("Open() = %v", err)
	}
	e := MustCreateExport(t, db, "2025-01-01T00:00:00Z")
	f := MustAddFile(t, db, e.ID, core.KindOutput, "Observation")

	const batches, perBatch = 40, 100
	pad := strings.Repeat("x", 4000)
	written := 0
	for b := range batches {
		var lines []string
		for i := range perBatch {
			l := observation(fmt.Sprintf("o%d-%d", b, i), "p1", pad, 1)
			lines = append(lines, l)
			written += len(l)
		}
		MustAppend(t, db, f, lines...)
		select {
		case <-checkpointed:
		case <-time.After(time.Minute):
			t.Fatalf("batch %d: no background checkpoint within a minute", b)
		}
	}
	st, err := os.Stat(path + "-wal")
	if err != nil {
		t.Fatal(err)
	}
	// Each batch is about 400 KB; without the checkpointer the WAL would
	// hold all 16 MB.
	if got, limit := st.Size(), int64(written/4); got > limit {
		t.Errorf("WAL size after %d checkpointed batches = %d bytes, want at most %d (a quarter of the %d bytes written)",
			batches, got, limit, written)
	}
	if err := db.Close(); err != nil {
		t.Fatalf("Close() = %v", err)
	}

	db = NewTestDB(path)
	if err := db.Open(); err != nil {
		t.Fatalf("reopen: Open() = %v", err)
	}
	defer db.Close()
	got, err := db.Counts(t.Context(), e.ID)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]catalog.TypeCount{{Type: "Observation", Count: batches * perBatch}}, got); diff != "" {
		t.Errorf("Counts() after reopen (-want +got):\n%s", diff)
	}
}
