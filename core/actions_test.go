package core_test

import (
	"testing"

	"tranche.dev/tranche/core"
)

// One rule for which actions an export allows, for the engine, the CLI and
// the GUI (issue 11: the GUI resumed failed exports the CLI refused).
func TestExportActions(t *testing.T) {
	failed := []*core.ExportFile{{State: core.FileLoaded}, {State: core.FileFailed}}
	loaded := []*core.ExportFile{{State: core.FileLoaded}, {State: core.FileInvalid}}
	tests := []struct {
		e                              core.Export
		files                          []*core.ExportFile
		resume, cancel, retry, release bool
	}{
		{core.Export{State: core.StatePolling, StatusURL: "s"}, nil, true, true, false, false},
		{core.Export{State: core.StateDownloading, StatusURL: "s"}, failed, true, true, true, false},
		{core.Export{State: core.StateDownloading, StatusURL: "s"}, loaded, true, true, false, false},
		{core.Export{State: core.StateFailed, StatusURL: "s"}, failed, false, false, true, false},
		{core.Export{State: core.StateFailed, StatusURL: "s"}, loaded, false, false, false, false},
		{core.Export{State: core.StateExpired, StatusURL: "s"}, failed, false, false, false, false},
		{core.Export{State: core.StateCancelled, StatusURL: "s"}, failed, false, false, false, false},
		{core.Export{State: core.StateComplete, StatusURL: "s"}, loaded, false, false, false, true},
		{core.Export{State: core.StateComplete, StatusURL: "s", Released: true}, loaded, false, false, false, false},
	}
	for _, tt := range tests {
		e := tt.e
		got := [4]bool{e.CanResume(), e.CanCancel(), e.CanRetryFailed(tt.files), e.CanRelease()}
		if want := [4]bool{tt.resume, tt.cancel, tt.retry, tt.release}; got != want {
			t.Errorf("%s (released %v) with %d files: resume, cancel, retry, release = %v, want %v",
				e.State, e.Released, len(tt.files), got, want)
		}
	}
}
