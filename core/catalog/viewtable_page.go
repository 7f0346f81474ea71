package catalog

import (
	"context"
	"fmt"
)

// ViewTablePage returns limit rows of view table name from the offset-th,
// in the order they were built, and the table's row count. The table's
// rowid is its build order, so SQLite seeks the page through the rowid
// B-tree without converting the rows before it.
func (db *DB) ViewTablePage(ctx context.Context, name string, offset, limit int) ([][]any, int64, error) {
	t, err := db.FindViewTable(ctx, name)
	if err != nil {
		return nil, 0, err
	}
	if offset < 0 || limit <= 0 {
		return nil, t.Rows, fmt.Errorf("view table %s: page at %d of %d rows", name, offset, limit)
	}
	rows, err := db.reader.QueryContext(ctx, `SELECT * FROM `+quoteIdent(t.Name)+` ORDER BY rowid LIMIT ? OFFSET ?`, limit, offset)
	if err != nil {
		return nil, 0, fmt.Errorf("view table %s: %w", name, err)
	}
	defer rows.Close()
	n := len(t.Columns)
	vals := make([]any, n)
	dest := make([]any, n)
	for i := range vals {
		dest[i] = &vals[i]
	}
	var out [][]any
	for rows.Next() {
		if err := rows.Scan(dest...); err != nil {
			return nil, 0, fmt.Errorf("view table %s: %w", name, err)
		}
		row := make([]any, n)
		for i, v := range vals {
			if row[i], err = fromSQL(t.Columns[i], v); err != nil {
				return nil, 0, fmt.Errorf("view table %s: column %s: %w", name, t.Columns[i].Name, err)
			}
		}
		out = append(out, row)
	}
	if err := rows.Err(); err != nil {
		return nil, 0, fmt.Errorf("view table %s: %w", name, err)
	}
	return out, t.Rows, nil
}
