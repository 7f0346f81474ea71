package fhirpath

import (
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"reflect"
	"strings"
	"time"
	"unsafe"
)

// Env is what an evaluation sees besides its input: the resource, the
// external constants and the clock. An Env is read only during Evaluate, so
// one Env may serve many goroutines.
type Env struct {
	// Resource is the decoded resource: %resource, %rootResource, %context.
	Resource any
	// Vars are the external constants (%name), without the percent sign.
	Vars map[string][]Item
	// Local is consulted before Vars; callers use it for per-row values such
	// as SQL on FHIR's %rowIndex without copying Vars.
	Local []Var
	// Now is the clock for now(), today() and timeOfDay(); time.Now when nil.
	Now func() time.Time
}

// Var binds one external constant.
type Var struct {
	Name  string
	Value []Item
}

func (e *Env) lookup(name string) ([]Item, bool) {
	for i := range e.Local {
		if e.Local[i].Name == name {
			return e.Local[i].Value, true
		}
	}
	if v, ok := e.Vars[name]; ok {
		return v, true
	}
	switch name {
	case "resource", "rootResource", "context":
		return FromJSON(e.Resource), true
	case "ucum":
		return []Item{{Value: "http://unitsofmeasure.org", Type: "string"}}, true
	case "sct":
		return []Item{{Value: "http://snomed.info/sct", Type: "string"}}, true
	case "loinc":
		return []Item{{Value: "http://loinc.org", Type: "string"}}, true
	}
	return nil, false
}

func (e *Env) now() time.Time {
	if e.Now != nil {
		return e.Now()
	}
	return time.Now()
}

// scope holds $this, $index and $total while a function argument runs.
type scope struct {
	this  []Item
	index int
	total []Item
}

type evaluator struct {
	env   *Env
	src   string
	depth int
	root  scope // the scope of the whole expression; here to spare an allocation
}

// maxItems bounds the size of any intermediate collection, so that repeat()
// or combine() over hostile data stays bounded.
const maxItems = 1 << 20

// Evaluate runs the expression on input (usually the resource, from
// FromJSON). Errors are *Error values naming the expression and position.
func (x *Expression) Evaluate(env *Env, input []Item) ([]Item, error) {
	if env == nil {
		env = &Env{}
	}
	ev := &evaluator{env: env, src: x.src}
	ev.root.this = input
	out, err := ev.eval(x.root, input, &ev.root)
	if err != nil {
		var e *Error
		if errors.As(err, &e) {
			e.Expr = x.src
			return nil, e
		}
		return nil, &Error{Expr: x.src, Pos: x.root.position() + 1, Msg: err.Error()}
	}
	return out, nil
}

func (ev *evaluator) fail(n node, format string, args ...any) error {
	return errAt(n.position(), format, args...)
}

func (ev *evaluator) eval(n node, in []Item, sc *scope) ([]Item, error) {
	ev.depth++
	if ev.depth > 4*maxDepth {
		ev.depth--
		return nil, ev.fail(n, "evaluation nested too deeply")
	}
	out, err := ev.evalNode(n, in, sc)
	ev.depth--
	return out, err
}

