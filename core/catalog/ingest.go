package catalog

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math/bits"
	"strings"
	"unsafe"

	"tranche.dev/tranche/core"
)

// AppendRecords stores a batch of lines of one file and the file's progress
// (f.Lines, f.Bytes, f.Problems, f.State, f.Error, as given) in one
// transaction: after a crash the stored progress covers exactly the stored
// lines, which is what makes a resume exact.
//
// It is idempotent per (file, line): a line already stored is skipped, so
// re-appending after a crash never duplicates anything. Lines come in
// order: those at or below the file's stored progress are the ones
// already stored (the patient index takes only the lines after it). What is stored
// depends on f.Kind:
//
//   - output: one resources row (type, id, lastUpdated, patient, raw bytes);
//   - deleted: the raw line, plus one tombstone per rec.Deletes entry of
//     the form "Type/id" (other entries are skipped);
//   - error: the raw line as an outcome with rec.Severity.
//
// A line with rec.Problem set goes to the problems table instead, verbatim,
// whatever the kind. Tombstones apply to the latest view at once; an output
// file's resources join it when the file's state leaves pending and
// downloading (loaded, invalid or failed): see mergeLatest.
// Returns core.ErrNotFound if f was never added with AddFiles.
func (db *DB) AppendRecords(ctx context.Context, f *core.ExportFile, recs []core.Record) error {
	tx, err := db.writer.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()

	var exportID, stored int64
	if err := tx.QueryRowContext(ctx, `SELECT export_id, lines FROM files WHERE id = ?`, f.ID).Scan(&exportID, &stored); err == sql.ErrNoRows {
		return fmt.Errorf("file %d: %w: %w", f.ID, errNoFile, core.ErrNotFound)
	} else if err != nil {
		return fmt.Errorf("append records: %w", err)
	}

	ins := &inserter{ctx: ctx, tx: tx, db: db, fileID: f.ID, exportID: exportID}
	defer ins.release()
	for i := 0; i < len(recs); {
		// Runs of valid output lines go in multi-row INSERTs: per-statement
		// overhead (database/sql, binding) dominates otherwise.
		if n := ins.resourceRun(f.Kind, recs[i:]); n > 1 {
			if err := ins.insertResources(recs[i : i+n]); err != nil {
				return fmt.Errorf("append %s lines %d-%d: %w", f.URL, recs[i].Line, recs[i+n-1].Line, err)
			}
			i += n
			continue
		}
		if err := ins.insert(f.Kind, &recs[i]); err != nil {
			return fmt.Errorf("append %s line %d: %w", f.URL, recs[i].Line, err)
		}
		i++
	}

	if f.Kind == core.KindOutput {
		if err := ins.insertRuns(recs, stored); err != nil {
			return fmt.Errorf("append records: patient index: %w", err)
		}
	}
	for typ, n := range ins.stored {
		if _, err := tx.ExecContext(ctx, `INSERT INTO file_counts (file_id, type, n) VALUES (?, ?, ?)
			ON CONFLICT (file_id, type) DO UPDATE SET n = n + excluded.n`, f.ID, typ, n); err != nil {
			return fmt.Errorf("append records: count: %w", err)
		}
	}
	if _, err := tx.ExecContext(ctx, `
		UPDATE files SET lines = ?, bytes = ?, problems = ?, state = ?, error = ? WHERE id = ?`,
		f.Lines, f.Bytes, f.Problems, string(f.State), f.Error, f.ID); err != nil {
		return fmt.Errorf("append records: store progress: %w", err)
	}
	if err := mergeLatest(ctx, tx, f.ID, f.State); err != nil {
		return fmt.Errorf("append records: merge into the latest view: %w", err)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("append records: commit: %w", err)
	}
	db.kickCheckpoint()
	return nil
}

// inserter is one AppendRecords transaction.
type inserter struct {
	ctx      context.Context
	tx       *sql.Tx
	db       *DB
	fileID   int64
	exportID int64
	stored   map[string]int64 // resources actually inserted, by type
	args     []any            // insertResourcesN's arguments, from db.insertArgs
}

// release returns ins.args to db.insertArgs, cleared: they point into the
// caller's records, which the pool must not keep alive.
func (ins *inserter) release() {
	if ins.args == nil {
		return
	}
	clear(ins.args[:cap(ins.args)])
	args := ins.args[:0]
	ins.args = nil
	ins.db.insertArgs.Put(&args)
}

// count records n resources of type typ as inserted.
func (ins *inserter) count(typ string, n int64) {
	if n == 0 {
		return
	}
	if ins.stored == nil {
		ins.stored = make(map[string]int64)
	}
	ins.stored[typ] += n
}

