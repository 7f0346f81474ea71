package ui

import (
	"context"
	"fmt"
	"sync"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"

	"tranche.dev/tranche/core"
)

// exportListLimit bounds the exports list.
const exportListLimit = 500

// exportsScreen lists every export and shows one in detail, live while it
// runs. Exports keep running whichever tab is in front.
type exportsScreen struct {
	u       *UI
	content fyne.CanvasObject

	// mu serialises widget updates. On the desktop they all run on the UI
	// goroutine; under the test driver fyne.Do runs inline on whichever
	// goroutine called it (the export engine's), and mu keeps that race-free.
	mu sync.Mutex

	exports  []*core.Export
	list     *widget.List
	selected int64 // export id shown; 0 = none, -1 = one still kicking off

	live *liveSet

	detail   *core.Export
	files    []*core.ExportFile
	title    *widget.Label
	phase    *widget.Label
	progress *widget.Label
	elapsed  *widget.Label
	nextPoll *widget.Label
	bar      *widget.ProgressBar
	table    *widget.Table
	totals   *widget.Label
	logList  *widget.List
	logLines []string

	cancelBtn, resumeBtn, retryBtn, releaseBtn, browseBtn *widget.Button
}

func newExportsScreen(u *UI) *exportsScreen {
	s := &exportsScreen{u: u, live: newLiveSet()}
	s.list = widget.NewList(
		func() int { return len(s.exports) },
		func() fyne.CanvasObject {
			l := widget.NewLabel("#0000 downloading — registration name, 2006-01-02 15:04")
			l.Truncation = fyne.TextTruncateEllipsis
			return l
		},
		func(i widget.ListItemID, o fyne.CanvasObject) { o.(*widget.Label).SetText(s.describe(s.exports[i])) },
	)
	s.list.OnSelected = func(i widget.ListItemID) { s.show(s.exports[i].ID) }

	s.title = widget.NewLabelWithStyle("No export selected", fyne.TextAlignLeading, fyne.TextStyle{Bold: true})
	s.phase = widget.NewLabel("")
	s.progress = widget.NewLabel("")
	s.progress.Wrapping = fyne.TextWrapWord
	s.elapsed = widget.NewLabel("")
	s.nextPoll = widget.NewLabel("")
	s.bar = widget.NewProgressBar()
	s.totals = widget.NewLabel("")
	s.totals.Wrapping = fyne.TextWrapWord
	s.table = newFileTable(s)
	s.logList = widget.NewList(
		func() int { return len(s.logLines) },
		func() fyne.CanvasObject {
			l := widget.NewLabel("event")
			l.Truncation = fyne.TextTruncateEllipsis
			return l
		},
		func(i widget.ListItemID, o fyne.CanvasObject) { o.(*widget.Label).SetText(s.logLines[i]) },
	)

	s.cancelBtn = widget.NewButtonWithIcon("Cancel", theme.CancelIcon(), s.cancel)
	s.resumeBtn = widget.NewButtonWithIcon("Resume", theme.MediaPlayIcon(), s.resume)
	s.retryBtn = widget.NewButtonWithIcon("Retry failed files", theme.ViewRefreshIcon(), s.retry)
	s.releaseBtn = widget.NewButtonWithIcon("Release", theme.DeleteIcon(), s.release)
	s.browseBtn = widget.NewButtonWithIcon("Browse", theme.StorageIcon(), s.browse)
	s.browseBtn.Importance = widget.HighImportance

	status := container.NewVBox(
		s.title,
		container.NewGridWithColumns(3, s.phase, s.elapsed, s.nextPoll),
		s.progress, s.bar, s.totals,
		container.NewHBox(s.cancelBtn, s.resumeBtn, s.retryBtn, s.releaseBtn, s.browseBtn),
	)
	logBox := container.NewBorder(widget.NewLabelWithStyle("Event log", fyne.TextAlignLeading, fyne.TextStyle{Bold: true}), nil, nil, nil, s.logList)
	filesAndLog := container.NewVSplit(s.table, logBox)
	filesAndLog.SetOffset(0.6)
	right := container.NewBorder(container.NewPadded(status), nil, nil, nil, filesAndLog)
	refresh := widget.NewButtonWithIcon("Refresh", theme.ViewRefreshIcon(), s.reload)
	left := container.NewBorder(refresh, nil, nil, nil, s.list)
	split := container.NewHSplit(left, right)
	split.SetOffset(0.28)
	s.content = split
	s.showDetail(nil, nil)
	return s
}

func (s *exportsScreen) describe(e *core.Export) string {
	name := e.FHIRBaseURL
	for _, r := range s.u.registrations.regs {
		if r.ID == e.RegistrationID {
			name = r.Name
		}
	}
	level := e.Request.Level
	if e.Request.GroupID != "" {
		level = "Group " + e.Request.GroupID
	}
	return fmt.Sprintf("#%d %s — %s, %s, %s", e.ID, e.State, name, level, e.CreatedAt.Local().Format("2006-01-02 15:04"))
}

// reload reads the exports list and the shown export.
func (s *exportsScreen) reload() {
	var exports []*core.Export
	s.u.background("Could not read the exports.", func(ctx context.Context) (err error) {
		exports, err = s.u.deps.Exports.FindExports(ctx, exportListLimit)
		return err
	}, func() {
		s.mu.Lock()
		s.exports = exports
		s.mu.Unlock()
		s.list.Refresh()
		if s.selected > 0 {
			s.load(s.selected)
		}
	})
}

