package catalog

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strconv"
	"sync"

	"tranche.dev/tranche/core"
)

// Browser reads the catalogue a page at a time for the desktop app's
// browser (core.Browser). Resources page by key (a cursor per page, never
// OFFSET), so the browser remembers the cursor that starts each page of
// the current query: Next and Previous cost one page read each, whatever
// the table's size. Tombstones and error lines page by OFFSET over their
// own small tables.
type Browser struct {
	DB *DB

	mu      sync.Mutex
	key     string         // the query the cursors belong to
	cursors map[int]string // offset → cursor of the page starting there
}

var _ core.Browser = (*Browser)(nil)

// Counts counts the latest view's (or one export's) resources by type.
func (b *Browser) Counts(ctx context.Context, exportID int64) ([]core.TypeCount, error) {
	return b.DB.Counts(ctx, exportID)
}

// DeletedCount counts an export's tombstones, or every export's for 0.
func (b *Browser) DeletedCount(ctx context.Context, exportID int64) (int64, error) {
	return b.count(ctx, "tombstones", exportID)
}

// ErrorCount counts an export's error lines, or every export's for 0.
func (b *Browser) ErrorCount(ctx context.Context, exportID int64) (int64, error) {
	return b.count(ctx, "outcomes", exportID)
}

func (b *Browser) count(ctx context.Context, table string, exportID int64) (int64, error) {
	var n int64
	err := b.DB.reader.QueryRowContext(ctx, `SELECT COUNT(*) FROM `+table+` WHERE ? = 0 OR export_id = ?`,
		exportID, exportID).Scan(&n)
	if err != nil {
		return 0, fmt.Errorf("count %s: %w", table, err)
	}
	return n, nil
}

// outcomeRef packs an error line's key (file, line) into a row's Ref.
func outcomeRef(fileID, line int64) int64 { return fileID<<32 | line }

// Records returns one page of the records q selects.
func (b *Browser) Records(ctx context.Context, q core.RecordQuery) (*core.RecordPage, error) {
	switch q.Kind {
	case core.RecordsDeleted:
		return b.tombstones(ctx, q)
	case core.RecordsErrors:
		return b.outcomes(ctx, q)
	case core.RecordsResources:
	default:
		return nil, fmt.Errorf("records of kind %q: not in the catalogue's resources", q.Kind)
	}
	if q.Text != "" {
		// Search sees only indexed rows: index what the last export added.
		if _, err := b.DB.Reindex(ctx); err != nil {
			return nil, err
		}
	}
	after, err := b.cursor(ctx, q)
	if err != nil {
		return nil, err
	}
	f := filter(q)
	f.After = after
	page, err := b.DB.Resources(ctx, f)
	if err != nil {
		return nil, err
	}
	b.mu.Lock()
	if page.Next != "" {
		b.cursors[q.Offset+len(page.Rows)] = page.Next
	}
	b.mu.Unlock()
	p := &core.RecordPage{Columns: page.Columns, Total: -1}
	pi := slices.Index(page.Columns, "patient")
	for _, r := range page.Rows {
		row := core.RecordRow{Type: r.Type, ID: r.ID, Ref: r.RowID, Cells: r.Values}
		if pi >= 0 && pi < len(r.Values) {
			row.Patient = r.Values[pi]
		}
		p.Rows = append(p.Rows, row)
	}
	if q.Text == "" && q.Patient == "" {
		p.Total = b.total(ctx, q)
	} else if page.Next == "" {
		p.Total = int64(q.Offset + len(page.Rows))
	}
	return p, nil
}

func filter(q core.RecordQuery) ResourceFilter {
	return ResourceFilter{ExportID: q.ExportID, Type: q.Type, Patient: q.Patient, Query: q.Text, Limit: q.Limit}
}

// pageLimit is q's page size, DefaultPageSize when unset.
func pageLimit(q core.RecordQuery) int {
	if q.Limit <= 0 {
		return DefaultPageSize
	}
	return q.Limit
}

func (b *Browser) tombstones(ctx context.Context, q core.RecordQuery) (*core.RecordPage, error) {
	total, err := b.DeletedCount(ctx, q.ExportID)
	if err != nil {
		return nil, err
	}
	rows, err := b.DB.reader.QueryContext(ctx, `SELECT export_id, line, type, res_id FROM tombstones
		WHERE ? = 0 OR export_id = ? ORDER BY id LIMIT ? OFFSET ?`, q.ExportID, q.ExportID, pageLimit(q), max(q.Offset, 0))
	if err != nil {
		return nil, fmt.Errorf("tombstones: %w", err)
	}
	defer rows.Close()
	p := &core.RecordPage{Columns: []string{"resourceType", "id", "export", "line"}, Total: total}
	for rows.Next() {
		var t Tombstone
		if err := rows.Scan(&t.ExportID, &t.Line, &t.Type, &t.ID); err != nil {
			return nil, fmt.Errorf("tombstones: %w", err)
		}
		p.Rows = append(p.Rows, core.RecordRow{Type: t.Type, ID: t.ID, Ref: t.Line,
			Cells: []string{t.Type, t.ID, strconv.FormatInt(t.ExportID, 10), strconv.FormatInt(t.Line, 10)}})
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("tombstones: %w", err)
	}
	return p, nil
}

