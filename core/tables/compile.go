package tables

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"

	"tranche.dev/tranche/core/catalog"
	"tranche.dev/tranche/core/views"
)

// Compiled is a parsed ViewDefinition with what a catalogue table records
// of it: its JSON, version and hash.
type Compiled struct {
	*views.View
	JSON    []byte
	Version string // the ViewDefinition's version element, if any
	SHA256  string // hex SHA-256 of JSON
}

// Compile parses and validates a ViewDefinition (views.Parse); the error
// names the path of the fault.
func Compile(data []byte) (*Compiled, error) {
	v, err := views.Parse(data)
	if err != nil {
		return nil, err
	}
	var meta struct {
		Version string `json:"version"`
	}
	_ = json.Unmarshal(data, &meta) // views.Parse has accepted it
	sum := sha256.Sum256(data)
	return &Compiled{View: v, JSON: data, Version: meta.Version, SHA256: hex.EncodeToString(sum[:])}, nil
}

// Columns returns the view's columns.
func (c *Compiled) Columns() []Column {
	vc := c.View.Columns()
	out := make([]Column, len(vc))
	for i, x := range vc {
		out[i] = Column{Name: x.Name, Type: x.Type, Collection: x.Collection, Description: x.Description}
	}
	return out
}

var _ View = (*Compiled)(nil)

// CatalogInput reads the resources of type typ from the catalogue's latest
// view (exportID 0; tombstones honoured) or from one export, in storage
// order.
func CatalogInput(db *catalog.DB, exportID int64, typ string) Input {
	return func(ctx context.Context, yield func(Resource) error) error {
		return db.EachResource(ctx, catalog.ResourceFilter{ExportID: exportID, Type: typ},
			func(key string, raw []byte) error { return yield(Resource{Key: key, Raw: raw}) })
	}
}

// Materialise runs v over the catalogue (the latest view, or export
// exportID) into a typed table named after the view (catalog.ViewTable),
// replacing the previous one only once the new one is complete.
func (r *Runner) Materialise(ctx context.Context, db *catalog.DB, v *Compiled, exportID int64) (Stats, error) {
	cols := v.Columns()
	tcols := make([]catalog.TableColumn, len(cols))
	for i, c := range cols {
		tcols[i] = catalog.TableColumn{Name: c.Name, Type: c.Type, Collection: c.Collection}
	}
	w, err := db.CreateViewTable(ctx, catalog.ViewTable{Name: v.Name(), Resource: v.Resource(),
		ViewVersion: v.Version, ViewSHA256: v.SHA256, ViewJSON: v.JSON, Columns: tcols, ExportID: exportID})
	if err != nil {
		return Stats{}, err
	}
	st, err := r.Run(ctx, v, CatalogInput(db, exportID, v.Resource()), w)
	if err != nil {
		w.Abort()
		return st, err
	}
	w.SetProblems(st.Problems)
	if err := w.Close(); err != nil {
		return st, fmt.Errorf("materialise %s: %w", v.Name(), err)
	}
	return st, nil
}

// TableColumns returns a catalogue view table's columns.
func TableColumns(t *catalog.ViewTable) []Column {
	out := make([]Column, len(t.Columns))
	for i, c := range t.Columns {
		out[i] = Column{Name: c.Name, Type: c.Type, Collection: c.Collection}
	}
	return out
}

// CopyViewTable writes the rows of the catalogue's view table name to w, in
// the order they were built, and returns how many. It does not close w.
func CopyViewTable(ctx context.Context, db *catalog.DB, name string, w Writer) (int64, error) {
	var n int64
	err := db.ViewTableRows(ctx, name, func(row []any) error {
		n++
		return w.Write(row)
	})
	return n, err
}
