package catalog

import (
	"bufio"
	"context"
	"database/sql"
	"encoding/csv"
	"fmt"
	"io"
)

// ExportNDJSON writes the resources matching f (After and Limit ignored) to
// w, one line each, exactly as received, each followed by "\n". It streams:
// memory does not grow with the selection. Lines come in storage order:
// file by file, line by line. Returns the number written.
func (db *DB) ExportNDJSON(ctx context.Context, w io.Writer, f ResourceFilter) (int, error) {
	q, err := buildStream(`SELECT r.raw`, f)
	if err != nil {
		return 0, err
	}
	bw := bufio.NewWriterSize(w, 256<<10)
	n := 0
	var raw sql.RawBytes
	err = db.run(ctx, q, func(rows *sql.Rows) error {
		if err := rows.Scan(&raw); err != nil {
			return err
		}
		if _, err := bw.Write(raw); err != nil {
			return err
		}
		n++
		return bw.WriteByte('\n')
	})
	if err != nil {
		return n, fmt.Errorf("export ndjson: %w", err)
	}
	if err := bw.Flush(); err != nil {
		return n, fmt.Errorf("export ndjson: %w", err)
	}
	return n, nil
}

// ExportCSV writes the resources matching f (After and Limit ignored) to w
// as CSV: a header row of Columns(f.Type), then one row per resource, the
// same values a Resources page shows. It streams. Returns the number of
// resource rows written.
func (db *DB) ExportCSV(ctx context.Context, w io.Writer, f ResourceFilter) (int, error) {
	q, err := buildStream(`SELECT r.rid, r.type, r.res_id`+selectList(columnsFor(f.Type)), f)
	if err != nil {
		return 0, err
	}
	cw := csv.NewWriter(w)
	if err := cw.Write(Columns(f.Type)); err != nil {
		return 0, fmt.Errorf("export csv: %w", err)
	}
	n := 0
	err = db.scanRows(ctx, q, func(r Row) error {
		n++
		return cw.Write(r.Values)
	})
	if err != nil {
		return n, fmt.Errorf("export csv: %w", err)
	}
	cw.Flush()
	if err := cw.Error(); err != nil {
		return n, fmt.Errorf("export csv: %w", err)
	}
	return n, nil
}
