package engine

import (
	"math"
	"os"
	"runtime/debug"
	"runtime/metrics"
	"sync"
)

// exportGoHeadroom is how much memory the Go runtime may take on during
// exports, above what it held when the first one started. The export's
// own heap is bounded by construction (a line arena of
// bulk.DefaultBatchBytes per parallel download, an ndjson reader and a
// gzip reader each; SQLite's caches live outside the Go heap and are
// bounded by catalog.WriterCacheSize and ReaderCacheSize): 22-24 MB live
// after each collection in tranche bench. Left alone, the Go heap grows to
// twice its live size and keeps freed spans mapped for minutes, which was
// 50-65 MB of the export's 130-140 MB peak; the soft limit makes the
// collector and scavenger work within this budget instead. At 40 MiB the
// limit never bound (the heap goal stayed at twice the live heap, 45 MB)
// and the peak was 95-99 MB on a loaded machine; at 24 MiB the goal is
// 32 MB, the peak 83 MB, for 4% of CPU time in the collector instead of
// 2%. It is soft: should the live heap ever exceed it, the process is
// slowed by extra collections, never stopped.
const exportGoHeadroom = 24 << 20

// MemoryLimit sets the Go runtime's soft memory limit for the duration
// of exports, for the command line and the desktop app alike: Begin raises the count of running exports (setting the limit
// on the first), and the func it returns lowers it (lifting the limit on
// the last). A GOMEMLIMIT in the environment is left to rule.
type MemoryLimit struct {
	mu      sync.Mutex
	running int
	floor   int64 // AtLeast's, while exports run
}

// AtLeast raises the limit to at least limit until the last running
// export ends (the object-storage sink, whose Parquet encoding takes a
// larger, fixed budget: sink.MemoryLimit). With GOMEMLIMIT set, or no
// export running, it does nothing.
func (l *MemoryLimit) AtLeast(limit int64) {
	if os.Getenv("GOMEMLIMIT") != "" {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.running == 0 || limit <= l.floor {
		return
	}
	l.floor = limit
	if debug.SetMemoryLimit(-1) < limit {
		debug.SetMemoryLimit(limit)
	}
}

// Begin counts one more running export and returns the func that counts
// it done (safe to call more than once).
func (l *MemoryLimit) Begin() (end func()) {
	if os.Getenv("GOMEMLIMIT") != "" {
		return func() {}
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.running == 0 {
		debug.SetMemoryLimit(goMemoryMapped() + exportGoHeadroom)
	}
	l.running++
	var once sync.Once
	return func() {
		once.Do(func() {
			l.mu.Lock()
			defer l.mu.Unlock()
			if l.running--; l.running == 0 {
				l.floor = 0
				debug.SetMemoryLimit(math.MaxInt64)
			}
		})
	}
}

// goMemoryMapped returns the memory the Go runtime holds from the OS, as
// the soft memory limit counts it.
func goMemoryMapped() int64 {
	s := []metrics.Sample{{Name: "/memory/classes/total:bytes"}, {Name: "/memory/classes/heap/released:bytes"}}
	metrics.Read(s)
	return int64(s[0].Value.Uint64() - s[1].Value.Uint64())
}
