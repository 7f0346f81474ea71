package catalog

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"tranche.dev/tranche/core"
)

// LockExport takes the lock that lets one process at a time run export id
// (download its files, poll its job), and returns its release. While
// another process (or DB) holds it, it returns an error wrapping
// core.ErrInUse at once.
//
// The lock is an exclusive SQLite lock on a small file of its own beside
// the catalogue (locks/<catalogue>-export-<id>.lock): the operating system
// drops it when the holder exits, kill -9 included, on every platform
// SQLite runs on. The files stay (a few bytes each): deleting one another
// process has just opened would let two processes hold "the" lock.
func (db *DB) LockExport(ctx context.Context, id int64) (release func(), err error) {
	dir := filepath.Join(filepath.Dir(db.path), "locks")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("lock export %d: %w", id, err)
	}
	path := filepath.Join(dir, fmt.Sprintf("%s-export-%d.lock", filepath.Base(db.path), id))
	u := (&DB{path: path}).fileURL()
	l, err := sql.Open("sqlite", u+"?_pragma=busy_timeout(0)&_txlock=exclusive")
	if err != nil {
		return nil, fmt.Errorf("lock export %d: %w", id, err)
	}
	l.SetMaxOpenConns(1)
	tx, err := l.BeginTx(ctx, nil)
	if err != nil {
		l.Close()
		var se interface{ Code() int }
		if errors.As(err, &se) && se.Code()&0xff == sqliteBusy {
			return nil, fmt.Errorf("export %d: %w", id, core.ErrInUse)
		}
		return nil, fmt.Errorf("lock export %d: %w", id, err)
	}
	return func() {
		tx.Rollback()
		l.Close()
	}, nil
}
