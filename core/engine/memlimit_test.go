package engine

import (
	"math"
	"runtime/debug"
	"testing"
)

// TestMemoryLimit: one soft limit for the process while exports run, raised
// by AtLeast (the sink's budget), lifted when the last export ends.
func TestMemoryLimit(t *testing.T) {
	t.Setenv("GOMEMLIMIT", "") // the environment's limit would rule
	defer debug.SetMemoryLimit(debug.SetMemoryLimit(math.MaxInt64))
	var l MemoryLimit
	l.AtLeast(1 << 40) // no export running: nothing
	if got := debug.SetMemoryLimit(-1); got != math.MaxInt64 {
		t.Fatalf("limit before any export = %d, want none", got)
	}
	end1 := l.Begin()
	first := debug.SetMemoryLimit(-1)
	if first == math.MaxInt64 {
		t.Fatal("Begin set no limit")
	}
	end2 := l.Begin()
	l.AtLeast(first + 64<<20)
	if got := debug.SetMemoryLimit(-1); got != first+64<<20 {
		t.Errorf("after AtLeast: limit %d, want %d", got, first+64<<20)
	}
	l.AtLeast(first) // lower: kept
	if got := debug.SetMemoryLimit(-1); got != first+64<<20 {
		t.Errorf("after a lower AtLeast: limit %d, want %d kept", got, first+64<<20)
	}
	end2()
	end2() // twice: counted once
	if got := debug.SetMemoryLimit(-1); got == math.MaxInt64 {
		t.Errorf("limit lifted while an export still runs")
	}
	end1()
	if got := debug.SetMemoryLimit(-1); got != math.MaxInt64 {
		t.Errorf("limit after the last export = %d, want none", got)
	}
}
