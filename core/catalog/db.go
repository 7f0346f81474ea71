package catalog

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"

	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"
)

//go:embed migration/*.sql
var migrationFS embed.FS

// DefaultReaders is how many read connections the DB keeps. Reads never wait
// for the single writer (WAL), so the GUI stays responsive during ingest.
const DefaultReaders = 4

// PageSize is the page size of a new database. Resource lines are ~1 KB;
// 32 KiB pages cut the number of WAL frames, and so of write system calls,
// per ingested row eightfold compared with SQLite's 4 KiB default.
const PageSize = 32768

// Page cache sizes in bytes. SQLite allocates them as pages are used, so a
// small catalogue stays small, but on a large export each connection fills
// its cache, and the process's resident memory grows several times the
// configured size: each 32 KiB page is its own allocation in the driver's
// C heap, which keeps freed regions committed for reuse, and the writer's
// sorter (the latest-view merge) sizes its buffers from the cache size. A
// 32 MiB writer and 16 MiB readers peaked at 370 MB in `tranche bench`
// (1,000 patients), 4 MiB and 2 MiB at about 135 MB; measured in the same
// way, each MiB of writer cache above 1 MiB costs about 9 MB of resident
// memory outside the Go heap (64 MB at 4 MiB, 47 MB at 2 MiB, 38 MB at
// 1 MiB, binary included), with no loss of speed: the writer appends, and
// the pages it rewrites (the patient index, the latest table) are in the
// OS page cache either way.
const (
	WriterCacheSize = 1 << 20
	ReaderCacheSize = 512 << 10
)

// DefaultBusyTimeout is how long a connection waits for a lock.
const DefaultBusyTimeout = 5 * time.Second

// DB is the catalogue. All writes go through one connection (writes in
// SQLite are serialised anyway; one connection avoids SQLITE_BUSY upgrade
// deadlocks); reads use a small pool of query-only connections.
type DB struct {
	path   string
	writer *sql.DB
	reader *sql.DB

	// Logger receives the few things worth logging (migrations applied).
	// Defaults to slog.Default() with system=catalog.
	Logger *slog.Logger

	// Now returns the current time; replaced in tests. Must be set before
	// calling Open().
	Now func() time.Time

	// The background checkpointer (see checkpointLoop).
	ckpt     *sql.DB
	ckptKick chan struct{}
	ckptStop context.CancelFunc
	ckptDone chan struct{}
	// onCheckpoint, when set (by tests, before Open), is called after each
	// background checkpoint.
	onCheckpoint func()

	// Statements prepared on the writer connection (see writerStmt).
	stmtMu sync.Mutex
	stmts  map[string]*sql.Stmt

	// insertArgs holds *[]any, argument slices of the multi-row resources
	// INSERTs, for reuse by the next AppendRecords (see inserter).
	insertArgs sync.Pool
}

// NewDB returns a DB for the SQLite file at path. Call Open before use.
func NewDB(path string) *DB {
	return &DB{
		path:   path,
		Logger: slog.Default().With("system", "catalog"),
		Now:    time.Now,
	}
}

// Path returns the database file's path.
func (db *DB) Path() string { return db.path }

