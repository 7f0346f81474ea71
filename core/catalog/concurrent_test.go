package catalog_test

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"

	"tranche.dev/tranche/core"
	"tranche.dev/tranche/core/catalog"
)

// TestMain doubles as the helper process of TestOpenProcesses: with
// TRANCHE_OPEN_HELPER set to a path, it opens the catalogue there and
// exits.
func TestMain(m *testing.M) {
	if path := os.Getenv("TRANCHE_OPEN_HELPER"); path != "" {
		db := NewTestDB(path)
		err := db.Open()
		if err == nil {
			err = db.Close()
		}
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// TestOpenProcesses: processes opening a new catalogue at once all
// succeed (one used to fail with "migrate ... database is locked
// (SQLITE_BUSY)" in about 1 of 8 tries).
func TestOpenProcesses(t *testing.T) {
	for round := range 8 {
		path := filepath.Join(t.TempDir(), "tranche.db")
		cmds := make([]*exec.Cmd, 4)
		outs := make([][]byte, len(cmds))
		var wg sync.WaitGroup
		for i := range cmds {
			cmds[i] = exec.Command(os.Args[0], "-test.run=^$")
			cmds[i].Env = append(os.Environ(), "TRANCHE_OPEN_HELPER="+path)
			wg.Go(func() { outs[i], _ = cmds[i].CombinedOutput() })
		}
		wg.Wait()
		for i, c := range cmds {
			if !c.ProcessState.Success() {
				t.Fatalf("round %d, process %d: %s", round, i, outs[i])
			}
		}
	}
}

// TestOpenConcurrently: processes opening a new catalogue at the same time
// (a second tranche command beside the first) all succeed; none fails
// migrating with SQLITE_BUSY. Separate DB values have separate
// connections, and SQLite locks them against each other as it does
// processes.
func TestOpenConcurrently(t *testing.T) {
	for round := range 10 {
		path := filepath.Join(t.TempDir(), "tranche.db")
		var wg sync.WaitGroup
		errs := make([]error, 6)
		for i := range errs {
			wg.Go(func() {
				db := NewTestDB(path)
				if errs[i] = db.Open(); errs[i] == nil {
					errs[i] = db.Close()
				}
			})
		}
		wg.Wait()
		for i, err := range errs {
			if err != nil {
				t.Fatalf("round %d, opener %d: %v", round, i, err)
			}
		}
	}
}

// TestLockExport: one holder per export at a time; another export is not
// affected; a released lock can be taken again.
func TestLockExport(t *testing.T) {
	path := filepath.Join(t.TempDir(), "tranche.db")
	a, b := NewTestDB(path), NewTestDB(path)
	for _, db := range []*catalog.DB{a, b} {
		if err := db.Open(); err != nil {
			t.Fatal(err)
		}
		defer db.Close()
	}
	release, err := a.LockExport(t.Context(), 1)
	if err != nil {
		t.Fatalf("LockExport(1) = %v", err)
	}
	if _, err := b.LockExport(t.Context(), 1); !errors.Is(err, core.ErrInUse) {
		t.Fatalf("second LockExport(1) = %v, want core.ErrInUse", err)
	}
	other, err := b.LockExport(t.Context(), 2)
	if err != nil {
		t.Fatalf("LockExport(2) = %v, want its own lock", err)
	}
	other()
	release()
	again, err := b.LockExport(t.Context(), 1)
	if err != nil {
		t.Fatalf("LockExport(1) after release = %v", err)
	}
	again()
}
