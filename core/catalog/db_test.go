package catalog_test

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"tranche.dev/tranche/core/catalog"
)

// MustOpenDB opens a fresh catalogue in a temporary directory with a fixed
// clock, and closes it when the test ends.
func MustOpenDB(tb testing.TB) *catalog.DB {
	tb.Helper()
	db := catalog.NewDB(filepath.Join(tb.TempDir(), "sub", "tranche.db"))
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	db.Now = func() time.Time { return now }
	if err := db.Open(); err != nil {
		tb.Fatalf("Open() = %v", err)
	}
	tb.Cleanup(func() {
		if err := db.Close(); err != nil {
			tb.Errorf("Close() = %v", err)
		}
	})
	return db
}

func TestDB_Open(t *testing.T) {
	t.Run("FileMode", func(t *testing.T) {
		db := MustOpenDB(t)
		fi, err := os.Stat(db.Path())
		if err != nil {
			t.Fatal(err)
		}
		if got, want := fi.Mode().Perm(), os.FileMode(0o600); got != want {
			t.Errorf("mode = %v, want %v", got, want)
		}
	})

	t.Run("Reopen", func(t *testing.T) {
		// Migrations already applied must be skipped on a second Open.
		path := filepath.Join(t.TempDir(), "tranche.db")
		for i := range 2 {
			db := catalog.NewDB(path)
			if err := db.Open(); err != nil {
				t.Fatalf("Open() #%d = %v", i+1, err)
			}
			if err := db.Close(); err != nil {
				t.Fatalf("Close() #%d = %v", i+1, err)
			}
		}
	})

	t.Run("PathWithSpaces", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "my data", "a b?.db")
		db := catalog.NewDB(path)
		if err := db.Open(); err != nil {
			t.Fatalf("Open() = %v", err)
		}
		defer db.Close()
		if _, err := os.Stat(path); err != nil {
			t.Errorf("database not at %q: %v", path, err)
		}
	})
}
