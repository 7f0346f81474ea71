package bulk

import (
	"net/http"
	"strconv"
	"strings"
	"time"
)

// MaxRetryAfter caps what ParseRetryAfter returns: a date in the year 9999
// is a server bug, not a wish to be asked again in 7,973 years, and the
// full figure overflows whatever is added to it.
const MaxRetryAfter = 24 * time.Hour

// ParseRetryAfter reads a Retry-After header value relative to now. It
// accepts delta-seconds ("120") and an HTTP-date (RFC 9110 §10.2.3), and also
// an absolute Unix time in seconds or milliseconds, which the SMART reference
// server sends on 429. A time in the past gives 0, and
// anything beyond MaxRetryAfter gives MaxRetryAfter. ok is false when v is
// empty or unreadable.
func ParseRetryAfter(v string, now time.Time) (d time.Duration, ok bool) {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0, false
	}
	if n, err := strconv.ParseFloat(v, 64); err == nil {
		if n < 0 || n != n { // negative or NaN
			return 0, false
		}
		switch {
		case n >= 1e15: // past the year 33658 in milliseconds: no float-to-int overflow
			d = MaxRetryAfter
		case n >= 1e12: // epoch milliseconds (year 2001 onwards)
			d = time.UnixMilli(int64(n)).Sub(now)
		case n >= 1e9: // epoch seconds (year 2001 onwards); nobody means 31 years
			d = time.Unix(int64(n), 0).Sub(now)
		default:
			d = time.Duration(min(n, MaxRetryAfter.Seconds()) * float64(time.Second))
		}
		return clamp(d, 0, MaxRetryAfter), true
	}
	t, err := http.ParseTime(v)
	if err != nil {
		return 0, false
	}
	return clamp(t.Sub(now), 0, MaxRetryAfter), true
}

// clamp bounds d to [lo, hi].
func clamp(d, lo, hi time.Duration) time.Duration {
	return min(max(d, lo), hi)
}
