package bulk_test

import (
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"tranche.dev/tranche/core"
	"tranche.dev/tranche/core/bulk"
)

// openLogs lists the log.ndjson files under dir this process holds open
// (Linux: /proc/self/fd).
func openLogs(t *testing.T, dir string) []string {
	t.Helper()
	fds, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Fatal(err)
	}
	var open []string
	for _, fd := range fds {
		if target, err := os.Readlink(filepath.Join("/proc/self/fd", fd.Name())); err == nil && strings.HasPrefix(target, dir) {
			open = append(open, target)
		}
	}
	return open
}

// TestLogDir writes each export's events to its own log and closes an
// export's file when its run is done, so no log stays open between runs.
func TestLogDir(t *testing.T) {
	dir := t.TempDir()
	d := &bulk.LogDir{Dir: dir}
	for _, id := range []int64{1, 2, 1} {
		d.Handle(core.Event{ExportID: id, Kind: core.EventKickoff, StatusURL: "http://127.0.0.1/status"})
	}
	if err := d.Done(1); err != nil {
		t.Fatal(err)
	}
	if runtime.GOOS == "linux" {
		if got := openLogs(t, dir); len(got) != 1 || !strings.Contains(got[0], "/2/") {
			t.Errorf("open logs after Done(1) = %q, want export 2's only", got)
		}
	}
	d.Handle(core.Event{ExportID: 1, Kind: core.EventExportComplete}) // a later run appends
	if err := d.Close(); err != nil {
		t.Fatal(err)
	}
	if runtime.GOOS == "linux" {
		if got := openLogs(t, dir); len(got) != 0 {
			t.Errorf("open logs after Close = %q, want none", got)
		}
	}
	for id, want := range map[string]int{"1": 3, "2": 1} {
		b, err := os.ReadFile(filepath.Join(dir, id, "log.ndjson"))
		if err != nil {
			t.Fatal(err)
		}
		if got := strings.Count(string(b), "\n"); got != want {
			t.Errorf("export %s log has %d lines, want %d", id, got, want)
		}
	}
}
