package catalog_test

import (
	"testing"

	"tranche.dev/tranche/core"
	"tranche.dev/tranche/core/catalog"
)

// TestIndexer: Later indexes in the background, each pass what is new;
// after Close it does nothing.
func TestIndexer(t *testing.T) {
	db := MustOpenDB(t)
	e := MustCreateExport(t, db, "2025-01-01T00:00:00Z")
	f := MustAddFile(t, db, e.ID, core.KindOutput, "Observation")
	ix := &catalog.Indexer{DB: db}
	MustAppend(t, db, f, observation("o1", "p1", "Hemoglobin", 1), observation("o2", "p1", "Glucose", 2))
	ix.Later()
	ix.Later() // a second pass finds nothing left to do
	ix.Wait()
	if got := MustUnindexed(t, db); got != 0 {
		t.Errorf("Unindexed() after Later = %d, want 0", got)
	}

	ix.Close()
	MustAppend(t, db, f, observation("o3", "p2", "Hemoglobin A1c", 3))
	ix.Later()
	ix.Wait()
	if got := MustUnindexed(t, db); got != 1 {
		t.Errorf("Unindexed() after Later following Close = %d, want 1 (no pass runs after Close)", got)
	}
}
