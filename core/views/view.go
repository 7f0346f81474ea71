// Package views implements SQL on FHIR v2 ViewDefinitions: it parses and
// validates a ViewDefinition and turns FHIR resources into the rows of the
// flat table it defines (SQL on FHIR v2, ViewDefinition; Processing model).
// The FHIRPath expressions run on Tranche's own engine, core/fhirpath.
package views

import (
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"time"

	"tranche.dev/tranche/core/fhirpath"
)

// Column is one output column of a view, in output order.
type Column struct {
	Name        string
	Type        string // FHIR type name (string, dateTime, decimal, ...); "" when not declared
	Collection  bool   // the value is a list ([]any)
	Description string
}

// View is a parsed and validated ViewDefinition. A View is immutable: Rows
// may be called from many goroutines at once.
type View struct {
	resource string
	name     string
	cols     []Column
	where    []whereClause
	consts   map[string][]fhirpath.Item
	root     *selection
	now      func() time.Time
}

type whereClause struct {
	path string // JSON path of the clause, for errors: where[0].path
	expr *fhirpath.Expression
}

// selection is one select element (SQL on FHIR v2, ViewDefinition.select).
type selection struct {
	path    string
	forEach *fhirpath.Expression // forEach or forEachOrNull
	orNull  bool
	repeat  []*fhirpath.Expression
	// JSON paths of forEach and repeat, for errors, built once.
	forEachPath string
	repeatPaths []string
	cols        []column
	selects     []*selection
	unionAll    []*selection
	width       int // columns produced: own, nested selects, then unionAll
}

type column struct {
	path string // JSON path of the column's path, for errors
	Column
	expr *fhirpath.Expression
}

// Resource is the FHIR resource type the view reads (Patient, Observation).
func (v *View) Resource() string { return v.resource }

// Name is the view's name, "" when the ViewDefinition has none.
func (v *View) Name() string { return v.name }

// Columns returns the output columns in order.
func (v *View) Columns() []Column { return slices.Clone(v.cols) }

// WithClock returns a copy of the view whose now() and today() read now.
func (v *View) WithClock(now func() time.Time) *View {
	c := *v
	c.now = now
	return &c
}

// An Error is a fault in a ViewDefinition, at a JSON path such as
// select[1].column[0].path.
type Error struct {
	Path string
	Msg  string
}

func (e *Error) Error() string {
	if e.Path == "" {
		return e.Msg
	}
	return e.Path + ": " + e.Msg
}

func errorf(path, format string, args ...any) *Error {
	return &Error{Path: path, Msg: fmt.Sprintf(format, args...)}
}

