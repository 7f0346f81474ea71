package catalog

import (
	"context"
	"errors"
	"fmt"

	"tranche.dev/tranche/core"
)

// AddFiles records the files of an export's manifest. It is idempotent on
// (export, kind, URL): adding a file already known (a resumed export reading
// the manifest again) keeps the stored row. Every file gets its ID; for
// existing rows State, Lines, Bytes, Problems and Error are filled from the
// stored progress, so the caller knows where to carry on.
func (db *DB) AddFiles(ctx context.Context, exportID int64, files []*core.ExportFile) error {
	tx, err := db.writer.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()

	ins, err := tx.PrepareContext(ctx, `
		INSERT INTO files (export_id, kind, type, url, count, state, lines, bytes, problems, error)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (export_id, kind, url) DO NOTHING`)
	if err != nil {
		return err
	}
	defer ins.Close()
	sel, err := tx.PrepareContext(ctx, `
		SELECT id, state, lines, bytes, problems, error FROM files
		WHERE export_id = ? AND kind = ? AND url = ?`)
	if err != nil {
		return err
	}
	defer sel.Close()

	for _, f := range files {
		f.ExportID = exportID
		if f.State == "" {
			f.State = core.FilePending
		}
		if _, err := ins.ExecContext(ctx, exportID, string(f.Kind), f.Type, f.URL, f.Count,
			string(f.State), f.Lines, f.Bytes, f.Problems, f.Error); err != nil {
			return fmt.Errorf("add file %s: %w", f.URL, err)
		}
		var state string
		if err := sel.QueryRowContext(ctx, exportID, string(f.Kind), f.URL).Scan(
			&f.ID, &state, &f.Lines, &f.Bytes, &f.Problems, &f.Error); err != nil {
			return fmt.Errorf("add file %s: %w", f.URL, err)
		}
		f.State = core.FileState(state)
	}
	return tx.Commit()
}

// UpdateFile stores a file's progress (state, lines, bytes, problems, error,
// type and count) by f.ID. A state other than pending or downloading merges
// the file's resources into the latest view, as AppendRecords does.
// Returns core.ErrNotFound if there is no such file.
func (db *DB) UpdateFile(ctx context.Context, f *core.ExportFile) error {
	tx, err := db.writer.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	res, err := tx.ExecContext(ctx, `
		UPDATE files SET type = ?, count = ?, state = ?, lines = ?, bytes = ?, problems = ?,
			error = ?
		WHERE id = ?`,
		f.Type, f.Count, string(f.State), f.Lines, f.Bytes, f.Problems, f.Error, f.ID)
	if err != nil {
		return fmt.Errorf("update file %d: %w", f.ID, err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return err
	} else if n == 0 {
		return fmt.Errorf("file %d: %w", f.ID, core.ErrNotFound)
	}
	if err := mergeLatest(ctx, tx, f.ID, f.State); err != nil {
		return fmt.Errorf("update file %d: merge into the latest view: %w", f.ID, err)
	}
	return tx.Commit()
}

// FindFiles returns the files of an export in the order they were added.
func (db *DB) FindFiles(ctx context.Context, exportID int64) ([]*core.ExportFile, error) {
	rows, err := db.reader.QueryContext(ctx, `
		SELECT id, export_id, kind, type, url, count, state, lines, bytes, problems, error
		FROM files WHERE export_id = ? ORDER BY id`, exportID)
	if err != nil {
		return nil, fmt.Errorf("find files: %w", err)
	}
	defer rows.Close()

	var fs []*core.ExportFile
	for rows.Next() {
		var f core.ExportFile
		var kind, state string
		if err := rows.Scan(&f.ID, &f.ExportID, &kind, &f.Type, &f.URL, &f.Count, &state,
			&f.Lines, &f.Bytes, &f.Problems, &f.Error); err != nil {
			return nil, fmt.Errorf("scan file: %w", err)
		}
		f.Kind, f.State = core.FileKind(kind), core.FileState(state)
		fs = append(fs, &f)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("find files: %w", err)
	}
	return fs, nil
}

// errNoFile is returned by AppendRecords for a file that was never added.
var errNoFile = errors.New("file not added to the catalogue")
