package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"

	"tranche.dev/tranche/core/catalog"
	"tranche.dev/tranche/core/profile"
	"tranche.dev/tranche/core/shape"
	"tranche.dev/tranche/core/tables"
	"tranche.dev/tranche/core/viewlib"
	"tranche.dev/tranche/core/views"
	"tranche.dev/tranche/ui"
)

// pathSampleSize bounds how many resources the builder's path tree reads.
const pathSampleSize = 500

// errStop ends a walk early once it has what it needs.
var errStop = errors.New("stop")

// guiViews adapts core/views, core/tables and the catalogue's view tables
// to ui.Views.
type guiViews struct {
	db *catalog.DB
}

var _ ui.Views = (*guiViews)(nil)

func viewColumns(cs []tables.Column) []views.Column {
	out := make([]views.Column, len(cs))
	for i, c := range cs {
		out[i] = views.Column{Name: c.Name, Type: c.Type, Collection: c.Collection, Description: c.Description}
	}
	return out
}

func uiTable(t *catalog.ViewTable) ui.ViewTable {
	return ui.ViewTable{Name: t.Name, Resource: t.Resource, Columns: viewColumns(tables.TableColumns(t)),
		Rows: t.Rows, Problems: t.Problems, BuiltAt: t.BuiltAt, Stale: t.Stale()}
}

func (g *guiViews) Tables(ctx context.Context) ([]ui.ViewTable, error) {
	ts, err := g.db.ViewTables(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]ui.ViewTable, len(ts))
	for i, t := range ts {
		out[i] = uiTable(t)
	}
	return out, nil
}

// Library lists the built-in views, the views saved in the catalogue and
// the tables neither made (tables.Library).
func (g *guiViews) Library(ctx context.Context) ([]ui.ViewSummary, error) {
	lib, err := tables.Library(ctx, g.db)
	if err != nil {
		return nil, err
	}
	out := make([]ui.ViewSummary, len(lib))
	for i, e := range lib {
		s := ui.ViewSummary{Name: e.Name, Title: e.Title, Description: e.Description, Resource: e.Resource,
			BuiltIn: e.BuiltIn, Saved: e.Saved != nil, Columns: viewColumns(e.Columns), JSON: e.JSON,
			TableOtherVersion: e.TableOtherVersion}
		if e.Saved != nil {
			s.Updated = e.Saved.Updated
		}
		if e.Table != nil {
			t := uiTable(e.Table)
			s.Table = &t
		}
		out[i] = s
	}
	return out, nil
}

func (g *guiViews) SaveView(ctx context.Context, def []byte) (bool, error) {
	_, created, err := tables.SaveView(ctx, g.db, def)
	return created, err
}

func (g *guiViews) RenameView(ctx context.Context, old, name string) error {
	_, err := tables.RenameView(ctx, g.db, old, name)
	return err
}

func (g *guiViews) DeleteView(ctx context.Context, name string) error {
	return g.db.DeleteViewDef(ctx, name)
}

func (g *guiViews) Paths(ctx context.Context, resource string) (*ui.PathSample, error) {
	var s shape.Sampler
	err := g.db.EachResource(ctx, catalog.ResourceFilter{Type: resource}, func(_ string, raw []byte) error {
		if s.Resources() >= pathSampleSize {
			return errStop
		}
		return s.Add(raw)
	})
	if err != nil && !errors.Is(err, errStop) {
		return nil, fmt.Errorf("paths of %s: %w", resource, err)
	}
	return &ui.PathSample{Resource: resource, Resources: s.Resources(), Paths: s.Paths()}, nil
}

// previewWriter keeps the first rows and counts the rest.
type previewWriter struct {
	limit int
	rows  [][]any
	total int64
}

func (w *previewWriter) Write(row []any) error {
	w.total++
	if len(w.rows) < w.limit {
		w.rows = append(w.rows, row)
	}
	return nil
}

func (w *previewWriter) Close() error { return nil }

func (g *guiViews) Preview(ctx context.Context, def []byte, limit int) (*ui.Preview, error) {
	v, err := tables.Compile(def)
	if err != nil {
		return nil, err
	}
	w := &previewWriter{limit: limit}
	var r tables.Runner
	st, err := r.Run(ctx, v, tables.CatalogInput(g.db, 0, v.Resource()), w)
	if err != nil {
		return nil, err
	}
	p := &ui.Preview{Columns: v.View.Columns(), Rows: w.rows, Total: w.total, Resources: st.Resources, Problems: st.Problems}
	if len(st.Examples) > 0 {
		var ex []string
		for _, e := range st.Examples {
			ex = append(ex, e.Error())
		}
		p.Example = strings.Join(ex, "\n")
	}
	return p, nil
}

// runner reports progress against the number of resources of the view's
// type, so the UI can show a bar.
func (g *guiViews) runner(ctx context.Context, resource string, onProgress func(ui.RunStats)) *tables.Runner {
	var total int64
	if counts, err := g.db.Counts(ctx, 0); err == nil {
		for _, c := range counts {
			if c.Type == resource {
				total = c.Count
			}
		}
	}
	return &tables.Runner{OnProgress: func(st tables.Stats) {
		if onProgress != nil {
			onProgress(ui.RunStats{Resources: st.Resources, Rows: st.Rows, Problems: st.Problems, Total: total})
		}
	}}
}