func (ev *evaluator) evalNode(n node, in []Item, sc *scope) ([]Item, error) {
	switch n := n.(type) {
	case *litNode:
		return n.val, nil
	case *memberNode:
		src := in
		if n.target != nil {
			var err error
			if src, err = ev.eval(n.target, in, sc); err != nil {
				return nil, err
			}
		} else if len(in) == 1 && n.name != "" && n.name[0] >= 'A' && n.name[0] <= 'Z' {
			// A path may start with the resource type: Patient.name
			// (FHIRPath N1, Path selection).
			if m, ok := in[0].Value.(map[string]any); ok && m["resourceType"] == n.name {
				return in, nil
			}
		}
		var out []Item
		for _, it := range src {
			out = child(out, it, n.name)
		}
		if len(out) > maxItems {
			return nil, ev.fail(n, "collection larger than %d items", maxItems)
		}
		return out, nil
	case *funcNode:
		src := in
		if n.target != nil {
			var err error
			if src, err = ev.eval(n.target, in, sc); err != nil {
				return nil, err
			}
		}
		out, err := n.fn.fn(ev, n, src, sc)
		if err != nil {
			var e *Error
			if errors.As(err, &e) {
				return nil, err
			}
			return nil, ev.fail(n, "%s(): %v", n.name, err)
		}
		if len(out) > maxItems {
			return nil, ev.fail(n, "collection larger than %d items", maxItems)
		}
		return out, nil
	case *indexNode:
		src, err := ev.eval(n.target, in, sc)
		if err != nil {
			return nil, err
		}
		idx, err := ev.eval(n.idx, sc.this, sc)
		if err != nil {
			return nil, err
		}
		i, ok, err := singleInt(idx)
		if err != nil {
			return nil, ev.fail(n, "index: %v", err)
		}
		if !ok || i < 0 || i >= int64(len(src)) {
			return nil, nil
		}
		return src[i : i+1], nil
	case *varNode:
		v, ok := ev.env.lookup(n.name)
		if !ok {
			return nil, ev.fail(n, "unknown constant '%%%s'", n.name)
		}
		return v, nil
	case *specialNode:
		switch n.name {
		case "$this":
			return sc.this, nil
		case "$index":
			return []Item{{Value: Number(fmt.Sprint(sc.index)), Type: "integer"}}, nil
		default:
			return sc.total, nil
		}
	case *unaryNode:
		x, err := ev.eval(n.x, in, sc)
		if err != nil {
			return nil, err
		}
		if n.op == "+" || len(x) == 0 {
			return x, nil
		}
		if len(x) > 1 {
			return nil, ev.fail(n, "unary minus on a collection of %d items", len(x))
		}
		switch v := x[0].Value.(type) {
		case Number:
			return []Item{{Value: negNumber(v), Type: typeOf(x[0])}}, nil
		case Quantity:
			return []Item{{Value: Quantity{Value: negNumber(v.Value), Unit: v.Unit}, Type: "Quantity"}}, nil
		}
		return nil, ev.fail(n, "unary minus on %s", describeType(x[0]))
	case *typeNode:
		x, err := ev.eval(n.x, in, sc)
		if err != nil {
			return nil, err
		}
		if n.op == "is" {
			if len(x) == 0 {
				return nil, nil
			}
			if len(x) > 1 {
				return nil, ev.fail(n, "'is' on a collection of %d items", len(x))
			}
			return boolean(isType(x[0], n.typ)), nil
		}
		return ofType(x, n.typ), nil
	case *binNode:
		return ev.binary(n, in, sc)
	}
	return nil, ev.fail(n, "unsupported expression")
}

// child appends the elements named name of it, resolving choice types:
// value finds valueQuantity and types it Quantity (FHIR R4, Choice of Data
// Types [x]).
func child(out []Item, it Item, name string) []Item {
	m, ok := it.Value.(map[string]any)
	if !ok {
		return out
	}
	if v, ok := m[name]; ok {
		return appendJSON(out, v, "")
	}
	for k, v := range m {
		if len(k) > len(name) && strings.HasPrefix(k, name) {
			if typ, ok := choiceType(k[len(name):]); ok {
				out = appendJSON(out, v, typ)
			}
		}
	}
	return out
}

// choiceType maps the suffix of a choice element (Quantity, DateTime) to its
// FHIR type name (Quantity, dateTime).
func choiceType(suffix string) (string, bool) {
	if suffix == "" || suffix[0] < 'A' || suffix[0] > 'Z' {
		return "", false
	}
	t, ok := choiceSuffixes[suffix]
	return t, ok
}

// choiceSuffixes maps each choice element suffix to its type name.
var choiceSuffixes = func() map[string]string {
	m := map[string]string{}
	for t := range primitiveTypes {
		m[string(t[0]-'a'+'A')+t[1:]] = t
	}
	for t := range complexTypes {
		m[t] = t
	}
	return m
}()

var primitiveTypes = map[string]bool{
	"base64Binary": true, "boolean": true, "canonical": true, "code": true, "date": true, "dateTime": true,
	"decimal": true, "id": true, "instant": true, "integer": true, "integer64": true, "markdown": true,
	"oid": true, "positiveInt": true, "string": true, "time": true, "unsignedInt": true, "uri": true,
	"url": true, "uuid": true,
}

