package fhirpath

import (
	"fmt"
	"strings"
)

// Error is a parse or evaluation error in one expression. Pos is the 1-based
// byte column of the fault in Expr.
type Error struct {
	Expr string
	Pos  int
	Msg  string
}

// Error reads like `unknown function 'fooo' at 6 in "name.fooo()"`.
func (e *Error) Error() string {
	return fmt.Sprintf("%s at %d in %q", e.Msg, e.Pos, e.Expr)
}

// Short is the message without the expression: `unknown function 'fooo' at 6`,
// for callers that name the expression themselves (a JSON path, a column).
func (e *Error) Short() string { return fmt.Sprintf("%s at %d", e.Msg, e.Pos) }

func errAt(pos int, format string, args ...any) *Error {
	return &Error{Pos: pos + 1, Msg: fmt.Sprintf(format, args...)}
}

// maxDepth bounds the nesting of an expression so that hostile input cannot
// exhaust the stack of the recursive-descent parser or the evaluator.
const maxDepth = 200

// maxLen bounds the length of an expression.
const maxLen = 64 << 10

// Expression is a parsed FHIRPath expression: parse once, evaluate many times,
// from many goroutines.
type Expression struct {
	src  string
	root node
	vars []varRef
}

type varRef struct {
	name string
	pos  int
}

// String returns the source text.
func (x *Expression) String() string { return x.src }

// Vars returns the names of the external constants (%name) the expression
// refers to, in order of appearance, without duplicates.
func (x *Expression) Vars() []string {
	var out []string
	seen := map[string]bool{}
	for _, v := range x.vars {
		if !seen[v.name] {
			seen[v.name] = true
			out = append(out, v.name)
		}
	}
	return out
}

// CheckVars reports the first %name that known does not accept, as an Error
// with its position.
func (x *Expression) CheckVars(known func(name string) bool) error {
	for _, v := range x.vars {
		if !known(v.name) {
			e := errAt(v.pos, "unknown constant '%%%s'", v.name)
			e.Expr = x.src
			return e
		}
	}
	return nil
}

// Parse parses a FHIRPath expression (FHIRPath N1, Grammar). Function names
// and their number of arguments are checked here, so that a misspelt function
// is an error before any data is seen.
func Parse(src string) (*Expression, error) {
	if len(src) > maxLen {
		return nil, &Error{Expr: src[:64] + "...", Pos: 1, Msg: fmt.Sprintf("expression longer than %d bytes", maxLen)}
	}
	p := &parser{lex: lexer{src: src}}
	root, err := p.parse()
	if err != nil {
		if e, ok := err.(*Error); ok {
			e.Expr = src
		}
		return nil, err
	}
	return &Expression{src: src, root: root, vars: p.vars}, nil
}

// MustParse is Parse for expressions known to be valid; it panics otherwise.
func MustParse(src string) *Expression {
	x, err := Parse(src)
	if err != nil {
		panic(err)
	}
	return x
}

// Nodes of the syntax tree.
type (
	node interface{ position() int }

	// litNode is a literal; its value is computed once at parse time.
	litNode struct {
		p   int
		val []Item
	}
	// memberNode is a path step: Name on the result of Target, or on the
	// input when Target is nil.
	memberNode struct {
		p      int
		target node
		name   string
	}
	funcNode struct {
		p      int
		target node // nil: the function applies to the input
		name   string
		args   []node
		fn     *funcDef
	}
	indexNode struct {
		p           int
		target, idx node
	}
	binNode struct {
		p    int
		op   string
		l, r node
	}
	unaryNode struct {
		p  int
		op string
		x  node
	}
	typeNode struct { // is / as with a type specifier
		p   int
		op  string
		x   node
		typ string
	}
	varNode struct {
		p    int
		name string
	}
	specialNode struct { // $this, $index, $total
		p    int
		name string
	}
)

func (n *litNode) position() int     { return n.p }
func (n *memberNode) position() int  { return n.p }
func (n *funcNode) position() int    { return n.p }
func (n *indexNode) position() int   { return n.p }
func (n *binNode) position() int     { return n.p }
func (n *unaryNode) position() int   { return n.p }
func (n *typeNode) position() int    { return n.p }
func (n *varNode) position() int     { return n.p }
func (n *specialNode) position() int { return n.p }

type parser struct {
	lex   lexer
	tok   token
	peekd bool
	depth int
	vars  []varRef
}

func (p *parser) peek() (token, error) {
	if !p.peekd {
		t, err := p.lex.next()
		if err != nil {
			return token{}, err
		}
		p.tok, p.peekd = t, true
	}
	return p.tok, nil
}

