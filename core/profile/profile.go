// Package profile summarises one column of a table: how many values are
// empty, how many are distinct, the most frequent ones, and for numbers and
// dates their range, median and a histogram. A Profiler takes values one at
// a time in bounded memory, so it can follow a table of any length.
//
// Values follow the view runner's convention (core/views): nil, bool,
// string, int64, json.Number (a FHIR decimal, its exact text) or []any for
// collection columns; dates, dateTimes and instants are FHIR strings.
package profile

import (
	"cmp"
	"encoding/json"
	"math"
	"math/big"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
)

// Defaults for zero Profiler fields.
const (
	DefaultTopN        = 10
	DefaultMaxDistinct = 100_000   // distinct values counted exactly
	DefaultMaxSample   = 1_000_000 // numbers or dates kept for the median and histogram
	DefaultBins        = 12        // the histogram's target number of bins
)

// Kind is what a column's values are, for the summaries that depend on it.
type Kind int

const (
	Text   Kind = iota // anything else: strings, codes, booleans, mixed
	Number             // integers and decimals
	Date               // FHIR date, dateTime or instant
)

func (k Kind) String() string {
	switch k {
	case Number:
		return "number"
	case Date:
		return "date"
	}
	return "text"
}

// ValueCount is a value, as text, and how often it occurs.
type ValueCount struct {
	Value string
	Count int64
}

// Bin is one histogram bin: values v with Lo <= v < Hi (the last bin also
// takes v == Hi). Lo and Hi are text in the column's own notation: numbers
// with the digits the bin width needs, dates at the bin width's precision
// ("2019", "2019-05", "2019-05-03").
type Bin struct {
	Lo, Hi string
	Count  int64
}

// Profile is the summary of one column.
type Profile struct {
	Kind  Kind
	Count int64 // values seen, empty ones included
	Empty int64 // nil, "" or an empty list

	// Distinct is the number of different non-empty values. It is exact
	// unless DistinctCapped, when it is a lower bound: once MaxDistinct
	// values are being counted, values not seen before are no longer told
	// apart. Top then covers only the values first seen before the cap.
	Distinct       int64
	DistinctCapped bool
	Top            []ValueCount // most frequent first, ties by value

	// For Number and Date columns: the smallest, median and largest value
	// as their exact text (a decimal keeps its digits, a partial date its
	// precision) and a histogram. Min and Max are always exact. The median
	// and the bins are exact unless Sampled: past MaxSample values they
	// come from a uniform sample of MaxSample values.
	Min, Median, Max string
	Bins             []Bin
	Sampled          bool
}

// EmptyShare is the share of empty values, 0 to 1 (0 for no values).
func (p *Profile) EmptyShare() float64 {
	if p.Count == 0 {
		return 0
	}
	return float64(p.Empty) / float64(p.Count)
}

// A Profiler builds a Profile from values given with Add. Set its fields
// before the first Add; the zero value uses the defaults. typ is the
// column's FHIR type (SQL on FHIR v2, ViewDefinition.select.column.type),
// "" when the view does not declare it: the kind is then inferred from the
// values.
type Profiler struct {
	Type        string
	TopN        int
	MaxDistinct int
	MaxSample   int
	Bins        int

	counts   map[string]int64
	capped   bool
	count    int64
	empty    int64
	texts    int64 // non-empty values that are neither numbers nor dates
	sample   []point
	seen     int64 // numbers or dates offered to the sample
	min, max *point
	rng      *rand.Rand
	nums     int64
	dates    int64
}

// point is a number or a date: its text and where it sorts.
type point struct {
	text string
	key  float64 // the number, or the date's Unix seconds
	prec datePrec
}

// Add takes one value.
func (p *Profiler) Add(v any) {
	if p.counts == nil {
		p.counts = make(map[string]int64)
		// A fixed seed: the same table gives the same profile.
		p.rng = rand.New(rand.NewPCG(1, 2))
	}
	p.count++
	text, ok := textOf(v)
	if !ok {
		p.empty++
		return
	}
	if n, seen := p.counts[text]; seen || len(p.counts) < cmp.Or(p.MaxDistinct, DefaultMaxDistinct) {
		p.counts[text] = n + 1
	} else {
		p.capped = true
	}
	pt, kind := pointOf(v, text, p.Type)
	switch kind {
	case Number:
		p.nums++
	case Date:
		p.dates++
	default:
		p.texts++
		return
	}
	if p.min == nil || pt.key < p.min.key {
		c := pt
		p.min = &c
	}
	if p.max == nil || pt.key > p.max.key {
		c := pt
		p.max = &c
	}
	// Reservoir sampling (Vitter's algorithm R): each value ends up in the
	// sample with the same probability.
	p.seen++
	limit := cmp.Or(p.MaxSample, DefaultMaxSample)
	if len(p.sample) < limit {
		p.sample = append(p.sample, pt)
	} else if j := p.rng.Int64N(p.seen); j < int64(limit) {
		p.sample[j] = pt
	}
}