// Inserts into tables with triggers use upsert DO NOTHING rather than
// INSERT OR IGNORE: an OR clause on the outer statement would override the
// upserts inside the triggers. resources has no trigger, and there OR IGNORE
// is what lets SQLite skip the statement journal that a multi-row INSERT
// under ABORT semantics keeps (about a tenth of ingest CPU time).
const (
	// insertResources is followed by one resourceRow per row and a closing
	// parenthesis. The file, export and type, the same in every row, are
	// bound once, as its first three parameters, and the line is the low
	// bits of the rid: binding each of them per row (nine values instead of
	// five) cost about a tenth of ingest CPU time.
	insertResources = `INSERT OR IGNORE INTO resources (rid, file_id, export_id, line, type, res_id, last_updated, patient, raw)
		SELECT column1, ?, ?, column1 & 4294967295, ?, column2, column3, column4, column5 FROM (VALUES `
	resourceRow       = `(?, ?, ?, ?, ?)`
	insertDeletedLine = `INSERT INTO deleted_lines (file_id, line, raw) VALUES (?, ?, ?)
		ON CONFLICT (file_id, line) DO NOTHING`
	insertTombstone = `INSERT INTO tombstones (file_id, export_id, line, type, res_id) VALUES (?, ?, ?, ?, ?)`
	insertOutcome   = `INSERT INTO outcomes (file_id, line, export_id, severity, raw) VALUES (?, ?, ?, ?, ?)
		ON CONFLICT (file_id, line) DO NOTHING`
	insertRuns    = `INSERT INTO pending_runs (file_id, first, last, runs) VALUES (?, ?, ?, ?)`
	insertProblem = `INSERT INTO problems (file_id, line, export_id, problem, raw) VALUES (?, ?, ?, ?, ?)
		ON CONFLICT (file_id, line) DO NOTHING`
)

func (ins *inserter) exec(query string, args ...any) (int64, error) {
	st, err := ins.db.writerStmt(query)
	if err != nil {
		return 0, err
	}
	// On the writer's one connection, Tx.Stmt reuses the statement
	// prepared there: no SQL is compiled again. (Should the connection
	// have been replaced, Tx.Stmt prepares it on the new one.)
	res, err := ins.tx.StmtContext(ins.ctx, st).ExecContext(ins.ctx, args...)
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}

// writerStmt returns query as prepared on the writer connection by
// prepareIngest. Statements live as long as the DB: compiling a 512-row
// INSERT for every batch cost CPU time and churned SQLite's heap with its
// program. They must be prepared before any transaction: preparing on the
// writer pool waits for its one connection, which a transaction holds.
func (db *DB) writerStmt(query string) (*sql.Stmt, error) {
	db.stmtMu.Lock()
	defer db.stmtMu.Unlock()
	st, ok := db.stmts[query]
	if !ok {
		return nil, fmt.Errorf("statement not prepared: %.40q", query)
	}
	return st, nil
}

// prepareIngest prepares ingest's statements on the writer connection: the
// multi-row resources INSERTs of multiRowResources and the single-row
// inserts of other kinds of line. The set is fixed, so memory is bounded.
func (db *DB) prepareIngest(ctx context.Context) error {
	queries := []string{insertDeletedLine, insertTombstone, insertOutcome, insertProblem, insertRuns}
	for _, q := range multiRowResources {
		queries = append(queries, q)
	}
	db.stmtMu.Lock()
	defer db.stmtMu.Unlock()
	db.stmts = make(map[string]*sql.Stmt, len(queries))
	for _, q := range queries {
		st, err := db.writer.PrepareContext(ctx, q)
		if err != nil {
			return fmt.Errorf("prepare %.40q: %w", q, err)
		}
		db.stmts[q] = st
	}
	return nil
}

// closeStmts closes the statements of writerStmt.
func (db *DB) closeStmts() error {
	db.stmtMu.Lock()
	defer db.stmtMu.Unlock()
	var errs []error
	for _, st := range db.stmts {
		errs = append(errs, st.Close())
	}
	db.stmts = nil
	return errors.Join(errs...)
}

// resourceBatch is how many rows one multi-row resources INSERT takes at
// most (9 parameters each, well under SQLite's 32766). A run of n rows goes
// in statements of the powers of two that sum to n, so at most
// log2(resourceBatch)+1 statements are ever prepared.
const resourceBatch = 512