// show selects an export and loads its detail.
func (s *exportsScreen) show(id int64) {
	s.selected = id
	s.load(id)
}

// load reads one export and its files in the background and shows them.
func (s *exportsScreen) load(id int64) {
	s.u.runAsync(func() { s.loadNow(id) })
}

// loadNow reads and shows an export; it runs off the UI goroutine.
func (s *exportsScreen) loadNow(id int64) {
	ctx := s.u.ctx
	e, err := s.u.deps.Exports.FindExport(ctx, id)
	if err != nil {
		s.u.logger.Info("read export", "export", id, "err", err)
		return
	}
	files, err := s.u.deps.Exports.FindFiles(ctx, id)
	if err != nil {
		s.u.logger.Info("read export files", "export", id, "err", err)
		return
	}
	fyne.Do(func() { s.apply(e, files) })
}

// apply shows a fresh copy of an export, in the list and, if it is the
// one shown, in the detail.
func (s *exportsScreen) apply(e *core.Export, files []*core.ExportFile) {
	s.mu.Lock()
	defer s.mu.Unlock()
	found := false
	for i, x := range s.exports {
		if x.ID == e.ID {
			s.exports[i], found = e, true
		}
	}
	if !found {
		s.exports = append([]*core.Export{e}, s.exports...)
	}
	s.list.Refresh()
	if s.selected == -1 && s.live.get(e.ID) != nil {
		s.selected = e.ID // the export being kicked off now has its id
	}
	if s.selected == e.ID {
		s.showDetail(e, files)
	}
}

// showDetail fills the detail pane; e nil clears it.
func (s *exportsScreen) showDetail(e *core.Export, files []*core.ExportFile) {
	s.detail, s.files = e, files
	if e == nil {
		s.title.SetText("No export selected")
		for _, l := range []*widget.Label{s.phase, s.progress, s.elapsed, s.nextPoll, s.totals} {
			l.SetText("")
		}
		s.bar.SetValue(0)
		s.logLines = nil
		s.logList.Refresh()
		s.table.Refresh()
		s.updateButtons()
		return
	}
	s.title.SetText("Export " + s.describe(e))
	s.phase.SetText("Phase: " + phaseText(e.State))
	switch {
	case e.Error != "":
		s.progress.SetText("Problem: " + e.Error)
	case e.Progress != "" && !e.State.Final():
		s.progress.SetText("Server says: " + e.Progress)
	default:
		s.progress.SetText("")
	}
	t := core.Sum(files)
	s.bar.SetValue(t.Fraction(e.State))
	totals := describeTotals(t)
	if e.Sink != "" {
		// The registration's sink (docs/sink-layout.md): the records land
		// there, and the catalogue keeps the export's progress.
		totals += "\nLands in object storage at " + e.Sink + "."
	}
	s.totals.SetText(totals)
	if le := s.live.logged(e.ID); le != nil {
		s.logLines = le.lines()
	} else {
		s.logLines = []string{"Not running in this window: the event log covers exports started or resumed here."}
	}
	s.logList.Refresh()
	s.logList.ScrollToBottom()
	s.table.Refresh()
	s.tickLocked()
	s.updateButtons()
}

// tick updates elapsed and next-poll once a second (UI.StartClock).
func (s *exportsScreen) tick() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.tickLocked()
}

func (s *exportsScreen) tickLocked() {
	e := s.detail
	if e == nil {
		return
	}
	now := s.u.now()
	end := now
	if e.State.Final() && !e.FinishedAt.IsZero() {
		end = e.FinishedAt
	}
	if !e.CreatedAt.IsZero() {
		s.elapsed.SetText("Elapsed: " + end.Sub(e.CreatedAt).Round(time.Second).String())
	}
	s.nextPoll.SetText("")
	if le := s.live.get(e.ID); le != nil && e.State == core.StatePolling {
		if at := le.nextPollAt(); at.After(now) {
			s.nextPoll.SetText("Next poll in " + at.Sub(now).Round(time.Second).String())
		}
	}
}

func phaseText(st core.ExportState) string {
	switch st {
	case core.StateKickoff:
		return "kicking off"
	case core.StatePolling:
		return "waiting for the server"
	case core.StateDownloading:
		return "downloading"
	}
	return string(st)
}

func (s *exportsScreen) updateButtons() {
	e := s.detail
	running := e != nil && s.live.get(e.ID) != nil
	if s.selected == -1 {
		running = true
	}
	// The engine's rules (core.Export's Can* methods) decide what is offered.
	setEnabled(s.cancelBtn, running || (e != nil && e.CanCancel()))
	setEnabled(s.resumeBtn, e != nil && !running && e.CanResume())
	setEnabled(s.retryBtn, e != nil && !running && e.CanRetryFailed(s.files))
	setEnabled(s.releaseBtn, e != nil && !running && e.CanRelease())
	setEnabled(s.browseBtn, e != nil && (e.State == core.StateComplete || e.State == core.StateDownloading || len(s.files) > 0))
}

// browse shows the selected export in the catalogue.
func (s *exportsScreen) browse() {
	if s.detail == nil {
		return
	}
	s.u.catalog.showExport(s.detail.ID)
	s.u.SelectTab(TabCatalog)
}
