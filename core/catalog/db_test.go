package catalog_test

import (
	"database/sql"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"testing"
	"time"

	"tranche.dev/tranche/core"
	"tranche.dev/tranche/core/catalog"
)

// NewTestDB returns a DB at path with a fixed clock and a silent logger,
// not yet open.
func NewTestDB(path string) *catalog.DB {
	db := catalog.NewDB(path)
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	db.Now = func() time.Time { return now }
	db.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	return db
}

// MustOpenDB opens a fresh catalogue in a temporary directory with a fixed
// clock, and closes it when the test ends.
func MustOpenDB(tb testing.TB) *catalog.DB {
	tb.Helper()
	db := NewTestDB(filepath.Join(tb.TempDir(), "sub", "tranche.db"))
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

	t.Run("Pragmas", func(t *testing.T) {
		// journal_mode and page_size persist in the file: read them back
		// through a connection of our own.
		db := MustOpenDB(t)
		conn, err := sql.Open("sqlite", db.Path())
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		var mode string
		var pageSize int
		if err := conn.QueryRow(`PRAGMA journal_mode`).Scan(&mode); err != nil {
			t.Fatal(err)
		}
		if err := conn.QueryRow(`PRAGMA page_size`).Scan(&pageSize); err != nil {
			t.Fatal(err)
		}
		if mode != "wal" || pageSize != catalog.PageSize {
			t.Errorf("journal_mode, page_size = %q, %d; want wal, %d", mode, pageSize, catalog.PageSize)
		}
		var migrations []string
		rows, err := conn.Query(`SELECT name FROM migrations ORDER BY name`)
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		for rows.Next() {
			var name string
			if err := rows.Scan(&name); err != nil {
				t.Fatal(err)
			}
			migrations = append(migrations, name)
		}
		if len(migrations) == 0 || migrations[0] != "migration/0001_init.sql" {
			t.Errorf("migrations = %q, want migration/0001_init.sql first", migrations)
		}
	})

	t.Run("Reopen", func(t *testing.T) {
		// Migrations already applied must be skipped on a second Open.
		path := filepath.Join(t.TempDir(), "tranche.db")
		for i := range 2 {
			db := NewTestDB(path)
			if err := db.Open(); err != nil {
				t.Fatalf("Open() #%d = %v", i+1, err)
			}
			if err := db.Close(); err != nil {
				t.Fatalf("Close() #%d = %v", i+1, err)
			}
		}
	})

	t.Run("RelativePath", func(t *testing.T) {
		dir := t.TempDir()
		t.Chdir(dir)
		db := NewTestDB("rel.db")
		if err := db.Open(); err != nil {
			t.Fatalf("Open() = %v", err)
		}
		defer db.Close()
		if err := db.CreateRegistration(t.Context(), &core.Registration{Name: "r"}); err != nil {
			t.Fatal(err)
		}
		// The data must be in ./rel.db, not in /rel.db.
		fi, err := os.Stat(filepath.Join(dir, "rel.db-wal"))
		if err != nil {
			t.Fatalf("no WAL beside ./rel.db: %v", err)
		}
		if fi.Size() == 0 {
			t.Errorf("./rel.db-wal is empty: the writes went elsewhere")
		}
	})

	t.Run("PathWithSpaces", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "my data", "a b?.db")
		db := NewTestDB(path)
		if err := db.Open(); err != nil {
			t.Fatalf("Open() = %v", err)
		}
		defer db.Close()
		if _, err := os.Stat(path); err != nil {
			t.Errorf("database not at %q: %v", path, err)
		}
	})
}
