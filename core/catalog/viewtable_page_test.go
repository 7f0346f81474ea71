package catalog_test

import (
	"reflect"
	"testing"

	"tranche.dev/tranche/core"
	"tranche.dev/tranche/core/catalog"
)

func TestDB_ViewTablePage(t *testing.T) {
	db := MustOpenDB(t)
	ctx := t.Context()
	e := MustCreateExport(t, db, "2025-01-01T00:00:00Z")
	MustAppend(t, db, MustAddFile(t, db, e.ID, core.KindOutput, "Patient"), patient("a", "Ash"))
	w, err := db.CreateViewTable(ctx, catalog.ViewTable{Name: "nums", Resource: "Patient", ViewJSON: []byte(`{}`),
		Columns: []catalog.TableColumn{{Name: "n", Type: "integer"}}})
	if err != nil {
		t.Fatal(err)
	}
	for i := range 25 {
		if err := w.Write([]any{int64(i)}); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		offset, limit int
		want          []int64
	}{
		{0, 3, []int64{0, 1, 2}},
		{10, 3, []int64{10, 11, 12}},
		{23, 5, []int64{23, 24}},
		{30, 5, nil},
	} {
		rows, total, err := db.ViewTablePage(ctx, "nums", tt.offset, tt.limit)
		if err != nil {
			t.Fatalf("ViewTablePage(%d, %d): %v", tt.offset, tt.limit, err)
		}
		var got []int64
		for _, r := range rows {
			got = append(got, r[0].(int64))
		}
		if !reflect.DeepEqual(got, tt.want) || total != 25 {
			t.Errorf("ViewTablePage(%d, %d) = %v, %d rows; want %v, 25", tt.offset, tt.limit, got, total, tt.want)
		}
	}
	if _, _, err := db.ViewTablePage(ctx, "missing", 0, 3); err == nil {
		t.Errorf("ViewTablePage(missing) = nil error, want not found")
	}
}