var complexTypes = map[string]bool{
	"Address": true, "Age": true, "Annotation": true, "Attachment": true, "CodeableConcept": true,
	"CodeableReference": true, "Coding": true, "ContactPoint": true, "Count": true, "Distance": true,
	"Duration": true, "HumanName": true, "Identifier": true, "Money": true, "Period": true,
	"Quantity": true, "Range": true, "Ratio": true, "RatioRange": true, "Reference": true,
	"SampledData": true, "Signature": true, "Timing": true, "ContactDetail": true, "Contributor": true,
	"DataRequirement": true, "Expression": true, "ParameterDefinition": true, "RelatedArtifact": true,
	"TriggerDefinition": true, "UsageContext": true, "Dosage": true, "Meta": true, "Availability": true,
	"ExtendedContactDetail": true, "VirtualServiceDetail": true, "MonetaryComponent": true,
}

// trueItems and falseItems are shared, read-only results.
var (
	trueItems  = []Item{{Value: true, Type: "boolean"}}
	falseItems = []Item{{Value: false, Type: "boolean"}}
)

func boolean(b bool) []Item {
	if b {
		return trueItems[:1:1]
	}
	return falseItems[:1:1]
}

// singleInt reads a collection that must hold at most one integer.
func singleInt(c []Item) (int64, bool, error) {
	if len(c) == 0 {
		return 0, false, nil
	}
	if len(c) > 1 {
		return 0, false, fmt.Errorf("expected one integer, got %d items", len(c))
	}
	n, ok := c[0].Value.(Number)
	if !ok || !isIntText(n) {
		return 0, false, fmt.Errorf("expected an integer, got %s", describeType(c[0]))
	}
	r, ok := asRat(n)
	if !ok || !r.Num().IsInt64() {
		return 0, false, fmt.Errorf("integer %s out of range", n)
	}
	return r.Num().Int64(), true, nil
}

// truth reads a collection as a boolean (FHIRPath N1, Singleton Evaluation
// of Collections): empty is unknown; one boolean is itself; any other single
// item is true.
func truth(c []Item) (val, known bool, err error) {
	switch len(c) {
	case 0:
		return false, false, nil
	case 1:
		if b, ok := c[0].Value.(bool); ok {
			return b, true, nil
		}
		return true, true, nil
	}
	return false, false, fmt.Errorf("expected a single boolean, got %d items", len(c))
}

