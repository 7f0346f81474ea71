package fhirpath

import (
	"errors"
	"fmt"
	"strings"
	"time"
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

func ofType(c []Item, typ string) []Item {
	var out []Item
	for _, it := range c {
		if isType(it, typ) {
			out = append(out, it)
		}
	}
	return out
}
