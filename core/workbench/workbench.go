// Package workbench is the views workbench over the catalogue: the
// library of built-in and saved views, sampled paths for the builder,
// previews, runs into tables and files, column profiles, and pages of the
// tables made. The desktop app's Views tab drives it (Views).
package workbench

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"tranche.dev/tranche/core"
	"tranche.dev/tranche/core/catalog"
	"tranche.dev/tranche/core/profile"
	"tranche.dev/tranche/core/shape"
	"tranche.dev/tranche/core/tables"
	"tranche.dev/tranche/core/viewlib"
	"tranche.dev/tranche/core/views"
)

// pathSampleSize bounds how many resources the builder's path tree reads.
const pathSampleSize = 500

// errStop ends a walk early once it has what it needs.
var errStop = errors.New("stop")

// Workbench runs views over one catalogue.
type Workbench struct {
	DB *catalog.DB
}

func viewColumns(cs []tables.Column) []views.Column {
	out := make([]views.Column, len(cs))
	for i, c := range cs {
		out[i] = views.Column{Name: c.Name, Type: c.Type, Collection: c.Collection, Description: c.Description}
	}
	return out
}

func viewTable(t *catalog.ViewTable) ViewTable {
	return ViewTable{Name: t.Name, Resource: t.Resource, Columns: viewColumns(tables.TableColumns(t)),
		Rows: t.Rows, Problems: t.Problems, BuiltAt: t.BuiltAt, Stale: t.Stale()}
}

func (g *Workbench) Tables(ctx context.Context) ([]ViewTable, error) {
	ts, err := g.DB.ViewTables(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]ViewTable, len(ts))
	for i, t := range ts {
		out[i] = viewTable(t)
	}
	return out, nil
}

// Library lists the built-in views, the views saved in the catalogue and
// the tables neither made (tables.Library).
func (g *Workbench) Library(ctx context.Context) ([]ViewSummary, error) {
	lib, err := tables.Library(ctx, g.DB)
	if err != nil {
		return nil, err
	}
	out := make([]ViewSummary, len(lib))
	for i, e := range lib {
		s := ViewSummary{Name: e.Name, Title: e.Title, Description: e.Description, Resource: e.Resource,
			BuiltIn: e.BuiltIn, Saved: e.Saved != nil, Columns: viewColumns(e.Columns), JSON: e.JSON,
			TableOtherVersion: e.TableOtherVersion}
		if e.Saved != nil {
			s.Updated = e.Saved.Updated
		}
		if e.Table != nil {
			t := viewTable(e.Table)
			s.Table = &t
		}
		out[i] = s
	}
	return out, nil
}

func (g *Workbench) SaveView(ctx context.Context, def []byte) (bool, error) {
	_, created, err := tables.SaveView(ctx, g.DB, def)
	return created, err
}

func (g *Workbench) RenameView(ctx context.Context, old, name string) error {
	_, err := tables.RenameView(ctx, g.DB, old, name)
	return err
}

func (g *Workbench) DeleteView(ctx context.Context, name string) error {
	return g.DB.DeleteViewDef(ctx, name)
}

