package synth

import (
	"strconv"
	"time"
)

// The JSON here is written by appending to a byte slice: fixed fragments as
// raw text, values through the helpers below. encoding/json on maps would be
// an order of magnitude slower, and the demo server generates output on the
// fly. Every string that reaches str is escaped, so names and codes cannot
// break the syntax even if the tables change.

type jw struct{ b []byte }

func (w *jw) raw(s string) { w.b = append(w.b, s...) }

// str appends s as a JSON string.
func (w *jw) str(s string) {
	w.b = append(w.b, '"')
	start := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 0x20 && c != '"' && c != '\\' {
			continue
		}
		w.b = append(w.b, s[start:i]...)
		switch c {
		case '"', '\\':
			w.b = append(w.b, '\\', c)
		case '\n':
			w.b = append(w.b, '\\', 'n')
		case '\t':
			w.b = append(w.b, '\\', 't')
		default:
			w.b = append(w.b, '\\', 'u', '0', '0', hexDigit[c>>4], hexDigit[c&0xf])
		}
		start = i + 1
	}
	w.b = append(w.b, s[start:]...)
	w.b = append(w.b, '"')
}

const hexDigit = "0123456789abcdef"

func (w *jw) int(n int) { w.b = strconv.AppendInt(w.b, int64(n), 10) }

// float appends v with prec decimals.
func (w *jw) float(v float64, prec int) { w.b = strconv.AppendFloat(w.b, v, 'f', prec, 64) }

// ref appends {"reference":"Type/id"}.
func (w *jw) ref(typ, id string) {
	w.raw(`{"reference":"`)
	w.raw(typ)
	w.b = append(w.b, '/')
	w.raw(id) // ids are generated URL-safe: no escaping needed
	w.raw(`"}`)
}

// coding appends one Coding object.
func (w *jw) coding(c code) {
	w.raw(`{"system":"`)
	w.raw(c.System)
	w.raw(`","code":"`)
	w.raw(c.Code)
	w.raw(`","display":`)
	w.str(c.Display)
	w.b = append(w.b, '}')
}

// concept appends a CodeableConcept with one coding and its display as text.
func (w *jw) concept(c code) {
	w.raw(`{"coding":[`)
	w.coding(c)
	w.raw(`],"text":`)
	w.str(c.Display)
	w.b = append(w.b, '}')
}

// meta appends the "meta" member (with a leading comma).
func (w *jw) meta(version int, lastUpdated int64) {
	w.raw(`,"meta":{"versionId":"`)
	w.int(version)
	w.raw(`","lastUpdated":"`)
	w.instant(lastUpdated)
	w.raw(`"}`)
}

// instant appends Unix seconds as a FHIR instant in UTC, without quotes.
func (w *jw) instant(sec int64) {
	y, mo, d, h, mi, s := civil(sec)
	w.date4(y, mo, d)
	w.b = append(w.b, 'T', byte('0'+h/10), byte('0'+h%10), ':', byte('0'+mi/10), byte('0'+mi%10),
		':', byte('0'+s/10), byte('0'+s%10), 'Z')
}

// date appends Unix seconds as a FHIR date (YYYY-MM-DD), without quotes.
func (w *jw) date(sec int64) {
	y, mo, d, _, _, _ := civil(sec)
	w.date4(y, mo, d)
}

func (w *jw) date4(y, mo, d int) {
	w.b = append(w.b, byte('0'+y/1000%10), byte('0'+y/100%10), byte('0'+y/10%10), byte('0'+y%10), '-',
		byte('0'+mo/10), byte('0'+mo%10), '-', byte('0'+d/10), byte('0'+d%10))
}

// civil converts Unix seconds to a UTC calendar date and clock. It is the
// days-from-civil inverse by Howard Hinnant; time.Time.Date does the same
// but costs more than the rest of a small resource.
func civil(sec int64) (year, month, day, hour, min, s int) {
	days := sec / 86400
	rem := sec % 86400
	if rem < 0 {
		rem += 86400
		days--
	}
	hour, min, s = int(rem/3600), int(rem%3600/60), int(rem%60)
	z := days + 719468
	era := z / 146097
	if z < 0 && z%146097 != 0 {
		era = (z - 146096) / 146097
	}
	doe := z - era*146097
	yoe := (doe - doe/1460 + doe/36524 - doe/146096) / 365
	y := yoe + era*400
	doy := doe - (365*yoe + yoe/4 - yoe/100)
	mp := (5*doy + 2) / 153
	d := doy - (153*mp+2)/5 + 1
	m := mp + 3
	if m > 12 {
		m -= 12
	}
	if m <= 2 {
		y++
	}
	return int(y), int(m), int(d), hour, min, s
}

// utc turns Unix seconds into a time.Time for Resource.LastUpdated.
func utc(sec int64) time.Time { return time.Unix(sec, 0).UTC() }
