package fhirpath

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"unicode/utf8"
)

// funcDef describes one function: how many arguments it takes, whether they
// are type names, and its implementation. fn receives the input collection
// and evaluates its own arguments, so that functions such as where() can run
// them once per item.
type funcDef struct {
	min, max int
	typeArg  bool
	fn       func(ev *evaluator, n *funcNode, in []Item, sc *scope) ([]Item, error)
}

var functions map[string]*funcDef

func init() {
	functions = map[string]*funcDef{
		// Existence (FHIRPath N1, 5.1).
		"empty": {fn: func(_ *evaluator, _ *funcNode, in []Item, _ *scope) ([]Item, error) {
			return boolean(len(in) == 0), nil
		}},
		"exists":   {max: 1, fn: fnExists},
		"all":      {min: 1, max: 1, fn: fnAll},
		"allTrue":  {fn: boolAgg(true, true)},
		"anyTrue":  {fn: boolAgg(true, false)},
		"allFalse": {fn: boolAgg(false, true)},
		"anyFalse": {fn: boolAgg(false, false)},
		"count": {fn: func(_ *evaluator, _ *funcNode, in []Item, _ *scope) ([]Item, error) {
			return []Item{{Value: Number(strconv.Itoa(len(in))), Type: "integer"}}, nil
		}},
		"distinct": {fn: func(_ *evaluator, _ *funcNode, in []Item, _ *scope) ([]Item, error) { return union(in, nil), nil }},
		"isDistinct": {fn: func(_ *evaluator, _ *funcNode, in []Item, _ *scope) ([]Item, error) {
			return boolean(len(union(in, nil)) == len(in)), nil
		}},
		"subsetOf":   {min: 1, max: 1, fn: fnSubset(false)},
		"supersetOf": {min: 1, max: 1, fn: fnSubset(true)},
		"hasValue": {fn: func(_ *evaluator, _ *funcNode, in []Item, _ *scope) ([]Item, error) {
			if len(in) != 1 {
				return boolean(false), nil
			}
			_, isMap := in[0].Value.(map[string]any)
			return boolean(!isMap), nil
		}},
		// Filtering and projection (5.2).
		"where":  {min: 1, max: 1, fn: fnWhere},
		"select": {min: 1, max: 1, fn: fnSelect},
		"repeat": {min: 1, max: 1, fn: fnRepeat},
		"ofType": {min: 1, max: 1, typeArg: true, fn: func(ev *evaluator, n *funcNode, in []Item, sc *scope) ([]Item, error) {
			return ofType(in, typeArg(n)), nil
		}},
		"is": {min: 1, max: 1, typeArg: true, fn: func(ev *evaluator, n *funcNode, in []Item, sc *scope) ([]Item, error) {
			if len(in) == 0 {
				return nil, nil
			}
			if len(in) > 1 {
				return nil, fmt.Errorf("on a collection of %d items", len(in))
			}
			return boolean(isType(in[0], typeArg(n))), nil
		}},
		"as": {min: 1, max: 1, typeArg: true, fn: func(ev *evaluator, n *funcNode, in []Item, sc *scope) ([]Item, error) {
			return ofType(in, typeArg(n)), nil
		}},
		// Subsetting (5.3).
		"first": {fn: func(_ *evaluator, _ *funcNode, in []Item, _ *scope) ([]Item, error) {
			if len(in) == 0 {
				return nil, nil
			}
			return in[:1], nil
		}},
		"last": {fn: func(_ *evaluator, _ *funcNode, in []Item, _ *scope) ([]Item, error) {
			if len(in) == 0 {
				return nil, nil
			}
			return in[len(in)-1:], nil
		}},
		"tail": {fn: func(_ *evaluator, _ *funcNode, in []Item, _ *scope) ([]Item, error) {
			if len(in) < 2 {
				return nil, nil
			}
			return in[1:], nil
		}},
		"single": {fn: func(_ *evaluator, _ *funcNode, in []Item, _ *scope) ([]Item, error) {
			if len(in) > 1 {
				return nil, fmt.Errorf("collection has %d items", len(in))
			}
			return in, nil
		}},
		"skip": {min: 1, max: 1, fn: func(ev *evaluator, n *funcNode, in []Item, sc *scope) ([]Item, error) {
			k, err := ev.intArg(n, 0, sc)
			if err != nil {
				return nil, err
			}
			if k >= int64(len(in)) {
				return nil, nil
			}
			return in[max(k, 0):], nil
		}},
		"take": {min: 1, max: 1, fn: func(ev *evaluator, n *funcNode, in []Item, sc *scope) ([]Item, error) {
			k, err := ev.intArg(n, 0, sc)
			if err != nil {
				return nil, err
			}
			if k <= 0 {
				return nil, nil
			}
			return in[:min(k, int64(len(in)))], nil
		}},
		"intersect": {min: 1, max: 1, fn: fnSetOp(true)},
		"exclude":   {min: 1, max: 1, fn: fnSetOp(false)},
		"union": {min: 1, max: 1, fn: func(ev *evaluator, n *funcNode, in []Item, sc *scope) ([]Item, error) {
			other, err := ev.eval(n.args[0], sc.this, sc)
			if err != nil {
				return nil, err
			}
			return union(in, other), nil
		}},
		"combine": {min: 1, max: 1, fn: func(ev *evaluator, n *funcNode, in []Item, sc *scope) ([]Item, error) {
			other, err := ev.eval(n.args[0], sc.this, sc)
			if err != nil {
				return nil, err
			}
			return append(append([]Item(nil), in...), other...), nil
		}},
		"iif": {min: 2, max: 3, fn: fnIif},
		"not": {fn: func(_ *evaluator, _ *funcNode, in []Item, _ *scope) ([]Item, error) {
			v, known, err := truth(in)
			if err != nil || !known {
				return nil, err
			}
			return boolean(!v), nil
		}},
		"trace": {min: 1, max: 2, fn: func(_ *evaluator, _ *funcNode, in []Item, _ *scope) ([]Item, error) { return in, nil }},
		"children": {fn: func(_ *evaluator, _ *funcNode, in []Item, _ *scope) ([]Item, error) {
			var out []Item
			for _, it := range in {
				out = children(out, it)
			}
			return out, nil
		}},
		"descendants": {fn: func(_ *evaluator, _ *funcNode, in []Item, _ *scope) ([]Item, error) {
			var out []Item
			for next := in; len(next) > 0; {
				var level []Item
				for _, it := range next {
					level = children(level, it)
				}
				out = append(out, level...)
				if len(out) > maxItems {
					return nil, fmt.Errorf("more than %d items", maxItems)
				}
				next = level
			}
			return out, nil
		}},
		// Conversion (5.5).
		"toString":           {fn: convert(toString)},
		"toInteger":          {fn: convert(toInteger)},
		"toDecimal":          {fn: convert(toDecimal)},
		"toBoolean":          {fn: convert(toBoolean)},
		"toDate":             {fn: convert(toDateFn("date"))},
		"toDateTime":         {fn: convert(toDateFn("dateTime"))},
		"toTime":             {fn: convert(toDateFn("time"))},
		"convertsToString":   {fn: convertsTo(toString)},
		"convertsToInteger":  {fn: convertsTo(toInteger)},
		"convertsToDecimal":  {fn: convertsTo(toDecimal)},
		"convertsToBoolean":  {fn: convertsTo(toBoolean)},
		"convertsToDate":     {fn: convertsTo(toDateFn("date"))},
		"convertsToDateTime": {fn: convertsTo(toDateFn("dateTime"))},
		"convertsToTime":     {fn: convertsTo(toDateFn("time"))},
		"toQuantity":         {max: 1, fn: convert(toQuantity)},
		"convertsToQuantity": {max: 1, fn: convertsTo(toQuantity)},
		"lowBoundary":        {max: 1, fn: fnBoundary(false)},
		"highBoundary":       {max: 1, fn: fnBoundary(true)},
		"precision":          {fn: fnPrecision},
		"getResourceKey":     {fn: fnResourceKey},
		"getReferenceKey":    {max: 1, typeArg: true, fn: fnReferenceKey},
		"extension":          {min: 1, max: 1, fn: fnExtension},
		"join":               {max: 1, fn: fnJoin},
		"today":              {fn: fnToday},
		"now":                {fn: fnNow},
		"timeOfDay":          {fn: fnTimeOfDay},
		"abs":                {fn: mathFn("abs")},
		"ceiling":            {fn: mathFn("ceiling")},
		"floor":              {fn: mathFn("floor")},
		"truncate":           {fn: mathFn("truncate")},
		"round":              {max: 1, fn: fnRound},
		"sqrt":               {fn: floatFn(math.Sqrt)},
		"exp":                {fn: floatFn(math.Exp)},
		"ln":                 {fn: floatFn(math.Log)},
		"log":                {min: 1, max: 1, fn: fnLog},
		"power":              {min: 1, max: 1, fn: fnPower},
		"length":             {fn: strFn(func(s string) any { return Number(strconv.Itoa(utf8.RuneCountInString(s))) })},
		"upper":              {fn: strFn(func(s string) any { return strings.ToUpper(s) })},
		"lower":              {fn: strFn(func(s string) any { return strings.ToLower(s) })},
		"trim":               {fn: strFn(func(s string) any { return strings.TrimSpace(s) })},
		"toChars":            {fn: fnToChars},
		"startsWith":         {min: 1, max: 1, fn: strArgFn(func(s, a string) any { return strings.HasPrefix(s, a) })},
		"endsWith":           {min: 1, max: 1, fn: strArgFn(func(s, a string) any { return strings.HasSuffix(s, a) })},
		"contains":           {min: 1, max: 1, fn: strArgFn(func(s, a string) any { return strings.Contains(s, a) })},
		"indexOf":            {min: 1, max: 1, fn: strArgFn(indexOf)},
		"matches":            {min: 1, max: 1, fn: fnMatches(false)},
		"matchesFull":        {min: 1, max: 1, fn: fnMatches(true)},
		"replaceMatches":     {min: 2, max: 2, fn: fnReplaceMatches},
		"replace":            {min: 2, max: 2, fn: fnReplace},
		"substring":          {min: 1, max: 2, fn: fnSubstring},
		"split":              {min: 1, max: 1, fn: fnSplit},
		"resolve":            {fn: func(_ *evaluator, _ *funcNode, _ []Item, _ *scope) ([]Item, error) { return nil, nil }},
		"aggregate":          {min: 1, max: 2, fn: fnAggregate},
		"htmlChecks":         {fn: func(_ *evaluator, _ *funcNode, _ []Item, _ *scope) ([]Item, error) { return boolean(true), nil }},
		"hasTemplateIdOf":    {min: 1, max: 1, fn: func(_ *evaluator, _ *funcNode, _ []Item, _ *scope) ([]Item, error) { return boolean(false), nil }},
	}
}

