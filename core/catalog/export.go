package catalog

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	"tranche.dev/tranche/core"
)

// CreateExport stores a new export and sets its ID, CreatedAt and UpdatedAt.
// The request is stored as JSON.
func (db *DB) CreateExport(ctx context.Context, e *core.Export) error {
	req, err := json.Marshal(e.Request)
	if err != nil {
		return fmt.Errorf("marshal request: %w", err)
	}
	if e.State == "" {
		e.State = core.StateKickoff
	}
	now := db.now()
	res, err := db.writer.ExecContext(ctx, `
		INSERT INTO exports (registration_id, fhir_base_url, scope, request, scope_key,
			kickoff_url, status_url, state, progress, transaction_time, tt, manifest, error,
			released, created_at, updated_at, finished_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		nullID(e.RegistrationID), e.FHIRBaseURL, e.Scope, string(req), scopeKey(e),
		e.KickoffURL, e.StatusURL, string(e.State), e.Progress, e.TransactionTime,
		instantMillis(e.TransactionTime), e.Manifest, e.Error, e.Released,
		formatTime(now), formatTime(now), formatTime(e.FinishedAt))
	if err != nil {
		return fmt.Errorf("create export: %w", err)
	}
	if e.ID, err = res.LastInsertId(); err != nil {
		return err
	}
	e.CreatedAt, e.UpdatedAt = now, now
	return nil
}

// UpdateExport stores every field of e (by e.ID) and sets UpdatedAt.
// Returns core.ErrNotFound if there is no such export.
func (db *DB) UpdateExport(ctx context.Context, e *core.Export) error {
	req, err := json.Marshal(e.Request)
	if err != nil {
		return fmt.Errorf("marshal request: %w", err)
	}
	now := db.now()
	res, err := db.writer.ExecContext(ctx, `
		UPDATE exports SET registration_id = ?, fhir_base_url = ?, scope = ?, request = ?,
			scope_key = ?, kickoff_url = ?, status_url = ?, state = ?, progress = ?,
			transaction_time = ?, tt = ?, manifest = ?, error = ?, released = ?,
			updated_at = ?, finished_at = ?
		WHERE id = ?`,
		nullID(e.RegistrationID), e.FHIRBaseURL, e.Scope, string(req), scopeKey(e),
		e.KickoffURL, e.StatusURL, string(e.State), e.Progress, e.TransactionTime,
		instantMillis(e.TransactionTime), e.Manifest, e.Error, e.Released,
		formatTime(now), formatTime(e.FinishedAt), e.ID)
	if err != nil {
		return fmt.Errorf("update export %d: %w", e.ID, err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return err
	} else if n == 0 {
		return fmt.Errorf("export %d: %w", e.ID, core.ErrNotFound)
	}
	e.UpdatedAt = now
	return nil
}

// FindExport returns the export with the given ID, or core.ErrNotFound.
func (db *DB) FindExport(ctx context.Context, id int64) (*core.Export, error) {
	es, err := db.findExports(ctx, `WHERE id = ?`, id)
	if err != nil {
		return nil, err
	} else if len(es) == 0 {
		return nil, fmt.Errorf("export %d: %w", id, core.ErrNotFound)
	}
	return es[0], nil
}

// FindExports returns up to limit exports, newest first. limit <= 0 means all.
func (db *DB) FindExports(ctx context.Context, limit int) ([]*core.Export, error) {
	if limit <= 0 {
		limit = -1
	}
	return db.findExports(ctx, `ORDER BY id DESC LIMIT ?`, limit)
}

// FindExportByStatusURL returns the newest export with the given status URL,
// or core.ErrNotFound.
func (db *DB) FindExportByStatusURL(ctx context.Context, statusURL string) (*core.Export, error) {
	es, err := db.findExports(ctx, `WHERE status_url = ? ORDER BY id DESC LIMIT 1`, statusURL)
	if err != nil {
		return nil, err
	} else if len(es) == 0 {
		return nil, fmt.Errorf("export with status URL %q: %w", statusURL, core.ErrNotFound)
	}
	return es[0], nil
}

// UnfinishedExports returns the exports whose state is not final, oldest
// first: the ones to resume after a restart.
func (db *DB) UnfinishedExports(ctx context.Context) ([]*core.Export, error) {
	return db.findExports(ctx, `WHERE state NOT IN (?, ?, ?, ?) ORDER BY id`,
		core.StateComplete, core.StateFailed, core.StateCancelled, core.StateExpired)
}

// LastTransactionTime returns the transactionTime, exactly as the server
// sent it, of the newest complete export that asked for the same data as e:
// the same registration (or, when e.RegistrationID is 0, an ad hoc export of
// the same FHIR base URL), the same level and group, the same token scope,
// and the same types, type filters, patients and elements (order does not
// matter). It is what _since=auto resumes from. "Newest" is by
// transactionTime, then by ID. e itself is never matched. Returns "" and
// core.ErrNotFound when there is none.
func (db *DB) LastTransactionTime(ctx context.Context, e *core.Export) (string, error) {
	q := `SELECT transaction_time FROM exports
		WHERE state = ? AND transaction_time <> '' AND scope_key = ? AND id <> ? AND `
	args := []any{core.StateComplete, scopeKey(e), e.ID}
	if e.RegistrationID != 0 {
		q += `registration_id = ?`
		args = append(args, e.RegistrationID)
	} else {
		q += `registration_id IS NULL AND fhir_base_url = ?`
		args = append(args, e.FHIRBaseURL)
	}
	q += ` ORDER BY tt DESC, id DESC LIMIT 1`

	var tt string
	err := db.reader.QueryRowContext(ctx, q, args...).Scan(&tt)
	if errors.Is(err, sql.ErrNoRows) {
		return "", fmt.Errorf("previous complete export: %w", core.ErrNotFound)
	} else if err != nil {
		return "", fmt.Errorf("last transaction time: %w", err)
	}
	return tt, nil
}

func (db *DB) findExports(ctx context.Context, tail string, args ...any) ([]*core.Export, error) {
	rows, err := db.reader.QueryContext(ctx, `
		SELECT id, registration_id, fhir_base_url, scope, request, kickoff_url, status_url,
			state, progress, transaction_time, manifest, error, released, sink, created_at,
			updated_at, finished_at
		FROM exports `+tail, args...)
	if err != nil {
		return nil, fmt.Errorf("find exports: %w", err)
	}
	defer rows.Close()

	var es []*core.Export
	for rows.Next() {
		var e core.Export
		var regID sql.NullInt64
		var req, state, created, updated, finished string
		if err := rows.Scan(&e.ID, &regID, &e.FHIRBaseURL, &e.Scope, &req, &e.KickoffURL,
			&e.StatusURL, &state, &e.Progress, &e.TransactionTime, &e.Manifest, &e.Error,
			&e.Released, &e.Sink, &created, &updated, &finished); err != nil {
			return nil, fmt.Errorf("scan export: %w", err)
		}
		e.RegistrationID = regID.Int64
		e.State = core.ExportState(state)
		if err := json.Unmarshal([]byte(req), &e.Request); err != nil {
			return nil, fmt.Errorf("export %d request: %w", e.ID, err)
		}
		if e.CreatedAt, err = parseTime(created); err != nil {
			return nil, err
		}
		if e.UpdatedAt, err = parseTime(updated); err != nil {
			return nil, err
		}
		if e.FinishedAt, err = parseTime(finished); err != nil {
			return nil, err
		}
		es = append(es, &e)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("find exports: %w", err)
	}
	return es, nil
}

// scopeKey is a canonical string for "the same data was asked for": two
// exports with equal keys can use each other's transactionTime as _since.
func scopeKey(e *core.Export) string {
	sorted := func(s []string) []string {
		s = slices.Clone(s)
		slices.Sort(s)
		return s
	}
	buf, _ := json.Marshal([]any{ // strings and slices of strings cannot fail
		e.Scope, e.Request.Level, e.Request.GroupID, sorted(e.Request.Types),
		sorted(e.Request.TypeFilters), sorted(e.Request.Patients), sorted(e.Request.Elements),
	})
	return string(buf)
}

// instantMillis returns a FHIR instant as Unix milliseconds, or 0 when it is
// empty or cannot be parsed, so exports order correctly whatever the offset.
func instantMillis(s string) int64 {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return 0
	}
	return t.UnixMilli()
}
