package tables

import (
	"fmt"
	"io"
)

// Output formats a view's rows are written in.
const (
	FormatCSV     = "csv"
	FormatNDJSON  = "ndjson"
	FormatParquet = "parquet"
)

// NewWriter returns the writer of format for a view named name over
// resource with columns cols.
func NewWriter(w io.Writer, format, name, resource string, cols []Column) (Writer, error) {
	switch format {
	case FormatCSV:
		return NewCSVWriter(w, cols)
	case FormatNDJSON:
		return NewNDJSONWriter(w, cols), nil
	case FormatParquet:
		return NewParquetWriter(w, name, resource, cols)
	}
	return nil, fmt.Errorf("unknown format %q: want csv, ndjson or parquet", format)
}
