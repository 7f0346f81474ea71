package main

import (
	"fmt"
	"io"
	"os"
	"sync"
	"time"

	"tranche.dev/tranche/core"
)

// progress renders export events as one status line, redrawn in place on a
// terminal and printed as plain lines (on phase changes and finished files)
// otherwise.
type progress struct {
	out   *statusLine
	now   func() time.Time
	mu    sync.Mutex
	start time.Time
	last  time.Time

	phase     string
	xProgress string
	files     int // in the manifest
	filesDone int
	resources map[string]int64 // per file URL
	bytes     map[string]int64
	problems  int64
	dlStart   time.Time // the first download event: the rate leaves out the server's wait
	seedBytes int64     // bytes stored before this run (a resume), not in the rate
}

// seed starts a resumed export's progress from what is stored, so its last
// line agrees with the summary.
func (p *progress) seed(files []*core.ExportFile) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.files = len(files)
	for _, f := range files {
		p.resources[f.URL], p.bytes[f.URL] = f.Lines, f.Bytes
		p.seedBytes += f.Bytes
		p.problems += f.Problems
		if f.State == core.FileLoaded || f.State == core.FileInvalid {
			p.filesDone++
		}
	}
}

func newProgress(w io.Writer) *progress {
	p := &progress{out: newStatusLine(w), now: time.Now, resources: map[string]int64{}, bytes: map[string]int64{}}
	p.start = p.now()
	return p
}

func (p *progress) handle(ev core.Event) {
	p.mu.Lock()
	defer p.mu.Unlock()
	important := false
	switch ev.Kind {
	case core.EventKickoff:
		p.phase, important = "kick-off", true
		if ev.StatusURL != "" {
			p.phase = "waiting for the server"
		}
	case core.EventStatusProgress:
		p.phase, p.xProgress = "waiting for the server", ev.Progress
	case core.EventStatusError:
		p.line(statusErrorLine(ev))
	case core.EventManifestComplete:
		p.phase, important = "downloading", true
		p.files = ev.OutputFiles + ev.DeletedFiles + ev.ErrorFiles
	case core.EventDownloadProgress:
		p.phase = "downloading"
		if p.dlStart.IsZero() {
			p.dlStart = ev.Time
		}
		p.resources[ev.FileURL], p.bytes[ev.FileURL] = ev.Lines, ev.Bytes
	case core.EventDownloadComplete:
		p.filesDone++
		p.problems += ev.Problems
		if ev.FileError != "" {
			p.line(fmt.Sprintf("file %s: %s", ev.FileURL, ev.FileError))
		}
		important = !p.out.tty
	case core.EventDownloadError:
		p.line(fmt.Sprintf("download error (%s): %s", map[bool]string{true: "will retry", false: "giving up"}[ev.Transient], ev.Message))
	case core.EventExportComplete:
		p.phase, important = "finished", true
	}
	now := p.now()
	if important || (p.out.tty && now.Sub(p.last) >= 250*time.Millisecond) {
		p.last = now
		p.out.show(p.status())
	}
}

// statusErrorLine says what went wrong with a status request and what
// happens next, and when.
func statusErrorLine(ev core.Event) string {
	s := "status request failed: " + ev.Message
	if ev.Code == 429 {
		s = "the server asked to poll less often (429 Too Many Requests)"
	}
	switch {
	case ev.RetryAfter > 0:
		s += fmt.Sprintf("; asking again in %s (try %d)", ev.RetryAfter.Round(time.Second), ev.Attempt+1)
	case ev.Transient:
		s += "; stopping for now, the export can be resumed"
	}
	return s
}

// line prints a message on its own line, keeping the status line below.
func (p *progress) line(s string) { p.out.println(s) }

func (p *progress) status() string {
	var res, by int64
	for k, v := range p.resources {
		res += v
		by += p.bytes[k]
	}
	rate := 0.0
	if !p.dlStart.IsZero() {
		if el := p.now().Sub(p.dlStart).Seconds(); el > 0 {
			rate = float64(by-p.seedBytes) / 1e6 / el
		}
	}
	s := p.phase
	if p.xProgress != "" && p.phase == "waiting for the server" {
		s += " (" + p.xProgress + ")"
	}
	if p.files > 0 {
		s += fmt.Sprintf(" | files %d/%d | %d lines | %.1f MB | %.1f MB/s", p.filesDone, p.files, res, float64(by)/1e6, rate)
	}
	if p.problems > 0 {
		s += fmt.Sprintf(" | %d problem lines", p.problems)
	}
	return s
}

func (p *progress) done() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.out.done()
}

// statusLine prints a status that keeps changing: redrawn in place on a
// terminal, printed as lines otherwise (a log, a pipe). Its users decide
// how often.
type statusLine struct {
	w      io.Writer
	tty    bool
	inline bool // a status is drawn in place
}

func newStatusLine(w io.Writer) *statusLine {
	l := &statusLine{w: w}
	if f, ok := w.(*os.File); ok {
		st, err := f.Stat()
		l.tty = err == nil && st.Mode()&os.ModeCharDevice != 0
	}
	return l
}

// show draws s: in place of the last status on a terminal, else as a line.
func (l *statusLine) show(s string) {
	if !l.tty {
		fmt.Fprintln(l.w, s)
		return
	}
	fmt.Fprint(l.w, "\r\033[K"+s)
	l.inline = true
}

// println prints s on a line of its own, above the status.
func (l *statusLine) println(s string) {
	if l.inline {
		fmt.Fprint(l.w, "\r\033[K")
		l.inline = false
	}
	fmt.Fprintln(l.w, s)
}

// done ends the status drawn in place, if any, with a newline.
func (l *statusLine) done() {
	if l.inline {
		fmt.Fprintln(l.w)
		l.inline = false
	}
}
