package catalog

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// query is a resource selection turned into SQL: the statement, its
// arguments, and how it is ordered and run.
type query struct {
	sql   string
	args  []any
	byKey bool // ordered by (type, id) rather than rid
	// perFile means sql is run once per output file of exportID (0: of
	// every export), of fileType or of no type, in file order, with the
	// file's rid range appended as two more arguments: a primary-key range
	// scan per file, where a filter on export_id would have to skip over
	// other exports' rows.
	perFile  bool
	exportID int64
	fileType string
	after    int64 // rid cursor of a per-file query
	limit    int
}

func (q query) cursor(last Row) string {
	if q.byKey {
		return "k" + last.Type + "/" + last.ID
	}
	return "r" + strconv.FormatInt(last.RowID, 10)
}

func selectList(cs []column) string {
	var b strings.Builder
	for _, c := range cs {
		b.WriteString(", ")
		b.WriteString(c.Expr)
	}
	return b.String()
}

// buildQuery turns a filter into SQL returning rid, type, id and the
// columns of Columns(f.Type). limit < 0 means no limit.
func buildQuery(f ResourceFilter, limit int) (query, error) {
	return buildSelect(`SELECT r.rid, r.type, r.res_id`+selectList(columnsFor(f.Type)), f, limit)
}

// buildSelect is buildQuery with another select list over r (resources).
// Three plans, each ordered by a key so a page never needs OFFSET:
//   - latest view, no Patient or Query: the latest table in (type, id) order;
//   - one export, no Patient or Query: per-file rid ranges (see query);
//   - otherwise: in rid order, driven by the FTS index (Query) or the
//     patient index (Patient, patient_runs).
func buildSelect(sel string, f ResourceFilter, limit int) (query, error) {
	var where []string
	var args []any
	add := func(cond string, a ...any) { where = append(where, cond); args = append(args, a...) }
	q := query{limit: limit}

	var after int64
	if f.After != "" && !(f.ExportID == 0 && f.Patient == "" && f.Query == "") {
		var err error
		after, err = strconv.ParseInt(strings.TrimPrefix(f.After, "r"), 10, 64)
		if !strings.HasPrefix(f.After, "r") || err != nil {
			return query{}, fmt.Errorf("invalid page cursor %q", f.After)
		}
	}

	switch {
	case f.ExportID == 0 && f.Patient == "" && f.Query == "":
		q.byKey = true
		q.sql = sel + ` FROM latest l JOIN resources r ON r.rid = l.rid`
		add(`l.deleted = 0`)
		if f.Type != "" {
			add(`l.type = ?`, f.Type)
		}
		if f.After != "" {
			typ, id, ok := strings.Cut(strings.TrimPrefix(f.After, "k"), "/")
			if !strings.HasPrefix(f.After, "k") || !ok {
				return query{}, fmt.Errorf("invalid page cursor %q", f.After)
			}
			if f.Type != "" {
				// Not the row value: SQLite then seeks on type alone.
				add(`l.res_id > ?`, id)
			} else {
				add(`(l.type, l.res_id) > (?, ?)`, typ, id)
			}
		}
		q.sql += ` WHERE ` + strings.Join(where, " AND ") + ` ORDER BY l.type, l.res_id`

	case f.Patient == "" && f.Query == "":
		q.perFile, q.exportID, q.fileType, q.after = true, f.ExportID, f.Type, after
		q.sql = sel + ` FROM resources r`
		if f.Type != "" {
			add(`r.type = ?`, f.Type)
		}
		add(`r.rid BETWEEN ? AND ?`) // the file's range, filled in by run
		q.sql += ` WHERE ` + strings.Join(where, " AND ") + ` ORDER BY r.rid`

	default:
		order, cursor := `r.rid`, `r.rid`
		if f.Query != "" {
			// The FTS table drives the loop, in rowid order, so a page of
			// a common word does not collect every match first.
			q.sql = sel + ` FROM resources_fts CROSS JOIN resources r ON r.rid = resources_fts.rowid`
			add(`resources_fts MATCH ?`, ftsQuery(f.Query))
			order, cursor = `resources_fts.rowid`, `resources_fts.rowid`
		} else if f.Patient != "" {
			// The patient index drives the loop: one patient's runs in
			// order, each a range of rids (see migration/0004_patient_runs.sql).
			// Checking r.patient keeps the answer right should a range
			// ever hold another patient's row.
			q.sql = sel + ` FROM patient_runs p CROSS JOIN resources r ON r.rid BETWEEN p.first AND p.first + p.n AND r.patient = p.patient`
			add(`p.patient = ?`, patientRef(f.Patient))
			order = `p.first, r.rid`
			if f.After != "" {
				add(`p.first + p.n > ?`, after)
			}
		} else {
			q.sql = sel + ` FROM resources r`
		}
		if f.ExportID == 0 {
			q.sql += ` JOIN latest l ON l.type = r.type AND l.res_id = r.res_id AND l.rid = r.rid AND l.deleted = 0`
		} else {
			add(`r.export_id = ?`, f.ExportID)
		}
		if f.Type != "" {
			add(`r.type = ?`, f.Type)
		}
		if f.Patient != "" && f.Query != "" {
			add(`r.patient = ?`, patientRef(f.Patient))
		}
		if f.After != "" {
			add(cursor+` > ?`, after)
		}
		if len(where) > 0 {
			q.sql += ` WHERE ` + strings.Join(where, " AND ")
		}
		q.sql += ` ORDER BY ` + order
	}
	if limit >= 0 {
		q.sql += ` LIMIT ?`
	}
	q.args = args
	return q, nil
}

