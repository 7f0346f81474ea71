//go:build unix

package rss

import (
	"syscall"
	"time"
)

// CPUTime returns the CPU time (user + system) this process has used: a
// cost that depends less on how busy the machine is than wall time does.
func CPUTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
