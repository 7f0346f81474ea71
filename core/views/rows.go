package views

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"

	"tranche.dev/tranche/core/fhirpath"
)

// maxRows bounds the rows one resource may produce, so that a view with
// nested forEach over a hostile resource stays bounded.
const maxRows = 1 << 20

// maxRepeatDepth bounds the recursion of repeat.
const maxRepeatDepth = 64

// Rows evaluates the view over one resource (its JSON) and returns its rows,
// one value per column in Columns order: nil, bool, string, int64,
// json.Number (decimals, exact text) or []any for collection columns. Dates
// and instants are their FHIR text. A resource of another type, or one that
// the view's where clauses reject, yields no rows. An error means the
// resource made an expression fail (SQL on FHIR v2, Processing model).
func (v *View) Rows(resource []byte) ([][]any, error) {
	raw, err := fhirpath.Decode(resource)
	if err != nil {
		return nil, fmt.Errorf("resource: %w", err)
	}
	return v.RowsOf(raw)
}

// RowsOf is Rows on a resource already decoded with fhirpath.Decode (numbers
// as json.Number).
func (v *View) RowsOf(resource any) ([][]any, error) {
	m, ok := resource.(map[string]any)
	if !ok {
		return nil, errors.New("resource: not a JSON object")
	}
	if m["resourceType"] != v.resource {
		return nil, nil
	}
	r := &run{view: v, env: fhirpath.Env{Resource: m, Vars: v.consts, Now: v.now}}
	in := []fhirpath.Item{{Value: m, Type: v.resource}}
	for _, w := range v.where {
		res, err := w.expr.Evaluate(&r.env, in)
		if err != nil {
			return nil, fmt.Errorf("%s: %s", w.path, short(err))
		}
		switch len(res) {
		case 0:
			return nil, nil
		case 1:
			b, ok := res[0].Value.(bool)
			if !ok {
				return nil, fmt.Errorf("%s: want a boolean, got %s", w.path, describe(res[0]))
			}
			if !b {
				return nil, nil
			}
		default:
			return nil, fmt.Errorf("%s: want a boolean, got %d values", w.path, len(res))
		}
	}
	return r.selection(v.root, in[0], 0, 0)
}

// run is the state of one evaluation of a view over one resource.
type run struct {
	view  *View
	env   fhirpath.Env
	in    [1]fhirpath.Item // the focus of the expression being evaluated
	local [1]fhirpath.Var  // %rowIndex
}

// selection returns the rows of s for the focus item, whose %rowIndex is idx.
func (r *run) selection(s *selection, focus fhirpath.Item, idx int, depth int) ([][]any, error) {
	switch {
	case s.forEach != nil:
		items, err := r.eval(s.forEach, focus, idx, s.forEachPath)
		if err != nil {
			return nil, err
		}
		// The result may share r.in, which the next evaluation overwrites.
		return r.each(s, slices.Clone(items), depth)
	case len(s.repeat) > 0:
		var items []fhirpath.Item
		if err := r.repeat(s, focus, idx, 0, &items); err != nil {
			return nil, err
		}
		return r.each(s, items, depth)
	}
	return r.focus(s, focus, idx, depth)
}

// each produces the rows of s for every item of a forEach, forEachOrNull or
// repeat, %rowIndex counting the items from 0; forEachOrNull over nothing
// gives one row of nulls.
func (r *run) each(s *selection, items []fhirpath.Item, depth int) ([][]any, error) {
	if len(items) == 0 && s.orNull {
		row, err := r.nullRow(s)
		if err != nil {
			return nil, err
		}
		return [][]any{row}, nil
	}
	var out [][]any
	for i, it := range items {
		rows, err := r.focus(s, it, i, depth)
		if err != nil {
			return nil, err
		}
		out = append(out, rows...)
	}
	return out, nil
}

// nullRow is the row forEachOrNull gives when it has nothing to iterate:
// every column evaluated over an empty focus with %rowIndex 0, so that a path
// is null and %rowIndex is 0 (SQL on FHIR v2, ViewDefinition.select.forEachOrNull).
func (r *run) nullRow(s *selection) ([]any, error) {
	row := make([]any, 0, s.width)
	for _, c := range s.cols {
		res, err := r.evalOn(c.expr, nil, 0, c.path)
		if err != nil {
			return nil, err
		}
		val, err := columnValue(c, res)
		if err != nil {
			return nil, err
		}
		row = append(row, val)
	}
	for _, child := range s.selects {
		sub, err := r.nullRow(child)
		if err != nil {
			return nil, err
		}
		row = append(row, sub...)
	}
	if len(s.unionAll) > 0 {
		sub, err := r.nullRow(s.unionAll[0])
		if err != nil {
			return nil, err
		}
		row = append(row, sub...)
	}
	return row, nil
}

// repeat collects, depth first, every item reachable from focus through the
// repeat expressions (SQL on FHIR v2, ViewDefinition.select.repeat).
func (r *run) repeat(s *selection, focus fhirpath.Item, idx, depth int, out *[]fhirpath.Item) error {
	if depth > maxRepeatDepth {
		return fmt.Errorf("%s.repeat: deeper than %d levels", s.path, maxRepeatDepth)
	}
	for i, x := range s.repeat {
		kids, err := r.eval(x, focus, idx, s.repeatPaths[i])
		if err != nil {
			return err
		}
		kids = slices.Clone(kids) // the result may share r.in
		for _, k := range kids {
			*out = append(*out, k)
			if len(*out) > maxRows {
				return fmt.Errorf("%s.repeat: more than %d items", s.path, maxRows)
			}
			if err := r.repeat(s, k, idx, depth+1, out); err != nil {
				return err
			}
		}
	}
	return nil
}

