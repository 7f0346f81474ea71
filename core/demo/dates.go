package demo

import (
	"errors"
	"fmt"
	"regexp"
	"time"
)

// instantRE is a FHIR instant: seconds required, a time zone required.
var instantRE = regexp.MustCompile(`^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?(Z|[+-]\d{2}:\d{2})$`)

// parseInstant parses a FHIR instant (_since, _until). A value without a
// time zone or seconds is rejected: it does not name one moment.
func parseInstant(s string) (time.Time, error) {
	if !instantRE.MatchString(s) {
		return time.Time{}, fmt.Errorf("%q is not a FHIR instant (e.g. 2024-01-02T03:04:05Z; a time zone is required)", s)
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}, fmt.Errorf("%q is not a valid instant: %w", s, err)
	}
	return t, nil
}

// span is a half-open time range [lo, hi) that a date value stands for at
// its precision (2024 means all of 2024).
type span struct{ lo, hi time.Time }

var (
	minTime = time.Date(1, 1, 1, 0, 0, 0, 0, time.UTC)
	maxTime = time.Date(9999, 12, 31, 23, 59, 59, 0, time.UTC)
)

var dateTimeRE = regexp.MustCompile(`^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}:\d{2})?$`)

// parseSpan parses a FHIR date or dateTime at its precision. Times without
// a zone are read as UTC.
func parseSpan(s string) (span, error) {
	switch {
	case len(s) == 4:
		t, err := time.Parse("2006", s)
		return span{t, t.AddDate(1, 0, 0)}, err
	case len(s) == 7:
		t, err := time.Parse("2006-01", s)
		return span{t, t.AddDate(0, 1, 0)}, err
	case len(s) == 10:
		t, err := time.Parse("2006-01-02", s)
		return span{t, t.AddDate(0, 0, 1)}, err
	case dateTimeRE.MatchString(s):
		m := dateTimeRE.FindStringSubmatch(s)
		layout, step := "2006-01-02T15:04", time.Minute
		if m[1] != "" {
			layout, step = "2006-01-02T15:04:05", time.Second
			if m[2] != "" {
				layout += ".999999999"
				step = time.Millisecond
			}
		}
		if m[3] != "" {
			layout += "Z07:00"
		}
		t, err := time.Parse(layout, s)
		return span{t, t.Add(step)}, err
	}
	return span{}, errors.New("not a date")
}

// spanOf reads a date, dateTime, instant or Period from resource JSON.
func spanOf(v any) (span, bool) {
	switch x := v.(type) {
	case string:
		sp, err := parseSpan(x)
		return sp, err == nil
	case map[string]any:
		sp := span{lo: minTime, hi: maxTime}
		start, sok := x["start"].(string)
		end, eok := x["end"].(string)
		if !sok && !eok {
			return span{}, false
		}
		if sok {
			s, err := parseSpan(start)
			if err != nil {
				return span{}, false
			}
			sp.lo = s.lo
		}
		if eok {
			e, err := parseSpan(end)
			if err != nil {
				return span{}, false
			}
			sp.hi = e.hi
		}
		return sp, true
	}
	return span{}, false
}

// dateValue is one date search value with its prefix.
type dateValue struct {
	prefix string
	span
}

var datePrefixes = map[string]bool{"eq": true, "ne": true, "gt": true, "ge": true, "lt": true, "le": true, "sa": true, "eb": true}

func parseDateValue(s string) (dateValue, error) {
	d := dateValue{prefix: "eq"}
	if len(s) > 2 && s[0] >= 'a' && s[0] <= 'z' {
		d.prefix = s[:2]
		if !datePrefixes[d.prefix] {
			return d, fmt.Errorf("date prefix %q not supported (eq, ne, gt, ge, lt, le, sa, eb)", d.prefix)
		}
		s = s[2:]
	}
	sp, err := parseSpan(s)
	if err != nil {
		return d, fmt.Errorf("%q is not a FHIR date or dateTime", s)
	}
	d.span = sp
	return d, nil
}

// matches applies FHIR's range semantics for date search (R4 §3.1.1.4.5).
func (d dateValue) matches(r span) bool {
	contained := !r.lo.Before(d.lo) && !r.hi.After(d.hi)
	switch d.prefix {
	case "eq":
		return contained
	case "ne":
		return !contained
	case "gt":
		return r.hi.After(d.hi)
	case "ge":
		return r.hi.After(d.hi) || contained
	case "lt":
		return r.lo.Before(d.lo)
	case "le":
		return r.lo.Before(d.lo) || contained
	case "sa":
		return !r.lo.Before(d.hi)
	case "eb":
		return !r.hi.After(d.lo)
	}
	return false
}
