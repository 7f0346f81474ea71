package sink

import (
	"encoding/json"
	"fmt"
	"os"

	"github.com/parquet-go/parquet-go"

	"tranche.dev/tranche/core/views"
)

// viewTable writes one SQL on FHIR view's rows (SQL on FHIR v2,
// ViewDefinition) for one segment as Parquet. Columns keep the view's
// names; booleans, integers and decimals get Parquet types, everything
// else (and collections, as JSON arrays) is a string; all are optional.
type viewTable struct {
	view   *views.View
	schema *parquet.Schema
	kinds  []parquet.Kind // per schema leaf
	pos    []int          // per schema leaf: the view column it holds
	file   *os.File
	w      *parquet.Writer
	rowGroups[parquet.Row]
}

// columnKind is how a view column is stored.
func columnKind(c views.Column) parquet.Kind {
	switch {
	case c.Collection:
		return parquet.ByteArray // a JSON array
	case c.Type == "boolean":
		return parquet.Boolean
	case c.Type == "integer" || c.Type == "positiveInt" || c.Type == "unsignedInt" || c.Type == "integer64":
		return parquet.Int64
	case c.Type == "decimal":
		return parquet.Double
	}
	return parquet.ByteArray
}

func viewSchema(v *views.View) (*parquet.Schema, []parquet.Kind, []int) {
	cols := v.Columns()
	g := parquet.Group{}
	for _, c := range cols {
		var leaf parquet.Node
		switch columnKind(c) {
		case parquet.Boolean:
			leaf = parquet.Leaf(parquet.BooleanType)
		case parquet.Int64:
			leaf = parquet.Int(64)
		case parquet.Double:
			leaf = parquet.Leaf(parquet.DoubleType)
		default:
			leaf = parquet.String()
		}
		g[c.Name] = parquet.Optional(leaf)
	}
	s := parquet.NewSchema(v.Name(), g)
	// A Group orders its fields by name: map each leaf back to its column.
	index := map[string]int{}
	for i, c := range cols {
		index[c.Name] = i
	}
	var kinds []parquet.Kind
	var pos []int
	for _, f := range s.Fields() {
		kinds = append(kinds, f.Type().Kind())
		pos = append(pos, index[f.Name()])
	}
	return s, kinds, pos
}

func newViewTable(dir string, v *views.View) (*viewTable, error) {
	f, err := os.CreateTemp(dir, "tranche-sink-view-*.parquet")
	if err != nil {
		return nil, err
	}
	s, kinds, pos := viewSchema(v)
	w := parquet.NewWriter(f, s, parquet.Compression(&parquet.Snappy), parquet.CreatedBy("tranche", "", ""))
	return &viewTable{view: v, schema: s, kinds: kinds, pos: pos, file: f, w: w,
		rowGroups: rowGroups[parquet.Row]{write: w.WriteRows, end: w.Flush}}, nil
}

// add turns one resource into the view's rows and buffers them; a
// resource the view cannot evaluate is skipped and reported.
func (t *viewTable) add(raw []byte) error {
	rows, err := t.view.Rows(raw)
	if err != nil {
		return err
	}
	for _, r := range rows {
		pr := make(parquet.Row, len(t.kinds))
		size := 0 // bytes of its values
		for j, k := range t.kinds {
			v, ok := parquetValue(k, r[t.pos[j]])
			if !ok {
				pr[j] = parquet.Value{}.Level(0, 0, j)
				continue
			}
			pr[j] = v.Level(0, 1, j)
			size += 8
			if k == parquet.ByteArray {
				size += len(v.ByteArray())
			}
		}
		t.buffer(pr, size)
	}
	return nil
}

func (t *viewTable) discard() {
	t.file.Close()
	os.Remove(t.file.Name())
}

// parquetValue converts a view cell (bool, string, int64, json.Number or
// a collection) to the leaf's kind; false for null or a value that does
// not fit the declared type.
func parquetValue(k parquet.Kind, v any) (parquet.Value, bool) {
	if v == nil {
		return parquet.Value{}, false
	}
	switch k {
	case parquet.Boolean:
		b, ok := v.(bool)
		return parquet.BooleanValue(b), ok
	case parquet.Int64:
		switch n := v.(type) {
		case int64:
			return parquet.Int64Value(n), true
		case json.Number:
			i, err := n.Int64()
			return parquet.Int64Value(i), err == nil
		}
		return parquet.Value{}, false
	case parquet.Double:
		if n, ok := v.(json.Number); ok {
			f, err := n.Float64()
			return parquet.DoubleValue(f), err == nil
		}
		if n, ok := v.(int64); ok {
			return parquet.DoubleValue(float64(n)), true
		}
		return parquet.Value{}, false
	}
	switch s := v.(type) {
	case string:
		return parquet.ByteArrayValue([]byte(s)), true
	case []any:
		b, err := json.Marshal(s)
		return parquet.ByteArrayValue(b), err == nil
	}
	return parquet.ByteArrayValue(fmt.Append(nil, v)), true
}
