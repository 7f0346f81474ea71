package ui

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"

	"tranche.dev/tranche/core/demo"
)

// maxRequestLog bounds the demo server's request log.
const maxRequestLog = 1000

// demoScreen starts and stops the loopback demo server, sets its fault
// knobs and shows who asks it what.
type demoScreen struct {
	u       *UI
	content fyne.CanvasObject

	mu      sync.Mutex // guards reqs, written by the server's goroutines
	reqs    []string
	pending atomic.Bool // a log refresh is queued

	port, patients, jobDelay                              *widget.Entry
	statusErrors, tooMany, fileErrors, expired, failFiles *widget.Check
	startBtn, stopBtn, copyURLBtn                         *widget.Button
	status, info                                          *widget.Label
	logList                                               *widget.List
	running                                               *demo.TrainingInfo
}

func newDemoScreen(u *UI) *demoScreen {
	s := &demoScreen{u: u}
	s.port = widget.NewEntry()
	s.port.SetText("0")
	s.port.Validator = func(v string) error {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 || n > 65535 {
			return fmt.Errorf("a port from 1 to 65535, or 0 for any free port")
		}
		return nil
	}
	s.patients = intEntry(100)
	s.jobDelay = widget.NewEntry()
	s.jobDelay.SetText("0")
	s.jobDelay.Validator = func(v string) error {
		if n, err := strconv.Atoi(v); err != nil || n < 0 {
			return fmt.Errorf("a whole number of seconds")
		}
		return nil
	}
	apply := func(bool) { s.applyFaults() }
	s.statusErrors = widget.NewCheck("Transient 5xx on status polls", apply)
	s.tooMany = widget.NewCheck("429 Too Many Requests bursts", apply)
	s.fileErrors = widget.NewCheck("5xx and dropped connections mid-file", apply)
	s.expired = widget.NewCheck("Expired files (410 Gone)", apply)
	s.failFiles = widget.NewCheck("Some files fail into error[]", apply)
	s.jobDelay.OnSubmitted = func(string) { s.applyFaults() }

	s.startBtn = widget.NewButtonWithIcon("Start", theme.MediaPlayIcon(), s.start)
	s.startBtn.Importance = widget.HighImportance
	s.stopBtn = widget.NewButtonWithIcon("Stop", theme.MediaStopIcon(), s.stop)
	s.copyURLBtn = widget.NewButtonWithIcon("Copy URL", theme.ContentCopyIcon(), func() {
		if s.running != nil {
			u.App.Clipboard().SetContent(s.running.URL)
		}
	})
	s.status = widget.NewLabelWithStyle("", fyne.TextAlignLeading, fyne.TextStyle{Bold: true})
	s.info = widget.NewLabel("")
	s.info.Wrapping = fyne.TextWrapWord
	s.info.Selectable = true
	s.logList = widget.NewList(
		func() int {
			s.mu.Lock()
			defer s.mu.Unlock()
			return len(s.reqs)
		},
		func() fyne.CanvasObject {
			l := widget.NewLabel("15:04:05  GET  /fhir/$export  202  12ms  tranche-demo-rs384")
			l.Truncation = fyne.TextTruncateEllipsis
			return l
		},
		func(i widget.ListItemID, o fyne.CanvasObject) {
			s.mu.Lock()
			line := ""
			if i < len(s.reqs) {
				line = s.reqs[i]
			}
			s.mu.Unlock()
			o.(*widget.Label).SetText(line)
		},
	)

	note := widget.NewLabel("The demo server runs on this computer only (127.0.0.1) with synthetic patients. " +
		"Its demo clients sign with the sample keys from the Bulk Data IG, which are public knowledge: " +
		"never use them for real data.")
	note.Wrapping = fyne.TextWrapWord
	note.Importance = widget.WarningImportance
	form := widget.NewForm(
		&widget.FormItem{Text: "Port", Widget: s.port, HintText: "0 picks a free port."},
		&widget.FormItem{Text: "Patients", Widget: s.patients, HintText: "Synthetic patients, about 350 resources each."},
		&widget.FormItem{Text: "Job time (s)", Widget: s.jobDelay, HintText: "How long an export runs before its files are ready (Enter applies)."},
	)
	faults := container.NewVBox(
		widget.NewLabelWithStyle("Faults for training (applied at once, to the running server too)", fyne.TextAlignLeading, fyne.TextStyle{Bold: true}),
		s.statusErrors, s.tooMany, s.fileErrors, s.expired, s.failFiles)
	controls := container.NewVBox(
		widget.NewLabelWithStyle("Demo server", fyne.TextAlignLeading, fyne.TextStyle{Bold: true}),
		note, form,
		container.NewHBox(s.startBtn, s.stopBtn, s.copyURLBtn, s.status),
		s.info, faults,
	)
	logBox := container.NewBorder(widget.NewLabelWithStyle("Request log", fyne.TextAlignLeading, fyne.TextStyle{Bold: true}),
		nil, nil, nil, s.logList)
	split := container.NewHSplit(container.NewVScroll(container.NewPadded(controls)), container.NewPadded(logBox))
	split.SetOffset(0.45)
	s.content = split
	s.refresh()
	return s
}

