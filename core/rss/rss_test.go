package rss

import (
	"runtime"
	"testing"
)

const status = "Name:\ttranche\nVmPeak:\t 2271128 kB\nVmSize:\t 2205592 kB\nVmHWM:\t  102400 kB\nVmRSS:\t   51200 kB\nThreads:\t12\n"

func TestParseStatus(t *testing.T) {
	tests := []struct {
		name, status, field string
		want                float64
		ok                  bool
	}{
		{"HWM", status, "VmHWM", 100, true},
		{"RSS", status, "VmRSS", 50, true},
		{"Missing", status, "VmSwap", 0, false},
		{"PrefixOfAnother", status, "Vm", 0, false},
		{"NotKB", "VmHWM:\t12 MB\n", "VmHWM", 0, false},
		{"NotANumber", "VmHWM:\tlots kB\n", "VmHWM", 0, false},
		{"Negative", "VmHWM:\t-1 kB\n", "VmHWM", 0, false},
		{"NoNewlineAtEnd", "VmHWM:\t1024 kB", "VmHWM", 1, true},
		{"Empty", "", "VmHWM", 0, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := parseStatus([]byte(tt.status), tt.field)
			if got != tt.want || ok != tt.ok {
				t.Errorf("parseStatus(%q, %q) = %v, %v; want %v, %v", tt.status, tt.field, got, ok, tt.want, tt.ok)
			}
		})
	}
}

// TestPeak checks the figures of this process on Linux: a peak of at
// least the current resident size, which is more than nothing.
func TestPeak(t *testing.T) {
	if runtime.GOOS != "linux" {
		if got := Peak(); got != 0 {
			t.Errorf("Peak() = %v on %s, want 0 (unknown)", got, runtime.GOOS)
		}
		return
	}
	cur, peak := Current(), Peak()
	if cur <= 0 || peak < cur {
		t.Errorf("Current() = %v MiB, Peak() = %v MiB; want 0 < current <= peak", cur, peak)
	}
}

func FuzzParseStatus(f *testing.F) {
	f.Add([]byte(status), "VmHWM")
	f.Add([]byte("VmRSS:\t18446744073709551615 kB\n"), "VmRSS")
	f.Add([]byte("VmHWM: kB"), "VmHWM")
	f.Fuzz(func(t *testing.T, status []byte, field string) {
		mib, ok := parseStatus(status, field)
		if !ok && mib != 0 {
			t.Errorf("parseStatus() = %v, false; want 0 when not ok", mib)
		}
		if mib < 0 {
			t.Errorf("parseStatus() = %v, want no negative size", mib)
		}
	})
}

func TestCPUTime(t *testing.T) {
	before := CPUTime()
	x := 0
	for i := range 50_000_000 {
		x ^= i
	}
	after := CPUTime()
	if runtime.GOOS == "linux" && after <= before {
		t.Errorf("CPUTime() went from %v to %v over a busy loop (%d), want it to grow", before, after, x)
	}
}