func typeArg(n *funcNode) string { return n.args[0].(*litNode).val[0].Value.(string) }

// each evaluates a function's argument once per input item, with $this and
// $index bound (FHIRPath N1, Functions: iteration).
func (ev *evaluator) each(arg node, in []Item, sc *scope, f func(i int, res []Item) (stop bool, err error)) error {
	inner := scope{total: sc.total}
	for i := range in {
		inner.this, inner.index = in[i:i+1], i
		res, err := ev.eval(arg, inner.this, &inner)
		if err != nil {
			return err
		}
		stop, err := f(i, res)
		if err != nil || stop {
			return err
		}
	}
	return nil
}

func fnExists(ev *evaluator, n *funcNode, in []Item, sc *scope) ([]Item, error) {
	if len(n.args) == 0 {
		return boolean(len(in) > 0), nil
	}
	found := false
	err := ev.each(n.args[0], in, sc, func(_ int, res []Item) (bool, error) {
		v, known, err := truth(res)
		found = known && v
		return found, err
	})
	return boolean(found), err
}

func fnAll(ev *evaluator, n *funcNode, in []Item, sc *scope) ([]Item, error) {
	all := true
	err := ev.each(n.args[0], in, sc, func(_ int, res []Item) (bool, error) {
		v, known, err := truth(res)
		all = known && v
		return !all, err
	})
	return boolean(all), err
}

