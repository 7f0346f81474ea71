package tables

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"tranche.dev/tranche/core/catalog"
	"tranche.dev/tranche/core/viewlib"
)

// Entry is one view of the library: a built-in view (viewlib), a view the
// user saved in the catalogue, or a table in the catalogue whose view is
// neither (made by a run, never saved).
type Entry struct {
	Name        string // the view's name, which names its table
	Title       string
	Description string
	Resource    string
	BuiltIn     bool
	Saved       *catalog.ViewDef // the saved view; nil for the others
	Columns     []Column
	JSON        []byte
	// Table is the view's table in the catalogue; nil when there is none.
	Table *catalog.ViewTable
	// TableOtherVersion reports that a saved view's table was built from
	// another version of it (its JSON has changed since).
	TableOtherVersion bool
}

// Library lists the built-in views by name, then the saved views by name,
// then the tables that neither made, each with its table when there is
// one. A built-in view's table is the one built from exactly its JSON; a
// saved view's, the table of its name.
func Library(ctx context.Context, db *catalog.DB) ([]Entry, error) {
	ts, err := db.ViewTables(ctx)
	if err != nil {
		return nil, fmt.Errorf("library: %w", err)
	}
	saved, err := db.ViewDefs(ctx)
	if err != nil {
		return nil, fmt.Errorf("library: %w", err)
	}
	tables := map[string]*catalog.ViewTable{}
	for _, t := range ts {
		tables[strings.ToLower(t.Name)] = t
	}
	claimed := map[*catalog.ViewTable]bool{}
	var out []Entry
	for _, v := range viewlib.All() {
		c, err := Compile(v.JSON)
		if err != nil {
			return nil, fmt.Errorf("library: built-in view %s: %w", v.Name, err)
		}
		e := Entry{Name: v.Name, Title: v.Title, Description: v.Description, Resource: v.Resource,
			BuiltIn: true, Columns: c.Columns(), JSON: v.JSON}
		if t := tables[strings.ToLower(v.Name)]; t != nil && bytes.Equal(t.ViewJSON, v.JSON) {
			e.Table, claimed[t] = t, true
		}
		out = append(out, e)
	}
	for _, d := range saved {
		e := Entry{Name: d.Name, Resource: d.Resource, Saved: d, JSON: d.JSON}
		e.Title, e.Description = titleOf(d.JSON)
		if c, err := Compile(d.JSON); err == nil {
			e.Columns = c.Columns()
		} // else saved by a version with other rules: listed, without columns
		if t := tables[strings.ToLower(d.Name)]; t != nil && !claimed[t] {
			e.Table, claimed[t] = t, true
			e.TableOtherVersion = !bytes.Equal(t.ViewJSON, d.JSON)
		}
		out = append(out, e)
	}
	for _, t := range ts {
		if claimed[t] {
			continue
		}
		e := Entry{Name: t.Name, Resource: t.Resource, Columns: TableColumns(t), JSON: t.ViewJSON, Table: t}
		e.Title, e.Description = titleOf(t.ViewJSON)
		out = append(out, e)
	}
	return out, nil
}

// titleOf reads a ViewDefinition's title and description, if it has them.
func titleOf(def []byte) (title, description string) {
	var m struct{ Title, Description string }
	_ = json.Unmarshal(def, &m) // a view without them has none
	return m.Title, m.Description
}

// SaveView validates a ViewDefinition and saves it in the catalogue under
// its name, exactly as given: a new view, or a new version of the saved
// view of that name. It reports whether the view is new. A saved view
// may not take a built-in view's name.
func SaveView(ctx context.Context, db *catalog.DB, def []byte) (*catalog.ViewDef, bool, error) {
	c, err := Compile(def)
	if err != nil {
		return nil, false, err
	}
	if err := checkSavedName(c.Name()); err != nil {
		return nil, false, err
	}
	d := &catalog.ViewDef{Name: c.Name(), Resource: c.Resource(), JSON: def}
	created, err := db.SaveViewDef(ctx, d)
	if err != nil {
		return nil, false, err
	}
	return d, created, nil
}

// RenameView renames the saved view old to name, setting the name element
// of its JSON and keeping the rest of it byte for byte. A table built
// from it keeps its name.
func RenameView(ctx context.Context, db *catalog.DB, old, name string) (*catalog.ViewDef, error) {
	if err := checkSavedName(name); err != nil {
		return nil, err
	}
	d, err := db.FindViewDef(ctx, old)
	if err != nil {
		return nil, err
	}
	def, err := renamed(d.JSON, name)
	if err != nil {
		return nil, fmt.Errorf("rename view %s: %w", old, err)
	}
	c, err := Compile(def)
	if err != nil {
		return nil, fmt.Errorf("rename view %s: %w", old, err)
	}
	nd := &catalog.ViewDef{Name: c.Name(), Resource: c.Resource(), JSON: def, Created: d.Created}
	if err := db.RenameViewDef(ctx, d.Name, nd); err != nil {
		return nil, err
	}
	return nd, nil
}

// checkSavedName refuses a missing name, and the name of a built-in view,
// which the library would show twice and whose table both would make.
func checkSavedName(name string) error {
	if name == "" {
		return errors.New("the view needs a name to be saved (ViewDefinition.name, which names its table)")
	}
	for _, v := range viewlib.All() {
		if strings.EqualFold(v.Name, name) {
			return fmt.Errorf("%s is the name of a built-in view: give yours another name", name)
		}
	}
	return nil
}

// renamed returns def with the value of its top-level name element
// replaced by name and every other byte kept. def must be a JSON object
// with a name.
func renamed(def []byte, name string) ([]byte, error) {
	d := json.NewDecoder(bytes.NewReader(def))
	if tok, err := d.Token(); err != nil || tok != json.Delim('{') {
		return nil, errors.New("a ViewDefinition is a JSON object")
	}
	type span struct{ from, to int64 }
	var spans []span
	for d.More() {
		tok, err := d.Token()
		if err != nil {
			return nil, err
		}
		key, _ := tok.(string)
		afterKey := d.InputOffset()
		var v json.RawMessage
		if err := d.Decode(&v); err != nil {
			return nil, err
		}
		if key != "name" {
			continue
		}
		// The value starts after the colon and any white space.
		from := afterKey + int64(bytes.IndexByte(def[afterKey:], ':')) + 1
		for from < int64(len(def)) && strings.IndexByte(" \t\r\n", def[from]) >= 0 {
			from++
		}
		spans = append(spans, span{from, d.InputOffset()})
	}
	if tok, err := d.Token(); err != nil || tok != json.Delim('}') {
		return nil, errors.New("a ViewDefinition is a JSON object")
	}
	if len(spans) == 0 {
		return nil, errors.New("the view has no name element to change")
	}
	quoted, err := json.Marshal(name)
	if err != nil {
		return nil, err
	}
	out := append([]byte{}, def...)
	for i := len(spans) - 1; i >= 0; i-- {
		s := spans[i]
		out = append(out[:s.from], append(append([]byte{}, quoted...), out[s.to:]...)...)
	}
	return out, nil
}