// resourceRun returns how many leading recs (at most resourceBatch) are
// valid output lines of one type (so the rows inserted can be counted per
// type).
func (ins *inserter) resourceRun(kind core.FileKind, recs []core.Record) int {
	if kind != core.KindOutput {
		return 0
	}
	n := 0
	for n < len(recs) && n < resourceBatch && recs[n].Problem == "" &&
		recs[n].ResourceType == recs[0].ResourceType {
		n++
	}
	return n
}

// multiRowResources holds the multi-row INSERT texts by row count, a power
// of two up to resourceBatch.
var multiRowResources = func() map[int]string {
	m := make(map[int]string)
	for n := 1; n <= resourceBatch; n *= 2 {
		m[n] = insertResources + strings.TrimSuffix(strings.Repeat(resourceRow+",", n), ",") + ")"
	}
	return m
}()

// insertResources inserts valid output lines (at most resourceBatch), in
// as few statements as the powers of two in len(recs).
func (ins *inserter) insertResources(recs []core.Record) error {
	for len(recs) > 0 {
		n := 1 << (bits.Len(uint(len(recs))) - 1)
		if err := ins.insertResourcesN(recs[:n]); err != nil {
			return err
		}
		recs = recs[n:]
	}
	return nil
}

// insertResourcesN inserts len(recs), a power of two, valid output lines
// of one type with one statement.
func (ins *inserter) insertResourcesN(recs []core.Record) error {
	query := multiRowResources[len(recs)]
	if ins.args == nil {
		// A slice kept from earlier batches: growing a new one in every
		// batch, up to 3+5*resourceBatch values, was a fifth of the bytes
		// AppendRecords allocated, and 1-5% of the CPU time per row with
		// the garbage collection that went with it (BenchmarkAppendRecords).
		if p, ok := ins.db.insertArgs.Get().(*[]any); ok {
			ins.args = *p
		} else {
			ins.args = make([]any, 0, 3+5*resourceBatch)
		}
	}
	args := append(ins.args[:0], ins.fileID, ins.exportID, recs[0].ResourceType)
	for i := range recs {
		r := &recs[i]
		if err := checkLine(r.Line); err != nil {
			return err
		}
		args = append(args, rowID(ins.fileID, r.Line), r.ID, r.LastUpdated, r.Patient, rawText(r.Raw))
	}
	ins.args = args
	n, err := ins.exec(query, args...)
	ins.count(recs[0].ResourceType, n)
	return err
}

// rawText returns raw as a string without copying it, for binding as TEXT
// (a []byte would bind as a BLOB, which SQLite's JSON functions take for
// JSONB). Safe because the driver copies bound text into SQLite's memory
// before Exec returns and raw is not modified while the statement runs
// (AppendRecords' callers keep their batch intact until it returns).
// Copying each line into a Go string first cost as much as a tenth of
// ingest CPU time.
func rawText(raw []byte) string {
	if len(raw) == 0 {
		return ""
	}
	return unsafe.String(unsafe.SliceData(raw), len(raw))
}

// maxLine is the largest line number a file may have: rid keeps it in its
// low 32 bits.
const maxLine = 1<<32 - 1

// rowID is the resources rid of a file's line (see migration/0001_init.sql).
func rowID(fileID, line int64) int64 { return fileID<<32 | line }

func checkLine(line int64) error {
	if line < 1 || line > maxLine {
		return fmt.Errorf("line number %d out of range", line)
	}
	return nil
}

func (ins *inserter) insert(kind core.FileKind, r *core.Record) error {
	if r.Problem != "" {
		_, err := ins.exec(insertProblem, ins.fileID, r.Line, ins.exportID, r.Problem, r.Raw)
		return err
	}
	switch kind {
	case core.KindOutput:
		return ins.insertResourcesN([]core.Record{*r})
	case core.KindDeleted:
		n, err := ins.exec(insertDeletedLine, ins.fileID, r.Line, rawText(r.Raw))
		if err != nil || n == 0 {
			return err // n == 0: line stored before, and its tombstones with it
		}
		for _, ref := range r.Deletes {
			typ, id, ok := strings.Cut(ref, "/")
			if !ok || typ == "" || id == "" || strings.Contains(id, "/") {
				// Not Type/id: no tombstone can be made, but the line is
				// kept verbatim in deleted_lines, and one odd entry must
				// not stop the file from loading.
				continue
			}
			if _, err := ins.exec(insertTombstone, ins.fileID, ins.exportID, r.Line, typ, id); err != nil {
				return err
			}
		}
		return nil
	case core.KindError:
		_, err := ins.exec(insertOutcome, ins.fileID, r.Line, ins.exportID, r.Severity, rawText(r.Raw))
		return err
	}
	return fmt.Errorf("unknown file kind %q", kind)
}