// boolAgg builds allTrue, anyTrue, allFalse, anyFalse.
func boolAgg(want, every bool) func(*evaluator, *funcNode, []Item, *scope) ([]Item, error) {
	return func(_ *evaluator, _ *funcNode, in []Item, _ *scope) ([]Item, error) {
		for _, it := range in {
			b, ok := it.Value.(bool)
			if !ok {
				return nil, fmt.Errorf("wants booleans, got %s", describeType(it))
			}
			if every && b != want {
				return boolean(false), nil
			}
			if !every && b == want {
				return boolean(true), nil
			}
		}
		return boolean(every), nil
	}
}

func fnSubset(super bool) func(*evaluator, *funcNode, []Item, *scope) ([]Item, error) {
	return func(ev *evaluator, n *funcNode, in []Item, sc *scope) ([]Item, error) {
		other, err := ev.eval(n.args[0], sc.this, sc)
		if err != nil {
			return nil, err
		}
		a, b := in, other
		if super {
			a, b = other, in
		}
		set := setOf(b)
		for _, it := range a {
			if !set.has(it) {
				return boolean(false), nil
			}
		}
		return boolean(true), nil
	}
}

func fnSetOp(keep bool) func(*evaluator, *funcNode, []Item, *scope) ([]Item, error) {
	return func(ev *evaluator, n *funcNode, in []Item, sc *scope) ([]Item, error) {
		other, err := ev.eval(n.args[0], sc.this, sc)
		if err != nil {
			return nil, err
		}
		var out []Item
		set, seen := setOf(other), itemSet{}
		for _, it := range in {
			if set.has(it) == keep && (!keep || seen.add(it)) {
				out = append(out, it)
			}
		}
		return out, nil
	}
}

