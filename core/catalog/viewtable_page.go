package catalog

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
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
	out, err := scanViewRows(t, rows)
	if err != nil {
		return nil, 0, err
	}
	return out, t.Rows, nil
}

// ViewTableSearch returns limit rows, from the offset-th, of the rows of
// view table name whose text contains text, in the order they were
// built. A match is SQL LIKE's: case-insensitive for ASCII letters only;
// booleans match as true and false, collections as their JSON. SQLite
// stops reading once it has the page, so the first pages of a search come
// back without reading the whole table; ViewTableCount counts all the
// matches.
func (db *DB) ViewTableSearch(ctx context.Context, name, text string, offset, limit int) ([][]any, error) {
	t, err := db.FindViewTable(ctx, name)
	if err != nil {
		return nil, err
	}
	if offset < 0 || limit <= 0 {
		return nil, fmt.Errorf("view table %s: page at %d of %d rows", name, offset, limit)
	}
	rows, err := db.reader.QueryContext(ctx, `SELECT * FROM `+quoteIdent(t.Name)+` WHERE `+t.matchSQL()+
		` ORDER BY rowid LIMIT ?2 OFFSET ?3`, likePattern(text), limit, offset)
	if err != nil {
		return nil, fmt.Errorf("view table %s: search: %w", name, err)
	}
	return scanViewRows(t, rows)
}

// ViewTableCount counts the rows of view table name whose text contains
// text, matched as ViewTableSearch does; "" counts every row. It reads
// the whole table, inside SQLite.
func (db *DB) ViewTableCount(ctx context.Context, name, text string) (int64, error) {
	t, err := db.FindViewTable(ctx, name)
	if err != nil {
		return 0, err
	}
	if text == "" {
		return t.Rows, nil
	}
	var n int64
	if err := db.reader.QueryRowContext(ctx, `SELECT count(*) FROM `+quoteIdent(t.Name)+` WHERE `+t.matchSQL(),
		likePattern(text)).Scan(&n); err != nil {
		return 0, fmt.Errorf("view table %s: count matches: %w", name, err)
	}
	return n, nil
}

// matchSQL is a condition true of a row any of whose columns contains the
// LIKE pattern ?1 (see likePattern).
func (t *ViewTable) matchSQL() string {
	conds := make([]string, len(t.Columns))
	for i, c := range t.Columns {
		col := quoteIdent(c.Name)
		if c.sqlType() == "BOOLEAN" {
			col = `CASE ` + col + ` WHEN 1 THEN 'true' WHEN 0 THEN 'false' END`
		}
		conds[i] = col + ` LIKE ?1 ESCAPE '\'`
	}
	return `(` + strings.Join(conds, ` OR `) + `)`
}

// likePattern is a LIKE pattern matching text anywhere, with LIKE's
// wildcards in text escaped.
func likePattern(text string) string {
	r := strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`)
	return "%" + r.Replace(text) + "%"
}

// scanViewRows reads rows of view table t, typed as ViewTableRows does,
// and closes them.
func scanViewRows(t *ViewTable, rows *sql.Rows) ([][]any, error) {
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
			return nil, fmt.Errorf("view table %s: %w", t.Name, err)
		}
		row := make([]any, n)
		for i, v := range vals {
			var err error
			if row[i], err = fromSQL(t.Columns[i], v); err != nil {
				return nil, fmt.Errorf("view table %s: column %s: %w", t.Name, t.Columns[i].Name, err)
			}
		}
		out = append(out, row)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("view table %s: %w", t.Name, err)
	}
	return out, nil
}
