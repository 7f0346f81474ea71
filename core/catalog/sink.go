package catalog

import (
	"context"
	"database/sql"
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

// SetRegistrationSink sets the sink a registration's exports use when no
// --sink is given ("" for none).
func (db *DB) SetRegistrationSink(ctx context.Context, id int64, url string) error {
	return db.setSink(ctx, "registrations", id, url)
}

// RegistrationSink returns a registration's sink URL, "" for none, or
// core.ErrNotFound.
func (db *DB) RegistrationSink(ctx context.Context, id int64) (string, error) {
	return db.sink(ctx, "registrations", id)
}

// table is one of two constants above, never input.
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