// refresh shows whether the server runs.
func (s *demoScreen) refresh() {
	if s.u.deps.Demo == nil {
		s.status.SetText("Not available in this window.")
		s.info.SetText("Run \"tranche demo\" to open Tranche with the demo server.")
		for _, w := range []fyne.Disableable{s.startBtn, s.stopBtn, s.copyURLBtn} {
			w.Disable()
		}
		return
	}
	s.running = s.u.deps.Demo.Running()
	if s.running == nil {
		s.status.SetText("Stopped.")
		s.info.SetText("")
	} else {
		s.status.SetText("Running.")
		s.info.SetText(describeDemo(s.running))
	}
	setEnabled(s.startBtn, s.running == nil)
	setEnabled(s.stopBtn, s.running != nil)
	setEnabled(s.copyURLBtn, s.running != nil)
	setEnabled(s.port, s.running == nil)
	setEnabled(s.patients, s.running == nil)
}

func describeDemo(d *demo.TrainingInfo) string {
	var b strings.Builder
	fmt.Fprintf(&b, "FHIR base URL: %s\nToken URL: %s", d.URL, d.TokenURL)
	for _, c := range d.Clients {
		fmt.Fprintf(&b, "\nClient id %s (%s), private key: sample-jwks/%s", c.ID, c.Alg, c.KeyFile)
	}
	return b.String()
}

func (s *demoScreen) faults() demo.FaultSwitches {
	secs, _ := strconv.Atoi(s.jobDelay.Text)
	return demo.FaultSwitches{
		JobDelay:        time.Duration(secs) * time.Second,
		StatusErrors:    s.statusErrors.Checked,
		TooManyRequests: s.tooMany.Checked,
		FileErrors:      s.fileErrors.Checked,
		ExpiredFiles:    s.expired.Checked,
		FailSomeFiles:   s.failFiles.Checked,
	}
}

func (s *demoScreen) applyFaults() {
	if s.u.deps.Demo == nil || s.running == nil || s.jobDelay.Validate() != nil {
		return
	}
	f := s.faults()
	s.u.background("Could not change the demo server's faults.", func(context.Context) error {
		return s.u.deps.Demo.SetFaults(f)
	}, nil)
}

func (s *demoScreen) start() {
	for _, e := range []*widget.Entry{s.port, s.patients, s.jobDelay} {
		if err := e.Validate(); err != nil {
			s.status.SetText("Check the settings: " + err.Error())
			return
		}
	}
	port, _ := strconv.Atoi(s.port.Text)
	patients, _ := strconv.Atoi(s.patients.Text)
	cfg := demo.TrainingConfig{Port: port, Patients: patients, Faults: s.faults()}
	s.status.SetText("Starting…")
	s.u.background("Could not start the demo server.", func(context.Context) error {
		_, err := s.u.deps.Demo.Start(cfg, s.onRequest)
		return err
	}, func() {
		s.refresh()
		s.u.registrations.reload()
	})
}

func (s *demoScreen) stop() {
	s.u.background("Could not stop the demo server.", func(context.Context) error {
		return s.u.deps.Demo.Stop()
	}, s.refresh)
}

// onRequest logs one request; it runs on the server's goroutines, so it
// queues at most one list refresh at a time.
func (s *demoScreen) onRequest(r demo.RequestLog) {
	line := fmt.Sprintf("%s  %s  %s  %d  %s  %s", r.Time.Local().Format("15:04:05"), r.Method, r.Path,
		r.Status, r.Duration.Round(time.Millisecond), r.ClientID)
	s.mu.Lock()
	s.reqs = append(s.reqs, line)
	if len(s.reqs) > maxRequestLog {
		s.reqs = s.reqs[len(s.reqs)-maxRequestLog:]
	}
	s.mu.Unlock()
	if s.pending.CompareAndSwap(false, true) {
		fyne.Do(func() {
			s.pending.Store(false)
			s.logList.Refresh()
			s.logList.ScrollToBottom()
		})
	}
}

// OnDemoRequest is the request logger to give a demo server started
// outside the Demo tab (tranche demo starts one before the window opens).
func (u *UI) OnDemoRequest(r demo.RequestLog) { u.demo.onRequest(r) }
