package catalog

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"

	"tranche.dev/tranche/core"
)

// SetExportSink records the object storage URL (s3://BUCKET/PREFIX) an
// export writes to, so --resume carries on into the same place.
func (db *DB) SetExportSink(ctx context.Context, id int64, url string) error {
	return db.setSink(ctx, "exports", id, url)
}

// ExportSink returns the sink URL of an export, "" for none, or
// core.ErrNotFound.
func (db *DB) ExportSink(ctx context.Context, id int64) (string, error) {
	return db.sink(ctx, "exports", id)
}

// SetExportSinkViews records the SQL on FHIR ViewDefinitions (each one
// JSON document) an export writes to its sink, so --resume writes the same
// views. None is a choice too: it is recorded as an empty list.
func (db *DB) SetExportSinkViews(ctx context.Context, id int64, defs [][]byte) error {
	list := make([]json.RawMessage, len(defs))
	for i, d := range defs {
		if !json.Valid(d) {
			return fmt.Errorf("set sink views of export %d: view %d is not JSON", id, i+1)
		}
		list[i] = d
	}
	b, err := json.Marshal(list)
	if err != nil {
		return fmt.Errorf("set sink views of export %d: %w", id, err)
	}
	res, err := db.writer.ExecContext(ctx, `UPDATE exports SET sink_views = ? WHERE id = ?`, string(b), id)
	if err != nil {
		return fmt.Errorf("set sink views of export %d: %w", id, err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return err
	} else if n == 0 {
		return fmt.Errorf("export %d: %w", id, core.ErrNotFound)
	}
	return nil
}

// ExportSinkViews returns the ViewDefinitions SetExportSinkViews recorded
// for an export, and whether any list was recorded (false for an export
// started before they were); core.ErrNotFound if there is no such export.
func (db *DB) ExportSinkViews(ctx context.Context, id int64) (defs [][]byte, recorded bool, err error) {
	var s sql.NullString
	err = db.reader.QueryRowContext(ctx, `SELECT sink_views FROM exports WHERE id = ?`, id).Scan(&s)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, false, fmt.Errorf("export %d: %w", id, core.ErrNotFound)
	} else if err != nil {
		return nil, false, fmt.Errorf("sink views of export %d: %w", id, err)
	}
	if !s.Valid {
		return nil, false, nil
	}
	var list []json.RawMessage
	if err := json.Unmarshal([]byte(s.String), &list); err != nil {
		return nil, false, fmt.Errorf("sink views of export %d: %w", id, err)
	}
	for _, d := range list {
		defs = append(defs, []byte(d))
	}
	return defs, true, nil
}

// table is "exports", never input.
func (db *DB) setSink(ctx context.Context, table string, id int64, url string) error {
	res, err := db.writer.ExecContext(ctx, `UPDATE `+table+` SET sink = ? WHERE id = ?`, url, id)
	if err != nil {
		return fmt.Errorf("set sink of %s %d: %w", table, id, err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return err
	} else if n == 0 {
		return fmt.Errorf("%s %d: %w", table, id, core.ErrNotFound)
	}
	return nil
}

func (db *DB) sink(ctx context.Context, table string, id int64) (string, error) {
	var url string
	err := db.reader.QueryRowContext(ctx, `SELECT sink FROM `+table+` WHERE id = ?`, id).Scan(&url)
	if errors.Is(err, sql.ErrNoRows) {
		return "", fmt.Errorf("%s %d: %w", table, id, core.ErrNotFound)
	} else if err != nil {
		return "", fmt.Errorf("sink of %s %d: %w", table, id, err)
	}
	return url, nil
}