func fnWhere(ev *evaluator, n *funcNode, in []Item, sc *scope) ([]Item, error) {
	var out []Item
	err := ev.each(n.args[0], in, sc, func(i int, res []Item) (bool, error) {
		v, known, err := truth(res)
		if known && v {
			out = append(out, in[i])
		}
		return false, err
	})
	return out, err
}

func fnSelect(ev *evaluator, n *funcNode, in []Item, sc *scope) ([]Item, error) {
	var out []Item
	err := ev.each(n.args[0], in, sc, func(_ int, res []Item) (bool, error) {
		out = append(out, res...)
		if len(out) > maxItems {
			return true, fmt.Errorf("more than %d items", maxItems)
		}
		return false, nil
	})
	return out, err
}

func fnRepeat(ev *evaluator, n *funcNode, in []Item, sc *scope) ([]Item, error) {
	var out []Item
	var seen itemSet
	for next := in; len(next) > 0; {
		var level []Item
		err := ev.each(n.args[0], next, sc, func(_ int, res []Item) (bool, error) {
			for _, it := range res {
				if seen.add(it) {
					out = append(out, it)
					level = append(level, it)
				}
			}
			if len(out) > maxItems {
				return true, fmt.Errorf("more than %d items", maxItems)
			}
			return false, nil
		})
		if err != nil {
			return nil, err
		}
		next = level
	}
	return out, nil
}

func fnIif(ev *evaluator, n *funcNode, in []Item, sc *scope) ([]Item, error) {
	if len(in) > 1 {
		return nil, fmt.Errorf("on a collection of %d items", len(in))
	}
	this := sc
	if n.target != nil {
		this = &scope{this: in, total: sc.total}
	}
	cond, err := ev.eval(n.args[0], this.this, this)
	if err != nil {
		return nil, err
	}
	v, known, err := truth(cond)
	if err != nil {
		return nil, err
	}
	if known && v {
		return ev.eval(n.args[1], this.this, this)
	}
	if len(n.args) == 3 {
		return ev.eval(n.args[2], this.this, this)
	}
	return nil, nil
}

func fnAggregate(ev *evaluator, n *funcNode, in []Item, sc *scope) ([]Item, error) {
	var total []Item
	if len(n.args) == 2 {
		var err error
		if total, err = ev.eval(n.args[1], sc.this, sc); err != nil {
			return nil, err
		}
	}
	inner := scope{}
	for i := range in {
		inner.this, inner.index, inner.total = in[i:i+1], i, total
		res, err := ev.eval(n.args[0], inner.this, &inner)
		if err != nil {
			return nil, err
		}
		total = res
	}
	return total, nil
}

// children lists the child elements of a complex item.
func children(out []Item, it Item) []Item {
	m, ok := it.Value.(map[string]any)
	if !ok {
		return out
	}
	for k, v := range m {
		if k == "resourceType" {
			continue
		}
		out = appendJSON(out, v, "")
	}
	return out
}

func (ev *evaluator) argValue(n *funcNode, i int, sc *scope) ([]Item, error) {
	return ev.eval(n.args[i], sc.this, sc)
}

func (ev *evaluator) intArg(n *funcNode, i int, sc *scope) (int64, error) {
	v, err := ev.argValue(n, i, sc)
	if err != nil {
		return 0, err
	}
	k, ok, err := singleInt(v)
	if err != nil {
		return 0, err
	}
	if !ok {
		return 0, fmt.Errorf("argument %d is empty", i+1)
	}
	return k, nil
}

// stringArg evaluates argument i as a single string; ok is false when empty.
func (ev *evaluator) stringArg(n *funcNode, i int, sc *scope) (string, bool, error) {
	v, err := ev.argValue(n, i, sc)
	if err != nil {
		return "", false, err
	}
	switch len(v) {
	case 0:
		return "", false, nil
	case 1:
		if s, ok := v[0].Value.(string); ok {
			return s, true, nil
		}
		return "", false, fmt.Errorf("argument %d: expected a string, got %s", i+1, describeType(v[0]))
	}
	return "", false, fmt.Errorf("argument %d: expected one string, got %d", i+1, len(v))
}

