package tables

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
	"reflect"
	"strings"
	"time"

	"github.com/parquet-go/parquet-go"
	"github.com/parquet-go/parquet-go/compress"
	"github.com/parquet-go/parquet-go/encoding"
)

// Parquet type mapping (Apache Parquet LogicalTypes.md), chosen so that no
// value loses anything silently:
//
//   - boolean: BOOLEAN.
//   - integer, positiveInt, unsignedInt: INT(32, signed), FHIR's 32-bit
//     range; integer64: INT(64, signed).
//   - instant: TIMESTAMP(MICROS, isAdjustedToUTC). A FHIR instant always
//     has seconds and a time zone (FHIR R4 Datatypes: instant), so it is
//     exact; an instant finer than microseconds is refused, not rounded.
//     The original offset is not kept: the moment is.
//   - decimal: STRING with the exact text. A Parquet DECIMAL needs one
//     scale per column, decided before the first row is written, and FHIR
//     decimals carry their own precision per value ("1.50" is not "1.5",
//     FHIR R4 Datatypes: decimal); only the text keeps both.
//     Readers cast, e.g. DuckDB `value::DECIMAL(18,4)`.
//   - date, dateTime, time: STRING with the FHIR text, because dates and
//     dateTimes may be partial ("1970", "1970-03"), which DATE and
//     TIMESTAMP cannot hold. The text sorts chronologically for dates.
//   - everything else (string, code, uri, id, base64Binary, ...) and
//     untyped columns: STRING.
//
// Every column is OPTIONAL (NULL kept); a collection column is a LIST of
// OPTIONAL elements. The file's key-value metadata holds the view's name
// and resource and each column's FHIR type ("fhir.columns"), so a reader
// can tell a decimal column from a string one.

type leafKind int

const (
	leafString leafKind = iota
	leafBool
	leafInt32
	leafInt64
	leafInstant
)

func leafKindOf(fhirType string) leafKind {
	switch fhirType {
	case "boolean":
		return leafBool
	case "integer", "positiveInt", "unsignedInt":
		return leafInt32
	case "integer64":
		return leafInt64
	case "instant":
		return leafInstant
	}
	return leafString
}

func leafNode(k leafKind) parquet.Node {
	switch k {
	case leafBool:
		return parquet.Leaf(parquet.BooleanType)
	case leafInt32:
		return parquet.Int(32)
	case leafInt64:
		return parquet.Int(64)
	case leafInstant:
		return parquet.Timestamp(parquet.Microsecond)
	}
	return parquet.String()
}

// ParquetSchema returns the Parquet schema of a view's table: one field per
// column, in the view's order (parquet.Group would sort them by name).
func ParquetSchema(name string, cols []Column) *parquet.Schema {
	g := orderedGroup{}
	for _, c := range cols {
		n := leafNode(leafKindOf(c.Type))
		if c.Collection {
			n = parquet.List(parquet.Optional(n))
		}
		g = append(g, orderedField{Node: parquet.Optional(n), name: c.Name})
	}
	return parquet.NewSchema(name, g)
}

// orderedGroup is a group node whose fields keep the order given.
type orderedGroup []parquet.Field

func (g orderedGroup) ID() int                           { return 0 }
func (g orderedGroup) String() string                    { return fmt.Sprint(parquet.NewSchema("", g)) }
func (g orderedGroup) Type() parquet.Type                { return parquet.Group{}.Type() }
func (g orderedGroup) Optional() bool                    { return false }
func (g orderedGroup) Repeated() bool                    { return false }
func (g orderedGroup) Required() bool                    { return true }
func (g orderedGroup) Leaf() bool                        { return false }
func (g orderedGroup) Fields() []parquet.Field           { return g }
func (g orderedGroup) Encoding() encoding.Encoding       { return nil }
func (g orderedGroup) Compression() compress.Codec       { return nil }
func (g orderedGroup) GoType() reflect.Type              { return reflect.TypeFor[map[string]any]() }
func (f orderedField) Name() string                      { return f.name }
func (f orderedField) Value(reflect.Value) reflect.Value { return reflect.Value{} }

// orderedField names a node within an orderedGroup. Rows are built as
// parquet.Row values (ParquetWriter.Write), never from Go structs, so Value
// is not used.
type orderedField struct {
	parquet.Node
	name string
}

// ParquetWriter writes a view's rows as a Parquet file (see the type
// mapping above). It buffers up to a row group in memory.
type ParquetWriter struct {
	w     *parquet.Writer
	cols  []Column
	kinds []leafKind
	rows  []parquet.Row
	n     int64
}

// parquetFlushRows is how many rows are handed to the parquet writer at
// once.
const parquetFlushRows = 1024

