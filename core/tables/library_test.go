package tables_test

import (
	"errors"
	"strings"
	"testing"

	"tranche.dev/tranche/core"
	"tranche.dev/tranche/core/catalog"
	"tranche.dev/tranche/core/tables"
	"tranche.dev/tranche/core/viewlib"
)

// patientsView is a user's view of Patient ids, named name.
func patientsView(name, extra string) []byte {
	return []byte(`{"resourceType": "ViewDefinition", "name": "` + name + `", "resource": "Patient",` + extra +
		` "select": [{"column": [{"name": "id", "path": "getResourceKey()"}]}]}`)
}

func mustMaterialise(t *testing.T, db *catalog.DB, def []byte) {
	t.Helper()
	c, err := tables.Compile(def)
	if err != nil {
		t.Fatal(err)
	}
	var r tables.Runner
	if _, err := r.Materialise(t.Context(), db, c, 0); err != nil {
		t.Fatal(err)
	}
}

func TestLibrary(t *testing.T) {
	db := mustSynthCatalogue(t, 2, "Patient")
	ctx := t.Context()
	demo, _ := viewlib.Lookup("patient_demographics")
	mustMaterialise(t, db, demo.JSON)
	// Saved, then run as saved: its table is fresh and of this version.
	mine := patientsView("mine", ` "description": "my patients",`)
	if _, created, err := tables.SaveView(ctx, db, mine); err != nil || !created {
		t.Fatalf("SaveView(mine) = %v, %v", created, err)
	}
	mustMaterialise(t, db, mine)
	// Saved, run, then changed and saved again: its table is of another version.
	changed := patientsView("changed", "")
	if _, _, err := tables.SaveView(ctx, db, changed); err != nil {
		t.Fatal(err)
	}
	mustMaterialise(t, db, changed)
	if _, created, err := tables.SaveView(ctx, db, patientsView("changed", ` "title": "Changed",`)); err != nil || created {
		t.Fatalf("SaveView(changed again) = %v, %v; want an update", created, err)
	}
	// Saved, never run.
	if _, _, err := tables.SaveView(ctx, db, patientsView("unrun", "")); err != nil {
		t.Fatal(err)
	}
	// Run, never saved.
	mustMaterialise(t, db, patientsView("adhoc", ""))

	lib, err := tables.Library(ctx, db)
	if err != nil {
		t.Fatal(err)
	}
	type got struct {
		name               string
		builtIn, saved     bool
		table, otherVer    bool
		title, description string
		columns            int
	}
	byName := map[string]got{}
	var order []string
	for _, e := range lib {
		order = append(order, e.Name)
		byName[e.Name] = got{e.Name, e.BuiltIn, e.Saved != nil, e.Table != nil, e.TableOtherVersion, e.Title, e.Description, len(e.Columns)}
	}
	if n := len(viewlib.All()); len(lib) != n+4 || strings.Join(order[n:], ",") != "changed,mine,unrun,adhoc" {
		t.Fatalf("library = %v, want the %d built-in views, then changed, mine, unrun (saved), adhoc (a table only)", order, n)
	}
	for _, want := range []got{
		{name: "patient_demographics", builtIn: true, table: true, title: demo.Title, description: demo.Description, columns: byName["patient_demographics"].columns},
		{name: "blood_pressures", builtIn: true, title: "Blood pressures", description: byName["blood_pressures"].description, columns: byName["blood_pressures"].columns},
		{name: "mine", saved: true, table: true, description: "my patients", columns: 1},
		{name: "changed", saved: true, table: true, otherVer: true, title: "Changed", columns: 1},
		{name: "unrun", saved: true, columns: 1},
		{name: "adhoc", table: true, columns: 1},
	} {
		if g := byName[want.name]; g != want {
			t.Errorf("library entry %s = %+v, want %+v", want.name, g, want)
		}
	}
	if byName["blood_pressures"].columns == 0 || byName["patient_demographics"].columns == 0 {
		t.Errorf("built-in views listed without their columns: %+v", byName)
	}
}

func TestSaveView_Refused(t *testing.T) {
	db := mustSynthCatalogue(t, 1, "Patient")
	for _, tt := range []struct {
		name string
		def  string
		want string
	}{
		{"not a view", `{"resourceType": "Patient"}`, ""},
		{"no name", `{"resourceType": "ViewDefinition", "resource": "Patient", "select": [{"column": [{"name": "id", "path": "id"}]}]}`, "needs a name"},
		{"a built-in name", string(patientsView("Blood_Pressures", "")), "built-in view"},
		{"not a table name", string(patientsView("my view", "")), ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, _, err := tables.SaveView(t.Context(), db, []byte(tt.def))
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("SaveView(%s) = %v, want an error saying %q", tt.def, err, tt.want)
			}
		})
	}
	if ds, err := db.ViewDefs(t.Context()); err != nil || len(ds) != 0 {
		t.Errorf("ViewDefs = %v, %v; want none saved", ds, err)
	}
}

func TestRenameView(t *testing.T) {
	db := mustSynthCatalogue(t, 1, "Patient")
	ctx := t.Context()
	def := []byte("{\"resourceType\":\"ViewDefinition\",\n \"name\" :  \"old\", \"resource\":\"Patient\", \"x\":{\"name\":\"inner\"},\n" +
		" \"select\":[{\"column\":[{\"name\":\"id\",\"path\":\"id\"}]}]}")
	if _, _, err := tables.SaveView(ctx, db, def); err != nil {
		t.Fatal(err)
	}
	if _, _, err := tables.SaveView(ctx, db, patientsView("other", "")); err != nil {
		t.Fatal(err)
	}
	d, err := tables.RenameView(ctx, db, "old", "new_name")
	if err != nil {
		t.Fatalf("RenameView = %v", err)
	}
	want := strings.Replace(string(def), `"old"`, `"new_name"`, 1)
	if got, _ := db.FindViewDef(ctx, "new_name"); got == nil || string(got.JSON) != want || string(d.JSON) != want {
		t.Errorf("renamed JSON = %s, want only the name changed:\n%s", got.JSON, want)
	}
	for _, tt := range []struct {
		old, new string
		want     error
	}{
		{"new_name", "other", catalog.ErrNameTaken},
		{"gone", "x", core.ErrNotFound},
		{"new_name", "conditions", nil},
		{"new_name", "", nil},
	} {
		if _, err := tables.RenameView(ctx, db, tt.old, tt.new); err == nil || tt.want != nil && !errors.Is(err, tt.want) {
			t.Errorf("RenameView(%s, %s) = %v, want an error (%v)", tt.old, tt.new, err, tt.want)
		}
	}
}