// Profile returns the summary of the values added so far.
func (p *Profiler) Profile() Profile {
	out := Profile{Count: p.count, Empty: p.empty, Distinct: int64(len(p.counts)), DistinctCapped: p.capped}
	for v, n := range p.counts {
		out.Top = append(out.Top, ValueCount{v, n})
	}
	slices.SortFunc(out.Top, func(a, b ValueCount) int {
		return cmp.Or(cmp.Compare(b.Count, a.Count), cmp.Compare(a.Value, b.Value))
	})
	out.Top = out.Top[:min(len(out.Top), cmp.Or(p.TopN, DefaultTopN))]
	switch {
	case p.texts == 0 && p.nums > 0 && p.dates == 0:
		out.Kind = Number
	case p.texts == 0 && p.dates > 0 && p.nums == 0:
		out.Kind = Date
	default:
		return out
	}
	out.Min, out.Max = p.min.text, p.max.text
	out.Sampled = p.seen > int64(len(p.sample))
	s := slices.Clone(p.sample)
	slices.SortStableFunc(s, func(a, b point) int { return cmp.Compare(a.key, b.key) })
	bins := cmp.Or(p.Bins, DefaultBins)
	if out.Kind == Number {
		out.Median = numberMedian(s)
		out.Bins = numberBins(s, bins, p.integers())
	} else {
		out.Median = s[(len(s)-1)/2].text
		out.Bins = dateBins(s, bins)
	}
	return out
}

func (p *Profiler) integers() bool {
	switch p.Type {
	case "integer", "positiveInt", "unsignedInt", "integer64":
		return true
	}
	for _, pt := range p.sample {
		if strings.ContainsAny(pt.text, ".eE") {
			return false
		}
	}
	return true
}

// textOf renders a value as the text Top counts, and says whether it is
// not empty.
func textOf(v any) (string, bool) {
	switch v := v.(type) {
	case nil:
		return "", false
	case string:
		return v, v != ""
	case json.Number:
		return v.String(), true
	case int64:
		return strconv.FormatInt(v, 10), true
	case int:
		return strconv.Itoa(v), true
	case float64:
		return strconv.FormatFloat(v, 'g', -1, 64), true
	case bool:
		return strconv.FormatBool(v), true
	case []any:
		if len(v) == 0 {
			return "", false
		}
		b, err := json.Marshal(v)
		if err != nil {
			return "", false
		}
		return string(b), true
	}
	b, err := json.Marshal(v)
	if err != nil {
		return "", false
	}
	return string(b), true
}

// pointOf places a value on a number or a time line, if it is one. A
// declared type decides; without one, numbers are numbers and strings
// that are FHIR dates are dates.
func pointOf(v any, text, typ string) (point, Kind) {
	switch typ {
	case "", "integer", "positiveInt", "unsignedInt", "integer64", "decimal", "date", "dateTime", "instant":
	default:
		return point{}, Text
	}
	switch v := v.(type) {
	case int64, int, float64, json.Number:
		if typ == "date" || typ == "dateTime" || typ == "instant" {
			return point{}, Text
		}
		f, err := strconv.ParseFloat(text, 64)
		if err != nil || math.IsInf(f, 0) || math.IsNaN(f) {
			return point{}, Text
		}
		return point{text: text, key: f}, Number
	case string:
		if typ != "" && typ != "date" && typ != "dateTime" && typ != "instant" {
			// A number column whose value came as text (a constant, say).
			if f, err := strconv.ParseFloat(v, 64); err == nil && !math.IsInf(f, 0) && !math.IsNaN(f) {
				return point{text: text, key: f}, Number
			}
			return point{}, Text
		}
		t, prec, ok := parseDate(v)
		if !ok {
			return point{}, Text
		}
		return point{text: text, key: float64(t.Unix()), prec: prec}, Date
	}
	return point{}, Text
}

// numberMedian is the middle value, or the exact mean of the two middle
// values, keeping a decimal's digits.
func numberMedian(s []point) string {
	n := len(s)
	if n%2 == 1 {
		return s[n/2].text
	}
	a, b := s[n/2-1].text, s[n/2].text
	if a == b {
		return a
	}
	ra, ok1 := new(big.Rat).SetString(a)
	rb, ok2 := new(big.Rat).SetString(b)
	if !ok1 || !ok2 {
		return a
	}
	m := ra.Add(ra, rb)
	m.Quo(m, big.NewRat(2, 1))
	// Halving adds at most one decimal digit to the wider of the two.
	return trimZeros(m.FloatString(max(scale(a), scale(b)) + 1))
}

// scale is the number of digits after the decimal point.
func scale(s string) int {
	if strings.ContainsAny(s, "eE") {
		return 17
	}
	if i := strings.IndexByte(s, '.'); i >= 0 {
		return len(s) - i - 1
	}
	return 0
}

func trimZeros(s string) string {
	if !strings.Contains(s, ".") {
		return s
	}
	s = strings.TrimRight(s, "0")
	return strings.TrimSuffix(s, ".")
}
