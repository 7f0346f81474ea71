package bench

import (
	"context"
	"os"
	"runtime/metrics"
	"strconv"
	"strings"
	"sync"
	"time"
)

// MemSample splits the process's resident memory at one moment: what the Go
// runtime holds (heap in use, heap free but not yet returned to the OS, and
// the rest: stacks, GC metadata) and what lies outside it (SQLite's page
// caches and other C-side memory of the modernc driver, which allocates
// through its own mmap'ed heap, and the shared WAL index).
type MemSample struct {
	RSSMB      float64 `json:"rssMB"`
	HeapMB     float64 `json:"heapMB"`     // Go heap objects (live and not yet swept)
	HeapFreeMB float64 `json:"heapFreeMB"` // Go heap spans free but still mapped
	GoOtherMB  float64 `json:"goOtherMB"`  // stacks, GC metadata, runtime structures
	OutsideMB  float64 `json:"outsideMB"`  // RSS not accounted for by the Go runtime
}

// memSampler records the sample taken when RSS was highest.
type memSampler struct {
	mu   sync.Mutex
	peak MemSample
}

var memMetrics = []string{
	"/memory/classes/total:bytes",
	"/memory/classes/heap/released:bytes",
	"/memory/classes/heap/objects:bytes",
	"/memory/classes/heap/unused:bytes",
	"/memory/classes/heap/free:bytes",
}

// run samples every interval until ctx is done.
func (m *memSampler) run(ctx context.Context, interval time.Duration) {
	samples := make([]metrics.Sample, len(memMetrics))
	for i, n := range memMetrics {
		samples[i].Name = n
	}
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		rss := currentRSS()
		metrics.Read(samples)
		v := func(i int) float64 { return float64(samples[i].Value.Uint64()) / (1 << 20) }
		goMapped := v(0) - v(1)
		s := MemSample{RSSMB: rss, HeapMB: v(2) + v(3), HeapFreeMB: v(4)}
		s.GoOtherMB = goMapped - s.HeapMB - s.HeapFreeMB
		s.OutsideMB = rss - goMapped
		m.mu.Lock()
		if s.RSSMB > m.peak.RSSMB {
			m.peak = s
		}
		m.mu.Unlock()
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

func (m *memSampler) atPeak() MemSample {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.peak
}

// currentRSS reads VmRSS from /proc/self/status (Linux), in MiB; 0 elsewhere.
func currentRSS() float64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, "VmRSS:"); ok {
			kb, _ := strconv.ParseFloat(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 64)
			return kb / 1024
		}
	}
	return 0
}