// singleString reads the input of a string function: empty, or one string.
func singleString(in []Item) (string, bool, error) {
	switch len(in) {
	case 0:
		return "", false, nil
	case 1:
		if s, ok := in[0].Value.(string); ok {
			return s, true, nil
		}
		return "", false, fmt.Errorf("expected a string, got %s", describeType(in[0]))
	}
	return "", false, fmt.Errorf("expected one string, got %d items", len(in))
}

func wrap(v any) []Item {
	switch v := v.(type) {
	case nil:
		return nil
	case bool:
		return boolean(v)
	case string:
		return []Item{{Value: v, Type: "string"}}
	case Number:
		return []Item{{Value: v, Type: numType(v)}}
	case []Item:
		return v
	}
	panic(fmt.Sprintf("fhirpath: wrap %T", v))
}

// fnExtension keeps the extensions with the given url (FHIR R4, FHIRPath:
// extension(url)).
func fnExtension(ev *evaluator, n *funcNode, in []Item, sc *scope) ([]Item, error) {
	url, ok, err := ev.stringArg(n, 0, sc)
	if !ok {
		return nil, err
	}
	var out []Item
	for _, it := range in {
		for _, e := range child(nil, it, "extension") {
			if m, ok := e.Value.(map[string]any); ok && m["url"] == url {
				out = append(out, Item{Value: m, Type: "Extension"})
			}
		}
	}
	return out, nil
}

// fnResourceKey returns the resource's key: its id (SQL on FHIR v2,
// FHIRPath functions: getResourceKey).
func fnResourceKey(_ *evaluator, _ *funcNode, in []Item, _ *scope) ([]Item, error) {
	var out []Item
	for _, it := range in {
		m, ok := it.Value.(map[string]any)
		if !ok {
			continue
		}
		if id, ok := m["id"].(string); ok {
			out = append(out, Item{Value: id, Type: "string"})
		}
	}
	return out, nil
}

// fnReferenceKey returns the key of the resource a Reference points to, so
// that it joins with getResourceKey(); with a type, only references to that
// type count (SQL on FHIR v2, FHIRPath functions: getReferenceKey).
func fnReferenceKey(_ *evaluator, n *funcNode, in []Item, _ *scope) ([]Item, error) {
	want := ""
	if len(n.args) == 1 {
		want = strings.TrimPrefix(typeArg(n), "FHIR.")
	}
	var out []Item
	for _, it := range in {
		m, ok := it.Value.(map[string]any)
		if !ok {
			continue
		}
		ref, _ := m["reference"].(string)
		typ, id, ok := splitReference(ref)
		if !ok {
			continue
		}
		if want != "" && typ != want {
			continue
		}
		out = append(out, Item{Value: id, Type: "string"})
	}
	return out, nil
}

// splitReference reads Type/id, an absolute URL ending in Type/id, either
// with /_history/version (FHIR R4, References: Literal references).
func splitReference(ref string) (typ, id string, ok bool) {
	if ref == "" || strings.HasPrefix(ref, "#") {
		return "", "", false
	}
	if i := strings.Index(ref, "/_history/"); i >= 0 {
		ref = ref[:i]
	}
	i := strings.LastIndexByte(ref, '/')
	if i <= 0 {
		return "", "", false
	}
	typ, id = ref[:i], ref[i+1:]
	if j := strings.LastIndexByte(typ, '/'); j >= 0 {
		typ = typ[j+1:]
	}
	if typ == "" || id == "" || typ[0] < 'A' || typ[0] > 'Z' {
		return "", "", false
	}
	return typ, id, true
}

func fnToday(ev *evaluator, _ *funcNode, _ []Item, _ *scope) ([]Item, error) {
	return []Item{{Value: ev.env.now().Format("2006-01-02"), Type: "date"}}, nil
}

func fnNow(ev *evaluator, _ *funcNode, _ []Item, _ *scope) ([]Item, error) {
	return []Item{{Value: ev.env.now().Format("2006-01-02T15:04:05.000Z07:00"), Type: "dateTime"}}, nil
}

func fnTimeOfDay(ev *evaluator, _ *funcNode, _ []Item, _ *scope) ([]Item, error) {
	return []Item{{Value: ev.env.now().Format("15:04:05.000"), Type: "time"}}, nil
}