func runStats(st tables.Stats) ui.RunStats {
	return ui.RunStats{Resources: st.Resources, Rows: st.Rows, Problems: st.Problems}
}

func (g *guiViews) Materialise(ctx context.Context, def []byte, onProgress func(ui.RunStats)) (ui.RunStats, error) {
	v, err := tables.Compile(def)
	if err != nil {
		return ui.RunStats{}, err
	}
	if v.Name() == "" {
		return ui.RunStats{}, errors.New("the view needs a name to name its table")
	}
	st, err := g.runner(ctx, v.Resource(), onProgress).Materialise(ctx, g.db, v, 0)
	return runStats(st), err
}

func (g *guiViews) Export(ctx context.Context, def []byte, w io.Writer, format string, onProgress func(ui.RunStats)) (ui.RunStats, error) {
	v, err := tables.Compile(def)
	if err != nil {
		return ui.RunStats{}, err
	}
	tw, err := newTableWriter(w, format, cmpOr(v.Name(), "view"), v.Resource(), v.Columns())
	if err != nil {
		return ui.RunStats{}, err
	}
	st, err := g.runner(ctx, v.Resource(), onProgress).Run(ctx, v, tables.CatalogInput(g.db, 0, v.Resource()), tw)
	if err != nil {
		return runStats(st), err
	}
	return runStats(st), tw.Close()
}

// profileWriter feeds one column to a profiler.
type profileWriter struct {
	col int
	p   *profile.Profiler
}

func (w *profileWriter) Write(row []any) error { w.p.Add(row[w.col]); return nil }
func (w *profileWriter) Close() error          { return nil }

func (g *guiViews) Profile(ctx context.Context, src ui.ProfileSource, column string) (*profile.Profile, error) {
	find := func(cols []tables.Column) (int, string, error) {
		for i, c := range cols {
			if c.Name == column {
				return i, c.Type, nil
			}
		}
		return 0, "", fmt.Errorf("profile: no column %q", column)
	}
	if src.Table != "" {
		t, err := g.db.FindViewTable(ctx, src.Table)
		if err != nil {
			return nil, err
		}
		i, typ, err := find(tables.TableColumns(t))
		if err != nil {
			return nil, err
		}
		w := &profileWriter{col: i, p: &profile.Profiler{Type: typ}}
		if err := g.db.ViewTableRows(ctx, src.Table, w.Write); err != nil {
			return nil, err
		}
		p := w.p.Profile()
		return &p, nil
	}
	v, err := tables.Compile(src.View)
	if err != nil {
		return nil, err
	}
	i, typ, err := find(v.Columns())
	if err != nil {
		return nil, err
	}
	w := &profileWriter{col: i, p: &profile.Profiler{Type: typ}}
	var r tables.Runner
	if _, err := r.Run(ctx, v, tables.CatalogInput(g.db, 0, v.Resource()), w); err != nil {
		return nil, err
	}
	p := w.p.Profile()
	return &p, nil
}

// TableRows reads a page of a view table: SQLite seeks it by rowid, or
// reads only as far as the page's last match of a search. A search's page
// comes without its total (-1): TableCount counts the matches.
func (g *guiViews) TableRows(ctx context.Context, table, search string, offset, limit int) (*ui.TablePage, error) {
	t, err := g.db.FindViewTable(ctx, table)
	if err != nil {
		return nil, err
	}
	page := &ui.TablePage{Columns: viewColumns(tables.TableColumns(t))}
	if search == "" {
		page.Rows, page.Total, err = g.db.ViewTablePage(ctx, table, offset, limit)
		return page, err
	}
	page.Total = -1
	page.Rows, err = g.db.ViewTableSearch(ctx, table, search, offset, limit)
	return page, err
}

func (g *guiViews) TableCount(ctx context.Context, table, search string) (int64, error) {
	return g.db.ViewTableCount(ctx, table, search)
}

func (g *guiViews) WriteTable(ctx context.Context, table string, w io.Writer, format string) (int64, error) {
	t, err := g.db.FindViewTable(ctx, table)
	if err != nil {
		return 0, err
	}
	tw, err := newTableWriter(w, format, t.Name, t.Resource, tables.TableColumns(t))
	if err != nil {
		return 0, err
	}
	n, err := tables.CopyViewTable(ctx, g.db, table, tw)
	if err != nil {
		return n, err
	}
	return n, tw.Close()
}

func cmpOr(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

func (g *guiViews) Demographics(ctx context.Context, ref string) (map[string]any, error) {
	id, ok := strings.CutPrefix(ref, "Patient/")
	if !ok {
		return nil, fmt.Errorf("demographics: %q is not a Patient reference", ref)
	}
	r, err := g.db.Resource(ctx, "Patient", id)
	if err != nil {
		return nil, err
	}
	lib, ok := viewlib.Lookup("patient_demographics")
	if !ok {
		return nil, errors.New("demographics: no built-in patient_demographics view")
	}
	v, err := views.Parse(lib.JSON)
	if err != nil {
		return nil, fmt.Errorf("demographics: %w", err)
	}
	rows, err := v.Rows(r.Raw)
	if err != nil {
		return nil, fmt.Errorf("demographics of %s: %w", ref, err)
	}
	out := map[string]any{}
	if len(rows) > 0 {
		for i, c := range v.Columns() {
			out[c.Name] = rows[0][i]
		}
	}
	return out, nil
}