// buildStream is buildSelect for reading a whole selection (ExportNDJSON,
// ExportCSV). The latest view is then read in storage order, file by file,
// each row checked against the latest table: sequential reads, where the
// (type, id) order of pages would visit rows at random.
func buildStream(sel string, f ResourceFilter) (query, error) {
	f.After = ""
	if f.ExportID != 0 || f.Patient != "" || f.Query != "" {
		return buildSelect(sel, f, -1)
	}
	q := query{perFile: true, fileType: f.Type, limit: -1}
	// CROSS JOIN keeps resources the outer loop: a range scan per file.
	q.sql = sel + ` FROM resources r CROSS JOIN latest l ON l.type = r.type AND l.res_id = r.res_id
		AND l.rid = r.rid AND l.deleted = 0 WHERE `
	if f.Type != "" {
		q.sql += `r.type = ? AND `
		q.args = append(q.args, f.Type)
	}
	q.sql += `r.rid BETWEEN ? AND ? ORDER BY r.rid`
	return q, nil
}

// errStop ends a run early without an error.
var errStop = errors.New("stop")

// run executes q and calls fn for each result row until fn returns errStop
// or the limit is reached.
func (db *DB) run(ctx context.Context, q query, fn func(*sql.Rows) error) error {
	if !q.perFile {
		args := q.args
		if q.limit >= 0 {
			args = append(args[:len(args):len(args)], q.limit)
		}
		_, err := db.runOne(ctx, q.sql, args, fn)
		return err
	}

	ranges, err := db.fileRanges(ctx, q.exportID, q.fileType)
	if err != nil {
		return err
	}
	left := q.limit
	for _, rg := range ranges {
		lo, hi := max(rg[0], q.after+1), rg[1]
		if lo > hi {
			continue
		}
		args := append(q.args[:len(q.args):len(q.args)], lo, hi)
		if q.limit >= 0 {
			args = append(args, left)
		}
		n, err := db.runOne(ctx, q.sql, args, fn)
		if errors.Is(err, errStop) {
			return nil
		} else if err != nil {
			return err
		}
		if q.limit >= 0 {
			if left -= n; left <= 0 {
				return nil
			}
		}
	}
	return nil
}

// runOne runs one statement; it returns the rows seen and errStop when fn
// stopped the run.
func (db *DB) runOne(ctx context.Context, sqlText string, args []any, fn func(*sql.Rows) error) (int, error) {
	rows, err := db.reader.QueryContext(ctx, sqlText, args...)
	if err != nil {
		return 0, err
	}
	defer rows.Close()
	n := 0
	for rows.Next() {
		n++
		if err := fn(rows); err != nil {
			return n, err
		}
	}
	return n, rows.Err()
}

// fileRanges returns the rid ranges of an export's (0: every export's)
// output files, of type
// typ (or of no stated type) when typ is set, in file order.
func (db *DB) fileRanges(ctx context.Context, exportID int64, typ string) ([][2]int64, error) {
	q := `SELECT id FROM files WHERE kind = 'output'`
	var args []any
	if exportID != 0 {
		q += ` AND export_id = ?`
		args = append(args, exportID)
	}
	if typ != "" {
		q += ` AND type IN (?, '')`
		args = append(args, typ)
	}
	rows, err := db.reader.QueryContext(ctx, q+` ORDER BY id`, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var rs [][2]int64
	for rows.Next() {
		var id int64
		if err := rows.Scan(&id); err != nil {
			return nil, err
		}
		rs = append(rs, [2]int64{rowID(id, 1), rowID(id, maxLine)})
	}
	return rs, rows.Err()
}

// scanRows runs q and calls fn with each Row until fn returns errStop.
func (db *DB) scanRows(ctx context.Context, q query, fn func(Row) error) error {
	var vals []sql.NullString
	var dest []any
	err := db.run(ctx, q, func(rows *sql.Rows) error {
		if dest == nil {
			cols, err := rows.Columns()
			if err != nil {
				return err
			}
			vals = make([]sql.NullString, len(cols)-3)
			dest = make([]any, len(cols))
		}
		var r Row
		dest[0], dest[1], dest[2] = &r.RowID, &r.Type, &r.ID
		for i := range vals {
			dest[3+i] = &vals[i]
		}
		if err := rows.Scan(dest...); err != nil {
			return err
		}
		r.Values = make([]string, len(vals))
		for i, v := range vals {
			r.Values[i] = v.String
		}
		return fn(r)
	})
	if errors.Is(err, errStop) {
		return nil
	}
	return err
}

// patientRef normalises "123" to "Patient/123".
func patientRef(p string) string {
	if strings.Contains(p, "/") {
		return p
	}
	return "Patient/" + p
}

// ftsQuery makes a search box's text a safe FTS5 query. Text with a double
// quote is taken as FTS5 syntax, verbatim. Otherwise each word is quoted,
// so ids like "enc-0077" or "Patient/123" are searched as written rather
// than parsed as operators; AND, OR and NOT stay operators and a trailing *
// stays a prefix search.
func ftsQuery(q string) string {
	if strings.Contains(q, `"`) {
		return q
	}
	words := strings.Fields(q)
	for i, w := range words {
		switch {
		case w == "AND" || w == "OR" || w == "NOT":
		case strings.HasSuffix(w, "*") && len(w) > 1:
			words[i] = `"` + strings.TrimSuffix(w, "*") + `"*`
		default:
			words[i] = `"` + w + `"`
		}
	}
	return strings.Join(words, " ")
}
