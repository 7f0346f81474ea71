package fhirpath

import (
	"fmt"
	"math"
	"math/big"
	"regexp"
	"strconv"
	"strings"
)

// Conversions (FHIRPath N1, Conversion). Each returns ok=false when the item
// does not convert.
func convert(f func(Item) (Item, bool)) func(*evaluator, *funcNode, []Item, *scope) ([]Item, error) {
	return func(_ *evaluator, _ *funcNode, in []Item, _ *scope) ([]Item, error) {
		if len(in) == 0 {
			return nil, nil
		}
		if len(in) > 1 {
			return nil, fmt.Errorf("on a collection of %d items", len(in))
		}
		v, ok := f(in[0])
		if !ok {
			return nil, nil
		}
		return []Item{v}, nil
	}
}

func convertsTo(f func(Item) (Item, bool)) func(*evaluator, *funcNode, []Item, *scope) ([]Item, error) {
	return func(_ *evaluator, _ *funcNode, in []Item, _ *scope) ([]Item, error) {
		if len(in) == 0 {
			return nil, nil
		}
		if len(in) > 1 {
			return nil, fmt.Errorf("on a collection of %d items", len(in))
		}
		_, ok := f(in[0])
		return boolean(ok), nil
	}
}

func toString(it Item) (Item, bool) {
	switch v := it.Value.(type) {
	case string:
		return Item{Value: v, Type: "string"}, true
	case bool:
		return Item{Value: strconv.FormatBool(v), Type: "string"}, true
	case Number:
		return Item{Value: string(v), Type: "string"}, true
	case Quantity:
		return Item{Value: v.String(), Type: "string"}, true
	}
	return Item{}, false
}

func toInteger(it Item) (Item, bool) {
	switch v := it.Value.(type) {
	case Number:
		if isIntText(v) {
			return Item{Value: v, Type: "integer"}, true
		}
	case string:
		if _, err := strconv.ParseInt(v, 10, 64); err == nil {
			return Item{Value: Number(strings.TrimPrefix(v, "+")), Type: "integer"}, true
		}
	case bool:
		if v {
			return Item{Value: Number("1"), Type: "integer"}, true
		}
		return Item{Value: Number("0"), Type: "integer"}, true
	}
	return Item{}, false
}

func toDecimal(it Item) (Item, bool) {
	switch v := it.Value.(type) {
	case Number:
		return Item{Value: v, Type: "decimal"}, true
	case string:
		if ok, _ := regexp.MatchString(`^[+-]?\d+(\.\d+)?$`, v); ok {
			return Item{Value: Number(strings.TrimPrefix(v, "+")), Type: "decimal"}, true
		}
	case bool:
		if v {
			return Item{Value: Number("1.0"), Type: "decimal"}, true
		}
		return Item{Value: Number("0.0"), Type: "decimal"}, true
	}
	return Item{}, false
}

func toBoolean(it Item) (Item, bool) {
	switch v := it.Value.(type) {
	case bool:
		return Item{Value: v, Type: "boolean"}, true
	case string:
		switch strings.ToLower(v) {
		case "true", "t", "yes", "y", "1", "1.0":
			return Item{Value: true, Type: "boolean"}, true
		case "false", "f", "no", "n", "0", "0.0":
			return Item{Value: false, Type: "boolean"}, true
		}
	case Number:
		if c, ok := numCompare(v, "1"); ok && c == 0 {
			return Item{Value: true, Type: "boolean"}, true
		}
		if c, ok := numCompare(v, "0"); ok && c == 0 {
			return Item{Value: false, Type: "boolean"}, true
		}
	}
	return Item{}, false
}

func toQuantity(it Item) (Item, bool) {
	switch v := it.Value.(type) {
	case Quantity:
		return it, true
	case Number:
		return Item{Value: Quantity{Value: v, Unit: "1"}, Type: "Quantity"}, true
	case map[string]any:
		if n, ok := v["value"].(Number); ok {
			u, _ := v["code"].(string)
			if u == "" {
				u, _ = v["unit"].(string)
			}
			return Item{Value: Quantity{Value: n, Unit: u}, Type: "Quantity"}, true
		}
	}
	return Item{}, false
}