func (b *Browser) outcomes(ctx context.Context, q core.RecordQuery) (*core.RecordPage, error) {
	total, err := b.ErrorCount(ctx, q.ExportID)
	if err != nil {
		return nil, err
	}
	rows, err := b.DB.reader.QueryContext(ctx, `SELECT export_id, file_id, line, severity, raw FROM outcomes
		WHERE ? = 0 OR export_id = ? ORDER BY export_id, file_id, line LIMIT ? OFFSET ?`,
		q.ExportID, q.ExportID, pageLimit(q), max(q.Offset, 0))
	if err != nil {
		return nil, fmt.Errorf("error lines: %w", err)
	}
	defer rows.Close()
	p := &core.RecordPage{Columns: []string{"severity", "diagnostics", "export", "line"}, Total: total}
	for rows.Next() {
		var o Outcome
		var raw string
		if err := rows.Scan(&o.ExportID, &o.FileID, &o.Line, &o.Severity, &raw); err != nil {
			return nil, fmt.Errorf("error lines: %w", err)
		}
		var text string
		if oo, err := core.ParseOutcome([]byte(raw)); err == nil {
			text = oo.Text()
		}
		p.Rows = append(p.Rows, core.RecordRow{Type: "OperationOutcome", ID: fmt.Sprintf("%d:%d", o.ExportID, o.Line),
			Ref:   outcomeRef(o.FileID, o.Line),
			Cells: []string{o.Severity, text, strconv.FormatInt(o.ExportID, 10), strconv.FormatInt(o.Line, 10)}})
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("error lines: %w", err)
	}
	return p, nil
}

// total counts a plain type (or all types) from the cheap per-type counts.
func (b *Browser) total(ctx context.Context, q core.RecordQuery) int64 {
	counts, err := b.DB.Counts(ctx, q.ExportID)
	if err != nil {
		return -1
	}
	var n int64
	for _, tc := range counts {
		if q.Type == "" || tc.Type == q.Type {
			n += tc.Count
		}
	}
	return n
}

// cursor returns the cursor of the page at q.Offset, walking forward from
// the nearest known page if it has to (only after a jump).
func (b *Browser) cursor(ctx context.Context, q core.RecordQuery) (string, error) {
	key := fmt.Sprint(q.Kind, q.ExportID, q.Type, q.Patient, q.Text, q.Limit)
	b.mu.Lock()
	if key != b.key || b.cursors == nil {
		b.key, b.cursors = key, map[int]string{0: ""}
	}
	after, ok := b.cursors[q.Offset]
	best := 0
	for off := range b.cursors {
		if off <= q.Offset && off > best {
			best = off
		}
	}
	start := b.cursors[best]
	b.mu.Unlock()
	if ok {
		return after, nil
	}
	f := filter(q)
	f.After = start
	for off := best; off < q.Offset; {
		page, err := b.DB.Resources(ctx, f)
		if err != nil {
			return "", err
		}
		if page.Next == "" {
			return "", fmt.Errorf("page at row %d: no such page", q.Offset)
		}
		off += len(page.Rows)
		f.After = page.Next
		b.mu.Lock()
		b.cursors[off] = page.Next
		b.mu.Unlock()
	}
	return f.After, nil
}

// Resource returns one record's JSON exactly as stored; a tombstone, which
// has no stored body, as a short note.
func (b *Browser) Resource(ctx context.Context, kind core.RecordKind, row core.RecordRow) ([]byte, error) {
	switch kind {
	case core.RecordsDeleted:
		return json.Marshal(map[string]any{"resourceType": row.Type, "id": row.ID, "deleted": true,
			"note": "Deleted on the server: this is a tombstone from the export's deleted[] files."})
	case core.RecordsErrors:
		var raw string
		err := b.DB.reader.QueryRowContext(ctx, `SELECT raw FROM outcomes WHERE file_id = ? AND line = ?`,
			row.Ref>>32, row.Ref&(1<<32-1)).Scan(&raw)
		if err != nil {
			return nil, fmt.Errorf("error line %s: %w", row.ID, err)
		}
		return []byte(raw), nil
	}
	r, err := b.DB.ResourceAt(ctx, row.Ref)
	if err != nil {
		return nil, err
	}
	return r.Raw, nil
}

// Write writes every resource q selects as NDJSON (exact bytes) or CSV.
func (b *Browser) Write(ctx context.Context, w io.Writer, q core.RecordQuery, format string) (int64, error) {
	f := filter(q)
	f.Limit = 0
	var n int
	var err error
	if format == core.FormatCSV {
		n, err = b.DB.ExportCSV(ctx, w, f)
	} else {
		n, err = b.DB.ExportNDJSON(ctx, w, f)
	}
	return int64(n), err
}