func (p *parser) take() (token, error) {
	t, err := p.peek()
	p.peekd = false
	return t, err
}

func (p *parser) parse() (node, error) {
	t, err := p.peek()
	if err != nil {
		return nil, err
	}
	if t.kind == tEOF {
		return nil, errAt(0, "empty expression")
	}
	n, err := p.expr(0)
	if err != nil {
		return nil, err
	}
	t, err = p.peek()
	if err != nil {
		return nil, err
	}
	if t.kind != tEOF {
		return nil, errAt(t.pos, "unexpected %s", describe(t))
	}
	return n, nil
}

func describe(t token) string {
	switch t.kind {
	case tEOF:
		return "end of expression"
	case tString:
		return "string '" + t.text + "'"
	case tIdent:
		return "'" + t.text + "'"
	}
	return "'" + t.text + "'"
}

// Binary operator precedence, lowest first (FHIRPath N1, Operator precedence).
var precedence = map[string]int{
	"implies": 1,
	"or":      2, "xor": 2,
	"and": 3,
	"in":  4, "contains": 4,
	"=": 5, "~": 5, "!=": 5, "!~": 5,
	"<": 6, ">": 6, "<=": 6, ">=": 6,
	"|":  7,
	"is": 8, "as": 8,
	"+": 9, "-": 9, "&": 9,
	"*": 10, "/": 10, "div": 10, "mod": 10,
}

// binop returns the binary operator at t and its precedence, if any.
func binop(t token) (string, int) {
	if t.kind != tOp && t.kind != tIdent {
		return "", 0
	}
	if t.kind == tIdent {
		switch t.text {
		case "implies", "or", "xor", "and", "in", "contains", "is", "as", "div", "mod":
		default:
			return "", 0
		}
	}
	prec, ok := precedence[t.text]
	if !ok {
		return "", 0
	}
	return t.text, prec
}

// expr parses a binary expression whose operators bind tighter than min.
func (p *parser) expr(min int) (node, error) {
	p.depth++
	defer func() { p.depth-- }()
	if p.depth > maxDepth {
		t, _ := p.peek()
		return nil, errAt(t.pos, "expression nested too deeply")
	}
	left, err := p.unary()
	if err != nil {
		return nil, err
	}
	for {
		t, err := p.peek()
		if err != nil {
			return nil, err
		}
		op, prec := binop(t)
		if prec == 0 || prec <= min {
			return left, nil
		}
		p.take()
		if op == "is" || op == "as" {
			typ, err := p.typeSpec()
			if err != nil {
				return nil, err
			}
			left = &typeNode{p: t.pos, op: op, x: left, typ: typ}
			continue
		}
		right, err := p.expr(prec)
		if err != nil {
			return nil, err
		}
		left = &binNode{p: t.pos, op: op, l: left, r: right}
	}
}

// typeSpec parses a qualified identifier such as FHIR.Quantity or string.
func (p *parser) typeSpec() (string, error) {
	t, err := p.take()
	if err != nil {
		return "", err
	}
	if t.kind != tIdent {
		return "", errAt(t.pos, "expected a type name, found %s", describe(t))
	}
	name := t.text
	for {
		n, err := p.peek()
		if err != nil {
			return "", err
		}
		if n.kind != tOp || n.text != "." {
			return name, nil
		}
		p.take()
		t, err := p.take()
		if err != nil {
			return "", err
		}
		if t.kind != tIdent {
			return "", errAt(t.pos, "expected a type name, found %s", describe(t))
		}
		name += "." + t.text
	}
}

func (p *parser) unary() (node, error) {
	t, err := p.peek()
	if err != nil {
		return nil, err
	}
	if t.kind == tOp && (t.text == "+" || t.text == "-") {
		p.take()
		p.depth++
		defer func() { p.depth-- }()
		if p.depth > maxDepth {
			return nil, errAt(t.pos, "expression nested too deeply")
		}
		x, err := p.unary()
		if err != nil {
			return nil, err
		}
		// Fold a negative number literal so that -1 stays a literal.
		if lit, ok := x.(*litNode); ok && t.text == "-" && len(lit.val) == 1 {
			if n, ok := lit.val[0].Value.(Number); ok {
				return &litNode{p: t.pos, val: []Item{{Value: negNumber(n), Type: lit.val[0].Type}}}, nil
			}
		}
		return &unaryNode{p: t.pos, op: t.text, x: x}, nil
	}
	return p.postfix()
}

