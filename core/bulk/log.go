package bulk

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
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

// LogDir writes each export's events to Dir/<export id>/log.ndjson, the
// file opened on the export's first event and closed by Done (when a run
// of it returns) or Close. Safe for concurrent use.
type LogDir struct {
	Dir string
	// OnError hears of a log file that could not be opened (its events
	// are then dropped); nil: ignored.
	OnError func(error)

	mu    sync.Mutex
	files map[int64]*os.File
	lws   map[int64]*LogWriter
}

// Handle writes ev to its export's log; use it as (part of) OnEvent.
func (d *LogDir) Handle(ev core.Event) {
	if ev.ExportID == 0 {
		return
	}
	d.mu.Lock()
	lw, ok := d.lws[ev.ExportID]
	if !ok {
		if d.lws == nil {
			d.lws, d.files = map[int64]*LogWriter{}, map[int64]*os.File{}
		}
		dir := filepath.Join(d.Dir, strconv.FormatInt(ev.ExportID, 10))
		var f *os.File
		err := os.MkdirAll(dir, 0o700)
		if err == nil {
			f, err = os.OpenFile(filepath.Join(dir, "log.ndjson"), os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o600)
		}
		if err != nil {
			if d.OnError != nil {
				d.OnError(fmt.Errorf("export log: %w", err))
			}
			lw = &LogWriter{W: io.Discard}
		} else {
			d.files[ev.ExportID] = f
			lw = &LogWriter{W: f}
		}
		d.lws[ev.ExportID] = lw
	}
	d.mu.Unlock()
	lw.Handle(ev)
}

// Done closes export id's log file: its run returned. A later run opens
// it again and appends.
func (d *LogDir) Done(id int64) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	f := d.files[id]
	delete(d.files, id)
	delete(d.lws, id)
	if f == nil {
		return nil
	}
	return f.Close()
}

// Close closes every open log file.
func (d *LogDir) Close() error {
	d.mu.Lock()
	defer d.mu.Unlock()
	var errs []error
	for id, f := range d.files {
		errs = append(errs, f.Close())
		delete(d.files, id)
		delete(d.lws, id)
	}
	return errors.Join(errs...)
}
