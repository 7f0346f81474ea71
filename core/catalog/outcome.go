package catalog

import (
	"context"
	"fmt"
)

// Tombstone is one DELETE entry of a deleted file: Type/ID was deleted on
// the server, as of the export's transaction time.
type Tombstone struct {
	ExportID int64
	FileID   int64
	Line     int64
	Type     string
	ID       string
}

// Outcome is one OperationOutcome line of an error/outcome file.
type Outcome struct {
	ExportID int64
	FileID   int64
	Line     int64
	Severity string // most severe issue: fatal, error, warning or information
	Raw      []byte
}

// SeverityCount is how many outcome lines of an export had one severity.
type SeverityCount struct {
	Severity string
	Count    int64
}

// Severities are an export's outcome lines counted by severity
// (OutcomeSummary).
type Severities []SeverityCount

// Total is how many outcome lines there are.
func (s Severities) Total() int64 {
	var n int64
	for _, c := range s {
		n += c.Count
	}
	return n
}

// Errors is how many outcome lines are fatal or error: data the server
// meant to send is missing, even when every file verified (Bulk Data
// Access IG, Response - Complete Status: the error array).
func (s Severities) Errors() int64 {
	var n int64
	for _, c := range s {
		if c.Severity == "fatal" || c.Severity == "error" {
			n += c.Count
		}
	}
	return n
}

// Problem is one line that failed validation, kept verbatim.
type Problem struct {
	ExportID int64
	FileID   int64
	URL      string // the file it came from
	Line     int64
	Problem  string
	Raw      []byte
}

// Tombstones returns up to limit tombstones of an export in file and line
// order. limit <= 0 means all.
func (db *DB) Tombstones(ctx context.Context, exportID int64, limit int) ([]Tombstone, error) {
	rows, err := db.reader.QueryContext(ctx, `SELECT export_id, file_id, line, type, res_id
		FROM tombstones WHERE export_id = ? ORDER BY id LIMIT ?`, exportID, sqlLimit(limit))
	if err != nil {
		return nil, fmt.Errorf("tombstones: %w", err)
	}
	defer rows.Close()
	var ts []Tombstone
	for rows.Next() {
		var t Tombstone
		if err := rows.Scan(&t.ExportID, &t.FileID, &t.Line, &t.Type, &t.ID); err != nil {
			return nil, fmt.Errorf("tombstones: %w", err)
		}
		ts = append(ts, t)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("tombstones: %w", err)
	}
	return ts, nil
}

// Outcomes returns up to limit outcome lines of an export in file and line
// order. limit <= 0 means all.
func (db *DB) Outcomes(ctx context.Context, exportID int64, limit int) ([]Outcome, error) {
	rows, err := db.reader.QueryContext(ctx, `SELECT export_id, file_id, line, severity, raw
		FROM outcomes WHERE export_id = ? ORDER BY file_id, line LIMIT ?`, exportID, sqlLimit(limit))
	if err != nil {
		return nil, fmt.Errorf("outcomes: %w", err)
	}
	defer rows.Close()
	var os []Outcome
	for rows.Next() {
		var o Outcome
		var raw string
		if err := rows.Scan(&o.ExportID, &o.FileID, &o.Line, &o.Severity, &raw); err != nil {
			return nil, fmt.Errorf("outcomes: %w", err)
		}
		o.Raw = []byte(raw)
		os = append(os, o)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("outcomes: %w", err)
	}
	return os, nil
}

// OutcomeSummary counts an export's outcome lines per severity, most severe
// first (fatal, error, warning, information, then anything else by name).
func (db *DB) OutcomeSummary(ctx context.Context, exportID int64) (Severities, error) {
	rows, err := db.reader.QueryContext(ctx, `SELECT severity, COUNT(*) FROM outcomes
		WHERE export_id = ? GROUP BY severity
		ORDER BY CASE severity WHEN 'fatal' THEN 0 WHEN 'error' THEN 1 WHEN 'warning' THEN 2
			WHEN 'information' THEN 3 ELSE 4 END, severity`, exportID)
	if err != nil {
		return nil, fmt.Errorf("outcome summary: %w", err)
	}
	defer rows.Close()
	var cs Severities
	for rows.Next() {
		var c SeverityCount
		if err := rows.Scan(&c.Severity, &c.Count); err != nil {
			return nil, fmt.Errorf("outcome summary: %w", err)
		}
		cs = append(cs, c)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("outcome summary: %w", err)
	}
	return cs, nil
}

// Problems returns up to limit problem lines of an export in file and line
// order. limit <= 0 means all.
func (db *DB) Problems(ctx context.Context, exportID int64, limit int) ([]Problem, error) {
	rows, err := db.reader.QueryContext(ctx, `SELECT p.export_id, p.file_id, f.url, p.line,
			p.problem, p.raw
		FROM problems p JOIN files f ON f.id = p.file_id
		WHERE p.export_id = ? ORDER BY p.file_id, p.line LIMIT ?`, exportID, sqlLimit(limit))
	if err != nil {
		return nil, fmt.Errorf("problems: %w", err)
	}
	defer rows.Close()
	var ps []Problem
	for rows.Next() {
		var p Problem
		if err := rows.Scan(&p.ExportID, &p.FileID, &p.URL, &p.Line, &p.Problem, &p.Raw); err != nil {
			return nil, fmt.Errorf("problems: %w", err)
		}
		ps = append(ps, p)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("problems: %w", err)
	}
	return ps, nil
}

// sqlLimit maps "no limit" (<= 0) to SQLite's -1.
func sqlLimit(n int) int {
	if n <= 0 {
		return -1
	}
	return n
}
