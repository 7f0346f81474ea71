package fhirpath

import (
	"fmt"
	"math/big"
	"strconv"
	"strings"
	"time"
)

// fnBoundary builds lowBoundary() and highBoundary(): the least or greatest
// value the input could stand for given its precision (FHIRPath 3.0.0,
// Math and Date/Time functions: lowBoundary, highBoundary). A decimal 1.0
// stands for [0.95, 1.05]; a date 1970-06 for [1970-06-01, 1970-06-30]; a
// dateTime without a time zone spans every zone, +14:00 to -12:00.
func fnBoundary(high bool) func(*evaluator, *funcNode, []Item, *scope) ([]Item, error) {
	return func(ev *evaluator, n *funcNode, in []Item, sc *scope) ([]Item, error) {
		if len(in) == 0 {
			return nil, nil
		}
		if len(in) > 1 {
			return nil, fmt.Errorf("on a collection of %d items", len(in))
		}
		prec := int64(-1)
		if len(n.args) == 1 {
			p, err := ev.intArg(n, 0, sc)
			if err != nil {
				return nil, err
			}
			if p < 0 || p > 28 {
				return nil, nil
			}
			prec = p
		}
		it := in[0]
		switch v := it.Value.(type) {
		case Number:
			return decimalBoundary(v, prec, high), nil
		case Quantity:
			b := decimalBoundary(v.Value, prec, high)
			if b == nil {
				return nil, nil
			}
			return []Item{{Value: Quantity{Value: b[0].Value.(Number), Unit: v.Unit}, Type: "Quantity"}}, nil
		case string:
			t, kind, ok := dateOf(it)
			if !ok {
				return nil, nil
			}
			if kind == "time" {
				return []Item{{Value: formatClock(t, precSecond, high), Type: "time"}}, nil
			}
			if it.Type == "date" || (it.Type == "" && t.prec <= precDay && !t.hasTZ) {
				return []Item{{Value: formatDate(boundDate(t, high), precDay), Type: "date"}}, nil
			}
			return []Item{{Value: formatDateTime(t, high), Type: "dateTime"}}, nil
		}
		return nil, nil
	}
}

func decimalBoundary(v Number, prec int64, high bool) []Item {
	r, ok := asRat(v)
	if !ok {
		return nil
	}
	s := scale(v)
	half := new(big.Rat).SetFrac(big.NewInt(5), new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(s+1)), nil))
	if high {
		r.Add(r, half)
	} else {
		r.Sub(r, half)
	}
	digits := s + 1
	if prec >= 0 {
		digits = int(prec)
		if digits < s+1 {
			// Round outward so that the boundary still contains the value.
			unit := new(big.Rat).SetFrac(big.NewInt(1), new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(digits)), nil))
			q := new(big.Rat).Quo(r, unit)
			i := new(big.Int).Quo(q.Num(), q.Denom())
			rem := new(big.Rat).Sub(q, new(big.Rat).SetInt(i))
			if high && rem.Sign() > 0 {
				i.Add(i, big.NewInt(1))
			}
			if !high && rem.Sign() < 0 {
				i.Sub(i, big.NewInt(1))
			}
			r.Mul(new(big.Rat).SetInt(i), unit)
		}
	}
	return []Item{{Value: Number(r.FloatString(digits)), Type: "decimal"}}
}

// boundDate fills the unknown parts of a date with their least or greatest value.
func boundDate(t dateTime, high bool) dateTime {
	if t.prec < precMonth {
		t.mo = 1
		if high {
			t.mo = 12
		}
	}
	if t.prec < precDay {
		t.d = 1
		if high {
			t.d = daysIn(t.y, t.mo)
		}
	}
	return t
}

func formatDate(t dateTime, prec int) string {
	switch prec {
	case precYear:
		return fmt.Sprintf("%04d", t.y)
	case precMonth:
		return fmt.Sprintf("%04d-%02d", t.y, t.mo)
	}
	return fmt.Sprintf("%04d-%02d-%02d", t.y, t.mo, t.d)
}

// formatClock writes hh:mm:ss.fff, the unknown parts at their least or
// greatest value.
func formatClock(t dateTime, _ int, high bool) string {
	h, mi, s := t.h, t.mi, t.s
	frac := t.frac
	if t.prec < precHour && high {
		h = 23
	}
	if t.prec < precMinute && high {
		mi = 59
	}
	if t.prec < precSecond && high {
		s = 59
	}
	pad := "0"
	if high {
		pad = "9"
	}
	if len(frac) < 3 {
		frac += strings.Repeat(pad, 3-len(frac))
	}
	return fmt.Sprintf("%02d:%02d:%02d.%s", h, mi, s, frac)
}

func formatDateTime(t dateTime, high bool) string {
	d := boundDate(t, high)
	tz := "+14:00"
	if high {
		tz = "-12:00"
	}
	if t.hasTZ {
		if t.tzMin == 0 {
			tz = "Z"
		} else {
			sign, m := '+', t.tzMin
			if m < 0 {
				sign, m = '-', -m
			}
			tz = fmt.Sprintf("%c%02d:%02d", sign, m/60, m%60)
		}
	}
	return formatDate(d, precDay) + "T" + formatClock(t, precSecond, high) + tz
}

