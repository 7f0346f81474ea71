package catalog

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"tranche.dev/tranche/core"
)

// Page sizes for Resources.
const (
	DefaultPageSize = 100
	MaxPageSize     = 1000
)

// ResourceFilter selects resources for Resources, ExportNDJSON and ExportCSV.
// Zero fields do not filter.
type ResourceFilter struct {
	// ExportID selects the versions one export stored; 0 selects the latest
	// view: per (type, id) the version from the newest export, hidden when a
	// newer tombstone deletes it.
	ExportID int64
	Type     string // resourceType, e.g. "Observation"
	Patient  string // "Patient/123" or "123": resources in that patient's compartment
	// Query is an FTS5 query over the raw JSON, e.g. `diabetes` or
	// `"blood pressure"` or `glucos*`. It only finds rows Reindex has indexed.
	Query string
	After string // Page.Next of the previous page; "" for the first page
	Limit int    // rows per page; 0 = DefaultPageSize, capped at MaxPageSize
}

// Row is one resource in a table.
type Row struct {
	RowID  int64  // this stored version; see ResourceAt
	Type   string // resourceType
	ID     string // resource id
	Values []string
}

// Page is one page of a resource table.
type Page struct {
	Columns []string // Columns(filter.Type); each Row's Values align with it
	Rows    []Row
	Next    string // cursor for the next page; "" when this is the last
}

// TypeCount is how many resources of one type a view holds.
type TypeCount struct {
	Type  string
	Count int64
}

// Resource is one stored version of a resource with its exact bytes.
type Resource struct {
	RowID       int64
	ExportID    int64
	Type        string
	ID          string
	LastUpdated string
	Patient     string
	Raw         []byte // the NDJSON line exactly as received, without "\n"
	Deleted     bool   // a newer tombstone hides it in the latest view
}

// Counts returns the number of resources per type, sorted by type: of the
// latest view when exportID is 0, else of that export.
func (db *DB) Counts(ctx context.Context, exportID int64) ([]TypeCount, error) {
	q := `SELECT type, COUNT(*) FROM latest WHERE deleted = 0 AND rid IS NOT NULL GROUP BY type ORDER BY type`
	var args []any
	if exportID != 0 {
		q = `SELECT type, COUNT(*) FROM resources WHERE export_id = ? GROUP BY type ORDER BY type`
		args = append(args, exportID)
	}
	rows, err := db.reader.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("counts: %w", err)
	}
	defer rows.Close()
	var cs []TypeCount
	for rows.Next() {
		var c TypeCount
		if err := rows.Scan(&c.Type, &c.Count); err != nil {
			return nil, fmt.Errorf("counts: %w", err)
		}
		cs = append(cs, c)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("counts: %w", err)
	}
	return cs, nil
}

// Resources returns one page of resources matching f, with the columns of
// Columns(f.Type). Paging is by key, never by OFFSET, so every page costs
// the same on a million rows: the latest view without Patient or Query is
// ordered by (type, id); everything else by storage order (RowID).
func (db *DB) Resources(ctx context.Context, f ResourceFilter) (Page, error) {
	limit := f.Limit
	if limit <= 0 {
		limit = DefaultPageSize
	}
	limit = min(limit, MaxPageSize)

	q, err := buildQuery(f, limit+1)
	if err != nil {
		return Page{}, err
	}
	page := Page{Columns: Columns(f.Type)}
	err = db.scanRows(ctx, q, func(r Row) error {
		if len(page.Rows) == limit {
			last := page.Rows[limit-1]
			page.Next = q.cursor(last)
			return errStop
		}
		page.Rows = append(page.Rows, r)
		return nil
	})
	if err != nil {
		return Page{}, fmt.Errorf("resources: %w", err)
	}
	return page, nil
}

