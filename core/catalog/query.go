package catalog

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
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
	// Patient is "Patient/123" or "123": resources in that patient's
	// compartment, of files merged into the latest view (loaded, invalid
	// or failed), where the patient index holds them.
	Patient string
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
type TypeCount = core.TypeCount

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
		q = `SELECT c.type, sum(c.n) FROM files f JOIN file_counts c ON c.file_id = f.id
			WHERE f.export_id = ? GROUP BY c.type HAVING sum(c.n) > 0 ORDER BY c.type`
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
		WHERE l.type = 'Patient' AND l.res_id = ? AND l.deleted = 0`, args: []any{id}, limit: -1}
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
