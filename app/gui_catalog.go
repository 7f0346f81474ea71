package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strconv"
	"sync"

	"tranche.dev/tranche/core/catalog"
	"tranche.dev/tranche/ui"
)

// maxEntries bounds how many tombstones or error entries the browser lists.
const maxEntries = 100_000

// guiCatalog adapts catalog.DB to ui.Catalog. The catalogue pages by key
// (a cursor per page, never OFFSET), so the adapter remembers the cursor
// that starts each page of the current query: Next and Previous cost one
// page read each, whatever the table's size.
type guiCatalog struct {
	db *catalog.DB

	mu      sync.Mutex
	key     string         // the query the cursors belong to
	cursors map[int]string // offset → cursor of the page starting there
}

var _ ui.Catalog = (*guiCatalog)(nil)

func (c *guiCatalog) Counts(ctx context.Context, exportID int64) ([]ui.TypeCount, error) {
	counts, err := c.db.Counts(ctx, exportID)
	if err != nil {
		return nil, err
	}
	out := make([]ui.TypeCount, len(counts))
	for i, tc := range counts {
		out[i] = ui.TypeCount{Type: tc.Type, Count: tc.Count}
	}
	return out, nil
}

// exportIDs is the one export asked for, or every export for the latest view
// (tombstones and outcomes belong to the export that brought them).
func (c *guiCatalog) exportIDs(ctx context.Context, exportID int64) ([]int64, error) {
	if exportID != 0 {
		return []int64{exportID}, nil
	}
	exps, err := c.db.FindExports(ctx, 0)
	if err != nil {
		return nil, err
	}
	ids := make([]int64, len(exps))
	for i, e := range exps {
		ids[i] = e.ID
	}
	return ids, nil
}

func (c *guiCatalog) DeletedCount(ctx context.Context, exportID int64) (int64, error) {
	rows, err := c.tombstones(ctx, exportID)
	return int64(len(rows)), err
}

func (c *guiCatalog) ErrorCount(ctx context.Context, exportID int64) (int64, error) {
	rows, err := c.outcomes(ctx, exportID)
	return int64(len(rows)), err
}

func (c *guiCatalog) tombstones(ctx context.Context, exportID int64) ([]catalog.Tombstone, error) {
	ids, err := c.exportIDs(ctx, exportID)
	if err != nil {
		return nil, err
	}
	var all []catalog.Tombstone
	for _, id := range ids {
		ts, err := c.db.Tombstones(ctx, id, maxEntries-len(all))
		if err != nil {
			return nil, err
		}
		if all = append(all, ts...); len(all) >= maxEntries {
			break
		}
	}
	return all, nil
}

func (c *guiCatalog) outcomes(ctx context.Context, exportID int64) ([]catalog.Outcome, error) {
	ids, err := c.exportIDs(ctx, exportID)
	if err != nil {
		return nil, err
	}
	var all []catalog.Outcome
	for _, id := range ids {
		os, err := c.db.Outcomes(ctx, id, maxEntries-len(all))
		if err != nil {
			return nil, err
		}
		if all = append(all, os...); len(all) >= maxEntries {
			break
		}
	}
	return all, nil
}

func filter(q ui.Query) catalog.ResourceFilter {
	return catalog.ResourceFilter{ExportID: q.ExportID, Type: q.Type, Patient: q.Patient, Query: q.Text, Limit: q.Limit}
}

