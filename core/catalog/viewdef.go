package catalog

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"tranche.dev/tranche/core"
)

// ViewDef is a ViewDefinition the user saved in the catalogue, with or
// without a table built from it. Its JSON is kept exactly as saved.
type ViewDef struct {
	// Name is the view's name element, which names its table. Names are
	// unique regardless of case, as SQLite's table names are.
	Name     string
	Resource string // the resource type the view reads
	JSON     []byte
	Created  time.Time
	Updated  time.Time
}

func (d *ViewDef) validate() error {
	if !tableName.MatchString(d.Name) {
		return fmt.Errorf("view name %q cannot name a table: use letters, digits and _, starting with a letter", d.Name)
	}
	if d.Resource == "" {
		return errors.New("view resource required")
	}
	if len(d.JSON) == 0 {
		return errors.New("view JSON required")
	}
	return nil
}

// SaveViewDef stores d.JSON under d.Name: a new view, or a new version of
// the saved view of that name, whose Created time it keeps. It sets
// d.Created and d.Updated and reports whether the view is new. It does
// not validate the JSON as a ViewDefinition: callers do (core/tables).
func (db *DB) SaveViewDef(ctx context.Context, d *ViewDef) (created bool, err error) {
	if err := d.validate(); err != nil {
		return false, fmt.Errorf("save view %s: %w", d.Name, err)
	}
	now := db.now()
	tx, err := db.writer.BeginTx(ctx, nil)
	if err != nil {
		return false, fmt.Errorf("save view %s: %w", d.Name, err)
	}
	defer tx.Rollback()
	var createdAt string
	err = tx.QueryRowContext(ctx, `SELECT created_at FROM view_defs WHERE name = ?`, d.Name).Scan(&createdAt)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		created = true
		_, err = tx.ExecContext(ctx, `INSERT INTO view_defs (name, resource, view_json, created_at, updated_at)
			VALUES (?, ?, ?, ?, ?)`, d.Name, d.Resource, string(d.JSON), formatTime(now), formatTime(now))
		d.Created = now
	case err == nil:
		// The name keeps the case it is saved with now.
		_, err = tx.ExecContext(ctx, `UPDATE view_defs SET name = ?, resource = ?, view_json = ?, updated_at = ?
			WHERE name = ?`, d.Name, d.Resource, string(d.JSON), formatTime(now), d.Name)
		if err == nil {
			d.Created, err = parseTime(createdAt)
		}
	}
	if err != nil {
		return false, fmt.Errorf("save view %s: %w", d.Name, err)
	}
	if err := tx.Commit(); err != nil {
		return false, fmt.Errorf("save view %s: %w", d.Name, err)
	}
	d.Updated = now
	return created, nil
}

// ViewDefs lists the saved views by name.
func (db *DB) ViewDefs(ctx context.Context) ([]*ViewDef, error) {
	ds, err := db.viewDefs(ctx, "")
	if err != nil {
		return nil, fmt.Errorf("saved views: %w", err)
	}
	return ds, nil
}

// FindViewDef returns the saved view called name (in any case), or
// core.ErrNotFound.
func (db *DB) FindViewDef(ctx context.Context, name string) (*ViewDef, error) {
	ds, err := db.viewDefs(ctx, name)
	if err != nil {
		return nil, fmt.Errorf("saved view %s: %w", name, err)
	}
	if len(ds) == 0 {
		return nil, fmt.Errorf("saved view %s: %w", name, core.ErrNotFound)
	}
	return ds[0], nil
}

func (db *DB) viewDefs(ctx context.Context, name string) ([]*ViewDef, error) {
	q := `SELECT name, resource, view_json, created_at, updated_at FROM view_defs`
	var args []any
	if name != "" {
		q += ` WHERE name = ?`
		args = append(args, name)
	}
	rows, err := db.reader.QueryContext(ctx, q+` ORDER BY name`, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []*ViewDef
	for rows.Next() {
		var d ViewDef
		var js, created, updated string
		if err := rows.Scan(&d.Name, &d.Resource, &js, &created, &updated); err != nil {
			return nil, err
		}
		d.JSON = []byte(js)
		if d.Created, err = parseTime(created); err != nil {
			return nil, err
		}
		if d.Updated, err = parseTime(updated); err != nil {
			return nil, err
		}
		out = append(out, &d)
	}
	return out, rows.Err()
}

// RenameViewDef renames the saved view old to d.Name, storing d.JSON (the
// view with its new name element) and d.Resource. It returns
// core.ErrNotFound when there is no view old, and ErrNameTaken when
// another saved view is called d.Name. A table built from the view keeps
// its name.
func (db *DB) RenameViewDef(ctx context.Context, old string, d *ViewDef) error {
	if err := d.validate(); err != nil {
		return fmt.Errorf("rename view %s: %w", old, err)
	}
	now := db.now()
	res, err := db.writer.ExecContext(ctx, `UPDATE view_defs SET name = ?, resource = ?, view_json = ?, updated_at = ?
		WHERE name = ?`, d.Name, d.Resource, string(d.JSON), formatTime(now), old)
	if isUniqueViolation(err) || isPrimaryKeyViolation(err) {
		return fmt.Errorf("rename view %s to %s: %w", old, d.Name, ErrNameTaken)
	}
	if err != nil {
		return fmt.Errorf("rename view %s: %w", old, err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return fmt.Errorf("rename view %s: %w", old, err)
	} else if n == 0 {
		return fmt.Errorf("rename view %s: %w", old, core.ErrNotFound)
	}
	d.Updated = now
	return nil
}

// DeleteViewDef deletes the saved view called name, or returns
// core.ErrNotFound. A table built from it stays (DropViewTable drops it).
func (db *DB) DeleteViewDef(ctx context.Context, name string) error {
	res, err := db.writer.ExecContext(ctx, `DELETE FROM view_defs WHERE name = ?`, name)
	if err != nil {
		return fmt.Errorf("delete view %s: %w", name, err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return fmt.Errorf("delete view %s: %w", name, err)
	} else if n == 0 {
		return fmt.Errorf("delete view %s: %w", name, core.ErrNotFound)
	}
	return nil
}

// isPrimaryKeyViolation reports whether err is a PRIMARY KEY constraint
// failure (a TEXT primary key is a unique index of its own kind).
func isPrimaryKeyViolation(err error) bool {
	var e *sqlite.Error
	return errors.As(err, &e) && e.Code() == sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY
}
