// Package rss reads this process's resource use for benchmarks: its CPU
// time (CPUTime), and its resident memory from Linux's /proc/self/status
// (Peak, Current; elsewhere 0: unknown).
package rss

import (
	"bytes"
	"os"
	"strconv"
)

// Peak returns the highest resident set size of the process so far
// (VmHWM) in MiB, or 0 if unknown.
func Peak() float64 { return read("VmHWM") }

// Current returns the resident set size of the process (VmRSS) in MiB, or
// 0 if unknown.
func Current() float64 { return read("VmRSS") }

func read(field string) float64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	mib, _ := parseStatus(b, field)
	return mib
}

// parseStatus returns the value of field, in MiB, from the text of a
// /proc/PID/status file, whose memory lines read "VmHWM:\t  123456 kB"
// (proc(5)). ok is false if the field is missing or not a size in kB.
func parseStatus(status []byte, field string) (mib float64, ok bool) {
	for line := range bytes.Lines(status) {
		v, found := bytes.CutPrefix(line, []byte(field+":"))
		if !found {
			continue
		}
		v, found = bytes.CutSuffix(bytes.TrimSpace(v), []byte(" kB"))
		if !found {
			return 0, false
		}
		kb, err := strconv.ParseUint(string(bytes.TrimSpace(v)), 10, 64)
		if err != nil {
			return 0, false
		}
		return float64(kb) / 1024, true
	}
	return 0, false
}
