package catalog

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"

	"tranche.dev/tranche/core"
)

// ViewTable is a SQL on FHIR view materialised as a typed SQLite table in
// the catalogue, named after the view.
type ViewTable struct {
	Name        string // the view's name, and the table's
	Resource    string // the resource type the view reads
	ViewVersion string // the ViewDefinition's version element, if any
	ViewSHA256  string // hex SHA-256 of the ViewDefinition JSON
	ViewJSON    []byte // the ViewDefinition it was built from
	Columns     []TableColumn
	// ExportID is the export the table was built from; 0 means the
	// latest view.
	ExportID int64
	Exports  []int64 // the exports whose resources it read
	// ThroughExport is the newest export in the catalogue when the table
	// was built.
	ThroughExport int64
	Rows          int64
	Problems      int64 // resources the view could not evaluate
	BuiltAt       time.Time
	// NewerExport, when not 0, is an export newer than ThroughExport that
	// loaded resources of Resource: the table is stale.
	NewerExport int64
}

// Stale reports whether a newer export makes the table out of date.
func (t *ViewTable) Stale() bool { return t.NewerExport != 0 }

// TableColumn is one column of a view table: its name and FHIR type.
type TableColumn struct {
	Name       string `json:"name"`
	Type       string `json:"type,omitempty"`
	Collection bool   `json:"collection,omitempty"`
}

// sqlType is the column's declared SQLite type. Integers and booleans (0
// or 1) are INTEGER; decimals NUMERIC, so SQLite keeps "1.5" as a REAL and
// compares them as numbers (the exact text is in CSV, NDJSON and Parquet
// output); everything else, dates included (ISO 8601 text sorts), TEXT;
// collections are JSON arrays, for SQLite's JSON functions.
func (c TableColumn) sqlType() string {
	if c.Collection {
		return "TEXT"
	}
	switch c.Type {
	case "integer", "positiveInt", "unsignedInt", "integer64":
		return "INTEGER"
	case "boolean":
		return "BOOLEAN"
	case "decimal":
		return "NUMERIC"
	}
	return "TEXT"
}

// tableName is what SQL on FHIR v2 allows a view's name to be
// (ViewDefinition: name, "database-friendly"), within SQLite's reach.
var tableName = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9_]{0,62}$`)

// checkViewTableName refuses a name that is not database-friendly, is
// SQLite's, or is one of the catalogue's own tables.
func (db *DB) checkViewTableName(ctx context.Context, name string) error {
	if !tableName.MatchString(name) || strings.HasPrefix(strings.ToLower(name), "sqlite_") {
		return fmt.Errorf("view name %q cannot name a table: use letters, digits and _, starting with a letter", name)
	}
	var n int
	err := db.writer.QueryRowContext(ctx, `SELECT count(*) FROM sqlite_master
		WHERE lower(name) = lower(?) AND lower(name) NOT IN (SELECT lower(name) FROM view_tables)`, name).Scan(&n)
	if err != nil {
		return err
	}
	if n > 0 {
		return fmt.Errorf("view name %q is taken by the catalogue's own table %q", name, name)
	}
	return nil
}

func quoteIdent(s string) string { return `"` + strings.ReplaceAll(s, `"`, `""`) + `"` }

// ViewTableWriter fills a view table. Rows go to a building table, in
// transactions of ViewTableBatch rows (so an export can store its lines in
// between); Close replaces the previous table of that name and records it
// in one transaction, so readers see the old table or the new one, never
// half of one. Abort drops the building table.
type ViewTableWriter struct {
	db    *DB
	ctx   context.Context
	t     ViewTable
	build string // the building table's name
	ins   string // its INSERT statement for one row
	batch [][]any
	rows  int64
	done  bool
}

// ViewTableBatch is how many rows a ViewTableWriter stores per transaction.
const ViewTableBatch = 2000

