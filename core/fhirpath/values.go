package fhirpath

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math/big"
	"reflect"
	"strconv"
	"strings"
	"time"
)

// Item is one element of a FHIRPath collection. Value is one of:
//   - map[string]any: a FHIR resource or complex element, as decoded JSON;
//   - string: strings, codes, URIs, and dates, dateTimes, instants and times
//     in their FHIR text form;
//   - bool;
//   - Number: integers and decimals, with their exact text;
//   - Quantity: a quantity literal.
//
// Type is the FHIR type name when it is known (from a choice element such as
// valueQuantity, or from a literal or function), and "" when the value came
// from a plain JSON element: without a FHIR model the type of name.family is
// only known to be a string.
type Item struct {
	Value any
	Type  string
}

// Number is an integer or decimal with its exact text (no float rounding):
// json.Number, as produced by decoding with UseNumber.
type Number = json.Number

// Quantity is a FHIRPath quantity literal such as 5 'mg' or 3 days.
type Quantity struct {
	Value Number
	Unit  string
}

func (q Quantity) String() string { return fmt.Sprintf("%s '%s'", q.Value, q.Unit) }

// Decode decodes one JSON document keeping numbers exact.
func Decode(data []byte) (any, error) {
	d := json.NewDecoder(bytes.NewReader(data))
	d.UseNumber()
	var v any
	if err := d.Decode(&v); err != nil {
		return nil, err
	}
	if d.More() {
		return nil, fmt.Errorf("trailing data after the JSON value")
	}
	return v, nil
}

// FromJSON turns a decoded JSON value into a collection: arrays are
// flattened, null is empty.
func FromJSON(v any) []Item { return appendJSON(nil, v, "") }

func appendJSON(out []Item, v any, typ string) []Item {
	switch v := v.(type) {
	case nil:
		return out
	case []any:
		for _, e := range v {
			out = appendJSON(out, e, typ)
		}
		return out
	case float64: // from a decoder without UseNumber
		return append(out, Item{Value: Number(strconv.FormatFloat(v, 'f', -1, 64)), Type: typ})
	}
	return append(out, Item{Value: v, Type: typ})
}

func isIntText(n Number) bool {
	return !strings.ContainsAny(string(n), ".eE")
}

func numType(n Number) string {
	if isIntText(n) {
		return "integer"
	}
	return "decimal"
}

func negNumber(n Number) Number {
	s := string(n)
	if strings.HasPrefix(s, "-") {
		return Number(s[1:])
	}
	return Number("-" + s)
}

// typeOf is the FHIR type of an item, inferred from its JSON kind when unknown.
func typeOf(it Item) string {
	if it.Type != "" {
		return it.Type
	}
	switch v := it.Value.(type) {
	case bool:
		return "boolean"
	case string:
		return "string"
	case Number:
		return numType(v)
	case Quantity:
		return "Quantity"
	case map[string]any:
		if rt, ok := v["resourceType"].(string); ok {
			return rt
		}
	}
	return ""
}

// stringTypes are the FHIR primitive types whose JSON form is a string.
var stringTypes = map[string]bool{
	"string": true, "code": true, "id": true, "uri": true, "url": true, "canonical": true,
	"oid": true, "uuid": true, "markdown": true, "base64Binary": true, "date": true,
	"dateTime": true, "instant": true, "time": true, "integer64": true, "xhtml": true,
}

// isType tells whether it is of type name (FHIRPath N1, Types and
// Reflection: is). A namespace prefix FHIR. or System. is ignored, as is the
// case of the first letter (System.String and FHIR string). An element of
// unknown type matches every type of its JSON kind: without a FHIR model a
// plain JSON string could be a code, an id or a date.
func isType(it Item, name string) bool {
	name = strings.TrimPrefix(strings.TrimPrefix(name, "FHIR."), "System.")
	if it.Type != "" {
		return strings.EqualFold(it.Type, name) ||
			(name == "DateTime" && it.Type == "instant") // FHIRPath N1: instant maps to System.DateTime
	}
	lname := lowerFirst(name)
	switch v := it.Value.(type) {
	case bool:
		return lname == "boolean"
	case string:
		return stringTypes[lname]
	case Number:
		switch lname {
		case "decimal":
			return true
		case "integer", "positiveInt", "unsignedInt":
			return isIntText(v)
		}
		return false
	case Quantity:
		return name == "Quantity"
	case map[string]any:
		if rt, ok := v["resourceType"].(string); ok {
			return rt == name || name == "Resource" || name == "DomainResource"
		}
		// A complex element of unknown type: anything that is not a primitive.
		return name != "" && name[0] >= 'A' && name[0] <= 'Z' && !stringTypes[lname] && lname != "boolean" &&
			lname != "integer" && lname != "decimal"
	}
	return false
}

