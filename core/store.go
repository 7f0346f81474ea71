package core

import "context"

// ExportStore persists exports, their files and their records. catalog.DB
// implements it. Every method commits before it returns: the export engine
// (bulk.Runner) relies on that to resume exactly after a crash.
type ExportStore interface {
	CreateExport(ctx context.Context, e *Export) error
	UpdateExport(ctx context.Context, e *Export) error
	// FindExport returns ErrNotFound if there is no such export.
	FindExport(ctx context.Context, id int64) (*Export, error)
	FindExportByStatusURL(ctx context.Context, statusURL string) (*Export, error)
	// UnfinishedExports returns exports whose state is not final.
	UnfinishedExports(ctx context.Context) ([]*Export, error)
	// LastTransactionTime returns the transactionTime of the last complete
	// export with e's registration, base URL and scope (level, group,
	// types), or ErrNotFound if there is none.
	LastTransactionTime(ctx context.Context, e *Export) (string, error)
	// AddFiles is idempotent on (export, kind, url); it fills IDs and the
	// stored progress of files already known.
	AddFiles(ctx context.Context, exportID int64, files []*ExportFile) error
	UpdateFile(ctx context.Context, f *ExportFile) error
	FindFiles(ctx context.Context, exportID int64) ([]*ExportFile, error)
	// AppendRecords stores recs (idempotent on (file, line)) and f's
	// Lines, Bytes, Problems, State and Error in one transaction. It
	// must not keep recs or their Raw bytes after it returns: the caller
	// reuses that memory for the next batch.
	AppendRecords(ctx context.Context, f *ExportFile, recs []Record) error
}

// FileResetter is an ExportStore that can forget a file's lines, so a file
// that failed its checks is downloaded again and each line stored once
// (catalog.DB can). Without it such a file is reported at once.
type FileResetter interface {
	// ResetFile forgets every line stored for f, still downloading, and
	// its progress, so it can be downloaded again from the start.
	ResetFile(ctx context.Context, f *ExportFile) error
}

// ExportLocker is an ExportStore that can keep two processes from running
// the same export (catalog.DB can). LockExport returns an error wrapping
// ErrInUse while another holds the lock.
type ExportLocker interface {
	LockExport(ctx context.Context, id int64) (release func(), err error)
}

// RegistrationStore persists client registrations. catalog.DB implements
// it.
type RegistrationStore interface {
	// FindRegistrationByName returns ErrNotFound if there is none.
	FindRegistrationByName(ctx context.Context, name string) (*Registration, error)
	CreateRegistration(ctx context.Context, r *Registration) error
	UpdateRegistration(ctx context.Context, r *Registration) error
}
