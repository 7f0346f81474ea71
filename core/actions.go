package core

import "errors"

// ErrFinished reports an action on an export that no longer allows it: it
// is complete, failed, cancelled or expired.
var ErrFinished = errors.New("already finished")

// The rules below decide, for every front end, which actions an export
// allows. The engine (core/engine, bulk.Runner) enforces them; the CLI and
// the GUI only offer what they allow.

// CanResume reports whether the export can carry on where it stopped:
// it is not finished (a kick-off that never answered is sent again).
func (e *Export) CanResume() bool { return !e.State.Final() }

// CanCancel reports whether the export can be cancelled: it is not
// finished.
func (e *Export) CanCancel() bool { return !e.State.Final() }

// CanRelease reports whether the server can be told that a complete
// export's files may go (DELETE on the status URL), and has not been yet.
func (e *Export) CanRelease() bool {
	return e.State == StateComplete && !e.Released && e.StatusURL != ""
}

// CanRetryFailed reports whether files whose download gave up can be
// downloaded again: one of files failed, and the export was not cancelled
// and has not expired on the server. Invalid files were read to the end:
// fetching them again would not help.
func (e *Export) CanRetryFailed(files []*ExportFile) bool {
	if e.State == StateCancelled || e.State == StateExpired {
		return false
	}
	for _, f := range files {
		if f.State == FileFailed {
			return true
		}
	}
	return false
}