func lowerFirst(s string) string {
	if s == "" || s[0] < 'A' || s[0] > 'Z' {
		return s
	}
	return string(s[0]+'a'-'A') + s[1:]
}

// asRat returns the exact value of a number.
func asRat(n Number) (*big.Rat, bool) {
	return new(big.Rat).SetString(string(n))
}

// scale is the number of digits after the decimal point of n.
func scale(n Number) int {
	s := string(n)
	if strings.ContainsAny(s, "eE") {
		r, ok := asRat(n)
		if !ok {
			return 0
		}
		return exactDigits(r, 8)
	}
	if i := strings.IndexByte(s, '.'); i >= 0 {
		return len(s) - i - 1
	}
	return 0
}

// exactDigits returns the number of decimal digits that represent r exactly,
// or limit when r needs more.
func exactDigits(r *big.Rat, limit int) int {
	d := new(big.Int).Set(r.Denom())
	two, five := big.NewInt(2), big.NewInt(5)
	var m big.Int
	n2, n5 := 0, 0
	for {
		if m.Mod(d, two).Sign() != 0 {
			break
		}
		d.Quo(d, two)
		n2++
	}
	for {
		if m.Mod(d, five).Sign() != 0 {
			break
		}
		d.Quo(d, five)
		n5++
	}
	if d.Cmp(big.NewInt(1)) != 0 {
		return limit
	}
	return min(max(n2, n5), limit)
}

func ratNumber(r *big.Rat, digits int) Number {
	if digits == 0 && r.IsInt() {
		return Number(r.Num().String())
	}
	return Number(r.FloatString(digits))
}

// numCompare compares two numbers exactly.
func numCompare(a, b Number) (int, bool) {
	if a == b {
		return 0, true
	}
	if isIntText(a) && isIntText(b) {
		x, err1 := strconv.ParseInt(string(a), 10, 64)
		y, err2 := strconv.ParseInt(string(b), 10, 64)
		if err1 == nil && err2 == nil {
			switch {
			case x < y:
				return -1, true
			case x > y:
				return 1, true
			}
			return 0, true
		}
	}
	x, ok1 := asRat(a)
	y, ok2 := asRat(b)
	if !ok1 || !ok2 {
		return 0, false
	}
	return x.Cmp(y), true
}

// Precisions of a date, dateTime or time value.
const (
	precYear = iota + 1
	precMonth
	precDay
	precHour
	precMinute
	precSecond // seconds with or without a fraction (FHIRPath N1, Comparison)
)

type dateTime struct {
	y, mo, d, h, mi, s, ns int
	frac                   string // the fraction digits as written
	prec                   int
	hasTZ                  bool
	tzMin                  int // offset east of UTC, in minutes
}

func atoiN(s string, n int) (int, bool) {
	if len(s) < n {
		return 0, false
	}
	v := 0
	for i := 0; i < n; i++ {
		if !isDigit(s[i]) {
			return 0, false
		}
		v = v*10 + int(s[i]-'0')
	}
	return v, true
}

// parseDateTime parses YYYY[-MM[-DD[Thh[:mm[:ss[.f+]]][Z|±hh:mm]]]]
// (FHIR datatypes: date, dateTime, instant; FHIRPath N1, Literals: DateTime).
func parseDateTime(s string) (dateTime, bool) {
	var t dateTime
	var ok bool
	if t.y, ok = atoiN(s, 4); !ok {
		return t, false
	}
	t.mo, t.d, t.prec = 1, 1, precYear
	s = s[4:]
	if s == "" {
		return t, true
	}
	if s[0] != '-' {
		return t, false
	}
	if t.mo, ok = atoiN(s[1:], 2); !ok || t.mo < 1 || t.mo > 12 {
		return t, false
	}
	t.prec, s = precMonth, s[3:]
	if s == "" {
		return t, true
	}
	if s[0] != '-' {
		return t, false
	}
	if t.d, ok = atoiN(s[1:], 2); !ok || t.d < 1 || t.d > daysIn(t.y, t.mo) {
		return t, false
	}
	t.prec, s = precDay, s[3:]
	if s == "" {
		return t, true
	}
	if s[0] != 'T' {
		return t, false
	}
	s = s[1:]
	rest, ok := t.parseClock(s)
	if !ok {
		return t, false
	}
	return t, t.parseTZ(rest)
}

