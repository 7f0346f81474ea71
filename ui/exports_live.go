package ui

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"fyne.io/fyne/v2"

	"tranche.dev/tranche/core"
)

// maxLogLines bounds each live export's event log.
const maxLogLines = 2000

// refreshEvery throttles reloads of a live export from the catalogue;
// events arriving in between only mark it stale.
const refreshEvery = 300 * time.Millisecond

// liveExport is an export running in this window.
type liveExport struct {
	cancel context.CancelFunc

	mu          sync.Mutex
	id          int64
	log         []string
	nextPoll    time.Time
	lastRefresh time.Time
	firstSeen   map[string]time.Time // file URL → when it started downloading

	// reloadQueued is set while a reload of the export's detail waits to
	// start: events that come meanwhile need no reload of their own.
	reloadQueued atomic.Bool
}

func (le *liveExport) lines() []string {
	le.mu.Lock()
	defer le.mu.Unlock()
	return append([]string(nil), le.log...)
}

func (le *liveExport) nextPollAt() time.Time {
	le.mu.Lock()
	defer le.mu.Unlock()
	return le.nextPoll
}

// liveSet holds the exports running in this window by id, and those that
// ran here, for their event logs.
type liveSet struct {
	mu   sync.Mutex
	byID map[int64]*liveExport
	ran  map[int64]*liveExport
}

func newLiveSet() *liveSet {
	return &liveSet{byID: map[int64]*liveExport{}, ran: map[int64]*liveExport{}}
}

// logged returns the export that runs or ran here with id, or nil.
func (l *liveSet) logged(id int64) *liveExport {
	l.mu.Lock()
	defer l.mu.Unlock()
	if le := l.byID[id]; le != nil {
		return le
	}
	return l.ran[id]
}

func (l *liveSet) get(id int64) *liveExport {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.byID[id]
}

func (l *liveSet) put(id int64, le *liveExport) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.byID[id] = le
}

// remove marks an export as no longer running, keeping its log.
func (l *liveSet) remove(id int64, le *liveExport) {
	l.mu.Lock()
	defer l.mu.Unlock()
	delete(l.byID, id)
	if prev := l.ran[id]; prev != nil && prev != le {
		// A resumed export: keep the earlier run's lines first.
		le.mu.Lock()
		le.log = append(prev.lines(), le.log...)
		le.mu.Unlock()
	}
	l.ran[id] = le
}

// start kicks off a new export and shows it.
func (s *exportsScreen) start(reg *core.Registration, req core.ExportRequest, sinkViews [][]byte) {
	s.mu.Lock()
	s.selected = -1
	s.detail, s.files = nil, nil
	s.title.SetText("Starting an export from " + reg.Name + "…")
	s.logLines = nil
	s.logList.Refresh()
	s.updateButtons()
	s.mu.Unlock()
	s.run(0, func(ctx context.Context, onEvent func(core.Event)) (*core.Export, error) {
		return s.u.deps.Exports.Start(ctx, reg, req, sinkViews, onEvent)
	})
}

// run runs one export (new, resumed or retried) off the UI goroutine.
func (s *exportsScreen) run(id int64, f func(context.Context, func(core.Event)) (*core.Export, error)) {
	ctx, cancel := context.WithCancel(s.u.ctx)
	le := &liveExport{cancel: cancel, id: id, firstSeen: map[string]time.Time{}}
	if id != 0 {
		s.live.put(id, le)
		s.mu.Lock()
		s.updateButtons()
		s.mu.Unlock()
	}
	s.u.runAsync(func() {
		e, err := f(ctx, func(ev core.Event) { s.onEvent(le, ev) })
		cancel()
		fyne.Do(func() { s.finished(le, e, err) })
	})
}

// onEvent records one engine event; it runs on the engine's goroutines,
// possibly several at once, and returns without touching SQLite or the UI.
func (s *exportsScreen) onEvent(le *liveExport, ev core.Event) {
	le.mu.Lock()
	first := le.id == 0 && ev.ExportID != 0
	if first {
		le.id = ev.ExportID
	}
	le.log = append(le.log, formatEvent(ev))
	if len(le.log) > maxLogLines {
		le.log = le.log[len(le.log)-maxLogLines:]
	}
	if ev.RetryAfter > 0 {
		le.nextPoll = ev.Time.Add(ev.RetryAfter)
	}
	if ev.Kind == core.EventDownloadRequest && ev.FileURL != "" {
		le.firstSeen[ev.FileURL] = ev.Time
	}
	id := le.id
	now := s.u.now()
	due := now.Sub(le.lastRefresh) >= refreshEvery || importantEvent(ev.Kind)
	if due {
		le.lastRefresh = now
	}
	le.mu.Unlock()
	if first {
		s.live.put(id, le) // outside le.mu: liveSet locks before liveExport
	}
	if id != 0 && due {
		s.queueReload(le, id)
	}
}