func toDateFn(typ string) func(Item) (Item, bool) {
	return func(it Item) (Item, bool) {
		s, ok := it.Value.(string)
		if !ok {
			return Item{}, false
		}
		if typ == "time" {
			if _, ok := parseTime(strings.TrimPrefix(s, "T")); ok {
				return Item{Value: strings.TrimPrefix(s, "T"), Type: "time"}, true
			}
			return Item{}, false
		}
		dt, ok := parseDateTime(s)
		if !ok {
			return Item{}, false
		}
		if typ == "date" {
			return Item{Value: formatDate(dt, min(dt.prec, precDay)), Type: "date"}, true
		}
		return Item{Value: s, Type: "dateTime"}, true
	}
}

func mathFn(op string) func(*evaluator, *funcNode, []Item, *scope) ([]Item, error) {
	return func(_ *evaluator, _ *funcNode, in []Item, _ *scope) ([]Item, error) {
		n, ok, err := singleNumber(in)
		if !ok {
			return nil, err
		}
		r, _ := asRat(n)
		if op == "abs" {
			r.Abs(r)
			if isIntText(n) {
				return wrap(Number(r.Num().String())), nil
			}
			return []Item{{Value: ratNumber(r, scale(n)), Type: "decimal"}}, nil
		}
		q := new(big.Int).Quo(r.Num(), r.Denom()) // toward zero
		rem := new(big.Rat).Sub(r, new(big.Rat).SetInt(q))
		switch {
		case op == "floor" && rem.Sign() < 0:
			q.Sub(q, big.NewInt(1))
		case op == "ceiling" && rem.Sign() > 0:
			q.Add(q, big.NewInt(1))
		}
		return []Item{{Value: Number(q.String()), Type: "integer"}}, nil
	}
}

func fnRound(ev *evaluator, n *funcNode, in []Item, sc *scope) ([]Item, error) {
	x, ok, err := singleNumber(in)
	if !ok {
		return nil, err
	}
	digits := int64(0)
	if len(n.args) == 1 {
		if digits, err = ev.intArg(n, 0, sc); err != nil {
			return nil, err
		}
		if digits < 0 || digits > 30 {
			return nil, fmt.Errorf("precision %d out of range", digits)
		}
	}
	r, _ := asRat(x)
	return []Item{{Value: Number(r.FloatString(int(digits))), Type: "decimal"}}, nil
}

func floatFn(f func(float64) float64) func(*evaluator, *funcNode, []Item, *scope) ([]Item, error) {
	return func(_ *evaluator, _ *funcNode, in []Item, _ *scope) ([]Item, error) {
		x, ok, err := singleNumber(in)
		if !ok {
			return nil, err
		}
		v, _ := strconv.ParseFloat(string(x), 64)
		return floatResult(f(v)), nil
	}
}

func floatResult(v float64) []Item {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return nil
	}
	return []Item{{Value: Number(strconv.FormatFloat(v, 'f', -1, 64)), Type: "decimal"}}
}

func fnLog(ev *evaluator, n *funcNode, in []Item, sc *scope) ([]Item, error) {
	x, ok, err := singleNumber(in)
	if !ok {
		return nil, err
	}
	b, err := ev.argValue(n, 0, sc)
	if err != nil {
		return nil, err
	}
	base, ok, err := singleNumber(b)
	if !ok {
		return nil, err
	}
	xv, _ := strconv.ParseFloat(string(x), 64)
	bv, _ := strconv.ParseFloat(string(base), 64)
	return floatResult(math.Log(xv) / math.Log(bv)), nil
}

func fnPower(ev *evaluator, n *funcNode, in []Item, sc *scope) ([]Item, error) {
	x, ok, err := singleNumber(in)
	if !ok {
		return nil, err
	}
	e, err := ev.argValue(n, 0, sc)
	if err != nil {
		return nil, err
	}
	y, ok, err := singleNumber(e)
	if !ok {
		return nil, err
	}
	xv, _ := strconv.ParseFloat(string(x), 64)
	yv, _ := strconv.ParseFloat(string(y), 64)
	v := math.Pow(xv, yv)
	if isIntText(x) && isIntText(y) && yv >= 0 && math.Abs(v) < 1<<53 {
		return []Item{{Value: Number(strconv.FormatFloat(v, 'f', 0, 64)), Type: "integer"}}, nil
	}
	return floatResult(v), nil
}

func singleNumber(in []Item) (Number, bool, error) {
	switch len(in) {
	case 0:
		return "", false, nil
	case 1:
		if n, ok := in[0].Value.(Number); ok {
			if _, ok := asRat(n); ok {
				return n, true, nil
			}
		}
		return "", false, fmt.Errorf("expected a number, got %s", describeType(in[0]))
	}
	return "", false, fmt.Errorf("expected one number, got %d items", len(in))
}