// CreateViewTable starts building table t.Name with t.Columns from the
// latest view (t.ExportID 0) or export t.ExportID. Write its rows, set
// Problems with SetProblems, then Close; or Abort. It records which exports
// the table reads and the newest export, now.
func (db *DB) CreateViewTable(ctx context.Context, t ViewTable) (*ViewTableWriter, error) {
	if err := db.checkViewTableName(ctx, t.Name); err != nil {
		return nil, fmt.Errorf("create view table: %w", err)
	}
	if len(t.Columns) == 0 {
		return nil, fmt.Errorf("create view table %s: no columns", t.Name)
	}
	if err := db.reader.QueryRowContext(ctx, `SELECT coalesce(max(export_id), 0) FROM files
		WHERE kind = 'output' AND lines > 0`).Scan(&t.ThroughExport); err != nil {
		return nil, fmt.Errorf("create view table %s: %w", t.Name, err)
	}
	if t.ExportID != 0 {
		if _, err := db.FindExport(ctx, t.ExportID); err != nil {
			return nil, fmt.Errorf("create view table %s: export %d: %w", t.Name, t.ExportID, err)
		}
		t.Exports = []int64{t.ExportID}
	} else {
		rows, err := db.reader.QueryContext(ctx, `SELECT DISTINCT export_id FROM latest
			WHERE type = ? AND deleted = 0 AND rid IS NOT NULL ORDER BY export_id`, t.Resource)
		if err != nil {
			return nil, fmt.Errorf("create view table %s: %w", t.Name, err)
		}
		defer rows.Close()
		t.Exports = nil
		for rows.Next() {
			var id int64
			if err := rows.Scan(&id); err != nil {
				return nil, fmt.Errorf("create view table %s: %w", t.Name, err)
			}
			t.Exports = append(t.Exports, id)
		}
		if err := rows.Err(); err != nil {
			return nil, fmt.Errorf("create view table %s: %w", t.Name, err)
		}
	}

	w := &ViewTableWriter{db: db, ctx: ctx, t: t, build: "building_view_" + strings.ToLower(t.Name)}
	defs := make([]string, len(t.Columns))
	seen := map[string]bool{}
	for i, c := range t.Columns {
		if seen[strings.ToLower(c.Name)] {
			return nil, fmt.Errorf("create view table %s: two columns named %q", t.Name, c.Name)
		}
		seen[strings.ToLower(c.Name)] = true
		defs[i] = quoteIdent(c.Name) + " " + c.sqlType()
	}
	w.ins = `INSERT INTO ` + quoteIdent(w.build) + ` VALUES (?` + strings.Repeat(", ?", len(defs)-1) + `)`
	stmt := `DROP TABLE IF EXISTS ` + quoteIdent(w.build) + `;
		CREATE TABLE ` + quoteIdent(w.build) + ` (` + strings.Join(defs, ", ") + `)`
	if _, err := db.writer.ExecContext(ctx, stmt); err != nil {
		return nil, fmt.Errorf("create view table %s: %w", t.Name, err)
	}
	return w, nil
}

// Write adds one row: values as the view runner gives them (nil, bool,
// string, int64, json.Number, or []any for a collection).
func (w *ViewTableWriter) Write(row []any) error {
	if len(row) != len(w.t.Columns) {
		return fmt.Errorf("row has %d values for %d columns", len(row), len(w.t.Columns))
	}
	vals := make([]any, len(row))
	for i, v := range row {
		sv, err := sqlValue(w.t.Columns[i], v)
		if err != nil {
			return fmt.Errorf("column %s: %w", w.t.Columns[i].Name, err)
		}
		vals[i] = sv
	}
	w.batch = append(w.batch, vals)
	w.rows++
	if len(w.batch) >= ViewTableBatch {
		return w.flush()
	}
	return nil
}

func sqlValue(c TableColumn, v any) (any, error) {
	switch x := v.(type) {
	case nil:
		return nil, nil
	case []any:
		b, err := json.Marshal(x)
		return string(b), err
	case json.Number:
		return x.String(), nil // NUMERIC affinity makes it a number
	case bool:
		if x {
			return int64(1), nil
		}
		return int64(0), nil
	case string, int64:
		return x, nil
	case int:
		return int64(x), nil
	case float64:
		return x, nil
	}
	return nil, fmt.Errorf("unsupported value %T", v)
}