// postfix parses a term followed by any number of .member, .function() and [index].
func (p *parser) postfix() (node, error) {
	n, err := p.term()
	if err != nil {
		return nil, err
	}
	for {
		t, err := p.peek()
		if err != nil {
			return nil, err
		}
		if t.kind != tOp || (t.text != "." && t.text != "[") {
			return n, nil
		}
		p.take()
		if t.text == "[" {
			idx, err := p.expr(0)
			if err != nil {
				return nil, err
			}
			if err := p.expect("]"); err != nil {
				return nil, err
			}
			n = &indexNode{p: t.pos, target: n, idx: idx}
			continue
		}
		id, err := p.take()
		if err != nil {
			return nil, err
		}
		if id.kind != tIdent {
			return nil, errAt(id.pos, "expected a name after '.', found %s", describe(id))
		}
		n, err = p.invocation(n, id)
		if err != nil {
			return nil, err
		}
	}
}

func (p *parser) expect(op string) error {
	t, err := p.take()
	if err != nil {
		return err
	}
	if t.kind != tOp || t.text != op {
		return errAt(t.pos, "expected '%s', found %s", op, describe(t))
	}
	return nil
}

// invocation parses what follows an identifier: a function call when a '('
// follows, a member otherwise.
func (p *parser) invocation(target node, id token) (node, error) {
	t, err := p.peek()
	if err != nil {
		return nil, err
	}
	if t.kind != tOp || t.text != "(" {
		return &memberNode{p: id.pos, target: target, name: id.text}, nil
	}
	p.take()
	var args []node
	t, err = p.peek()
	if err != nil {
		return nil, err
	}
	if t.kind == tOp && t.text == ")" {
		p.take()
	} else {
		for {
			a, err := p.expr(0)
			if err != nil {
				return nil, err
			}
			args = append(args, a)
			t, err := p.take()
			if err != nil {
				return nil, err
			}
			if t.kind == tOp && t.text == ")" {
				break
			}
			if t.kind != tOp || t.text != "," {
				return nil, errAt(t.pos, "expected ',' or ')', found %s", describe(t))
			}
		}
	}
	fn, ok := functions[id.text]
	if !ok {
		return nil, errAt(id.pos, "unknown function '%s'", id.text)
	}
	if len(args) < fn.min || len(args) > fn.max {
		return nil, errAt(id.pos, "function '%s' takes %s, got %d", id.text, arity(fn), len(args))
	}
	if fn.typeArg {
		// ofType(X), is(X), as(X), getReferenceKey(X): the argument is a type.
		for i, a := range args {
			name, ok := typeName(a)
			if !ok {
				return nil, errAt(a.position(), "function '%s' wants a type name", id.text)
			}
			args[i] = &litNode{p: a.position(), val: []Item{{Value: name, Type: "string"}}}
		}
	}
	return &funcNode{p: id.pos, target: target, name: id.text, args: args, fn: fn}, nil
}

func arity(fn *funcDef) string {
	switch {
	case fn.min == fn.max && fn.min == 0:
		return "no arguments"
	case fn.min == fn.max && fn.min == 1:
		return "1 argument"
	case fn.min == fn.max:
		return fmt.Sprintf("%d arguments", fn.min)
	}
	return fmt.Sprintf("%d to %d arguments", fn.min, fn.max)
}

// typeName reads a type specifier written as an expression: Quantity, FHIR.Quantity.
func typeName(n node) (string, bool) {
	switch n := n.(type) {
	case *memberNode:
		if n.target == nil {
			return n.name, true
		}
		q, ok := typeName(n.target)
		if !ok {
			return "", false
		}
		return q + "." + n.name, true
	}
	return "", false
}