// parseClock parses hh[:mm[:ss[.f+]]] and returns what follows.
func (t *dateTime) parseClock(s string) (string, bool) {
	var ok bool
	if t.h, ok = atoiN(s, 2); !ok || t.h > 23 {
		return s, false
	}
	t.prec, s = precHour, s[2:]
	if s == "" || s[0] != ':' {
		return s, true
	}
	if t.mi, ok = atoiN(s[1:], 2); !ok || t.mi > 59 {
		return s, false
	}
	t.prec, s = precMinute, s[3:]
	if s == "" || s[0] != ':' {
		return s, true
	}
	if t.s, ok = atoiN(s[1:], 2); !ok || t.s > 60 {
		return s, false
	}
	t.prec, s = precSecond, s[3:]
	if s != "" && s[0] == '.' {
		i := 1
		for i < len(s) && isDigit(s[i]) {
			i++
		}
		if i == 1 {
			return s, false
		}
		t.frac = s[1:i]
		ns := t.frac
		if len(ns) > 9 {
			ns = ns[:9]
		}
		ns += strings.Repeat("0", 9-len(ns))
		t.ns, _ = strconv.Atoi(ns)
		s = s[i:]
	}
	return s, true
}

func (t *dateTime) parseTZ(s string) bool {
	switch {
	case s == "":
		return true
	case s == "Z":
		t.hasTZ = true
		return true
	case len(s) == 6 && (s[0] == '+' || s[0] == '-') && s[3] == ':':
		h, ok1 := atoiN(s[1:], 2)
		m, ok2 := atoiN(s[4:], 2)
		if !ok1 || !ok2 || h > 14 || m > 59 {
			return false
		}
		t.hasTZ, t.tzMin = true, h*60+m
		if s[0] == '-' {
			t.tzMin = -t.tzMin
		}
		return true
	}
	return false
}

// parseTime parses a FHIR time hh:mm[:ss[.f+]] (or the hh of a literal).
func parseTime(s string) (dateTime, bool) {
	var t dateTime
	rest, ok := t.parseClock(s)
	return t, ok && rest == ""
}

func daysIn(y, m int) int {
	return time.Date(y, time.Month(m)+1, 0, 0, 0, 0, 0, time.UTC).Day()
}

// instant places t on the UTC time line, midnight and UTC where unknown.
func (t dateTime) instant() time.Time {
	v := time.Date(t.y, time.Month(t.mo), t.d, t.h, t.mi, t.s, t.ns, time.UTC)
	if t.hasTZ {
		v = v.Add(-time.Duration(t.tzMin) * time.Minute)
	}
	return v
}

// dateOf reads it as a date/time value when its type or text allows.
func dateOf(it Item) (dateTime, string, bool) {
	s, ok := it.Value.(string)
	if !ok {
		return dateTime{}, "", false
	}
	switch it.Type {
	case "time":
		t, ok := parseTime(s)
		return t, "time", ok
	case "date", "dateTime", "instant":
		t, ok := parseDateTime(s)
		return t, "dateTime", ok
	case "":
		if t, ok := parseDateTime(s); ok {
			return t, "dateTime", true
		}
		if len(s) >= 5 && s[2] == ':' {
			if t, ok := parseTime(s); ok {
				return t, "time", true
			}
		}
	}
	return dateTime{}, "", false
}

func isDateType(t string) bool {
	return t == "date" || t == "dateTime" || t == "instant" || t == "time"
}