func (ev *evaluator) binary(n *binNode, in []Item, sc *scope) ([]Item, error) {
	l, err := ev.eval(n.l, in, sc)
	if err != nil {
		return nil, err
	}
	switch n.op {
	case "and", "or", "xor", "implies":
		// Three-valued logic (FHIRPath N1, Boolean logic).
		lv, lk, err := truth(l)
		if err != nil {
			return nil, ev.fail(n, "'%s': %v", n.op, err)
		}
		if (n.op == "and" && lk && !lv) || (n.op == "or" && lk && lv) || (n.op == "implies" && lk && !lv) {
			return boolean(n.op != "and"), nil
		}
		r, err := ev.eval(n.r, in, sc)
		if err != nil {
			return nil, err
		}
		rv, rk, err := truth(r)
		if err != nil {
			return nil, ev.fail(n, "'%s': %v", n.op, err)
		}
		switch n.op {
		case "and":
			switch {
			case rk && !rv:
				return boolean(false), nil
			case lk && rk:
				return boolean(true), nil
			}
		case "or":
			switch {
			case rk && rv:
				return boolean(true), nil
			case lk && rk:
				return boolean(false), nil
			}
		case "xor":
			if lk && rk {
				return boolean(lv != rv), nil
			}
		case "implies":
			switch {
			case rk && rv:
				return boolean(true), nil
			case lk && rk:
				return boolean(false), nil
			}
		}
		return nil, nil
	}
	r, err := ev.eval(n.r, in, sc)
	if err != nil {
		return nil, err
	}
	switch n.op {
	case "|":
		return union(l, r), nil
	case "=", "!=":
		if len(l) == 0 || len(r) == 0 {
			return nil, nil
		}
		if len(l) != len(r) {
			return boolean(n.op == "!="), nil
		}
		for i := range l {
			eq, ok := equal(l[i], r[i])
			if !ok {
				return nil, nil
			}
			if !eq {
				return boolean(n.op == "!="), nil
			}
		}
		return boolean(n.op == "="), nil
	case "~", "!~":
		if len(l) == 0 && len(r) == 0 {
			return boolean(n.op == "~"), nil
		}
		if len(l) != len(r) {
			return boolean(n.op == "!~"), nil
		}
		for _, a := range l {
			found := false
			for _, b := range r {
				if equivalent(a, b) {
					found = true
					break
				}
			}
			if !found {
				return boolean(n.op == "!~"), nil
			}
		}
		return boolean(n.op == "~"), nil
	case "in", "contains":
		item, coll := l, r
		if n.op == "contains" {
			item, coll = r, l
		}
		if len(item) == 0 {
			return nil, nil
		}
		if len(item) > 1 {
			return nil, ev.fail(n, "'%s' wants a single item, got %d", n.op, len(item))
		}
		for _, c := range coll {
			if eq, ok := equal(item[0], c); ok && eq {
				return boolean(true), nil
			}
		}
		return boolean(false), nil
	}
	if len(l) == 0 || len(r) == 0 {
		if n.op == "&" {
			return concatStrings(l, r, n, ev)
		}
		return nil, nil
	}
	if len(l) > 1 || len(r) > 1 {
		return nil, ev.fail(n, "'%s' wants single items, got %d and %d", n.op, len(l), len(r))
	}
	a, b := l[0], r[0]
	switch n.op {
	case "<", ">", "<=", ">=":
		c, ok, err := compare(a, b)
		if err != nil {
			return nil, ev.fail(n, "'%s': %v", n.op, err)
		}
		if !ok {
			return nil, nil
		}
		switch n.op {
		case "<":
			return boolean(c < 0), nil
		case ">":
			return boolean(c > 0), nil
		case "<=":
			return boolean(c <= 0), nil
		}
		return boolean(c >= 0), nil
	case "&":
		return concatStrings(l, r, n, ev)
	}
	return ev.arith(n, a, b)
}

func concatStrings(l, r []Item, n *binNode, ev *evaluator) ([]Item, error) {
	var b strings.Builder
	for _, c := range [][]Item{l, r} {
		if len(c) > 1 {
			return nil, ev.fail(n, "'&' wants single items, got %d", len(c))
		}
		if len(c) == 1 {
			s, ok := c[0].Value.(string)
			if !ok {
				return nil, ev.fail(n, "'&' wants strings, got %s", describeType(c[0]))
			}
			b.WriteString(s)
		}
	}
	return []Item{{Value: b.String(), Type: "string"}}, nil
}

// arith implements + - * / div mod on numbers and + on strings (FHIRPath
// N1, Math). Integer operands give an integer; / always gives a decimal.
func (ev *evaluator) arith(n *binNode, a, b Item) ([]Item, error) {
	if n.op == "+" || n.op == "-" {
		if q, ok := b.Value.(Quantity); ok {
			if _, ok := a.Value.(string); ok {
				sign := 1
				if n.op == "-" {
					sign = -1
				}
				res, err := addDuration(a, q, sign)
				if err != nil {
					return nil, ev.fail(n, "'%s': %v", n.op, err)
				}
				return res, nil
			}
		}
	}
	if n.op == "+" {
		if x, ok := a.Value.(string); ok {
			if y, ok := b.Value.(string); ok {
				return []Item{{Value: x + y, Type: "string"}}, nil
			}
		}
	}
	x, ok1 := a.Value.(Number)
	y, ok2 := b.Value.(Number)
	if !ok1 || !ok2 {
		return nil, ev.fail(n, "'%s' cannot combine %s and %s", n.op, describeType(a), describeType(b))
	}
	rx, ok1 := asRat(x)
	ry, ok2 := asRat(y)
	if !ok1 || !ok2 {
		return nil, ev.fail(n, "'%s': bad number", n.op)
	}
	ints := isIntText(x) && isIntText(y)
	r := new(big.Rat)
	digits := 0
	switch n.op {
	case "+":
		r.Add(rx, ry)
		digits = max(scale(x), scale(y))
	case "-":
		r.Sub(rx, ry)
		digits = max(scale(x), scale(y))
	case "*":
		r.Mul(rx, ry)
		digits = scale(x) + scale(y)
	case "/":
		if ry.Sign() == 0 {
			return nil, nil // division by zero is empty
		}
		r.Quo(rx, ry)
		digits = max(1, exactDigits(r, 8))
		ints = false
	case "div", "mod":
		if ry.Sign() == 0 {
			return nil, nil
		}
		q := new(big.Rat).Quo(rx, ry)
		t := new(big.Int).Quo(q.Num(), q.Denom()) // truncated toward zero
		if n.op == "div" {
			return []Item{{Value: Number(t.String()), Type: "integer"}}, nil
		}
		r.Sub(rx, new(big.Rat).Mul(new(big.Rat).SetInt(t), ry))
		digits = max(scale(x), scale(y))
	}
	if ints {
		if !r.IsInt() || !r.Num().IsInt64() {
			return nil, nil // overflow is empty
		}
		return []Item{{Value: Number(r.Num().String()), Type: "integer"}}, nil
	}
	return []Item{{Value: ratNumber(r, digits), Type: "decimal"}}, nil
}

