// Package tables turns a compiled SQL on FHIR view into a table: it runs
// the view over many resources in parallel (Runner), in a stable order and
// in bounded memory, and writes the rows as CSV (RFC 4180), NDJSON or
// Parquet. The catalogue's typed SQLite tables are written through the
// same Writer interface (catalog.ViewTableWriter).
//
// Values follow the view runner's convention (core/views): a row holds one
// value per column, each nil, bool, string, int64, json.Number (a FHIR
// decimal, its exact text) or, for a collection column, []any of those.
// Dates, dateTimes and instants are FHIR strings.
package tables

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
)

// Column is one column of a view's table, in output order.
type Column struct {
	Name string
	// Type is the FHIR type of the column's values (SQL on FHIR v2,
	// ViewDefinition: column.type), e.g. "string", "decimal", "dateTime";
	// "" when the view does not say.
	Type        string
	Collection  bool // each value is a list (column.collection)
	Description string
}

// View is what the runner needs of a compiled view. Rows must be safe for
// concurrent use; an error means this resource made an expression fail.
type View interface {
	Name() string
	Resource() string // the resource type the view reads
	Columns() []Column
	Rows(resource []byte) ([][]any, error)
}

// Resource is one input resource: its key, for problem reports, and its
// JSON.
type Resource struct {
	Key string // "Type/id"
	Raw []byte
}

// Input yields resources to the runner in a stable order until it returns
// an error (yield's, or its own) or runs out. yield copies what it keeps:
// Raw may be reused after yield returns.
type Input func(ctx context.Context, yield func(Resource) error) error

// Writer takes a table's rows in order. Close flushes and finishes the
// output (a Parquet footer, a committed SQLite table); a Writer whose
// Write or Close failed holds no complete table.
type Writer interface {
	Write(row []any) error
	Close() error
}

// formatScalar renders a non-nil scalar value as text: strings as they are,
// decimals as their exact text, booleans as true/false.
func formatScalar(v any) (string, error) {
	switch v := v.(type) {
	case string:
		return v, nil
	case json.Number:
		return v.String(), nil
	case int64:
		return strconv.FormatInt(v, 10), nil
	case int:
		return strconv.Itoa(v), nil
	case bool:
		return strconv.FormatBool(v), nil
	case float64:
		return strconv.FormatFloat(v, 'g', -1, 64), nil
	}
	return "", fmt.Errorf("unsupported value %T", v)
}