// Open creates the database file (0600) and its directory (0700) if needed,
// opens the writer, reader and checkpointer pools, applies pending
// migrations and starts the background checkpointer.
func (db *DB) Open() error {
	if db.path == "" {
		return errors.New("database path required")
	}
	if err := os.MkdirAll(filepath.Dir(db.path), 0o700); err != nil {
		return fmt.Errorf("create database directory: %w", err)
	}
	// Create the file ourselves so it gets 0600 (SQLite would use 0644);
	// SQLite gives the -wal and -shm files the same permissions.
	f, err := os.OpenFile(db.path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return fmt.Errorf("create database file: %w", err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("create database file: %w", err)
	}

	if db.writer, err = openOne(db.dsn(roleWriter)); err != nil {
		return fmt.Errorf("open writer: %w", err)
	}

	if err := db.migrateRetrying(context.Background()); err != nil {
		db.writer.Close()
		return fmt.Errorf("migrate %s: %w", db.path, err)
	}
	if err := db.prepareIngest(context.Background()); err != nil {
		db.Close()
		return fmt.Errorf("open writer: %w", err)
	}

	if db.reader, err = sql.Open("sqlite", db.dsn(roleReader)); err != nil {
		db.writer.Close()
		return fmt.Errorf("open reader: %w", err)
	}
	db.reader.SetMaxOpenConns(DefaultReaders)
	db.reader.SetMaxIdleConns(DefaultReaders)
	if err := db.reader.Ping(); err != nil {
		db.Close()
		return fmt.Errorf("open reader: %w", err)
	}

	if db.ckpt, err = openOne(db.dsn(roleCheckpointer)); err != nil {
		db.Close()
		return fmt.Errorf("open checkpointer: %w", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	db.ckptKick, db.ckptStop, db.ckptDone = make(chan struct{}, 1), cancel, make(chan struct{})
	go db.checkpointLoop(ctx)
	return nil
}

// WriterCheckpointFrames is the WAL size, in frames (pages), at which the
// writer checkpoints by itself, as a backstop should the background
// checkpointer fall behind: 4096 frames of 32 KiB are 128 MiB of WAL.
const WriterCheckpointFrames = 4096

// checkpointLoop copies committed WAL frames into the database file on its
// own connection whenever the writer has committed (see kickCheckpoint).
// A PASSIVE checkpoint never blocks the writer or readers, so the copying,
// and the fsync that goes with it, run beside ingest instead of inside the
// writer's commits, where SQLite's auto-checkpoint would put them. Once the
// checkpointer has caught up, the writer's next transaction starts the WAL
// over from the beginning, so the WAL stays small.
func (db *DB) checkpointLoop(ctx context.Context) {
	defer close(db.ckptDone)
	for {
		select {
		case <-ctx.Done():
			return
		case <-db.ckptKick:
		}
		var busy, walFrames, done int64
		if err := db.ckpt.QueryRowContext(ctx, `PRAGMA wal_checkpoint(PASSIVE)`).Scan(&busy, &walFrames, &done); err != nil && ctx.Err() == nil {
			// Nothing is lost: the frames stay in the WAL, and the writer's
			// own auto-checkpoint (WriterCheckpointFrames) is the backstop.
			db.Logger.Debug("background checkpoint", "err", err)
		}
		if db.onCheckpoint != nil {
			db.onCheckpoint()
		}
	}
}

// kickCheckpoint asks the checkpointer for a checkpoint; it never blocks.
func (db *DB) kickCheckpoint() {
	if db.ckptKick == nil {
		return
	}
	select {
	case db.ckptKick <- struct{}{}:
	default: // one is pending already
	}
}

// openOne opens a pool of exactly one connection, kept open for good.
func openOne(dsn string) (*sql.DB, error) {
	d, err := sql.Open("sqlite", dsn)
	if err != nil {
		return nil, err
	}
	d.SetMaxOpenConns(1)
	d.SetMaxIdleConns(1)
	d.SetConnMaxLifetime(0)
	d.SetConnMaxIdleTime(0)
	return d, nil
}

// role is what a pool's connections are for; dsn sets them up for it.
type role int

const (
	roleWriter role = iota
	roleReader
	// The checkpointer needs no page cache to speak of: a checkpoint
	// copies frames from the WAL file.
	roleCheckpointer
)

// dsn builds the modernc DSN. PRAGMAs go in the DSN because a PRAGMA run
// with Exec sticks to one pooled connection only.
func (db *DB) dsn(r role) string {
	q := []string{
		// page_size applies only while the file is empty, and before WAL:
		// the driver runs _pragma entries sorted by name, so WAL is set
		// with the _journal_mode key, which it applies after them.
		fmt.Sprintf("_pragma=page_size(%d)", PageSize),
		fmt.Sprintf("_pragma=busy_timeout(%d)", DefaultBusyTimeout.Milliseconds()),
		"_pragma=foreign_keys(1)",
		"_pragma=synchronous(NORMAL)",
	}
	cacheSize := func(bytes int) string { return fmt.Sprintf("_pragma=cache_size(%d)", -bytes>>10) }
	switch r {
	case roleReader:
		q = append(q, "_pragma=query_only(1)", cacheSize(ReaderCacheSize))
	case roleCheckpointer:
		q = append(q, cacheSize(256<<10))
	default:
		q = append(q, cacheSize(WriterCacheSize),
			fmt.Sprintf("_pragma=wal_autocheckpoint(%d)", WriterCheckpointFrames))
		q = append(q, "_journal_mode=WAL", "_txlock=immediate")
	}
	return db.fileURL() + "?" + strings.Join(q, "&")
}

// fileURL is the database path as a file: URI.
func (db *DB) fileURL() string {
	// A file: URI has no relative form: "file:///x.db" would be /x.db.
	p := db.path
	if abs, err := filepath.Abs(p); err == nil {
		p = abs
	}
	p = filepath.ToSlash(p)
	if !strings.HasPrefix(p, "/") {
		p = "/" + p // Windows "C:/x" becomes "file:///C:/x"
	}
	u := url.URL{Scheme: "file", Path: p}
	return u.String()
}

// Close stops the checkpointer and closes the three pools. The WAL is
// checkpointed by SQLite when the last connection closes.
func (db *DB) Close() error {
	var errs []error
	if db.ckptStop != nil {
		db.ckptStop()
		<-db.ckptDone
		db.ckptStop = nil
	}
	if db.ckpt != nil {
		errs = append(errs, db.ckpt.Close())
	}
	if db.reader != nil {
		errs = append(errs, db.reader.Close())
	}
	if db.writer != nil {
		errs = append(errs, db.closeStmts(), db.writer.Close())
	}
	return errors.Join(errs...)
}

// migrateRetrying runs migrate, trying again while the database is busy
// for up to DefaultBusyTimeout. While another process turns a new file to
// WAL mode, SQLite answers SQLITE_BUSY at once, without calling the busy
// handler; a moment later the lock is an ordinary one to wait for.
func (db *DB) migrateRetrying(ctx context.Context) error {
	deadline := time.Now().Add(DefaultBusyTimeout)
	for wait := 5 * time.Millisecond; ; wait = min(wait*2, 200*time.Millisecond) {
		err := db.migrate(ctx)
		var se *sqlite.Error
		if err == nil || !errors.As(err, &se) || se.Code()&0xff != sqliteBusy || time.Now().After(deadline) {
			return err
		}
		time.Sleep(wait)
	}
}

// sqliteBusy is SQLITE_BUSY, the primary result code (extended codes keep
// it in their low byte).
const sqliteBusy = 5

// migrate applies the embedded migration files in name order, recording
// names in the migrations table (as WTF does), all in one write
// transaction taken before anything is read: two processes opening a new
// catalogue at once then queue on the write lock (busy_timeout) instead of
// one failing with SQLITE_BUSY when an autocommit statement found the
// schema changed under it.
func (db *DB) migrate(ctx context.Context) error {
	names, err := fs.Glob(migrationFS, "migration/*.sql")
	if err != nil {
		return err
	}
	sort.Strings(names)
	tx, err := db.writer.BeginTx(ctx, nil) // BEGIN IMMEDIATE (the writer's _txlock)
	if err != nil {
		return fmt.Errorf("begin: %w", err)
	}
	defer tx.Rollback()
	if _, err := tx.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS migrations (name TEXT PRIMARY KEY);`); err != nil {
		return fmt.Errorf("create migrations table: %w", err)
	}
	var applied []string
	for _, name := range names {
		ok, err := db.migrateFile(ctx, tx, name)
		if err != nil {
			return fmt.Errorf("migration %s: %w", name, err)
		}
		if ok {
			applied = append(applied, name)
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("commit: %w", err)
	}
	for _, name := range applied {
		db.Logger.Info("migration applied", "name", name)
	}
	return nil
}

// migrateFile applies one migration file in tx unless it was applied, and
// reports whether it applied it.
func (db *DB) migrateFile(ctx context.Context, tx *sql.Tx, name string) (bool, error) {
	var n int
	if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM migrations WHERE name = ?`, name).Scan(&n); err != nil {
		return false, err
	} else if n != 0 {
		return false, nil // already applied
	}
	buf, err := fs.ReadFile(migrationFS, name)
	if err != nil {
		return false, err
	}
	if _, err := tx.ExecContext(ctx, string(buf)); err != nil {
		return false, err
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO migrations (name) VALUES (?)`, name); err != nil {
		return false, err
	}
	return true, nil
}

// timeFormat is how times are stored: UTC, fixed width, sortable as text.
const timeFormat = "2006-01-02T15:04:05.000000000Z"

func formatTime(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(timeFormat)
}

func parseTime(s string) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	t, err := time.Parse(timeFormat, s)
	if err != nil {
		return time.Time{}, fmt.Errorf("parse time %q: %w", s, err)
	}
	return t, nil
}

// now returns db.Now truncated for storage, in UTC.
func (db *DB) now() time.Time { return db.Now().UTC() }

// isUniqueViolation reports whether err is a UNIQUE constraint failure.
func isUniqueViolation(err error) bool {
	var e *sqlite.Error
	return errors.As(err, &e) && e.Code() == sqlite3.SQLITE_CONSTRAINT_UNIQUE
}