// namePattern is the rule for view, column and constant names (SQL on FHIR
// v2, ViewDefinition: Column names; constraint sql-name).
var namePattern = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9_]*$`)

// Parse decodes and validates a ViewDefinition. Every rule the spec states is
// checked here, before any row is produced; the error names the JSON path of
// the fault: `select[1].column[0].path: unknown function 'fooo' at 12`.
func Parse(data []byte) (*View, error) {
	raw, err := fhirpath.Decode(data)
	if err != nil {
		return nil, fmt.Errorf("view definition: %w", err)
	}
	obj, ok := raw.(map[string]any)
	if !ok {
		return nil, errorf("", "a ViewDefinition is a JSON object")
	}
	p := &parser{}
	return p.view(obj)
}

type parser struct {
	consts map[string][]fhirpath.Item
	names  map[string]string // column name -> JSON path of its first use
}

func (p *parser) view(obj map[string]any) (*View, error) {
	if rt, ok := obj["resourceType"]; ok && rt != "ViewDefinition" {
		return nil, errorf("resourceType", "want ViewDefinition, got %v", rt)
	}
	v := &View{now: time.Now}
	var err error
	if v.resource, err = str(obj, "resource", "resource", true); err != nil {
		return nil, err
	}
	if !resourceTypes[v.resource] {
		return nil, errorf("resource", "%q is not a FHIR resource type", v.resource)
	}
	if v.name, err = str(obj, "name", "name", false); err != nil {
		return nil, err
	}
	if v.name != "" && !namePattern.MatchString(v.name) {
		return nil, errorf("name", "%q is not a valid name (letters, digits and _, starting with a letter)", v.name)
	}
	if err := p.constants(obj); err != nil {
		return nil, err
	}
	v.consts = p.consts
	p.names = map[string]string{}

	sels, err := objects(obj, "select", "select")
	if err != nil {
		return nil, err
	}
	if len(sels) == 0 {
		return nil, errorf("select", "a view needs at least one select")
	}
	v.root = &selection{}
	for i, s := range sels {
		child, err := p.selection(s, fmt.Sprintf("select[%d]", i))
		if err != nil {
			return nil, err
		}
		v.root.selects = append(v.root.selects, child)
		v.root.width += child.width
	}
	v.cols = p.columns(v.root, nil)

	wheres, err := objects(obj, "where", "where")
	if err != nil {
		return nil, err
	}
	for i, w := range wheres {
		path := fmt.Sprintf("where[%d].path", i)
		src, err := str(w, "path", path, true)
		if err != nil {
			return nil, err
		}
		x, err := p.expr(src, path)
		if err != nil {
			return nil, err
		}
		// A where path is a condition (SQL on FHIR v2, ViewDefinition.where.path);
		// one that can only give another type is refused here, the rest
		// when a resource makes them give something else.
		if t := x.ResultType(); t != "" && t != "boolean" {
			return nil, errorf(path, "gives a %s, not a boolean", t)
		}
		v.where = append(v.where, whereClause{path: path, expr: x})
	}
	return v, nil
}

// columns lists the output columns of s in output order.
func (p *parser) columns(s *selection, out []Column) []Column {
	for _, c := range s.cols {
		out = append(out, c.Column)
	}
	for _, c := range s.selects {
		out = p.columns(c, out)
	}
	if len(s.unionAll) > 0 {
		out = p.columns(s.unionAll[0], out)
	}
	return out
}

// constantTypes maps a constant's value[x] suffix to its FHIR type (SQL on
// FHIR v2, ViewDefinition.constant.value[x]).
var constantTypes = map[string]string{
	"Base64Binary": "base64Binary", "Boolean": "boolean", "Canonical": "canonical", "Code": "code",
	"Date": "date", "DateTime": "dateTime", "Decimal": "decimal", "Id": "id", "Instant": "instant",
	"Integer": "integer", "Integer64": "integer64", "Oid": "oid", "String": "string",
	"PositiveInt": "positiveInt", "Time": "time", "UnsignedInt": "unsignedInt", "Uri": "uri",
	"Url": "url", "Uuid": "uuid",
}

func (p *parser) constants(obj map[string]any) error {
	p.consts = map[string][]fhirpath.Item{}
	list, err := objects(obj, "constant", "constant")
	if err != nil {
		return err
	}
	for i, c := range list {
		path := fmt.Sprintf("constant[%d]", i)
		name, err := str(c, "name", path+".name", true)
		if err != nil {
			return err
		}
		if !namePattern.MatchString(name) {
			return errorf(path+".name", "%q is not a valid name", name)
		}
		if name == "rowIndex" {
			return errorf(path+".name", "rowIndex is reserved for %%rowIndex")
		}
		if _, dup := p.consts[name]; dup {
			return errorf(path+".name", "constant %q is defined twice", name)
		}
		var item *fhirpath.Item
		for k, val := range c {
			if !strings.HasPrefix(k, "value") {
				continue
			}
			typ, ok := constantTypes[k[len("value"):]]
			if !ok {
				return errorf(path+"."+k, "unsupported constant type")
			}
			if item != nil {
				return errorf(path, "a constant has exactly one value[x]")
			}
			it, err := constantValue(val, typ)
			if err != nil {
				return errorf(path+"."+k, "%v", err)
			}
			item = &it
		}
		if item == nil {
			return errorf(path, "constant %q has no value[x]", name)
		}
		p.consts[name] = []fhirpath.Item{*item}
	}
	return nil
}

var integerTypes = map[string]bool{"integer": true, "positiveInt": true, "unsignedInt": true}

func constantValue(val any, typ string) (fhirpath.Item, error) {
	switch v := val.(type) {
	case bool:
		if typ == "boolean" {
			return fhirpath.Item{Value: v, Type: typ}, nil
		}
	case json.Number:
		if typ == "decimal" || integerTypes[typ] {
			if integerTypes[typ] && strings.ContainsAny(string(v), ".eE") {
				return fhirpath.Item{}, fmt.Errorf("%s is not an integer", v)
			}
			return fhirpath.Item{Value: v, Type: typ}, nil
		}
	case string:
		if typ == "integer64" {
			if _, err := json.Number(v).Int64(); err != nil {
				return fhirpath.Item{}, fmt.Errorf("%q is not an integer64", v)
			}
			return fhirpath.Item{Value: json.Number(v), Type: "integer"}, nil
		}
		if typ != "boolean" && typ != "decimal" && !integerTypes[typ] {
			if err := checkDateText(v, typ); err != nil {
				return fhirpath.Item{}, err
			}
			return fhirpath.Item{Value: v, Type: typ}, nil
		}
	}
	return fhirpath.Item{}, fmt.Errorf("%s is not a valid %s", jsonText(val), typ)
}

// checkDateText validates a date, dateTime, instant or time constant by
// parsing it as a FHIRPath literal.
func checkDateText(s, typ string) error {
	lit := ""
	switch typ {
	case "date", "dateTime", "instant":
		lit = "@" + s
	case "time":
		lit = "@T" + s
	default:
		return nil
	}
	if _, err := fhirpath.Parse(lit); err != nil || strings.ContainsAny(s, " ()") {
		return fmt.Errorf("%q is not a valid %s", s, typ)
	}
	return nil
}

func jsonText(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

func (p *parser) selection(obj map[string]any, path string) (*selection, error) {
	s := &selection{path: path}
	kinds := 0
	for _, k := range []string{"forEach", "forEachOrNull"} {
		if _, ok := obj[k]; !ok {
			continue
		}
		kinds++
		src, err := str(obj, k, path+"."+k, true)
		if err != nil {
			return nil, err
		}
		if s.forEach, err = p.expr(src, path+"."+k); err != nil {
			return nil, err
		}
		s.orNull = k == "forEachOrNull"
		s.forEachPath = path + "." + k
	}
	if r, ok := obj["repeat"]; ok {
		kinds++
		list, ok := r.([]any)
		if !ok || len(list) == 0 {
			return nil, errorf(path+".repeat", "want a non-empty list of FHIRPath expressions")
		}
		for i, e := range list {
			ep := fmt.Sprintf("%s.repeat[%d]", path, i)
			src, ok := e.(string)
			if !ok {
				return nil, errorf(ep, "want a FHIRPath expression (string), got %s", jsonText(e))
			}
			x, err := p.expr(src, ep)
			if err != nil {
				return nil, err
			}
			s.repeat = append(s.repeat, x)
			s.repeatPaths = append(s.repeatPaths, ep)
		}
	}
	if kinds > 1 {
		return nil, errorf(path, "a select has at most one of forEach, forEachOrNull and repeat")
	}

	cols, err := objects(obj, "column", path+".column")
	if err != nil {
		return nil, err
	}
	for i, c := range cols {
		col, err := p.column(c, fmt.Sprintf("%s.column[%d]", path, i))
		if err != nil {
			return nil, err
		}
		s.cols = append(s.cols, col)
		s.width++
	}
	sels, err := objects(obj, "select", path+".select")
	if err != nil {
		return nil, err
	}
	for i, c := range sels {
		child, err := p.selection(c, fmt.Sprintf("%s.select[%d]", path, i))
		if err != nil {
			return nil, err
		}
		s.selects = append(s.selects, child)
		s.width += child.width
	}
	unions, err := objects(obj, "unionAll", path+".unionAll")
	if err != nil {
		return nil, err
	}
	if _, ok := obj["unionAll"]; ok && len(unions) == 0 {
		return nil, errorf(path+".unionAll", "unionAll needs at least one select")
	}
	// The branches of a unionAll define the same columns: parse each with
	// the names seen so far, then check them against the first branch.
	seen := p.names
	var first []Column
	for i, c := range unions {
		bp := fmt.Sprintf("%s.unionAll[%d]", path, i)
		p.names = maps(seen)
		child, err := p.selection(c, bp)
		if err != nil {
			return nil, err
		}
		cols := p.columns(child, nil)
		if i == 0 {
			first = cols
		} else if err := sameColumns(first, cols); err != nil {
			return nil, errorf(bp, "%v", err)
		}
		s.unionAll = append(s.unionAll, child)
	}
	if len(unions) > 0 {
		p.names = seen
		for _, c := range first {
			p.names[c.Name] = path + ".unionAll[0]"
		}
		s.width += s.unionAll[0].width
	}
	if s.width == 0 {
		return nil, errorf(path, "a select needs a column, select or unionAll")
	}
	return s, nil
}

func maps(m map[string]string) map[string]string {
	c := make(map[string]string, len(m))
	for k, v := range m {
		c[k] = v
	}
	return c
}

// sameColumns checks that a unionAll branch has the first branch's columns,
// in the same order and of the same types (SQL on FHIR v2, ViewDefinition:
// unionAll).
func sameColumns(want, got []Column) error {
	names := func(cs []Column) string {
		var s []string
		for _, c := range cs {
			s = append(s, c.Name)
		}
		return strings.Join(s, ", ")
	}
	if len(want) != len(got) {
		return fmt.Errorf("unionAll branches must have the same columns: (%s) and (%s)", names(want), names(got))
	}
	for i := range want {
		if want[i].Name != got[i].Name {
			return fmt.Errorf("unionAll branches must have the same columns in the same order: (%s) and (%s)", names(want), names(got))
		}
		if want[i].Type != "" && got[i].Type != "" && want[i].Type != got[i].Type {
			return fmt.Errorf("column %s is %s in one unionAll branch and %s in another", want[i].Name, want[i].Type, got[i].Type)
		}
		if want[i].Collection != got[i].Collection {
			return fmt.Errorf("column %s is a collection in one unionAll branch only", want[i].Name)
		}
	}
	return nil
}

// columnTypes are the types a column may declare: FHIR primitives (SQL on
// FHIR v2, ViewDefinition.select.column.type).
var columnTypes = map[string]bool{
	"base64Binary": true, "boolean": true, "canonical": true, "code": true, "date": true,
	"dateTime": true, "decimal": true, "id": true, "instant": true, "integer": true, "integer64": true,
	"markdown": true, "oid": true, "positiveInt": true, "string": true, "time": true,
	"unsignedInt": true, "uri": true, "url": true, "uuid": true,
}

const sdPrefix = "http://hl7.org/fhir/StructureDefinition/"

func (p *parser) column(obj map[string]any, path string) (column, error) {
	var c column
	c.path = path + ".path"
	var err error
	if c.Name, err = str(obj, "name", path+".name", true); err != nil {
		return c, err
	}
	if !namePattern.MatchString(c.Name) {
		return c, errorf(path+".name", "%q is not a valid column name (letters, digits and _, starting with a letter)", c.Name)
	}
	if prev, dup := p.names[c.Name]; dup {
		return c, errorf(path+".name", "column name %q is already used at %s", c.Name, prev)
	}
	p.names[c.Name] = path
	src, err := str(obj, "path", path+".path", true)
	if err != nil {
		return c, err
	}
	if c.expr, err = p.expr(src, path+".path"); err != nil {
		return c, err
	}
	if c.Type, err = str(obj, "type", path+".type", false); err != nil {
		return c, err
	}
	c.Type = strings.TrimPrefix(c.Type, sdPrefix)
	if c.Type != "" && !columnTypes[c.Type] {
		return c, errorf(path+".type", "%q is not a FHIR primitive type", c.Type)
	}
	if c.Description, err = str(obj, "description", path+".description", false); err != nil {
		return c, err
	}
	if v, ok := obj["collection"]; ok {
		b, ok := v.(bool)
		if !ok {
			return c, errorf(path+".collection", "want true or false, got %s", jsonText(v))
		}
		c.Collection = b
	}
	return c, nil
}

// expr parses a FHIRPath expression and checks its %constants.
func (p *parser) expr(src, path string) (*fhirpath.Expression, error) {
	x, err := fhirpath.Parse(src)
	if err != nil {
		return nil, &Error{Path: path, Msg: short(err)}
	}
	err = x.CheckVars(func(name string) bool {
		if _, ok := p.consts[name]; ok {
			return true
		}
		switch name {
		case "rowIndex", "resource", "rootResource", "context", "ucum", "sct", "loinc":
			return true
		}
		return false
	})
	if err != nil {
		return nil, &Error{Path: path, Msg: short(err)}
	}
	return x, nil
}

// short drops the expression from a FHIRPath error: the JSON path names it.
func short(err error) string {
	var e *fhirpath.Error
	if errors.As(err, &e) {
		return e.Short()
	}
	return err.Error()
}

// str reads a string property; a missing required one is an error.
func str(obj map[string]any, key, path string, required bool) (string, error) {
	v, ok := obj[key]
	if !ok || v == nil {
		if required {
			return "", errorf(path, "missing")
		}
		return "", nil
	}
	s, ok := v.(string)
	if !ok {
		return "", errorf(path, "want a string, got %s", jsonText(v))
	}
	if required && strings.TrimSpace(s) == "" {
		return "", errorf(path, "empty")
	}
	return s, nil
}

// objects reads a list of objects; missing is an empty list.
func objects(obj map[string]any, key, path string) ([]map[string]any, error) {
	v, ok := obj[key]
	if !ok || v == nil {
		return nil, nil
	}
	list, ok := v.([]any)
	if !ok {
		return nil, errorf(path, "want a list, got %s", jsonText(v))
	}
	out := make([]map[string]any, len(list))
	for i, e := range list {
		m, ok := e.(map[string]any)
		if !ok {
			return nil, errorf(fmt.Sprintf("%s[%d]", path, i), "want an object, got %s", jsonText(e))
		}
		out[i] = m
	}
	return out, nil
}
