package catalog

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"tranche.dev/tranche/core"
)

// ErrNameTaken is returned when a registration name is already in use.
var ErrNameTaken = errors.New("name already taken")

// CreateRegistration stores a new registration and sets its ID, CreatedAt
// and UpdatedAt. Returns an error wrapping ErrNameTaken if the name is in use.
func (db *DB) CreateRegistration(ctx context.Context, r *core.Registration) error {
	if r.Name == "" {
		return errors.New("registration name required")
	}
	headers, err := marshalHeaders(r.Headers)
	if err != nil {
		return err
	}
	now := db.now()
	res, err := db.writer.ExecContext(ctx, `
		INSERT INTO registrations (name, fhir_base_url, token_url, client_id, scopes, alg,
			key_id, key_ref, public_jwks, jwks_url, headers, max_parallel, poll_min_ms,
			poll_max_ms, sink, created_at, updated_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		r.Name, r.FHIRBaseURL, r.TokenURL, r.ClientID, r.Scopes, r.Alg,
		r.KeyID, r.KeyRef, r.PublicJWKS, r.JWKSURL, headers, r.MaxParallel,
		r.PollMin.Milliseconds(), r.PollMax.Milliseconds(), r.Sink, formatTime(now), formatTime(now))
	if isUniqueViolation(err) {
		return fmt.Errorf("registration %q: %w", r.Name, ErrNameTaken)
	} else if err != nil {
		return fmt.Errorf("create registration %q: %w", r.Name, err)
	}
	if r.ID, err = res.LastInsertId(); err != nil {
		return err
	}
	r.CreatedAt, r.UpdatedAt = now, now
	return nil
}

// UpdateRegistration stores every field of r (by r.ID) and sets UpdatedAt.
// Returns core.ErrNotFound if there is no such registration and an error
// wrapping ErrNameTaken if the new name is in use.
func (db *DB) UpdateRegistration(ctx context.Context, r *core.Registration) error {
	if r.Name == "" {
		return errors.New("registration name required")
	}
	headers, err := marshalHeaders(r.Headers)
	if err != nil {
		return err
	}
	now := db.now()
	res, err := db.writer.ExecContext(ctx, `
		UPDATE registrations SET name = ?, fhir_base_url = ?, token_url = ?, client_id = ?,
			scopes = ?, alg = ?, key_id = ?, key_ref = ?, public_jwks = ?, jwks_url = ?,
			headers = ?, max_parallel = ?, poll_min_ms = ?, poll_max_ms = ?, sink = ?, updated_at = ?
		WHERE id = ?`,
		r.Name, r.FHIRBaseURL, r.TokenURL, r.ClientID, r.Scopes, r.Alg, r.KeyID, r.KeyRef,
		r.PublicJWKS, r.JWKSURL, headers, r.MaxParallel, r.PollMin.Milliseconds(),
		r.PollMax.Milliseconds(), r.Sink, formatTime(now), r.ID)
	if isUniqueViolation(err) {
		return fmt.Errorf("registration %q: %w", r.Name, ErrNameTaken)
	} else if err != nil {
		return fmt.Errorf("update registration %q: %w", r.Name, err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return err
	} else if n == 0 {
		return fmt.Errorf("registration %d: %w", r.ID, core.ErrNotFound)
	}
	r.UpdatedAt = now
	return nil
}

// FindRegistration returns the registration with the given ID, or
// core.ErrNotFound.
func (db *DB) FindRegistration(ctx context.Context, id int64) (*core.Registration, error) {
	rs, err := db.findRegistrations(ctx, `WHERE id = ?`, id)
	if err != nil {
		return nil, err
	} else if len(rs) == 0 {
		return nil, fmt.Errorf("registration %d: %w", id, core.ErrNotFound)
	}
	return rs[0], nil
}

// FindRegistrationByName returns the registration with the given name, or
// core.ErrNotFound.
func (db *DB) FindRegistrationByName(ctx context.Context, name string) (*core.Registration, error) {
	rs, err := db.findRegistrations(ctx, `WHERE name = ?`, name)
	if err != nil {
		return nil, err
	} else if len(rs) == 0 {
		return nil, fmt.Errorf("registration %q: %w", name, core.ErrNotFound)
	}
	return rs[0], nil
}

// FindRegistrations returns every registration, ordered by name.
func (db *DB) FindRegistrations(ctx context.Context) ([]*core.Registration, error) {
	return db.findRegistrations(ctx, `ORDER BY name`)
}

// DeleteRegistration removes a registration; its exports stay, detached
// (registration_id becomes NULL). The caller removes the keychain entry.
// Returns core.ErrNotFound if there is no such registration.
func (db *DB) DeleteRegistration(ctx context.Context, id int64) error {
	res, err := db.writer.ExecContext(ctx, `DELETE FROM registrations WHERE id = ?`, id)
	if err != nil {
		return fmt.Errorf("delete registration %d: %w", id, err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return err
	} else if n == 0 {
		return fmt.Errorf("registration %d: %w", id, core.ErrNotFound)
	}
	return nil
}

func (db *DB) findRegistrations(ctx context.Context, where string, args ...any) ([]*core.Registration, error) {
	rows, err := db.reader.QueryContext(ctx, `
		SELECT id, name, fhir_base_url, token_url, client_id, scopes, alg, key_id, key_ref,
			public_jwks, jwks_url, headers, max_parallel, poll_min_ms, poll_max_ms, sink,
			created_at, updated_at
		FROM registrations `+where, args...)
	if err != nil {
		return nil, fmt.Errorf("find registrations: %w", err)
	}
	defer rows.Close()

	var rs []*core.Registration
	for rows.Next() {
		var r core.Registration
		var headers, created, updated string
		var pollMin, pollMax int64
		if err := rows.Scan(&r.ID, &r.Name, &r.FHIRBaseURL, &r.TokenURL, &r.ClientID,
			&r.Scopes, &r.Alg, &r.KeyID, &r.KeyRef, &r.PublicJWKS, &r.JWKSURL, &headers,
			&r.MaxParallel, &pollMin, &pollMax, &r.Sink, &created, &updated); err != nil {
			return nil, fmt.Errorf("scan registration: %w", err)
		}
		if err := json.Unmarshal([]byte(headers), &r.Headers); err != nil {
			return nil, fmt.Errorf("registration %q headers: %w", r.Name, err)
		}
		if len(r.Headers) == 0 {
			r.Headers = nil
		}
		r.PollMin = time.Duration(pollMin) * time.Millisecond
		r.PollMax = time.Duration(pollMax) * time.Millisecond
		if r.CreatedAt, err = parseTime(created); err != nil {
			return nil, err
		}
		if r.UpdatedAt, err = parseTime(updated); err != nil {
			return nil, err
		}
		rs = append(rs, &r)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("find registrations: %w", err)
	}
	return rs, nil
}

func marshalHeaders(h map[string]string) (string, error) {
	if len(h) == 0 {
		return "{}", nil
	}
	buf, err := json.Marshal(h)
	if err != nil {
		return "", fmt.Errorf("marshal headers: %w", err)
	}
	return string(buf), nil
}

// nullID maps the "no registration" 0 to SQL NULL.
func nullID(id int64) sql.NullInt64 { return sql.NullInt64{Int64: id, Valid: id != 0} }
