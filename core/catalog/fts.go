package catalog

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
)

// ReindexBatch is how many resources Reindex indexes per transaction, so an
// ingest running alongside waits for at most one batch.
const ReindexBatch = 10000

// Reindex adds resources stored since the last call to the full-text index
// and returns how many it added. AppendRecords does not index: tokenising
// every JSON line more than doubles the cost of ingest (see
// BenchmarkAppendRecords), so the index is brought up to date lazily: call
// Reindex after an export completes, or before searching. It is safe to
// call at any time and concurrently with ingest; cancelling ctx keeps the
// batches already committed. Lines are indexed per file in line order and
// fts_state keeps the last line indexed per file, so indexing is
// incremental: a file that is still loading is picked up where the
// previous call stopped, and after a new export only its own rows are
// indexed, however large the catalogue.
func (db *DB) Reindex(ctx context.Context) (int64, error) {
	return db.ReindexWithProgress(ctx, nil)
}

// ReindexWithProgress is Reindex, calling progress, when not nil, with the
// number of resources indexed so far after each batch it commits (see
// Unindexed for the number to expect). Indexing a million resources takes
// tens of seconds; a front end shows this, or runs it in the background.
func (db *DB) ReindexWithProgress(ctx context.Context, progress func(indexed int64)) (int64, error) {
	var total int64
	for {
		n, err := db.reindexBatch(ctx)
		total += n
		if err != nil {
			return total, fmt.Errorf("reindex: %w", err)
		}
		if n == 0 {
			return total, nil
		}
		if progress != nil {
			progress(total)
		}
	}
}

// reindexBatch indexes up to ReindexBatch rows of the first file with
// unindexed rows.
func (db *DB) reindexBatch(ctx context.Context) (int64, error) {
	tx, err := db.writer.BeginTx(ctx, nil)
	if err != nil {
		return 0, err
	}
	defer tx.Rollback()

	// Files whose last stored line is past the indexed one. The last
	// stored line is found with one primary-key probe per file.
	var fileID, from, to int64
	err = tx.QueryRowContext(ctx, `
		SELECT id, indexed, last FROM (
			SELECT f.id, coalesce(s.line, 0) AS indexed,
				coalesce((SELECT max(rid) FROM resources
					WHERE rid BETWEEN f.id << 32 AND (f.id << 32) + 4294967295), 0) & 4294967295 AS last
			FROM files f LEFT JOIN fts_state s ON s.file_id = f.id
			WHERE f.kind = 'output')
		WHERE last > indexed ORDER BY id LIMIT 1`).Scan(&fileID, &from, &to)
	if err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			return 0, nil
		}
		return 0, err
	}
	// Up to ReindexBatch rows after the indexed line.
	if err := tx.QueryRowContext(ctx, `SELECT max(rid) & 4294967295 FROM
		(SELECT rid FROM resources WHERE rid > ? AND rid <= ? ORDER BY rid LIMIT ?)`,
		rowID(fileID, from), rowID(fileID, to), ReindexBatch).Scan(&to); err != nil {
		return 0, err
	}
	res, err := tx.ExecContext(ctx, `INSERT INTO resources_fts (rowid, raw)
		SELECT rid, raw FROM resources WHERE rid > ? AND rid <= ?`,
		rowID(fileID, from), rowID(fileID, to))
	if err != nil {
		return 0, err
	}
	n, err := res.RowsAffected()
	if err != nil {
		return 0, err
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO fts_state (file_id, line) VALUES (?, ?)
		ON CONFLICT (file_id) DO UPDATE SET line = excluded.line`, fileID, to); err != nil {
		return 0, err
	}
	return n, tx.Commit()
}

// Unindexed returns how many stored resources the full-text index does not
// cover yet (what the next Reindex will add).
func (db *DB) Unindexed(ctx context.Context) (int64, error) {
	var n int64
	err := db.reader.QueryRowContext(ctx, `
		SELECT coalesce(sum((SELECT COUNT(*) FROM resources
			WHERE rid > (f.id << 32) + coalesce(s.line, 0) AND rid <= (f.id << 32) + 4294967295)), 0)
		FROM files f LEFT JOIN fts_state s ON s.file_id = f.id WHERE f.kind = 'output'`).Scan(&n)
	if err != nil {
		return 0, fmt.Errorf("unindexed: %w", err)
	}
	return n, nil
}
