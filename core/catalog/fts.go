package catalog

import (
	"context"
	"fmt"
)

// ReindexBatch is how many resources Reindex indexes per transaction, so an
// ingest running alongside waits for at most one batch.
const ReindexBatch = 10000

// Reindex adds resources stored since the last call to the full-text index
// and returns how many it added. AppendRecords does not index: tokenising
// every JSON line would roughly halve ingest speed (see
// BenchmarkAppendRecords), so the index is brought up to date lazily: call
// Reindex after an export completes, or before searching. It is safe to
// call at any time and concurrently with ingest; cancelling ctx keeps the
// batches already committed.
func (db *DB) Reindex(ctx context.Context) (int64, error) {
	var total int64
	for {
		n, err := db.reindexBatch(ctx)
		total += n
		if err != nil {
			return total, fmt.Errorf("reindex: %w", err)
		}
		if n < ReindexBatch {
			return total, nil
		}
	}
}

func (db *DB) reindexBatch(ctx context.Context) (int64, error) {
	tx, err := db.writer.BeginTx(ctx, nil)
	if err != nil {
		return 0, err
	}
	defer tx.Rollback()

	var from, to int64
	if err := tx.QueryRowContext(ctx, `SELECT rid FROM fts_state WHERE id = 1`).Scan(&from); err != nil {
		return 0, err
	}
	// The upper bound of the next batch: the rid ReindexBatch rows on.
	if err := tx.QueryRowContext(ctx, `SELECT coalesce(max(rid), ?) FROM
		(SELECT rid FROM resources WHERE rid > ? ORDER BY rid LIMIT ?)`,
		from, from, ReindexBatch).Scan(&to); err != nil {
		return 0, err
	}
	if to == from {
		return 0, nil
	}
	res, err := tx.ExecContext(ctx, `INSERT INTO resources_fts (rowid, raw)
		SELECT rid, raw FROM resources WHERE rid > ? AND rid <= ?`, from, to)
	if err != nil {
		return 0, err
	}
	n, err := res.RowsAffected()
	if err != nil {
		return 0, err
	}
	if _, err := tx.ExecContext(ctx, `UPDATE fts_state SET rid = ? WHERE id = 1`, to); err != nil {
		return 0, err
	}
	return n, tx.Commit()
}

// Unindexed returns how many stored resources the full-text index does not
// cover yet (what the next Reindex will add).
func (db *DB) Unindexed(ctx context.Context) (int64, error) {
	var n int64
	err := db.reader.QueryRowContext(ctx, `SELECT COUNT(*) FROM resources
		WHERE rid > (SELECT rid FROM fts_state WHERE id = 1)`).Scan(&n)
	if err != nil {
		return 0, fmt.Errorf("unindexed: %w", err)
	}
	return n, nil
}
