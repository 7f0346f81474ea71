package bulk

import (
	"net/http"
	"strconv"
	"strings"
	"time"
)

// ParseRetryAfter reads a Retry-After header value relative to now. It
// accepts delta-seconds ("120") and an HTTP-date (RFC 9110 §10.2.3), and also
// an absolute Unix time in seconds or milliseconds, which the SMART reference
// server sends on 429 (peer-quirks.md). A time in the past gives 0. ok is
// false when v is empty or unreadable.
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
		case n >= 1e12: // epoch milliseconds (year 2001 onwards)
			d = time.UnixMilli(int64(n)).Sub(now)
		case n >= 1e9: // epoch seconds (year 2001 onwards); nobody means 31 years
			d = time.Unix(int64(n), 0).Sub(now)
		default:
			d = time.Duration(n * float64(time.Second))
		}
		return max(d, 0), true
	}
	t, err := http.ParseTime(v)
	if err != nil {
		return 0, false
	}
	return max(t.Sub(now), 0), true
}

// clamp bounds d to [lo, hi].
func clamp(d, lo, hi time.Duration) time.Duration {
	return min(max(d, lo), hi)
}