// dateCompare compares two dates (FHIRPath N1, Comparison: precision). ok is
// false when the answer is unknown: the values agree up to the coarser
// precision and their precisions differ.
func dateCompare(a, b dateTime) (int, bool) {
	p := min(a.prec, b.prec)
	ta, tb := a, b
	if p >= precHour {
		ia, ib := a.instant(), b.instant()
		ta = fromTime(ia, a.prec)
		tb = fromTime(ib, b.prec)
	}
	fields := func(t dateTime) [6]int { return [6]int{t.y, t.mo, t.d, t.h, t.mi, t.s*1e9 + t.ns} }
	fa, fb := fields(ta), fields(tb)
	for i := 0; i < p; i++ {
		if fa[i] != fb[i] {
			if fa[i] < fb[i] {
				return -1, true
			}
			return 1, true
		}
	}
	if a.prec != b.prec {
		return 0, false
	}
	return 0, true
}

func fromTime(v time.Time, prec int) dateTime {
	return dateTime{y: v.Year(), mo: int(v.Month()), d: v.Day(), h: v.Hour(), mi: v.Minute(), s: v.Second(), ns: v.Nanosecond(), prec: prec}
}

// equal implements = on two single items (FHIRPath N1, Equality). ok is false
// when the result is empty.
func equal(a, b Item) (eq bool, ok bool) {
	switch x := a.Value.(type) {
	case Number:
		switch y := b.Value.(type) {
		case Number:
			c, ok := numCompare(x, y)
			return c == 0, ok
		case Quantity:
			return false, true
		}
		return false, true
	case bool:
		y, isBool := b.Value.(bool)
		return isBool && x == y, true
	case string:
		y, isStr := b.Value.(string)
		if !isStr {
			return false, true
		}
		if isDateType(a.Type) || isDateType(b.Type) {
			if da, ka, ok := dateOf(a); ok {
				if db, kb, ok := dateOf(b); ok && ka == kb {
					c, ok := dateCompare(da, db)
					return c == 0, ok
				}
			}
		}
		return x == y, true
	case Quantity:
		y, isQ := b.Value.(Quantity)
		if !isQ {
			return false, true
		}
		c, ok := numCompare(x.Value, y.Value)
		return ok && c == 0 && x.Unit == y.Unit, true
	case map[string]any:
		y, isMap := b.Value.(map[string]any)
		return isMap && reflect.DeepEqual(x, y), true
	}
	return false, true
}

// equivalent implements ~ on two single items (FHIRPath N1, Equivalence).
func equivalent(a, b Item) bool {
	switch x := a.Value.(type) {
	case string:
		y, ok := b.Value.(string)
		if !ok {
			return false
		}
		norm := func(s string) string { return strings.ToLower(strings.Join(strings.Fields(s), " ")) }
		if isDateType(a.Type) || isDateType(b.Type) {
			if eq, ok := equal(a, b); ok {
				return eq
			}
			return false
		}
		return norm(x) == norm(y)
	case Number:
		y, ok := b.Value.(Number)
		if !ok {
			return false
		}
		p := min(scale(x), scale(y))
		rx, ok1 := asRat(x)
		ry, ok2 := asRat(y)
		return ok1 && ok2 && rx.FloatString(p) == ry.FloatString(p)
	}
	eq, ok := equal(a, b)
	return ok && eq
}

// compare implements < > <= >= on two single items (FHIRPath N1,
// Comparison). ok is false when the result is empty; err when the types
// cannot be compared.
func compare(a, b Item) (c int, ok bool, err error) {
	switch x := a.Value.(type) {
	case Number:
		if y, isNum := b.Value.(Number); isNum {
			c, ok := numCompare(x, y)
			return c, ok, nil
		}
	case string:
		y, isStr := b.Value.(string)
		if !isStr {
			break
		}
		if isDateType(a.Type) || isDateType(b.Type) {
			da, ka, ok1 := dateOf(a)
			db, kb, ok2 := dateOf(b)
			if ok1 && ok2 && ka == kb {
				c, ok := dateCompare(da, db)
				return c, ok, nil
			}
		}
		return strings.Compare(x, y), true, nil
	case Quantity:
		if y, isQ := b.Value.(Quantity); isQ && x.Unit == y.Unit {
			c, ok := numCompare(x.Value, y.Value)
			return c, ok, nil
		}
		return 0, false, nil
	}
	return 0, false, fmt.Errorf("cannot compare %s with %s", describeType(a), describeType(b))
}

func describeType(it Item) string {
	if t := typeOf(it); t != "" {
		return t
	}
	return "an element"
}