// focus produces the rows of s for one focus item: its own columns, times
// the rows of each nested select, times the rows of its unionAll.
func (r *run) focus(s *selection, it fhirpath.Item, idx int, depth int) ([][]any, error) {
	if depth > maxRepeatDepth {
		return nil, fmt.Errorf("%s: nested too deeply", s.path)
	}
	base := make([]any, 0, s.width)
	for _, c := range s.cols {
		res, err := r.eval(c.expr, it, idx, c.path)
		if err != nil {
			return nil, err
		}
		val, err := columnValue(c, res)
		if err != nil {
			return nil, err
		}
		base = append(base, val)
	}
	rows := [][]any{base}
	for _, child := range s.selects {
		sub, err := r.selection(child, it, idx, depth+1)
		if err != nil {
			return nil, err
		}
		if rows, err = r.cross(rows, sub); err != nil {
			return nil, err
		}
		if len(rows) == 0 {
			return nil, nil
		}
	}
	if len(s.unionAll) > 0 {
		var all [][]any
		for _, b := range s.unionAll {
			sub, err := r.selection(b, it, idx, depth+1)
			if err != nil {
				return nil, err
			}
			all = append(all, sub...)
		}
		var err error
		if rows, err = r.cross(rows, all); err != nil {
			return nil, err
		}
	}
	return rows, nil
}

// cross returns every row of a followed by every row of b.
func (r *run) cross(a, b [][]any) ([][]any, error) {
	if len(b) == 1 {
		for i := range a {
			a[i] = append(a[i], b[0]...)
		}
		return a, nil
	}
	if len(a)*len(b) > maxRows {
		return nil, fmt.Errorf("more than %d rows from one resource", maxRows)
	}
	out := make([][]any, 0, len(a)*len(b))
	for _, x := range a {
		for _, y := range b {
			row := make([]any, 0, len(x)+len(y))
			row = append(append(row, x...), y...)
			out = append(out, row)
		}
	}
	return out, nil
}

// rowIndexes holds the %rowIndex values of the first rows, to spare an
// allocation per row.
var rowIndexes = func() [][]fhirpath.Item {
	out := make([][]fhirpath.Item, 64)
	for i := range out {
		out[i] = []fhirpath.Item{{Value: json.Number(strconv.Itoa(i)), Type: "integer"}}
	}
	return out
}()

// eval evaluates x on one focus item. The result may share memory with the
// run: use it, or copy it, before the next evaluation.
func (r *run) eval(x *fhirpath.Expression, it fhirpath.Item, idx int, path string) ([]fhirpath.Item, error) {
	r.in[0] = it
	return r.evalOn(x, r.in[:], idx, path)
}

func (r *run) evalOn(x *fhirpath.Expression, in []fhirpath.Item, idx int, path string) ([]fhirpath.Item, error) {
	var ri []fhirpath.Item
	if idx < len(rowIndexes) {
		ri = rowIndexes[idx]
	} else {
		ri = []fhirpath.Item{{Value: json.Number(strconv.Itoa(idx)), Type: "integer"}}
	}
	r.local[0] = fhirpath.Var{Name: "rowIndex", Value: ri}
	r.env.Local = r.local[:]
	res, err := x.Evaluate(&r.env, in)
	if err != nil {
		return nil, fmt.Errorf("%s: %s", path, short(err))
	}
	return res, nil
}

// columnValue turns a column's result into its cell: one value, a list for
// a collection column, nil for empty. More than one value in a column not
// declared a collection is an error (SQL on FHIR v2, ViewDefinition.select.column.collection).
func columnValue(c column, res []fhirpath.Item) (any, error) {
	if c.Collection {
		out := make([]any, 0, len(res))
		for _, it := range res {
			v, err := cell(c, it)
			if err != nil {
				return nil, err
			}
			out = append(out, v)
		}
		return out, nil
	}
	switch len(res) {
	case 0:
		return nil, nil
	case 1:
		return cell(c, res[0])
	}
	return nil, fmt.Errorf("%s: %d values in column %s, which is not declared a collection", c.path, len(res), c.Name)
}

func cell(c column, it fhirpath.Item) (any, error) {
	switch v := it.Value.(type) {
	case bool, string:
		if c.Type == "integer64" {
			if s, ok := v.(string); ok {
				if n, err := strconv.ParseInt(s, 10, 64); err == nil {
					return n, nil
				}
			}
		}
		return v, nil
	case json.Number:
		typ := c.Type
		if typ == "" {
			typ = it.Type
		}
		switch typ {
		case "decimal":
			return v, nil
		case "string", "code", "id", "uri", "url", "markdown":
			return string(v), nil
		}
		if n, err := v.Int64(); err == nil {
			return n, nil
		}
		return v, nil
	case fhirpath.Quantity:
		return v.String(), nil
	}
	return nil, fmt.Errorf("%s: column %s holds %s, not a primitive value", c.path, c.Name, describe(it))
}

func describe(it fhirpath.Item) string {
	switch v := it.Value.(type) {
	case string:
		return "a string"
	case json.Number:
		return "a number"
	case map[string]any:
		if it.Type != "" {
			return "a " + it.Type
		}
		if rt, ok := v["resourceType"].(string); ok {
			return "a " + rt
		}
		return "an element"
	}
	return fmt.Sprintf("%T", it.Value)
}
