package ui

import (
	"context"
	"io"
	"time"

	"tranche.dev/tranche/core/profile"
	"tranche.dev/tranche/core/shape"
	"tranche.dev/tranche/core/views"
)

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

// Table export formats for Views.Export.
const (
	TableCSV     = "csv"
	TableNDJSON  = "ndjson"
	TableParquet = "parquet"
)

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

// Views runs SQL on FHIR views over the catalogue (core/views,
// core/tables, core/catalog). def is a ViewDefinition's JSON; the methods
// validate it and return a *views.Error for a fault in it. onProgress may
// be called from any goroutine.
type Views interface {
	// Library lists the built-in views and the user's own.
	Library(ctx context.Context) ([]ViewSummary, error)
	// SaveView saves def in the catalogue under its name without running
	// it: a new view (true), or a new version of the saved view of that
	// name.
	SaveView(ctx context.Context, def []byte) (bool, error)
	// RenameView renames a saved view (and its name element); its table,
	// if any, keeps its name.
	RenameView(ctx context.Context, old, name string) error
	// DeleteView deletes a saved view; its table, if any, stays.
	DeleteView(ctx context.Context, name string) error
	// Tables lists the materialised tables.
	Tables(ctx context.Context) ([]ViewTable, error)
	// Paths samples at most a bounded number of resources of type resource.
	Paths(ctx context.Context, resource string) (*PathSample, error)
	// Preview runs def over the catalogue, keeping the first limit rows.
	Preview(ctx context.Context, def []byte, limit int) (*Preview, error)
	// Materialise stores def's rows as a table named after the view.
	Materialise(ctx context.Context, def []byte, onProgress func(RunStats)) (RunStats, error)
	// Export writes def's rows to w as CSV, NDJSON or Parquet.
	Export(ctx context.Context, def []byte, w io.Writer, format string, onProgress func(RunStats)) (RunStats, error)
	// Profile summarises one column.
	Profile(ctx context.Context, src ProfileSource, column string) (*profile.Profile, error)
	// TableRows reads a page of a materialised table's rows whose text
	// contains search (all rows when search is ""). Total may be -1
	// (unknown) for a search: TableCount counts its matches.
	TableRows(ctx context.Context, table, search string, offset, limit int) (*TablePage, error)
	// TableCount counts a materialised table's rows whose text contains
	// search.
	TableCount(ctx context.Context, table, search string) (int64, error)
	// Demographics reads one patient's row of the built-in demographics
	// view; ref is "Patient/123". Returns core.ErrNotFound when the
	// catalogue has no such patient.
	Demographics(ctx context.Context, ref string) (map[string]any, error)
	// WriteTable writes a materialised table as CSV, NDJSON or Parquet.
	WriteTable(ctx context.Context, table string, w io.Writer, format string) (int64, error)
}
