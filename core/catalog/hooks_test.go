package catalog

import "context"

// SetOnCheckpoint makes the background checkpointer call f after each
// checkpoint. Call before Open.
func (db *DB) SetOnCheckpoint(f func()) { db.onCheckpoint = f }

// IndexedDocs returns how many resources the full-text index holds (one
// row each in FTS5's docsize table).
func (db *DB) IndexedDocs(ctx context.Context) (int64, error) {
	var n int64
	err := db.reader.QueryRowContext(ctx, `SELECT count(*) FROM resources_fts_docsize`).Scan(&n)
	return n, err
}
