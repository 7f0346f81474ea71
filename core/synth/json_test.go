package synth

import (
	"encoding/json"
	"testing"
	"time"
)

// TestJW_Instant checks the hand-written calendar against package time
// across leap years, centuries and dates before 1970.
func TestJW_Instant(t *testing.T) {
	r := newRNG(1, 0)
	cases := []int64{0, -1, 951782400, 951868800, 4107542399, -2208988800, 1782777599}
	for range 10000 {
		cases = append(cases, r.int64n(6000000000)-3000000000)
	}
	for _, sec := range cases {
		var w jw
		w.instant(sec)
		if got, want := string(w.b), time.Unix(sec, 0).UTC().Format("2006-01-02T15:04:05Z"); got != want {
			t.Fatalf("instant(%d) = %s, want %s", sec, got, want)
		}
	}
}

func TestJW_Str(t *testing.T) {
	tests := []string{"", "plain", `quote " and \ backslash`, "tab\tnew\nline\x01", "Müller Chloé Zoë"}
	for _, s := range tests {
		var w jw
		w.str(s)
		var got string
		if err := json.Unmarshal(w.b, &got); err != nil || got != s {
			t.Errorf("str(%q) = %s, which decodes to %q, %v", s, w.b, got, err)
		}
	}
}

func TestNPI(t *testing.T) {
	// 1234567893 is the example NPI in the CMS check-digit document.
	if got, want := string(npi(23456789)), "1234567893"; got != want {
		t.Fatalf("npi(23456789) = %s, want %s", got, want)
	}
	for _, base := range []int{0, 1, 17, 7919, 123456789} {
		d := npi(base)
		sum := 24
		for i := len(d) - 1; i >= 0; i-- {
			v := int(d[i] - '0')
			if (len(d)-1-i)%2 == 1 {
				v *= 2
				if v > 9 {
					v -= 9
				}
			}
			sum += v
		}
		if len(d) != 10 || sum%10 != 0 {
			t.Errorf("npi(%d) = %s, Luhn sum %d, want 10 digits and a multiple of 10", base, d, sum)
		}
	}
}