func (c *guiCatalog) Records(ctx context.Context, q ui.Query) (*ui.Page, error) {
	switch q.Kind {
	case ui.KindDeleted:
		ts, err := c.tombstones(ctx, q.ExportID)
		if err != nil {
			return nil, err
		}
		p := &ui.Page{Columns: []string{"resourceType", "id", "export", "line"}, Total: int64(len(ts))}
		for _, i := range window(len(ts), q) {
			t := ts[i]
			p.Rows = append(p.Rows, ui.Row{Type: t.Type, ID: t.ID, Ref: int64(t.Line),
				Cells: []string{t.Type, t.ID, strconv.FormatInt(t.ExportID, 10), strconv.FormatInt(t.Line, 10)}})
		}
		return p, nil
	case ui.KindErrors:
		os, err := c.outcomes(ctx, q.ExportID)
		if err != nil {
			return nil, err
		}
		p := &ui.Page{Columns: []string{"severity", "diagnostics", "export", "line"}, Total: int64(len(os))}
		for _, i := range window(len(os), q) {
			o := os[i]
			p.Rows = append(p.Rows, ui.Row{Type: "OperationOutcome", ID: fmt.Sprintf("%d:%d", o.ExportID, o.Line), Ref: int64(i),
				Cells: []string{o.Severity, diagnostics(o.Raw), strconv.FormatInt(o.ExportID, 10), strconv.FormatInt(o.Line, 10)}})
		}
		return p, nil
	}
	if q.Text != "" {
		// Search sees only indexed rows: index what the last export added.
		if _, err := c.db.Reindex(ctx); err != nil {
			return nil, err
		}
	}
	after, err := c.cursor(ctx, q)
	if err != nil {
		return nil, err
	}
	f := filter(q)
	f.After = after
	page, err := c.db.Resources(ctx, f)
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	if page.Next != "" {
		c.cursors[q.Offset+len(page.Rows)] = page.Next
	}
	c.mu.Unlock()
	p := &ui.Page{Columns: page.Columns, Total: -1}
	pi := slices.Index(page.Columns, "patient")
	for _, r := range page.Rows {
		row := ui.Row{Type: r.Type, ID: r.ID, Ref: r.RowID, Cells: r.Values}
		if pi >= 0 && pi < len(r.Values) {
			row.Patient = r.Values[pi]
		}
		p.Rows = append(p.Rows, row)
	}
	if q.Text == "" && q.Patient == "" {
		p.Total = c.total(ctx, q)
	} else if page.Next == "" {
		p.Total = int64(q.Offset + len(page.Rows))
	}
	return p, nil
}

// total counts a plain type (or all types) from the cheap per-type counts.
func (c *guiCatalog) total(ctx context.Context, q ui.Query) int64 {
	counts, err := c.db.Counts(ctx, q.ExportID)
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
func (c *guiCatalog) cursor(ctx context.Context, q ui.Query) (string, error) {
	key := fmt.Sprint(q.Kind, q.ExportID, q.Type, q.Patient, q.Text, q.Limit)
	c.mu.Lock()
	if key != c.key || c.cursors == nil {
		c.key, c.cursors = key, map[int]string{0: ""}
	}
	after, ok := c.cursors[q.Offset]
	best := 0
	for off := range c.cursors {
		if off <= q.Offset && off > best {
			best = off
		}
	}
	start := c.cursors[best]
	c.mu.Unlock()
	if ok {
		return after, nil
	}
	f := filter(q)
	f.After = start
	for off := best; off < q.Offset; {
		page, err := c.db.Resources(ctx, f)
		if err != nil {
			return "", err
		}
		if page.Next == "" {
			return "", fmt.Errorf("page at row %d: no such page", q.Offset)
		}
		off += len(page.Rows)
		f.After = page.Next
		c.mu.Lock()
		c.cursors[off] = page.Next
		c.mu.Unlock()
	}
	return f.After, nil
}

// window is the indexes of the rows q's page covers, of n.
func window(n int, q ui.Query) []int {
	var out []int
	for i := q.Offset; i < n && i < q.Offset+q.Limit; i++ {
		out = append(out, i)
	}
	return out
}

// diagnostics is the first issue's diagnostics (or code) of an
// OperationOutcome.
func diagnostics(raw []byte) string {
	var oo struct {
		Issue []struct {
			Code        string `json:"code"`
			Diagnostics string `json:"diagnostics"`
		} `json:"issue"`
	}
	if json.Unmarshal(raw, &oo) != nil || len(oo.Issue) == 0 {
		return ""
	}
	if oo.Issue[0].Diagnostics != "" {
		return oo.Issue[0].Diagnostics
	}
	return oo.Issue[0].Code
}

func (c *guiCatalog) Resource(ctx context.Context, kind string, row ui.Row) ([]byte, error) {
	switch kind {
	case ui.KindDeleted:
		return json.Marshal(map[string]any{"resourceType": row.Type, "id": row.ID, "deleted": true,
			"note": "Deleted on the server: this is a tombstone from the export's deleted[] files."})
	case ui.KindErrors:
		os, err := c.outcomes(ctx, 0)
		if err != nil {
			return nil, err
		}
		for _, o := range os {
			if fmt.Sprintf("%d:%d", o.ExportID, o.Line) == row.ID {
				return o.Raw, nil
			}
		}
		return nil, fmt.Errorf("error entry %s: not found", row.ID)
	}
	r, err := c.db.ResourceAt(ctx, row.Ref)
	if err != nil {
		return nil, err
	}
	return r.Raw, nil
}

func (c *guiCatalog) Write(ctx context.Context, w io.Writer, q ui.Query, format string) (int64, error) {
	f := filter(q)
	f.Limit = 0
	var n int
	var err error
	if format == ui.FormatCSV {
		n, err = c.db.ExportCSV(ctx, w, f)
	} else {
		n, err = c.db.ExportNDJSON(ctx, w, f)
	}
	return int64(n), err
}
