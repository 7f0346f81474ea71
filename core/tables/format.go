package tables

import (
	"fmt"
	"io"
	"path/filepath"
	"strings"

	"tranche.dev/tranche/core"
)

// Output formats a view's rows are written in; CSV and NDJSON are the
// catalogue browser's too (core.FormatCSV, core.FormatNDJSON).
const (
	FormatCSV     = core.FormatCSV
	FormatNDJSON  = core.FormatNDJSON
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

// exts are the file extensions of the formats, the first the one written.
var exts = map[string][]string{
	FormatCSV:     {".csv"},
	FormatNDJSON:  {".ndjson", ".jsonl"},
	FormatParquet: {".parquet"},
}

// Ext is the file extension format's files get: ".csv", ".ndjson" or
// ".parquet"; "" for an unknown format.
func Ext(format string) string {
	if e := exts[format]; len(e) > 0 {
		return e[0]
	}
	return ""
}

// FormatOf is the format a file name's extension names, else def.
func FormatOf(name, def string) string {
	ext := strings.ToLower(filepath.Ext(name))
	for f, es := range exts {
		for _, e := range es {
			if e == ext {
				return f
			}
		}
	}
	return def
}
