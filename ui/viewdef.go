package ui

import (
	"bytes"
	"encoding/json"
	"fmt"
	"maps"
	"regexp"
	"slices"
	"strings"
)

// viewDef is the ViewDefinition the Views builder edits (SQL on FHIR v2,
// ViewDefinition): the person's picks become its fields, and its JSON is
// what the core runner validates and runs. Elements the builder does not
// edit (url, version, fhirVersion, meta...) are kept in extra, so a loaded
// view round-trips.
type viewDef struct {
	Name        string
	Title       string
	Description string
	Status      string // draft when empty
	Resource    string
	Constants   []viewConstant
	Where       []string // FHIRPath filters
	Select      []viewSelect
	extra       map[string]json.RawMessage
}

// viewConstant is one ViewDefinition.constant with its value[x] kept as
// JSON (valueString, valueCode, valueInteger...).
type viewConstant struct {
	Name  string
	Type  string // the value[x] suffix's type: string, code, integer, decimal, boolean, date, dateTime
	Value json.RawMessage
}

// viewSelect is ViewDefinition.select, recursively.
type viewSelect struct {
	Column        []viewColumn `json:"column,omitempty"`
	Select        []viewSelect `json:"select,omitempty"`
	ForEach       string       `json:"forEach,omitempty"`
	ForEachOrNull string       `json:"forEachOrNull,omitempty"`
	Repeat        []string     `json:"repeat,omitempty"`
	UnionAll      []viewSelect `json:"unionAll,omitempty"`
}

// viewColumn is ViewDefinition.select.column.
type viewColumn struct {
	Name        string `json:"name"`
	Path        string `json:"path"`
	Type        string `json:"type,omitempty"`
	Collection  bool   `json:"collection,omitempty"`
	Description string `json:"description,omitempty"`
}

