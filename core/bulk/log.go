package bulk

import (
	"encoding/json"
	"io"
	"sync"

	"tranche.dev/tranche/core"
)

// LogWriter writes events as log.ndjson lines in the format of the SMART
// bulk-data-client ("Bulk Data Export Log Items"): exportId (the status URL,
// stable across restarts), timestamp, eventId and eventDetail. Events carry
// no tokens, so neither does the log.
type LogWriter struct {
	W io.Writer
	// Progress includes status_progress and download_progress events,
	// which are frequent (off by default, as in the reference client).
	Progress bool

	mu  sync.Mutex
	err error
}

// Handle writes ev; use it as (part of) Runner.OnEvent. Write errors are
// kept for Err.
func (l *LogWriter) Handle(ev core.Event) {
	if !l.Progress && (ev.Kind == core.EventStatusProgress || ev.Kind == core.EventDownloadProgress) {
		return
	}
	b, err := json.Marshal(core.NewLogItem(ev))
	l.mu.Lock()
	defer l.mu.Unlock()
	if err == nil {
		_, err = l.W.Write(append(b, '\n'))
	}
	if err != nil && l.err == nil {
		l.err = err
	}
}

// Err returns the first error met while writing.
func (l *LogWriter) Err() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.err
}
