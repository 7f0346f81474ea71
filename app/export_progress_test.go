package main

import (
	"strings"
	"testing"
	"time"

	"tranche.dev/tranche/core"
)

func TestStatusErrorLine(t *testing.T) {
	for _, tt := range []struct {
		ev   core.Event
		want string
	}{
		{core.Event{Kind: core.EventStatusError, Code: 500, Message: "status: 500 Internal Server Error", Transient: true, Attempt: 1, RetryAfter: 1500 * time.Millisecond},
			"status request failed: status: 500 Internal Server Error; asking again in 2s (try 2)"},
		{core.Event{Kind: core.EventStatusError, Code: 429, Message: "status: 429", Transient: true, Attempt: 3, RetryAfter: 5 * time.Minute},
			"the server asked to poll less often (429 Too Many Requests); asking again in 5m0s (try 4)"},
		{core.Event{Kind: core.EventStatusError, Code: 503, Message: "status: 503", Transient: true, Attempt: 12},
			"status request failed: status: 503; stopping for now, the export can be resumed"},
		{core.Event{Kind: core.EventStatusError, Code: 404, Message: "status: 404 Not Found"},
			"status request failed: status: 404 Not Found"},
	} {
		if got := statusErrorLine(tt.ev); got != tt.want {
			t.Errorf("statusErrorLine(%d, retry %v) = %q, want %q", tt.ev.Code, tt.ev.RetryAfter, got, tt.want)
		}
	}
}

// TestProgressSeededOnResume: a resumed export's progress starts from what
// is stored, and its rate counts only this run's bytes since the first
// download.
func TestProgressSeededOnResume(t *testing.T) {
	var out strings.Builder
	p := newProgress(&out)
	t0 := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	now := t0
	p.now = func() time.Time { return now }
	p.seed([]*core.ExportFile{
		{URL: "u1", State: core.FileLoaded, Lines: 10, Bytes: 4_000_000},
		{URL: "u2", State: core.FileDownloading, Lines: 5, Bytes: 1_000_000},
	})
	p.phase = "downloading"
	now = t0.Add(time.Minute) // the server's wait: not in the rate
	p.handle(core.Event{Kind: core.EventDownloadProgress, FileURL: "u2", Lines: 6, Bytes: 1_000_000, Time: now})
	now = now.Add(2 * time.Second)
	p.handle(core.Event{Kind: core.EventDownloadProgress, FileURL: "u2", Lines: 20, Bytes: 3_000_000, Time: now})
	if got, want := p.status(), "downloading | files 1/2 | 30 lines | 7.0 MB | 1.0 MB/s"; got != want {
		t.Errorf("status = %q, want %q", got, want)
	}
}

// TestStatusLine: redrawn in place on a terminal, with messages printed
// above it; one line per status elsewhere.
func TestStatusLine(t *testing.T) {
	for _, tt := range []struct {
		tty  bool
		want string
	}{
		{true, "\r\033[Ka\r\033[Kb\r\033[Kmsg\n\r\033[Kc\n"},
		{false, "a\nb\nmsg\nc\n"},
	} {
		var out strings.Builder
		l := newStatusLine(&out)
		l.tty = tt.tty
		l.show("a")
		l.show("b")
		l.println("msg")
		l.show("c")
		l.done()
		l.done() // once only
		if got := out.String(); got != tt.want {
			t.Errorf("tty %v: wrote %q, want %q", tt.tty, got, tt.want)
		}
	}
}