func (w *ViewTableWriter) flush() error {
	if len(w.batch) == 0 {
		return nil
	}
	tx, err := w.db.writer.BeginTx(w.ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	stmt, err := tx.PrepareContext(w.ctx, w.ins)
	if err != nil {
		return err
	}
	defer stmt.Close()
	for _, r := range w.batch {
		if _, err := stmt.ExecContext(w.ctx, r...); err != nil {
			return err
		}
	}
	clear(w.batch)
	w.batch = w.batch[:0]
	return tx.Commit()
}

// SetProblems records how many resources the view could not evaluate.
func (w *ViewTableWriter) SetProblems(n int64) { w.t.Problems = n }

// Close stores the remaining rows, then, in one transaction, replaces any
// previous table of the name and records the new one.
func (w *ViewTableWriter) Close() error {
	if w.done {
		return errors.New("view table writer already closed")
	}
	w.done = true
	if err := w.finish(); err != nil {
		w.drop()
		return fmt.Errorf("view table %s: %w", w.t.Name, err)
	}
	return nil
}

func (w *ViewTableWriter) finish() error {
	if err := w.flush(); err != nil {
		return err
	}
	cols, err := json.Marshal(w.t.Columns)
	if err != nil {
		return err
	}
	exports, err := json.Marshal(append([]int64{}, w.t.Exports...))
	if err != nil {
		return err
	}
	tx, err := w.db.writer.BeginTx(w.ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	name := quoteIdent(w.t.Name)
	if _, err := tx.ExecContext(w.ctx, `DROP TABLE IF EXISTS `+name+`;
		ALTER TABLE `+quoteIdent(w.build)+` RENAME TO `+name); err != nil {
		return err
	}
	_, err = tx.ExecContext(w.ctx, `INSERT OR REPLACE INTO view_tables (name, resource, view_version,
		view_sha256, view_json, columns, export_id, exports, through_export, rows, problems, built_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		w.t.Name, w.t.Resource, w.t.ViewVersion, w.t.ViewSHA256, string(w.t.ViewJSON), string(cols),
		w.t.ExportID, string(exports), w.t.ThroughExport, w.rows, w.t.Problems, formatTime(w.db.now()))
	if err != nil {
		return err
	}
	if err := tx.Commit(); err != nil {
		return err
	}
	w.db.kickCheckpoint()
	return nil
}

// Abort drops what was built; the previous table of the name, if any,
// stays.
func (w *ViewTableWriter) Abort() {
	if !w.done {
		w.done = true
		w.drop()
	}
}

func (w *ViewTableWriter) drop() {
	// A background context: the build's may be what was cancelled.
	w.db.writer.ExecContext(context.Background(), `DROP TABLE IF EXISTS `+quoteIdent(w.build))
}

// ViewTables lists the view tables, by name, each with NewerExport set
// when an export newer than the table holds resources of its type.
func (db *DB) ViewTables(ctx context.Context) ([]*ViewTable, error) {
	ts, err := db.viewTables(ctx, "")
	if err != nil {
		return nil, fmt.Errorf("view tables: %w", err)
	}
	return ts, nil
}

// FindViewTable returns one view table, or core.ErrNotFound.
func (db *DB) FindViewTable(ctx context.Context, name string) (*ViewTable, error) {
	ts, err := db.viewTables(ctx, name)
	if err != nil {
		return nil, fmt.Errorf("view table %s: %w", name, err)
	}
	if len(ts) == 0 {
		return nil, fmt.Errorf("view table %s: %w", name, core.ErrNotFound)
	}
	return ts[0], nil
}

func (db *DB) viewTables(ctx context.Context, name string) ([]*ViewTable, error) {
	q := `SELECT v.name, v.resource, v.view_version, v.view_sha256, v.view_json, v.columns,
		v.export_id, v.exports, v.through_export, v.rows, v.problems, v.built_at,
		coalesce((SELECT min(f.export_id) FROM files f JOIN file_counts c ON c.file_id = f.id
			WHERE f.kind = 'output' AND f.export_id > v.through_export AND c.type = v.resource AND c.n > 0), 0)
		FROM view_tables v`
	var args []any
	if name != "" {
		q += ` WHERE lower(v.name) = lower(?)`
		args = append(args, name)
	}
	rows, err := db.reader.QueryContext(ctx, q+` ORDER BY v.name`, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []*ViewTable
	for rows.Next() {
		var t ViewTable
		var viewJSON, cols, exports, built string
		if err := rows.Scan(&t.Name, &t.Resource, &t.ViewVersion, &t.ViewSHA256, &viewJSON, &cols,
			&t.ExportID, &exports, &t.ThroughExport, &t.Rows, &t.Problems, &built, &t.NewerExport); err != nil {
			return nil, err
		}
		t.ViewJSON = []byte(viewJSON)
		if err := json.Unmarshal([]byte(cols), &t.Columns); err != nil {
			return nil, fmt.Errorf("columns of %s: %w", t.Name, err)
		}
		if err := json.Unmarshal([]byte(exports), &t.Exports); err != nil {
			return nil, fmt.Errorf("exports of %s: %w", t.Name, err)
		}
		if t.BuiltAt, err = parseTime(built); err != nil {
			return nil, err
		}
		out = append(out, &t)
	}
	return out, rows.Err()
}

// ViewTableRows calls fn with each row of view table name, in the order it
// was built, values typed back as the view runner gives them: nil, bool,
// string, int64, json.Number (decimals, from SQLite's number), and
// collections as []any.
func (db *DB) ViewTableRows(ctx context.Context, name string, fn func(row []any) error) error {
	t, err := db.FindViewTable(ctx, name)
	if err != nil {
		return err
	}
	rows, err := db.reader.QueryContext(ctx, `SELECT * FROM `+quoteIdent(t.Name)+` ORDER BY rowid`)
	if err != nil {
		return fmt.Errorf("view table %s: %w", name, err)
	}
	defer rows.Close()
	n := len(t.Columns)
	vals := make([]any, n)
	dest := make([]any, n)
	for i := range vals {
		dest[i] = &vals[i]
	}
	for rows.Next() {
		if err := rows.Scan(dest...); err != nil {
			return fmt.Errorf("view table %s: %w", name, err)
		}
		row := make([]any, n)
		for i, v := range vals {
			if row[i], err = fromSQL(t.Columns[i], v); err != nil {
				return fmt.Errorf("view table %s: column %s: %w", name, t.Columns[i].Name, err)
			}
		}
		if err := fn(row); err != nil {
			return err
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("view table %s: %w", name, err)
	}
	return nil
}

func fromSQL(c TableColumn, v any) (any, error) {
	if b, ok := v.([]byte); ok {
		v = string(b)
	}
	if v == nil {
		return nil, nil
	}
	if c.Collection {
		var l []any
		d := json.NewDecoder(strings.NewReader(fmt.Sprint(v)))
		d.UseNumber()
		if err := d.Decode(&l); err != nil {
			return nil, err
		}
		for i, e := range l {
			if n, ok := e.(json.Number); ok && c.Type != "decimal" {
				if x, err := n.Int64(); err == nil {
					l[i] = x
				}
			}
		}
		return l, nil
	}
	switch c.sqlType() {
	case "BOOLEAN":
		if x, ok := v.(int64); ok {
			return x != 0, nil
		}
	case "NUMERIC":
		switch x := v.(type) {
		case int64:
			return json.Number(strconv.FormatInt(x, 10)), nil
		case float64:
			return json.Number(strconv.FormatFloat(x, 'g', -1, 64)), nil
		case string:
			return json.Number(x), nil
		}
	}
	return v, nil
}

// DropViewTable drops a view table and its record.
func (db *DB) DropViewTable(ctx context.Context, name string) error {
	t, err := db.FindViewTable(ctx, name)
	if err != nil {
		return err
	}
	tx, err := db.writer.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("drop view table %s: %w", name, err)
	}
	defer tx.Rollback()
	if _, err := tx.ExecContext(ctx, `DROP TABLE IF EXISTS `+quoteIdent(t.Name)); err != nil {
		return fmt.Errorf("drop view table %s: %w", name, err)
	}
	if _, err := tx.ExecContext(ctx, `DELETE FROM view_tables WHERE name = ?`, t.Name); err != nil {
		return fmt.Errorf("drop view table %s: %w", name, err)
	}
	return tx.Commit()
}
