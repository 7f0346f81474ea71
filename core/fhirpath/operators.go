package fhirpath

// The binary operators (FHIRPath N1, Operations): boolean logic,
// equality and equivalence, comparison, math, string concatenation and the
// collection operators (union, in, contains); and the item sets they use.

import (
	"encoding/json"
	"math/big"
	"reflect"
	"strings"
	"unsafe"
)

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