// NewParquetWriter returns a writer of a Parquet file to w for a view's
// table; resource is the view's resource type, recorded in the metadata.
func NewParquetWriter(w io.Writer, name, resource string, cols []Column) (*ParquetWriter, error) {
	meta := make([]map[string]any, len(cols))
	kinds := make([]leafKind, len(cols))
	for i, c := range cols {
		meta[i] = map[string]any{"name": c.Name, "type": c.Type, "collection": c.Collection}
		kinds[i] = leafKindOf(c.Type)
	}
	colJSON, err := json.Marshal(meta)
	if err != nil {
		return nil, err
	}
	pw := parquet.NewWriter(w, ParquetSchema(name, cols),
		parquet.Compression(&parquet.Snappy),
		parquet.CreatedBy("tranche", "", ""),
		parquet.MaxRowsPerRowGroup(128<<10),
		parquet.KeyValueMetadata("fhir.view", name),
		parquet.KeyValueMetadata("fhir.resource", resource),
		parquet.KeyValueMetadata("fhir.columns", string(colJSON)))
	return &ParquetWriter{w: pw, cols: cols, kinds: kinds}, nil
}

// Write adds one row.
func (w *ParquetWriter) Write(row []any) error {
	if len(row) != len(w.cols) {
		return fmt.Errorf("row has %d values for %d columns", len(row), len(w.cols))
	}
	var r parquet.Row
	for i, v := range row {
		var err error
		if w.cols[i].Collection {
			r, err = w.appendList(r, i, v)
		} else {
			r, err = w.appendScalar(r, i, v, 0, 1)
		}
		if err != nil {
			return fmt.Errorf("column %s: %w", w.cols[i].Name, err)
		}
	}
	w.rows = append(w.rows, r)
	w.n++
	if len(w.rows) >= parquetFlushRows {
		return w.flush()
	}
	return nil
}

// appendScalar appends one leaf value at repetition level rep whose
// definition level, when not NULL, is def.
func (w *ParquetWriter) appendScalar(r parquet.Row, col int, v any, rep, def int) (parquet.Row, error) {
	if v == nil {
		return append(r, parquet.NullValue().Level(rep, def-1, col)), nil
	}
	pv, err := leafValue(w.kinds[col], v)
	if err != nil {
		return r, err
	}
	return append(r, pv.Level(rep, def, col)), nil
}

// appendList appends a LIST column: OPTIONAL group (def 1) of a REPEATED
// group list (def 2, rep 1) of an OPTIONAL element (def 3).
func (w *ParquetWriter) appendList(r parquet.Row, col int, v any) (parquet.Row, error) {
	switch l := v.(type) {
	case nil:
		return append(r, parquet.NullValue().Level(0, 0, col)), nil
	case []any:
		if len(l) == 0 {
			return append(r, parquet.NullValue().Level(0, 1, col)), nil
		}
		for j, e := range l {
			var err error
			if r, err = w.appendScalar(r, col, e, min(j, 1), 3); err != nil {
				return r, err
			}
		}
		return r, nil
	}
	// A single value in a collection column is a list of one.
	return w.appendScalar(r, col, v, 0, 3)
}

func leafValue(k leafKind, v any) (parquet.Value, error) {
	switch k {
	case leafBool:
		if b, ok := v.(bool); ok {
			return parquet.BooleanValue(b), nil
		}
	case leafInt32, leafInt64:
		var n int64
		switch x := v.(type) {
		case int64:
			n = x
		case int:
			n = int64(x)
		case json.Number:
			var err error
			if n, err = x.Int64(); err != nil {
				return parquet.Value{}, fmt.Errorf("%s is not an integer", x)
			}
		default:
			return parquet.Value{}, fmt.Errorf("%v (%T) is not an integer", v, v)
		}
		if k == leafInt64 {
			return parquet.Int64Value(n), nil
		}
		if n < math.MinInt32 || n > math.MaxInt32 {
			return parquet.Value{}, fmt.Errorf("%d is out of the FHIR integer range", n)
		}
		return parquet.Int32Value(int32(n)), nil
	case leafInstant:
		s, ok := v.(string)
		if !ok {
			break
		}
		us, err := instantMicros(s)
		if err != nil {
			return parquet.Value{}, err
		}
		return parquet.Int64Value(us), nil
	default:
		s, err := formatScalar(v)
		if err != nil {
			return parquet.Value{}, err
		}
		return parquet.ByteArrayValue([]byte(s)), nil
	}
	return parquet.Value{}, fmt.Errorf("%v (%T) does not fit the column type", v, v)
}

// instantMicros parses a FHIR instant (FHIR R4 Datatypes: instant, e.g.
// 2015-02-07T13:28:17.239+02:00) into microseconds since the Unix epoch,
// refusing anything partial or finer than a microsecond.
func instantMicros(s string) (int64, error) {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil || !strings.Contains(s, "T") {
		return 0, fmt.Errorf("%q is not a FHIR instant", s)
	}
	if t.Nanosecond()%1000 != 0 {
		return 0, fmt.Errorf("instant %q is finer than a microsecond", s)
	}
	return t.UnixMicro(), nil
}

func (w *ParquetWriter) flush() error {
	if len(w.rows) == 0 {
		return nil
	}
	_, err := w.w.WriteRows(w.rows)
	clear(w.rows)
	w.rows = w.rows[:0]
	return err
}

// Close writes the remaining rows and the file footer.
func (w *ParquetWriter) Close() error {
	if err := w.flush(); err != nil {
		return err
	}
	return w.w.Close()
}
