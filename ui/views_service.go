package ui

import (
	"context"
	"io"

	"tranche.dev/tranche/core/profile"

	"tranche.dev/tranche/core/workbench"
)

// Views runs SQL on FHIR views over the catalogue (core/views,
// core/tables, core/catalog). def is a ViewDefinition's JSON; the methods
// validate it and return a *views.Error for a fault in it. onProgress may
// be called from any goroutine.
type Views interface {
	// Library lists the built-in views and the user's own.
	Library(ctx context.Context) ([]workbench.ViewSummary, error)
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
	Tables(ctx context.Context) ([]workbench.ViewTable, error)
	// Paths samples at most a bounded number of resources of type resource.
	Paths(ctx context.Context, resource string) (*workbench.PathSample, error)
	// Preview runs def over the catalogue, keeping the first limit rows.
	Preview(ctx context.Context, def []byte, limit int) (*workbench.Preview, error)
	// Materialise stores def's rows as a table named after the view.
	Materialise(ctx context.Context, def []byte, onProgress func(workbench.RunStats)) (workbench.RunStats, error)
	// Export writes def's rows to w as CSV, NDJSON or Parquet.
	Export(ctx context.Context, def []byte, w io.Writer, format string, onProgress func(workbench.RunStats)) (workbench.RunStats, error)
	// Profile summarises one column.
	Profile(ctx context.Context, src workbench.ProfileSource, column string) (*profile.Profile, error)
	// TableRows reads a page of a materialised table's rows whose text
	// contains search (all rows when search is ""). Total may be -1
	// (unknown) for a search: TableCount counts its matches.
	TableRows(ctx context.Context, table, search string, offset, limit int) (*workbench.TablePage, error)
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
