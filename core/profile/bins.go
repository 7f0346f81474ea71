package profile

import (
	"math"
	"strconv"
	"time"
)

// numberBins splits sorted values into about target bins of a "nice" width
// (1, 2 or 5 times a power of ten; at least 1 for integers), starting at a
// multiple of the width at or below the smallest value. One distinct value
// makes one bin [v, v].
func numberBins(s []point, target int, integers bool) []Bin {
	if len(s) == 0 {
		return nil
	}
	lo, hi := s[0].key, s[len(s)-1].key
	if lo == hi {
		return []Bin{{Lo: s[0].text, Hi: s[0].text, Count: int64(len(s))}}
	}
	width := niceWidth((hi-lo)/float64(target), integers)
	start := math.Floor(lo/width) * width
	n := int(math.Floor((hi-start)/width)) + 1
	// The last edge equals hi when hi falls on an edge: it belongs to the
	// last bin, not to a bin of its own.
	if start+float64(n-1)*width >= hi && n > 1 {
		n--
	}
	digits := 0
	if width < 1 {
		digits = int(math.Ceil(-math.Log10(width)))
	}
	edge := func(i int) string {
		return strconv.FormatFloat(start+float64(i)*width, 'f', digits, 64)
	}
	bins := make([]Bin, n)
	for i := range bins {
		bins[i] = Bin{Lo: edge(i), Hi: edge(i + 1)}
	}
	for _, p := range s {
		i := int(math.Floor((p.key - start) / width))
		bins[max(0, min(i, n-1))].Count++
	}
	return bins
}

// niceWidth rounds w to the nearest (by ratio) of 1, 2 or 5 times a power
// of ten, so the bin count stays near its target.
func niceWidth(w float64, integers bool) float64 {
	if integers && w <= 1 {
		return 1
	}
	p := math.Pow(10, math.Floor(math.Log10(w)))
	best := p
	for _, m := range []float64{2, 5, 10} {
		if math.Abs(math.Log(m*p/w)) < math.Abs(math.Log(best/w)) {
			best = m * p
		}
	}
	if integers {
		best = math.Max(1, math.Round(best))
	}
	return best
}

// datePrec is how much of a date a value gives.
type datePrec int

const (
	precYear datePrec = iota
	precMonth
	precDay
	precTime
)

// parseDate reads a FHIR date, dateTime or instant (FHIR R4, Data Types:
// date, dateTime, instant): YYYY, YYYY-MM, YYYY-MM-DD or a full time with
// a zone. A partial date stands for its first instant, in UTC.
func parseDate(s string) (time.Time, datePrec, bool) {
	layouts := []struct {
		layout string
		prec   datePrec
	}{
		{"2006", precYear},
		{"2006-01", precMonth},
		{"2006-01-02", precDay},
		{time.RFC3339Nano, precTime},
	}
	for _, l := range layouts {
		if t, err := time.Parse(l.layout, s); err == nil {
			return t, l.prec, true
		}
	}
	return time.Time{}, 0, false
}

// dateBins splits sorted dates into calendar bins (years, months, days or
// hours, whichever gives at most about target*2 bins), labelled at that
// precision. Partial dates fall in the bin of their first instant.
func dateBins(s []point, target int) []Bin {
	if len(s) == 0 {
		return nil
	}
	lo := time.Unix(int64(s[0].key), 0).UTC()
	hi := time.Unix(int64(s[len(s)-1].key), 0).UTC()
	type unit struct {
		trunc  func(time.Time) time.Time
		next   func(time.Time, int) time.Time
		layout string
	}
	units := []unit{
		{func(t time.Time) time.Time { return time.Date(t.Year(), 1, 1, 0, 0, 0, 0, time.UTC) },
			func(t time.Time, k int) time.Time { return t.AddDate(k, 0, 0) }, "2006"},
		{func(t time.Time) time.Time { return time.Date(t.Year(), t.Month(), 1, 0, 0, 0, 0, time.UTC) },
			func(t time.Time, k int) time.Time { return t.AddDate(0, k, 0) }, "2006-01"},
		{func(t time.Time) time.Time { return time.Date(t.Year(), t.Month(), t.Day(), 0, 0, 0, 0, time.UTC) },
			func(t time.Time, k int) time.Time { return t.AddDate(0, 0, k) }, "2006-01-02"},
		{func(t time.Time) time.Time { return t.Truncate(time.Hour) },
			func(t time.Time, k int) time.Time { return t.Add(time.Duration(k) * time.Hour) }, "2006-01-02T15Z"},
	}
	// The coarsest unit with enough bins, stepping k units per bin so the
	// count stays near target.
	chosen, step := units[len(units)-1], 1
	for _, u := range units {
		n := 0
		for t := u.trunc(lo); !t.After(hi) && n <= target; t = u.next(t, 1) {
			n++
		}
		if n >= target/2 || u.layout == units[len(units)-1].layout {
			chosen = u
			break
		}
	}
	count := 0
	for t := chosen.trunc(lo); !t.After(hi); t = chosen.next(t, 1) {
		count++
		if count > 100_000 {
			break
		}
	}
	step = max(1, (count+target-1)/target)
	var edges []time.Time
	for t := chosen.trunc(lo); !t.After(hi); t = chosen.next(t, step) {
		edges = append(edges, t)
	}
	edges = append(edges, chosen.next(edges[len(edges)-1], step))
	bins := make([]Bin, len(edges)-1)
	for i := range bins {
		bins[i] = Bin{Lo: edges[i].Format(chosen.layout), Hi: edges[i+1].Format(chosen.layout)}
	}
	i := 0
	for _, p := range s {
		t := time.Unix(int64(p.key), 0).UTC()
		for i < len(bins)-1 && !t.Before(edges[i+1]) {
			i++
		}
		bins[i].Count++
	}
	return bins
}
