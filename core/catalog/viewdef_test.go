package catalog_test

import (
	"errors"
	"testing"
	"time"

	"tranche.dev/tranche/core"
	"tranche.dev/tranche/core/catalog"
)

func TestDB_ViewDefs(t *testing.T) {
	db := MustOpenDB(t)
	ctx := t.Context()
	clock := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	db.Now = func() time.Time { return clock }

	// Saved exactly as given: spacing, key order and unknown elements.
	raw := []byte("{\"resourceType\": \"ViewDefinition\",\n  \"name\":\"bp\", \"resource\":\"Observation\", \"x-ours\": [1]}")
	d := &catalog.ViewDef{Name: "bp", Resource: "Observation", JSON: raw}
	if created, err := db.SaveViewDef(ctx, d); err != nil || !created {
		t.Fatalf("SaveViewDef(new) = %v, %v; want true, nil", created, err)
	}
	got, err := db.FindViewDef(ctx, "BP")
	if err != nil {
		t.Fatalf("FindViewDef(BP) = %v", err)
	}
	if string(got.JSON) != string(raw) || got.Resource != "Observation" || got.Name != "bp" ||
		!got.Created.Equal(clock) || !got.Updated.Equal(clock) {
		t.Errorf("FindViewDef = %+v, want the JSON as saved, created and updated %v", got, clock)
	}

	// Saving again under the name in another case replaces it, keeps
	// the created time and takes the new case.
	clock = clock.Add(time.Hour)
	raw2 := []byte(`{"name":"BP","resource":"Observation"}`)
	if created, err := db.SaveViewDef(ctx, &catalog.ViewDef{Name: "BP", Resource: "Observation", JSON: raw2}); err != nil || created {
		t.Fatalf("SaveViewDef(again) = %v, %v; want false, nil", created, err)
	}
	ds, err := db.ViewDefs(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(ds) != 1 || ds[0].Name != "BP" || string(ds[0].JSON) != string(raw2) ||
		!ds[0].Created.Equal(clock.Add(-time.Hour)) || !ds[0].Updated.Equal(clock) {
		t.Fatalf("ViewDefs = %+v, want one, BP, created an hour before it was updated", ds)
	}

	if _, err := db.SaveViewDef(ctx, &catalog.ViewDef{Name: "other", Resource: "Patient", JSON: []byte(`{}`)}); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		name     string
		old, new string
		want     error
	}{
		{"taken", "bp", "Other", catalog.ErrNameTaken},
		{"missing", "nope", "fine", core.ErrNotFound},
		{"case only", "bp", "Bp", nil},
		{"ok", "Bp", "blood_pressures", nil},
	} {
		t.Run(tt.name, func(t *testing.T) {
			err := db.RenameViewDef(ctx, tt.old, &catalog.ViewDef{Name: tt.new, Resource: "Observation", JSON: []byte(`{"name":"x"}`)})
			if !errors.Is(err, tt.want) || (tt.want == nil) != (err == nil) {
				t.Fatalf("RenameViewDef(%s, %s) = %v, want %v", tt.old, tt.new, err, tt.want)
			}
			if tt.want != nil {
				return
			}
			if d, err := db.FindViewDef(ctx, tt.new); err != nil || d.Name != tt.new {
				t.Errorf("after rename: FindViewDef(%s) = %+v, %v", tt.new, d, err)
			}
		})
	}
	if _, err := db.FindViewDef(ctx, "bp"); !errors.Is(err, core.ErrNotFound) {
		t.Errorf("FindViewDef(old name) = %v, want not found", err)
	}

	if err := db.DeleteViewDef(ctx, "BLOOD_PRESSURES"); err != nil {
		t.Fatalf("DeleteViewDef = %v", err)
	}
	if err := db.DeleteViewDef(ctx, "blood_pressures"); !errors.Is(err, core.ErrNotFound) {
		t.Errorf("DeleteViewDef(again) = %v, want not found", err)
	}
	if ds, _ := db.ViewDefs(ctx); len(ds) != 1 || ds[0].Name != "other" {
		t.Errorf("ViewDefs after delete = %+v, want only other", ds)
	}
}

func TestDB_SaveViewDefInvalid(t *testing.T) {
	db := MustOpenDB(t)
	for _, d := range []catalog.ViewDef{
		{Name: "", Resource: "Patient", JSON: []byte(`{}`)},
		{Name: "1abc", Resource: "Patient", JSON: []byte(`{}`)},
		{Name: "a b", Resource: "Patient", JSON: []byte(`{}`)},
		{Name: "ok", Resource: "", JSON: []byte(`{}`)},
		{Name: "ok", Resource: "Patient"},
	} {
		if _, err := db.SaveViewDef(t.Context(), &d); err == nil {
			t.Errorf("SaveViewDef(%q, %q, %q) = nil, want an error", d.Name, d.Resource, d.JSON)
		}
	}
	if ds, err := db.ViewDefs(t.Context()); err != nil || len(ds) != 0 {
		t.Errorf("ViewDefs = %v, %v; want none saved", ds, err)
	}
}