// PatientResources returns every resource of one patient in the latest
// view, the Patient resource itself first, then its compartment in storage
// order. Values align with Columns("").
func (db *DB) PatientResources(ctx context.Context, patient string) ([]Row, error) {
	ref := patientRef(patient)
	id := strings.TrimPrefix(ref, "Patient/")
	var out []Row
	collect := func(r Row) error { out = append(out, r); return nil }

	self := query{sql: `SELECT r.rid, r.type, r.res_id` + selectList(columnsFor("")) + `
		FROM latest l JOIN resources r ON r.rid = l.rid
		WHERE l.type = 'Patient' AND l.res_id = ? AND l.deleted = 0`, args: []any{id}}
	if err := db.scanRows(ctx, self, collect); err != nil {
		return nil, fmt.Errorf("patient resources: %w", err)
	}
	q, err := buildQuery(ResourceFilter{Patient: ref}, -1)
	if err != nil {
		return nil, err
	}
	err = db.scanRows(ctx, q, func(r Row) error {
		if r.Type == "Patient" && r.ID == id {
			return nil // already first
		}
		return collect(r)
	})
	if err != nil {
		return nil, fmt.Errorf("patient resources: %w", err)
	}
	return out, nil
}

// Resource returns the version of typ/id that the latest view holds, with
// Deleted set if a newer tombstone hides it. Returns core.ErrNotFound if no
// version was ever stored.
func (db *DB) Resource(ctx context.Context, typ, id string) (*Resource, error) {
	r, err := db.findResource(ctx, `FROM latest l JOIN resources r ON r.rid = l.rid
		WHERE l.type = ? AND l.res_id = ?`, typ, id)
	if errors.Is(err, core.ErrNotFound) {
		return nil, fmt.Errorf("%s/%s: %w", typ, id, core.ErrNotFound)
	}
	return r, err
}

// ResourceAt returns the stored version with the given RowID (Row.RowID),
// or core.ErrNotFound.
func (db *DB) ResourceAt(ctx context.Context, rowID int64) (*Resource, error) {
	r, err := db.findResource(ctx, `FROM resources r LEFT JOIN latest l
		ON l.type = r.type AND l.res_id = r.res_id AND l.rid = r.rid WHERE r.rid = ?`, rowID)
	if errors.Is(err, core.ErrNotFound) {
		return nil, fmt.Errorf("row %d: %w", rowID, core.ErrNotFound)
	}
	return r, err
}

func (db *DB) findResource(ctx context.Context, from string, args ...any) (*Resource, error) {
	var r Resource
	var deleted sql.NullInt64
	var raw string
	err := db.reader.QueryRowContext(ctx, `SELECT r.rid, r.export_id, r.type, r.res_id,
		r.last_updated, r.patient, r.raw, l.deleted `+from, args...).Scan(
		&r.RowID, &r.ExportID, &r.Type, &r.ID, &r.LastUpdated, &r.Patient, &raw, &deleted)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, core.ErrNotFound
	} else if err != nil {
		return nil, fmt.Errorf("find resource: %w", err)
	}
	r.Raw, r.Deleted = []byte(raw), deleted.Int64 == 1
	return &r, nil
}

// errStop ends a scanRows loop early without an error.
var errStop = errors.New("stop")

