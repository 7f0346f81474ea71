package catalog_test

import (
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"

	"tranche.dev/tranche/core"
	"tranche.dev/tranche/core/catalog"
)

func TestDB_EachResource(t *testing.T) {
	db := MustOpenDB(t)
	e1 := MustCreateExport(t, db, "2025-01-01T00:00:00Z")
	f := MustAddFile(t, db, e1.ID, core.KindOutput, "Patient")
	MustAppend(t, db, f, patient("a", "Ash"), patient("b", "Birch"), patient("c", "Cedar"))
	e2 := MustCreateExport(t, db, "2025-02-01T00:00:00Z")
	MustAppendDeletes(t, db, MustAddFile(t, db, e2.ID, core.KindDeleted, ""), "Patient/b")

	keys := func(f catalog.ResourceFilter) []string {
		var got []string
		err := db.EachResource(t.Context(), f, func(key string, raw []byte) error {
			if !json.Valid(raw) {
				t.Errorf("%s: invalid JSON %q", key, raw)
			}
			got = append(got, key)
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		return got
	}
	if got, want := keys(catalog.ResourceFilter{Type: "Patient"}), []string{"Patient/a", "Patient/c"}; !reflect.DeepEqual(got, want) {
		t.Errorf("latest view = %q, want %q (the tombstone hides b)", got, want)
	}
	if got, want := keys(catalog.ResourceFilter{ExportID: e1.ID, Type: "Patient"}), []string{"Patient/a", "Patient/b", "Patient/c"}; !reflect.DeepEqual(got, want) {
		t.Errorf("export %d = %q, want %q", e1.ID, got, want)
	}
	stop := errors.New("stop")
	if err := db.EachResource(t.Context(), catalog.ResourceFilter{}, func(string, []byte) error { return stop }); !errors.Is(err, stop) {
		t.Errorf("EachResource with a failing fn = %v, want its error", err)
	}
}

func TestDB_ViewTable(t *testing.T) {
	db := MustOpenDB(t)
	ctx := t.Context()
	e1 := MustCreateExport(t, db, "2025-01-01T00:00:00Z")
	MustAppend(t, db, MustAddFile(t, db, e1.ID, core.KindOutput, "Patient"), patient("a", "Ash"))
	cols := []catalog.TableColumn{
		{Name: "id", Type: "id"}, {Name: "n", Type: "integer"}, {Name: "ok", Type: "boolean"},
		{Name: "value", Type: "decimal"}, {Name: "names", Type: "string", Collection: true},
	}
	rows := [][]any{
		{"a", int64(3), true, json.Number("1.5"), []any{"Ann", "B"}},
		{nil, nil, false, json.Number("-20"), []any{}},
		{"c", int64(-1), nil, nil, nil},
	}
	build := func(name string, rows [][]any) error {
		w, err := db.CreateViewTable(ctx, catalog.ViewTable{Name: name, Resource: "Patient", ViewVersion: "1",
			ViewSHA256: "abc", ViewJSON: []byte(`{}`), Columns: cols})
		if err != nil {
			return err
		}
		for _, r := range rows {
			if err := w.Write(r); err != nil {
				w.Abort()
				return err
			}
		}
		w.SetProblems(2)
		return w.Close()
	}
	if err := build("patient_view", rows); err != nil {
		t.Fatal(err)
	}

	var got [][]any
	if err := db.ViewTableRows(ctx, "patient_view", func(r []any) error { got = append(got, r); return nil }); err != nil {
		t.Fatal(err)
	}
	want := [][]any{
		{"a", int64(3), true, json.Number("1.5"), []any{"Ann", "B"}},
		{nil, nil, false, json.Number("-20"), []any{}},
		{"c", int64(-1), nil, nil, nil},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("ViewTableRows = %#v\nwant %#v", got, want)
	}

	vt, err := db.FindViewTable(ctx, "patient_view")
	if err != nil {
		t.Fatal(err)
	}
	if vt.Rows != 3 || vt.Problems != 2 || vt.ExportID != 0 || !reflect.DeepEqual(vt.Exports, []int64{e1.ID}) ||
		vt.ThroughExport != e1.ID || vt.Stale() || vt.ViewVersion != "1" {
		t.Errorf("view table = %+v; want 3 rows, 2 problems, exports [%d] through %d, not stale, version 1", vt, e1.ID, e1.ID)
	}

	// A newer export with Patients makes it stale; rebuilding freshens it.
	e2 := MustCreateExport(t, db, "2025-02-01T00:00:00Z")
	MustAppend(t, db, MustAddFile(t, db, e2.ID, core.KindOutput, "Patient"), patient("b", "Birch"))
	if vt, err = db.FindViewTable(ctx, "patient_view"); err != nil {
		t.Fatal(err)
	} else if vt.NewerExport != e2.ID {
		t.Errorf("after export %d: NewerExport = %d, want %d", e2.ID, vt.NewerExport, e2.ID)
	}
	if err := build("patient_view", rows[:1]); err != nil {
		t.Fatal(err)
	}
	ts, err := db.ViewTables(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(ts) != 1 || ts[0].Stale() || ts[0].Rows != 1 || !reflect.DeepEqual(ts[0].Exports, []int64{e1.ID, e2.ID}) {
		t.Errorf("after a rebuild: %+v; want one fresh table, 1 row, exports [%d %d]", ts, e1.ID, e2.ID)
	}

	// A failed build leaves the previous table alone.
	if err := build("patient_view", [][]any{{"x", "not an int?", 1, 2}}); err == nil {
		t.Error("a row of the wrong width was accepted")
	}
	n := 0
	if err := db.ViewTableRows(ctx, "patient_view", func([]any) error { n++; return nil }); err != nil || n != 1 {
		t.Errorf("after a failed build: %d rows, err %v; want the previous 1", n, err)
	}

	for _, name := range []string{"resources", "latest", "1abc", "sqlite_x", "a-b", ""} {
		if err := build(name, rows); err == nil || !strings.Contains(err.Error(), "view name") {
			t.Errorf("CreateViewTable(%q) = %v, want a refusal naming the view name", name, err)
		}
	}
	if _, err := db.FindViewTable(ctx, "nope"); !errors.Is(err, core.ErrNotFound) {
		t.Errorf("FindViewTable(nope) = %v, want ErrNotFound", err)
	}
	if err := db.DropViewTable(ctx, "patient_view"); err != nil {
		t.Fatal(err)
	}
	if ts, _ := db.ViewTables(ctx); len(ts) != 0 {
		t.Errorf("after DropViewTable: %d tables, want 0", len(ts))
	}
}
