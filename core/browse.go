package core

import (
	"context"
	"io"
)

// RecordKind says which records of the catalogue a query reads.
type RecordKind string

// Record kinds the catalogue browser shows.
const (
	RecordsResources RecordKind = ""        // stored resources (the latest view, or one export's)
	RecordsDeleted   RecordKind = "deleted" // tombstones from deleted[] files
	RecordsErrors    RecordKind = "errors"  // OperationOutcome lines from error[] files
	RecordsTable     RecordKind = "table"   // a materialised view table; RecordQuery.Type is its name
)

// RecordQuery selects catalogue records. Zero fields do not filter.
type RecordQuery struct {
	Kind     RecordKind
	ExportID int64 // 0: the latest view across exports
	Type     string
	Patient  string // "Patient/123": everything for one patient
	Text     string // full-text search
	Offset   int
	Limit    int
}

// TypeCount is how many records of one type an export (or the latest
// view) holds.
type TypeCount struct {
	Type  string
	Count int64
}

// RecordPage is one page of records as table rows.
type RecordPage struct {
	Columns []string // column headings; the first two are always type and id
	Rows    []RecordRow
	Total   int64 // rows matching the query, or -1 when unknown
}

// RecordRow is one record. Cells line up with RecordPage.Columns.
type RecordRow struct {
	Type    string
	ID      string
	Patient string // "Patient/123" or ""
	Ref     int64  // the catalogue's handle on this stored version
	Cells   []string
}

// Formats a browser writes records in.
const (
	FormatNDJSON = "ndjson"
	FormatCSV    = "csv"
)

// Browser reads the catalogue a page at a time, for the desktop app's
// browser (core/catalog.Browser).
type Browser interface {
	Counts(ctx context.Context, exportID int64) ([]TypeCount, error)
	// DeletedCount and ErrorCount count tombstones and error lines.
	DeletedCount(ctx context.Context, exportID int64) (int64, error)
	ErrorCount(ctx context.Context, exportID int64) (int64, error)
	Records(ctx context.Context, q RecordQuery) (*RecordPage, error)
	// Resource returns one record's JSON exactly as stored.
	Resource(ctx context.Context, kind RecordKind, r RecordRow) ([]byte, error)
	// Write writes every record q selects (ignoring Offset and Limit) as
	// NDJSON or CSV and returns how many it wrote.
	Write(ctx context.Context, w io.Writer, q RecordQuery, format string) (int64, error)
}