// scanRows runs q and calls fn for each row until fn returns errStop.
func (db *DB) scanRows(ctx context.Context, q query, fn func(Row) error) error {
	rows, err := db.reader.QueryContext(ctx, q.sql, q.args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	cols, err := rows.Columns()
	if err != nil {
		return err
	}
	vals := make([]sql.NullString, len(cols)-3)
	dest := make([]any, len(cols))
	for rows.Next() {
		var r Row
		dest[0], dest[1], dest[2] = &r.RowID, &r.Type, &r.ID
		for i := range vals {
			dest[3+i] = &vals[i]
		}
		if err := rows.Scan(dest...); err != nil {
			return err
		}
		r.Values = make([]string, len(vals))
		for i, v := range vals {
			r.Values[i] = v.String
		}
		if err := fn(r); errors.Is(err, errStop) {
			return nil
		} else if err != nil {
			return err
		}
	}
	return rows.Err()
}

// query is built SQL with its arguments and how to make a cursor.
type query struct {
	sql   string
	args  []any
	byKey bool // ordered by (type, id) rather than rid
}

func (q query) cursor(last Row) string {
	if q.byKey {
		return "k" + last.Type + "/" + last.ID
	}
	return "r" + strconv.FormatInt(last.RowID, 10)
}

func selectList(cs []column) string {
	var b strings.Builder
	for _, c := range cs {
		b.WriteString(", ")
		b.WriteString(c.Expr)
	}
	return b.String()
}

// buildQuery turns a filter into SQL returning rid, type, id and the
// columns of Columns(f.Type). limit < 0 means no limit.
func buildQuery(f ResourceFilter, limit int) (query, error) {
	return buildSelect(`SELECT r.rid, r.type, r.res_id`+selectList(columnsFor(f.Type)), f, limit)
}

// buildSelect is buildQuery with another select list over r (resources).
func buildSelect(sel string, f ResourceFilter, limit int) (query, error) {
	var where []string
	var args []any
	add := func(cond string, a ...any) { where = append(where, cond); args = append(args, a...) }
	q := query{}

	if f.ExportID == 0 && f.Patient == "" && f.Query == "" {
		// Latest view walked in primary key order: fast on any size.
		q.byKey = true
		q.sql = sel + ` FROM latest l JOIN resources r ON r.rid = l.rid`
		add(`l.deleted = 0`)
		if f.Type != "" {
			add(`l.type = ?`, f.Type)
		}
		if f.After != "" {
			typ, id, ok := strings.Cut(strings.TrimPrefix(f.After, "k"), "/")
			if !strings.HasPrefix(f.After, "k") || !ok {
				return query{}, fmt.Errorf("invalid page cursor %q", f.After)
			}
			add(`(l.type, l.res_id) > (?, ?)`, typ, id)
		}
		q.sql += ` WHERE ` + strings.Join(where, " AND ") + ` ORDER BY l.type, l.res_id`
	} else {
		order := `r.rid`
		if f.Query != "" {
			// The FTS table drives the loop, in rowid order, so a page of
			// a common word does not collect every match first.
			q.sql = sel + ` FROM resources_fts CROSS JOIN resources r ON r.rid = resources_fts.rowid`
			add(`resources_fts MATCH ?`, f.Query)
			order = `resources_fts.rowid`
		} else {
			q.sql = sel + ` FROM resources r`
		}
		if f.ExportID == 0 {
			q.sql += ` JOIN latest l ON l.type = r.type AND l.res_id = r.res_id AND l.rid = r.rid AND l.deleted = 0`
		} else {
			add(`r.export_id = ?`, f.ExportID)
		}
		if f.Type != "" {
			add(`r.type = ?`, f.Type)
		}
		if f.Patient != "" {
			add(`r.patient = ?`, patientRef(f.Patient))
		}
		if f.After != "" {
			rid, err := strconv.ParseInt(strings.TrimPrefix(f.After, "r"), 10, 64)
			if !strings.HasPrefix(f.After, "r") || err != nil {
				return query{}, fmt.Errorf("invalid page cursor %q", f.After)
			}
			add(order+` > ?`, rid)
		}
		if len(where) > 0 {
			q.sql += ` WHERE ` + strings.Join(where, " AND ")
		}
		q.sql += ` ORDER BY ` + order
	}
	if limit >= 0 {
		q.sql += ` LIMIT ?`
		args = append(args, limit)
	}
	q.args = args
	return q, nil
}

// patientRef normalises "123" to "Patient/123".
func patientRef(p string) string {
	if strings.Contains(p, "/") {
		return p
	}
	return "Patient/" + p
}
