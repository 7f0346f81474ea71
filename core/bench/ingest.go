package bench

import (
	"context"
	"database/sql"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"
	"unsafe"

	"tranche.dev/tranche/core"
	"tranche.dev/tranche/core/bulk"
	"tranche.dev/tranche/core/catalog"
	"tranche.dev/tranche/core/ndjson"

	"tranche.dev/tranche/core/rss"
)

// ingest measures the catalogue's insert path on the files the
// baseline downloaded to src, against the least SQLite can do with the
// same lines (the floor, as in catalog's BenchmarkAppendRecords): first
// the lines go, in the export's batches, into a bare (rowid, raw) table
// through the same driver with the same page size and 512-row prepared
// statements; then through AppendRecords into a fresh catalogue, each file
// merged into the latest view at its end. Both are CPU time of this
// process (the catalogue's background checkpointer included), so their
// ratio, x-floor, holds on a busy machine better than wall time does.
func ingest(ctx context.Context, src, dir string) (Result, error) {
	batches, res, err := readBatches(src)
	if err != nil {
		return res, err
	}
	res.Phase = "ingest"
	start, cpu0 := time.Now(), rss.CPUTime()
	if err := ingestFloor(ctx, filepath.Join(dir, "floor.db"), batches); err != nil {
		return res, fmt.Errorf("floor: %w", err)
	}
	cpu1 := rss.CPUTime()
	if err := ingestCatalog(ctx, filepath.Join(dir, "tranche.db"), batches); err != nil {
		return res, fmt.Errorf("ingest: %w", err)
	}
	res.FloorCPU, res.IngestCPU = (cpu1 - cpu0).Seconds(), (rss.CPUTime() - cpu1).Seconds()
	res.Seconds = time.Since(start).Seconds()
	return res, nil
}

// benchFile is one downloaded file cut into the export engine's batches.
type benchFile struct {
	name    string
	batches [][]core.Record
}

// readBatches reads and parses every file in src, batched as the export
// engine batches (bulk.DefaultBatchLines, bulk.DefaultBatchBytes).
func readBatches(src string) ([]benchFile, Result, error) {
	var res Result
	entries, err := os.ReadDir(src)
	if err != nil {
		return nil, res, err
	}
	sort.Slice(entries, func(i, j int) bool { return entries[i].Name() < entries[j].Name() })
	var files []benchFile
	for _, e := range entries {
		if !strings.HasSuffix(e.Name(), ".ndjson") {
			continue
		}
		f, err := os.Open(filepath.Join(src, e.Name()))
		if err != nil {
			return nil, res, err
		}
		bf := benchFile{name: e.Name()}
		var batch []core.Record
		size := 0
		rd := ndjson.NewReader(f)
		for {
			l, err := rd.Next()
			if err == io.EOF {
				break
			} else if err != nil {
				f.Close()
				return nil, res, fmt.Errorf("%s: %w", e.Name(), err)
			}
			rec := ndjson.Parse(append([]byte(nil), l.Raw...), core.KindOutput, "")
			rec.Line = l.Num
			batch = append(batch, rec)
			size += len(l.Raw)
			res.Resources++
			res.Bytes += int64(len(l.Raw)) + 1
			if len(batch) >= bulk.DefaultBatchLines || size >= bulk.DefaultBatchBytes {
				bf.batches, batch, size = append(bf.batches, batch), nil, 0
			}
		}
		f.Close()
		if len(batch) > 0 {
			bf.batches = append(bf.batches, batch)
		}
		files = append(files, bf)
	}
	if len(files) == 0 {
		return nil, res, fmt.Errorf("no .ndjson files in %s", src)
	}
	return files, res, nil
}

// ingestFloor inserts every line into a bare (rowid, raw) table.
func ingestFloor(ctx context.Context, path string, files []benchFile) error {
	db, err := sql.Open("sqlite", "file:"+filepath.ToSlash(path)+fmt.Sprintf(
		"?_pragma=page_size(%d)&_pragma=journal_mode(WAL)&_pragma=synchronous(NORMAL)", catalog.PageSize))
	if err != nil {
		return err
	}
	defer db.Close()
	db.SetMaxOpenConns(1)
	if _, err := db.ExecContext(ctx, `CREATE TABLE t (rid INTEGER PRIMARY KEY, raw TEXT NOT NULL)`); err != nil {
		return err
	}
	const perStmt = 512
	stmts := map[int]*sql.Stmt{}
	prepare := func(n int) (*sql.Stmt, error) {
		if st, ok := stmts[n]; ok {
			return st, nil
		}
		st, err := db.PrepareContext(ctx, `INSERT INTO t (rid, raw) VALUES `+strings.TrimSuffix(strings.Repeat("(?, ?),", n), ","))
		stmts[n] = st
		return st, err
	}
	// Prepared before any transaction holds the one connection.
	for n := 1; n <= perStmt; n *= 2 {
		if _, err := prepare(n); err != nil {
			return err
		}
	}
	defer func() {
		for _, st := range stmts {
			st.Close()
		}
	}()
	args := make([]any, 0, 2*perStmt)
	rid := int64(0)
	for _, f := range files {
		for _, batch := range f.batches {
			tx, err := db.BeginTx(ctx, nil)
			if err != nil {
				return err
			}
			for rest := batch; len(rest) > 0; {
				n := perStmt
				for n > len(rest) {
					n /= 2
				}
				args = args[:0]
				for _, r := range rest[:n] {
					rid++
					// Bound without a copy, as AppendRecords binds raw lines.
					args = append(args, rid, unsafe.String(unsafe.SliceData(r.Raw), len(r.Raw)))
				}
				if _, err := tx.StmtContext(ctx, stmts[n]).ExecContext(ctx, args...); err != nil {
					tx.Rollback()
					return err
				}
				rest = rest[n:]
			}
			if err := tx.Commit(); err != nil {
				return err
			}
		}
	}
	return nil
}

// ingestCatalog stores every line with AppendRecords, as an export does.
func ingestCatalog(ctx context.Context, path string, files []benchFile) error {
	db := catalog.NewDB(path)
	db.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	if err := db.Open(); err != nil {
		return err
	}
	defer db.Close()
	exp := &core.Export{FHIRBaseURL: "http://127.0.0.1/fhir", Request: core.ExportRequest{Level: core.LevelPatient},
		State: core.StateComplete, TransactionTime: "2026-01-01T00:00:00Z"}
	if err := db.CreateExport(ctx, exp); err != nil {
		return err
	}
	for _, bf := range files {
		f := &core.ExportFile{Kind: core.KindOutput, URL: "http://127.0.0.1/files/" + bf.name, Count: -1}
		if err := db.AddFiles(ctx, exp.ID, []*core.ExportFile{f}); err != nil {
			return err
		}
		for i, batch := range bf.batches {
			f.Lines = batch[len(batch)-1].Line
			f.State = core.FileDownloading
			if i == len(bf.batches)-1 {
				f.State = core.FileLoaded
			}
			if err := db.AppendRecords(ctx, f, batch); err != nil {
				return err
			}
		}
	}
	return nil
}