// queueReload reloads export id's detail off the engine's goroutine (which
// must not wait for SQLite or the UI), folding the reloads asked for while
// one waits to start into it.
func (s *exportsScreen) queueReload(le *liveExport, id int64) {
	if le.reloadQueued.Swap(true) {
		return
	}
	s.u.runAsync(func() {
		le.reloadQueued.Store(false)
		s.loadNow(id)
	})
}

func importantEvent(kind core.EventKind) bool {
	switch kind {
	case core.EventKickoff, core.EventManifestComplete, core.EventStatusComplete, core.EventStatusError,
		core.EventDownloadComplete, core.EventDownloadError, core.EventExportComplete:
		return true
	}
	return false
}

// finished runs on the UI goroutine when an export stops.
func (s *exportsScreen) finished(le *liveExport, e *core.Export, err error) {
	le.mu.Lock()
	id := le.id
	if id == 0 && e != nil {
		id = e.ID
	}
	le.mu.Unlock()
	s.live.remove(id, le)
	if id == 0 {
		s.mu.Lock()
		if s.selected == -1 {
			s.selected = 0
			s.showDetail(nil, nil)
		}
		s.mu.Unlock()
	} else {
		s.mu.Lock()
		if s.selected == -1 {
			s.selected = id
		}
		s.mu.Unlock()
		s.u.runAsync(func() { s.loadNow(id) })
	}
	switch {
	case errors.Is(err, context.Canceled):
		return
	case err != nil:
		s.u.notify("Export failed", fmt.Sprintf("Export #%d stopped: %v", id, err))
		s.u.showError("The export stopped before it finished.", err)
	case e != nil && e.State == core.StateComplete:
		s.u.notify("Export complete", fmt.Sprintf("Export #%d is in the catalogue.", id))
		s.u.catalog.invalidate()
	case e != nil:
		s.u.notify("Export ended", fmt.Sprintf("Export #%d ended: %s. %s", id, e.State, e.Error))
	}
}

func (s *exportsScreen) cancel() {
	id := s.selected
	if id == -1 {
		// Still kicking off: stop whatever runs without an id yet.
		s.live.mu.Lock()
		for _, le := range s.live.byID {
			le.cancel()
		}
		s.live.mu.Unlock()
		return
	}
	if le := s.live.get(id); le != nil {
		le.cancel()
	}
	if id <= 0 {
		return
	}
	s.u.background("Could not cancel the export on the server.", func(ctx context.Context) error {
		return s.u.deps.Exports.Cancel(ctx, id)
	}, func() { s.load(id) })
}

func (s *exportsScreen) resume() {
	id := s.selected
	if id <= 0 {
		return
	}
	s.run(id, func(ctx context.Context, onEvent func(core.Event)) (*core.Export, error) {
		return s.u.deps.Exports.Resume(ctx, id, onEvent)
	})
}

func (s *exportsScreen) retry() {
	id := s.selected
	if id <= 0 {
		return
	}
	s.run(id, func(ctx context.Context, onEvent func(core.Event)) (*core.Export, error) {
		return s.u.deps.Exports.RetryFailed(ctx, id, onEvent)
	})
}

func (s *exportsScreen) release() {
	id := s.selected
	if id <= 0 {
		return
	}
	s.u.background("Could not release the export on the server.", func(ctx context.Context) error {
		return s.u.deps.Exports.Release(ctx, id)
	}, func() { s.load(id) })
}

// formatEvent is one event log line: the time, the kind and its details,
// named as in log.ndjson (core.NewLogItem).
func formatEvent(ev core.Event) string {
	detail := core.NewLogItem(ev).EventDetail
	var b strings.Builder
	b.WriteString(ev.Time.Local().Format("15:04:05"))
	b.WriteString("  ")
	b.WriteString(strings.ReplaceAll(string(ev.Kind), "_", " "))
	for _, k := range slices.Sorted(maps.Keys(detail)) {
		v := fmt.Sprint(detail[k])
		if len(v) > 120 {
			v = v[:117] + "…"
		}
		fmt.Fprintf(&b, "  %s=%s", k, v)
	}
	return b.String()
}
