package catalog

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"tranche.dev/tranche/core"
)

// ResetFile forgets every line stored for f (resources, their search
// index and patient index entries, problems, outcomes, deleted lines,
// tombstones and counts) and its progress, in one transaction, so the
// file can be downloaded again from its first byte and each line is stored
// exactly once. It is for a file still being downloaded: one already
// merged into the latest view (loaded, invalid or failed) is refused. f's
// progress fields are reset to match. Returns core.ErrNotFound if there is no such file.
func (db *DB) ResetFile(ctx context.Context, f *core.ExportFile) error {
	tx, err := db.writer.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	var state string
	var indexed int64
	if err := tx.QueryRowContext(ctx, `SELECT f.state, coalesce(s.line, 0) FROM files f
		LEFT JOIN fts_state s ON s.file_id = f.id WHERE f.id = ?`, f.ID).Scan(&state, &indexed); err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			err = core.ErrNotFound
		}
		return fmt.Errorf("reset file %d: %w", f.ID, err)
	}
	if s := core.FileState(state); s != core.FilePending && s != core.FileDownloading {
		return fmt.Errorf("reset file %d: it is %s, no longer downloading", f.ID, s)
	}
	lo, hi := rowID(f.ID, 1), rowID(f.ID, maxLine)
	stmts := []struct {
		sql  string
		args []any
	}{
		// External-content FTS5 needs the old text to forget a row.
		{`INSERT INTO resources_fts (resources_fts, rowid, raw)
			SELECT 'delete', rid, raw FROM resources WHERE rid BETWEEN ? AND ?`, []any{lo, rowID(f.ID, indexed)}},
		{`DELETE FROM fts_state WHERE file_id = ?`, []any{f.ID}},
		{`DELETE FROM resources WHERE rid BETWEEN ? AND ?`, []any{lo, hi}},
		{`DELETE FROM file_counts WHERE file_id = ?`, []any{f.ID}},
		{`DELETE FROM pending_runs WHERE file_id = ?`, []any{f.ID}},
		{`DELETE FROM deleted_lines WHERE file_id = ?`, []any{f.ID}},
		{`DELETE FROM tombstones WHERE file_id = ?`, []any{f.ID}},
		{`DELETE FROM outcomes WHERE file_id = ?`, []any{f.ID}},
		{`DELETE FROM problems WHERE file_id = ?`, []any{f.ID}},
		{`UPDATE files SET lines = 0, bytes = 0, problems = 0, state = ?, error = ? WHERE id = ?`,
			[]any{string(core.FileDownloading), f.Error, f.ID}},
	}
	for _, s := range stmts {
		if _, err := tx.ExecContext(ctx, s.sql, s.args...); err != nil {
			return fmt.Errorf("reset file %d: %w", f.ID, err)
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("reset file %d: %w", f.ID, err)
	}
	f.Lines, f.Bytes, f.Problems, f.State = 0, 0, 0, core.FileDownloading
	return nil
}