var columnNamePattern = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9_]*$`)

// valueSuffix is the type part of a value[x] element: valueCode, valueInteger.
var valueSuffix = regexp.MustCompile(`^[A-Z][A-Za-z0-9]*$`)

// parseViewDef reads a ViewDefinition's JSON into the builder's model. It
// checks only the shape; core/views validates the rest.
func parseViewDef(data []byte) (*viewDef, error) {
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(data, &raw); err != nil {
		return nil, fmt.Errorf("view definition: %w", err)
	}
	d := &viewDef{extra: map[string]json.RawMessage{}}
	str := func(key string, dst *string) error {
		if v, ok := raw[key]; ok {
			if err := json.Unmarshal(v, dst); err != nil {
				return fmt.Errorf("view definition: %s: %w", key, err)
			}
		}
		delete(raw, key)
		return nil
	}
	for key, dst := range map[string]*string{"name": &d.Name, "title": &d.Title, "description": &d.Description,
		"status": &d.Status, "resource": &d.Resource} {
		if err := str(key, dst); err != nil {
			return nil, err
		}
	}
	var rt string
	if err := str("resourceType", &rt); err != nil {
		return nil, err
	}
	if rt != "" && rt != "ViewDefinition" {
		return nil, fmt.Errorf("view definition: resourceType is %q, want ViewDefinition", rt)
	}
	if v, ok := raw["where"]; ok {
		var ws []struct {
			Path string `json:"path"`
		}
		if err := json.Unmarshal(v, &ws); err != nil {
			return nil, fmt.Errorf("view definition: where: %w", err)
		}
		for _, w := range ws {
			d.Where = append(d.Where, w.Path)
		}
		delete(raw, "where")
	}
	if v, ok := raw["constant"]; ok {
		var cs []map[string]json.RawMessage
		if err := json.Unmarshal(v, &cs); err != nil {
			return nil, fmt.Errorf("view definition: constant: %w", err)
		}
		for i, c := range cs {
			var k viewConstant
			if n, ok := c["name"]; ok {
				if err := json.Unmarshal(n, &k.Name); err != nil {
					return nil, fmt.Errorf("view definition: constant[%d].name: %w", i, err)
				}
			}
			for key, val := range c {
				if t, ok := strings.CutPrefix(key, "value"); ok {
					if !valueSuffix.MatchString(t) {
						return nil, fmt.Errorf("view definition: constant[%d]: no element %q", i, key)
					}
					k.Type = strings.ToLower(t[:1]) + t[1:]
					k.Value = val
				}
			}
			d.Constants = append(d.Constants, k)
		}
		delete(raw, "constant")
	}
	if v, ok := raw["select"]; ok {
		if err := json.Unmarshal(v, &d.Select); err != nil {
			return nil, fmt.Errorf("view definition: select: %w", err)
		}
		delete(raw, "select")
	}
	d.extra = raw
	return d, nil
}

// JSON is the ViewDefinition, pretty-printed, elements in the spec's order.
func (d *viewDef) JSON() []byte {
	var b bytes.Buffer
	b.WriteString("{\n")
	first := true
	field := func(key string, v any) {
		data, err := json.MarshalIndent(v, "  ", "  ")
		if err != nil {
			return
		}
		if !first {
			b.WriteString(",\n")
		}
		first = false
		fmt.Fprintf(&b, "  %q: %s", key, data)
	}
	field("resourceType", "ViewDefinition")
	for _, kv := range []struct{ k, v string }{{"name", d.Name}, {"title", d.Title}, {"description", d.Description}} {
		if kv.v != "" {
			field(kv.k, kv.v)
		}
	}
	field("status", cmpOr(d.Status, "draft"))
	for _, k := range slices.Sorted(maps.Keys(d.extra)) {
		field(k, d.extra[k])
	}
	field("resource", d.Resource)
	if len(d.Constants) > 0 {
		var cs []map[string]any
		for _, c := range d.Constants {
			t := c.Type
			if t == "" {
				t = "string"
			}
			cs = append(cs, map[string]any{"name": c.Name, "value" + strings.ToUpper(t[:1]) + t[1:]: c.Value})
		}
		field("constant", cs)
	}
	if len(d.Where) > 0 {
		var ws []map[string]string
		for _, w := range d.Where {
			ws = append(ws, map[string]string{"path": w})
		}
		field("where", ws)
	}
	sel := d.Select
	if sel == nil {
		sel = []viewSelect{}
	}
	field("select", sel)
	b.WriteString("\n}\n")
	return b.Bytes()
}

// columns lists every column, depth first, in output order.
func (d *viewDef) columns() []viewColumn {
	var out []viewColumn
	var walk func(ss []viewSelect)
	walk = func(ss []viewSelect) {
		for _, s := range ss {
			out = append(out, s.Column...)
			walk(s.Select)
			if len(s.UnionAll) > 0 {
				walk(s.UnionAll[:1]) // the branches share their columns
			}
		}
	}
	walk(d.Select)
	return out
}

// columnAt returns the i-th column of columns(), to edit in place, and
// what the select holding it iterates ("" when nothing): its forEach, or
// its forEachOrNull followed by " (or null)". nil when there is no i-th.
func (d *viewDef) columnAt(i int) (*viewColumn, string) {
	var walk func(ss []viewSelect, each string) (*viewColumn, string)
	walk = func(ss []viewSelect, each string) (*viewColumn, string) {
		for j := range ss {
			s := &ss[j]
			e := each
			switch {
			case s.ForEach != "":
				e = s.ForEach
			case s.ForEachOrNull != "":
				e = s.ForEachOrNull + " (or null)"
			}
			if i < len(s.Column) {
				return &s.Column[i], e
			}
			i -= len(s.Column)
			if c, ce := walk(s.Select, e); c != nil {
				return c, ce
			}
			if len(s.UnionAll) > 0 {
				if c, ce := walk(s.UnionAll[:1], e); c != nil {
					return c, ce
				}
			}
		}
		return nil, ""
	}
	if i < 0 {
		return nil, ""
	}
	return walk(d.Select, "")
}

// addColumn adds a column on path, under the top-level select that
// iterates each (forEach, or forEachOrNull when orNull), creating it when
// needed; each "" adds to the first select without iteration.
func (d *viewDef) addColumn(c viewColumn, each string, orNull bool) {
	for i := range d.Select {
		s := &d.Select[i]
		if len(s.UnionAll) > 0 || len(s.Repeat) > 0 {
			continue
		}
		if each == "" && s.ForEach == "" && s.ForEachOrNull == "" ||
			each != "" && (!orNull && s.ForEach == each || orNull && s.ForEachOrNull == each) {
			s.Column = append(s.Column, c)
			return
		}
	}
	s := viewSelect{Column: []viewColumn{c}}
	switch {
	case each != "" && orNull:
		s.ForEachOrNull = each
	case each != "":
		s.ForEach = each
	}
	d.Select = append(d.Select, s)
}

// removeColumn drops the column called name wherever it is, and any
// select left with nothing in it.
func (d *viewDef) removeColumn(name string) {
	var prune func(ss []viewSelect) []viewSelect
	prune = func(ss []viewSelect) []viewSelect {
		var out []viewSelect
		for _, s := range ss {
			var cols []viewColumn
			for _, c := range s.Column {
				if c.Name != name {
					cols = append(cols, c)
				}
			}
			s.Column = cols
			s.Select = prune(s.Select)
			if len(s.Column) > 0 || len(s.Select) > 0 || len(s.UnionAll) > 0 {
				out = append(out, s)
			}
		}
		return out
	}
	d.Select = prune(d.Select)
}

// columnName turns a path into a column name that is valid and unused:
// "value.ofType(Quantity).value" becomes "value_quantity_value".
func (d *viewDef) columnName(path string) string {
	var b strings.Builder
	for _, r := range path {
		switch {
		case r >= 'a' && r <= 'z' || r >= '0' && r <= '9':
			b.WriteRune(r)
		case r >= 'A' && r <= 'Z':
			b.WriteRune(r - 'A' + 'a')
		default:
			if s := b.String(); s != "" && !strings.HasSuffix(s, "_") {
				b.WriteByte('_')
			}
		}
	}
	name := strings.Trim(strings.ReplaceAll(b.String(), "oftype_", ""), "_")
	if name == "" || !columnNamePattern.MatchString(name) {
		name = "c_" + name
	}
	used := map[string]bool{}
	for _, c := range d.columns() {
		used[c.Name] = true
	}
	base := name
	for i := 2; used[name]; i++ {
		name = fmt.Sprintf("%s_%d", base, i)
	}
	return name
}