// union merges two collections without duplicates (FHIRPath N1, Collections: |).
func union(l, r []Item) []Item {
	var out []Item
	var seen itemSet
	for _, c := range [][]Item{l, r} {
		for _, it := range c {
			if seen.add(it) {
				out = append(out, it)
			}
		}
	}
	return out
}

// itemSet finds duplicates by = in constant time, so that distinct(), |
// and repeat() stay linear on large collections. Elements (objects) are
// keyed by their canonical JSON, computed once per object.
type itemSet struct {
	keys  map[string]struct{}
	objs  map[unsafe.Pointer]string
	elems []Item
}

// key is a text equal for items that are = (1 and 1.0; the same string).
// ok is false for items compared otherwise.
func key(it Item) (string, bool) {
	switch v := it.Value.(type) {
	case bool:
		if v {
			return "b1", true
		}
		return "b0", true
	case string:
		if isDateType(it.Type) {
			return "", false // equality depends on precision and time zone
		}
		return "s" + v, true
	case Number:
		r, ok := asRat(v)
		if !ok {
			return "", false
		}
		return "n" + r.RatString(), true
	}
	return "", false
}

// objKey keys an object by its canonical JSON (encoding/json sorts map
// keys), which is equal exactly when the objects are deeply equal.
func (s *itemSet) objKey(it Item) (string, bool) {
	m, ok := it.Value.(map[string]any)
	if !ok {
		return "", false
	}
	p := reflect.ValueOf(m).UnsafePointer()
	if k, ok := s.objs[p]; ok {
		return k, true
	}
	b, err := json.Marshal(m)
	if err != nil {
		return "", false
	}
	if s.objs == nil {
		s.objs = map[unsafe.Pointer]string{}
	}
	k := "o" + string(b)
	s.objs[p] = k
	return k, true
}

// add adds it and reports whether it was new.
func (s *itemSet) add(it Item) bool {
	k, ok := key(it)
	if !ok {
		k, ok = s.objKey(it)
	}
	if ok {
		if s.keys == nil {
			s.keys = map[string]struct{}{}
		}
		if _, dup := s.keys[k]; dup {
			return false
		}
		s.keys[k] = struct{}{}
		return true
	}
	if contains(s.elems, it) {
		return false
	}
	s.elems = append(s.elems, it)
	return true
}

func (s *itemSet) has(it Item) bool {
	k, ok := key(it)
	if !ok {
		k, ok = s.objKey(it)
	}
	if ok {
		_, dup := s.keys[k]
		return dup
	}
	return contains(s.elems, it)
}

func setOf(c []Item) *itemSet {
	s := &itemSet{}
	for _, it := range c {
		s.add(it)
	}
	return s
}

func contains(c []Item, it Item) bool {
	for _, o := range c {
		if eq, ok := equal(o, it); ok && eq {
			return true
		}
	}
	return false
}

func ofType(c []Item, typ string) []Item {
	var out []Item
	for _, it := range c {
		if isType(it, typ) {
			out = append(out, it)
		}
	}
	return out
}