func (g *Workbench) Paths(ctx context.Context, resource string) (*PathSample, error) {
	var s shape.Sampler
	err := g.DB.EachResource(ctx, catalog.ResourceFilter{Type: resource}, func(_ string, raw []byte) error {
		if s.Resources() >= pathSampleSize {
			return errStop
		}
		return s.Add(raw)
	})
	if err != nil && !errors.Is(err, errStop) {
		return nil, fmt.Errorf("paths of %s: %w", resource, err)
	}
	return &PathSample{Resource: resource, Resources: s.Resources(), Paths: s.Paths()}, nil
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

func (g *Workbench) Preview(ctx context.Context, def []byte, limit int) (*Preview, error) {
	v, err := tables.Compile(def)
	if err != nil {
		return nil, err
	}
	w := &previewWriter{limit: limit}
	var r tables.Runner
	st, err := r.Run(ctx, v, tables.CatalogInput(g.DB, 0, v.Resource()), w)
	if err != nil {
		return nil, err
	}
	p := &Preview{Columns: v.View.Columns(), Rows: w.rows, Total: w.total, Resources: st.Resources, Problems: st.Problems}
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
func (g *Workbench) runner(ctx context.Context, resource string, onProgress func(RunStats)) *tables.Runner {
	var total int64
	if counts, err := g.DB.Counts(ctx, 0); err == nil {
		for _, c := range counts {
			if c.Type == resource {
				total = c.Count
			}
		}
	}
	return &tables.Runner{OnProgress: func(st tables.Stats) {
		if onProgress != nil {
			onProgress(RunStats{Resources: st.Resources, Rows: st.Rows, Problems: st.Problems, Total: total})
		}
	}}
}

func runStats(st tables.Stats) RunStats {
	return RunStats{Resources: st.Resources, Rows: st.Rows, Problems: st.Problems}
}

func (g *Workbench) Materialise(ctx context.Context, def []byte, onProgress func(RunStats)) (RunStats, error) {
	v, err := tables.Compile(def)
	if err != nil {
		return RunStats{}, err
	}
	if v.Name() == "" {
		return RunStats{}, errors.New("the view needs a name to name its table")
	}
	st, err := g.runner(ctx, v.Resource(), onProgress).Materialise(ctx, g.DB, v, 0)
	return runStats(st), err
}

func (g *Workbench) Export(ctx context.Context, def []byte, w io.Writer, format string, onProgress func(RunStats)) (RunStats, error) {
	v, err := tables.Compile(def)
	if err != nil {
		return RunStats{}, err
	}
	tw, err := tables.NewWriter(w, format, cmpOr(v.Name(), "view"), v.Resource(), v.Columns())
	if err != nil {
		return RunStats{}, err
	}
	st, err := g.runner(ctx, v.Resource(), onProgress).Run(ctx, v, tables.CatalogInput(g.DB, 0, v.Resource()), tw)
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

func (g *Workbench) Profile(ctx context.Context, src ProfileSource, column string) (*profile.Profile, error) {
	find := func(cols []tables.Column) (int, string, error) {
		for i, c := range cols {
			if c.Name == column {
				return i, c.Type, nil
			}
		}
		return 0, "", fmt.Errorf("profile: no column %q", column)
	}
	if src.Table != "" {
		t, err := g.DB.FindViewTable(ctx, src.Table)
		if err != nil {
			return nil, err
		}
		i, typ, err := find(tables.TableColumns(t))
		if err != nil {
			return nil, err
		}
		w := &profileWriter{col: i, p: &profile.Profiler{Type: typ}}
		if err := g.DB.ViewTableRows(ctx, src.Table, w.Write); err != nil {
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
	if _, err := r.Run(ctx, v, tables.CatalogInput(g.DB, 0, v.Resource()), w); err != nil {
		return nil, err
	}
	p := w.p.Profile()
	return &p, nil
}

// TableRows reads a page of a view table: SQLite seeks it by rowid, or
// reads only as far as the page's last match of a search. A search's page
// comes without its total (-1): TableCount counts the matches.
func (g *Workbench) TableRows(ctx context.Context, table, search string, offset, limit int) (*TablePage, error) {
	t, err := g.DB.FindViewTable(ctx, table)
	if err != nil {
		return nil, err
	}
	page := &TablePage{Columns: viewColumns(tables.TableColumns(t))}
	if search == "" {
		page.Rows, page.Total, err = g.DB.ViewTablePage(ctx, table, offset, limit)
		return page, err
	}
	page.Total = -1
	page.Rows, err = g.DB.ViewTableSearch(ctx, table, search, offset, limit)
	return page, err
}

func (g *Workbench) TableCount(ctx context.Context, table, search string) (int64, error) {
	return g.DB.ViewTableCount(ctx, table, search)
}

func (g *Workbench) WriteTable(ctx context.Context, table string, w io.Writer, format string) (int64, error) {
	t, err := g.DB.FindViewTable(ctx, table)
	if err != nil {
		return 0, err
	}
	tw, err := tables.NewWriter(w, format, t.Name, t.Resource, tables.TableColumns(t))
	if err != nil {
		return 0, err
	}
	n, err := tables.CopyViewTable(ctx, g.DB, table, tw)
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

func (g *Workbench) Demographics(ctx context.Context, ref string) (map[string]any, error) {
	id, ok := strings.CutPrefix(ref, "Patient/")
	if !ok {
		return nil, fmt.Errorf("demographics: %q is not a Patient reference", ref)
	}
	r, err := g.DB.Resource(ctx, "Patient", id)
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

// ViewSummary is one view of the Views library: a built-in one, one the
// user saved in the catalogue, or the view a table in the catalogue was
// built from and that was never saved.
type ViewSummary struct {
	Name        string
	Title       string
	Description string
	Resource    string
	BuiltIn     bool
	Saved       bool      // saved in the catalogue (SaveView)
	Updated     time.Time // when it was last saved
	Columns     []views.Column
	JSON        []byte
	Table       *ViewTable // its materialised table; nil when there is none
	// TableOtherVersion: the table was built from another version of the
	// saved view.
	TableOtherVersion bool
}

// ViewTable is a view materialised as a table in the catalogue.
type ViewTable struct {
	Name     string
	Resource string
	Columns  []views.Column
	Rows     int64
	Problems int64
	BuiltAt  time.Time
	Stale    bool // a newer export holds resources it has not read
}

// PathSample is what a bounded sample of one resource type holds.
type PathSample struct {
	Resource  string
	Resources int // resources sampled
	Paths     []shape.Path
}

// Preview is the first rows of a view over the catalogue, with the
// counts of the whole run.
type Preview struct {
	Columns   []views.Column
	Rows      [][]any
	Total     int64 // rows in all
	Resources int64 // resources read
	Problems  int64 // resources whose expressions failed
	Example   string
}

// RunStats is what a view run has done so far, or did.
type RunStats struct {
	Resources int64
	Rows      int64
	Problems  int64
	Total     int64 // resources of the view's type to read; 0 when unknown
}

// ProfileSource is the column a profile reads: of a materialised table
// when Table is set, else of the view def run over the catalogue.
type ProfileSource struct {
	Table string
	View  []byte
}

// TablePage is one page of a materialised table's rows.
type TablePage struct {
	Columns []views.Column
	Rows    [][]any
	Total   int64
}

// ErrNoSuchView reports a view argument that names no built-in or saved
// view and no file.
var ErrNoSuchView = errors.New("no such view")

// Resolve reads a view argument as the command line takes it: a built-in
// view's name, the name of a view saved in db (when db is not nil), or a
// ViewDefinition file; and compiles it.
func Resolve(ctx context.Context, db *catalog.DB, arg string) (*tables.Compiled, error) {
	var data []byte
	if v, ok := viewlib.Lookup(arg); ok {
		data = v.JSON
	} else if d, err := findSaved(ctx, db, arg); err != nil {
		return nil, err
	} else if d != nil {
		data = d.JSON
	} else {
		if data, err = os.ReadFile(arg); errors.Is(err, os.ErrNotExist) {
			return nil, fmt.Errorf("%q is neither a built-in or saved view nor a file: %w", arg, ErrNoSuchView)
		} else if err != nil {
			return nil, err
		}
	}
	v, err := tables.Compile(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", arg, err)
	}
	return v, nil
}

// findSaved returns the view saved in db called name; nil when db is nil
// or has none.
func findSaved(ctx context.Context, db *catalog.DB, name string) (*catalog.ViewDef, error) {
	if db == nil || strings.ContainsAny(name, "/\\.") {
		return nil, nil // a file name
	}
	d, err := db.FindViewDef(ctx, name)
	if errors.Is(err, core.ErrNotFound) {
		return nil, nil
	}
	return d, err
}