// fnPrecision returns the number of significant digits after the point of
// a decimal, or the number of digits of a date/time (FHIRPath 3.0.0, precision).
func fnPrecision(_ *evaluator, _ *funcNode, in []Item, _ *scope) ([]Item, error) {
	if len(in) != 1 {
		return nil, nil
	}
	switch v := in[0].Value.(type) {
	case Number:
		return []Item{{Value: Number(strconv.Itoa(scale(v))), Type: "integer"}}, nil
	case string:
		t, kind, ok := dateOf(in[0])
		if !ok {
			return nil, nil
		}
		digits := []int{0, 4, 6, 8, 10, 12, 14}
		if kind == "time" {
			digits = []int{0, 0, 0, 0, 2, 4, 6}
		}
		p := digits[t.prec]
		if t.prec == precSecond && t.frac != "" {
			p += len(t.frac)
		}
		return []Item{{Value: Number(strconv.Itoa(p)), Type: "integer"}}, nil
	}
	return nil, nil
}

// durationUnits maps the units date arithmetic accepts, calendar words and
// their UCUM codes, to a calendar unit (FHIRPath N1, Date/Time Arithmetic).
var durationUnits = map[string]string{
	"year": "year", "a": "year", "month": "month", "mo": "month", "week": "week", "wk": "week",
	"day": "day", "d": "day", "hour": "hour", "h": "hour", "minute": "minute", "min": "minute",
	"second": "second", "s": "second", "millisecond": "millisecond", "ms": "millisecond",
}

// addDuration adds (or with sign -1 subtracts) a time-valued quantity to a
// date, dateTime or time, keeping its precision. Calendar units use the
// integer part of the quantity; a month past the end of a shorter month
// lands on its last day (FHIRPath N1, Date/Time Arithmetic).
func addDuration(it Item, q Quantity, sign int) ([]Item, error) {
	t, kind, ok := dateOf(it)
	if !ok {
		return nil, fmt.Errorf("not a date, dateTime or time")
	}
	unit, ok := durationUnits[q.Unit]
	if !ok {
		return nil, fmt.Errorf("cannot add a quantity in '%s' to a date", q.Unit)
	}
	r, ok := asRat(q.Value)
	if !ok {
		return nil, fmt.Errorf("bad quantity %s", q.Value)
	}
	whole := new(big.Int).Quo(r.Num(), r.Denom())
	if !whole.IsInt64() || whole.Int64() > 1e6 || whole.Int64() < -1e6 {
		return nil, fmt.Errorf("quantity %s out of range", q.Value)
	}
	n := int(whole.Int64()) * sign
	typ := it.Type
	if typ == "" {
		typ = kind
		if kind == "dateTime" && t.prec <= precDay && !t.hasTZ {
			typ = "date"
		}
	}
	switch unit {
	case "year":
		t.y += n
		t.d = min(t.d, daysIn(t.y, t.mo))
	case "month":
		m := t.y*12 + (t.mo - 1) + n
		t.y, t.mo = m/12, m%12+1
		t.d = min(t.d, daysIn(t.y, t.mo))
	default:
		var d time.Duration
		switch unit {
		case "week":
			d = time.Duration(n) * 7 * 24 * time.Hour
		case "day":
			d = time.Duration(n) * 24 * time.Hour
		case "hour":
			d = time.Duration(n) * time.Hour
		case "minute":
			d = time.Duration(n) * time.Minute
		case "second":
			f, _ := r.Float64()
			d = time.Duration(f*float64(time.Second)) * time.Duration(sign)
		case "millisecond":
			f, _ := r.Float64()
			d = time.Duration(f*float64(time.Millisecond)) * time.Duration(sign)
		}
		v := time.Date(t.y, time.Month(t.mo), t.d, t.h, t.mi, t.s, t.ns, time.UTC).Add(d)
		frac, prec, hasTZ, tz := t.frac, t.prec, t.hasTZ, t.tzMin
		t = fromTime(v, prec)
		t.hasTZ, t.tzMin = hasTZ, tz
		if unit == "millisecond" || (unit == "second" && !r.IsInt()) {
			frac = fmt.Sprintf("%03d", v.Nanosecond()/1e6)
		}
		t.frac = frac
	}
	if kind != "time" && (t.y < 1 || t.y > 9999) {
		return nil, nil // out of the range of dates
	}
	var s string
	switch {
	case kind == "time":
		s = formatTimeAt(t, t.prec)
	case typ == "date":
		s = formatDate(t, min(t.prec, precDay))
	default:
		s = formatDateTimeAt(t)
	}
	return []Item{{Value: s, Type: typ}}, nil
}

// formatTimeAt writes hh[:mm[:ss[.fff]]] at precision prec.
func formatTimeAt(t dateTime, prec int) string {
	s := fmt.Sprintf("%02d", t.h)
	if prec >= precMinute {
		s += fmt.Sprintf(":%02d", t.mi)
	}
	if prec >= precSecond {
		s += fmt.Sprintf(":%02d", t.s)
		if t.frac != "" {
			s += "." + t.frac
		}
	}
	return s
}

// formatDateTimeAt writes a dateTime at its own precision, with its zone.
func formatDateTimeAt(t dateTime) string {
	s := formatDate(t, min(t.prec, precDay))
	if t.prec < precHour {
		return s
	}
	s += "T" + formatTimeAt(t, t.prec)
	if t.hasTZ {
		if t.tzMin == 0 {
			s += "Z"
		} else {
			sign, m := '+', t.tzMin
			if m < 0 {
				sign, m = '-', -m
			}
			s += fmt.Sprintf("%c%02d:%02d", sign, m/60, m%60)
		}
	}
	return s
}