func (p *parser) term() (node, error) {
	t, err := p.take()
	if err != nil {
		return nil, err
	}
	switch t.kind {
	case tEOF:
		return nil, errAt(t.pos, "unexpected end of expression")
	case tIdent:
		switch t.text {
		case "true", "false":
			return &litNode{p: t.pos, val: []Item{{Value: t.text == "true", Type: "boolean"}}}, nil
		}
		return p.invocation(nil, t)
	case tString:
		return &litNode{p: t.pos, val: []Item{{Value: t.text, Type: "string"}}}, nil
	case tNumber:
		n := Number(t.text)
		// A number followed by a unit is a Quantity (FHIRPath N1, Literals: Quantity).
		u, err := p.peek()
		if err != nil {
			return nil, err
		}
		if unit, ok := quantityUnit(u); ok {
			p.take()
			return &litNode{p: t.pos, val: []Item{{Value: Quantity{Value: n, Unit: unit}, Type: "Quantity"}}}, nil
		}
		return &litNode{p: t.pos, val: []Item{{Value: n, Type: numType(n)}}}, nil
	case tDate:
		typ, ok := dateLiteralType(t.text)
		if !ok {
			return nil, errAt(t.pos, "bad date/time literal '@%s'", t.text)
		}
		v := strings.TrimSuffix(t.text, "T")
		if typ == "time" {
			v = v[1:]
		}
		return &litNode{p: t.pos, val: []Item{{Value: v, Type: typ}}}, nil
	case tExtConst:
		p.vars = append(p.vars, varRef{name: t.text, pos: t.pos})
		return &varNode{p: t.pos, name: t.text}, nil
	case tSpecial:
		return &specialNode{p: t.pos, name: t.text}, nil
	case tOp:
		switch t.text {
		case "(":
			n, err := p.expr(0)
			if err != nil {
				return nil, err
			}
			if err := p.expect(")"); err != nil {
				return nil, err
			}
			return n, nil
		case "{":
			if err := p.expect("}"); err != nil {
				return nil, err
			}
			return &litNode{p: t.pos}, nil
		}
	}
	return nil, errAt(t.pos, "unexpected %s", describe(t))
}

// calendarUnits are the unquoted Quantity units (FHIRPath N1, Literals: Quantity).
var calendarUnits = map[string]string{
	"year": "year", "years": "year", "month": "month", "months": "month",
	"week": "week", "weeks": "week", "day": "day", "days": "day",
	"hour": "hour", "hours": "hour", "minute": "minute", "minutes": "minute",
	"second": "second", "seconds": "second", "millisecond": "millisecond", "milliseconds": "millisecond",
}

func quantityUnit(t token) (string, bool) {
	switch t.kind {
	case tString:
		return t.text, true
	case tIdent:
		u, ok := calendarUnits[t.text]
		return u, ok
	}
	return "", false
}

// dateLiteralType checks the text after '@' and names its type: date,
// dateTime or time (FHIRPath N1, Literals: Date, DateTime, Time).
func dateLiteralType(s string) (string, bool) {
	if strings.HasPrefix(s, "T") {
		if _, ok := parseTime(s[1:]); ok {
			return "time", true
		}
		return "", false
	}
	if strings.HasSuffix(s, "T") {
		if _, ok := parseDateTime(s[:len(s)-1]); ok {
			return "dateTime", true
		}
		return "", false
	}
	dt, ok := parseDateTime(s)
	if !ok {
		return "", false
	}
	if dt.prec <= precDay && !dt.hasTZ {
		return "date", true
	}
	return "dateTime", true
}

// resultTypes names the type some functions always return.
var resultTypes = map[string]string{
	"exists": "boolean", "empty": "boolean", "all": "boolean", "allTrue": "boolean", "anyTrue": "boolean",
	"allFalse": "boolean", "anyFalse": "boolean", "not": "boolean", "hasValue": "boolean",
	"isDistinct": "boolean", "subsetOf": "boolean", "supersetOf": "boolean", "startsWith": "boolean",
	"endsWith": "boolean", "contains": "boolean", "matches": "boolean", "matchesFull": "boolean",
	"is": "boolean", "convertsToString": "boolean", "convertsToInteger": "boolean",
	"convertsToDecimal": "boolean", "convertsToBoolean": "boolean", "convertsToDate": "boolean",
	"convertsToDateTime": "boolean", "convertsToTime": "boolean", "convertsToQuantity": "boolean",
	"count": "integer", "length": "integer", "indexOf": "integer",
	"join": "string", "upper": "string", "lower": "string", "toString": "string", "substring": "string",
	"replace": "string", "replaceMatches": "string", "trim": "string", "getResourceKey": "string",
	"getReferenceKey": "string", "toInteger": "integer", "toDecimal": "decimal", "toBoolean": "boolean",
	"today": "date", "now": "dateTime", "timeOfDay": "time",
}

// ResultType is the type the expression always returns when that is known
// without data (boolean for a comparison or exists(), string for join(),
// the type of a literal), and "" when it depends on the data, as a path does.
func (x *Expression) ResultType() string {
	switch n := x.root.(type) {
	case *litNode:
		if len(n.val) == 1 {
			return n.val[0].Type
		}
	case *binNode:
		switch n.op {
		case "and", "or", "xor", "implies", "=", "!=", "~", "!~", "<", ">", "<=", ">=", "in", "contains":
			return "boolean"
		case "&":
			return "string"
		}
	case *typeNode:
		if n.op == "is" {
			return "boolean"
		}
	case *funcNode:
		return resultTypes[n.name]
	}
	return ""
}
