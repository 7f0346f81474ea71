package catalog_test

import (
	"errors"
	"testing"

	"tranche.dev/tranche/core"
)

func TestSinkSettings(t *testing.T) {
	db := MustOpenDB(t)
	ctx := t.Context()
	e := &core.Export{FHIRBaseURL: "http://127.0.0.1:1/fhir", Request: core.ExportRequest{Level: core.LevelSystem}}
	if err := db.CreateExport(ctx, e); err != nil {
		t.Fatal(err)
	}
	if got, err := db.ExportSink(ctx, e.ID); err != nil || got != "" {
		t.Fatalf("ExportSink of a new export = %q, %v; want \"\"", got, err)
	}
	if err := db.SetExportSink(ctx, e.ID, "s3://lake/fhir"); err != nil {
		t.Fatal(err)
	}
	// UpdateExport keeps the sink.
	e.State = core.StateDownloading
	if err := db.UpdateExport(ctx, e); err != nil {
		t.Fatal(err)
	}
	if got, err := db.ExportSink(ctx, e.ID); err != nil || got != "s3://lake/fhir" {
		t.Fatalf("ExportSink = %q, %v; want s3://lake/fhir", got, err)
	}
	if got, err := db.FindExport(ctx, e.ID); err != nil || got.Sink != "s3://lake/fhir" {
		t.Fatalf("FindExport().Sink = %+v, %v; want s3://lake/fhir", got, err)
	}
	if _, err := db.ExportSink(ctx, e.ID+1); !errors.Is(err, core.ErrNotFound) {
		t.Fatalf("ExportSink of no export: %v, want ErrNotFound", err)
	}
	if err := db.SetExportSink(ctx, e.ID+1, "s3://x"); !errors.Is(err, core.ErrNotFound) {
		t.Fatalf("SetExportSink of no export: %v, want ErrNotFound", err)
	}
	// A registration's sink is one of its fields, created and updated with
	// the rest.
	r := &core.Registration{Name: "ehr", FHIRBaseURL: "http://127.0.0.1:1/fhir", Sink: "s3://lake/ehr"}
	if err := db.CreateRegistration(ctx, r); err != nil {
		t.Fatal(err)
	}
	if got, err := db.FindRegistration(ctx, r.ID); err != nil || got.Sink != "s3://lake/ehr" {
		t.Fatalf("FindRegistration().Sink = %+v, %v; want s3://lake/ehr", got, err)
	}
	r.Sink = ""
	if err := db.UpdateRegistration(ctx, r); err != nil {
		t.Fatal(err)
	}
	if got, err := db.FindRegistration(ctx, r.ID); err != nil || got.Sink != "" {
		t.Fatalf("FindRegistration().Sink after clearing = %+v, %v; want none", got, err)
	}
}

func TestExportSinkViews(t *testing.T) {
	db := MustOpenDB(t)
	ctx := t.Context()
	e := &core.Export{FHIRBaseURL: "http://127.0.0.1:1/fhir", Request: core.ExportRequest{Level: core.LevelSystem}}
	if err := db.CreateExport(ctx, e); err != nil {
		t.Fatal(err)
	}
	// An export whose views were never recorded says so.
	if defs, recorded, err := db.ExportSinkViews(ctx, e.ID); err != nil || recorded || len(defs) != 0 {
		t.Fatalf("ExportSinkViews of a new export = %q, %v, %v; want none, not recorded", defs, recorded, err)
	}
	// None is recorded as a choice.
	if err := db.SetExportSinkViews(ctx, e.ID, nil); err != nil {
		t.Fatal(err)
	}
	if defs, recorded, err := db.ExportSinkViews(ctx, e.ID); err != nil || !recorded || len(defs) != 0 {
		t.Fatalf("ExportSinkViews after recording none = %q, %v, %v; want none, recorded", defs, recorded, err)
	}
	want := [][]byte{[]byte(`{"resourceType":"ViewDefinition","name":"a"}`), []byte(`{"resourceType":"ViewDefinition","name":"b"}`)}
	if err := db.SetExportSinkViews(ctx, e.ID, want); err != nil {
		t.Fatal(err)
	}
	// UpdateExport keeps them.
	e.State = core.StateDownloading
	if err := db.UpdateExport(ctx, e); err != nil {
		t.Fatal(err)
	}
	got, recorded, err := db.ExportSinkViews(ctx, e.ID)
	if err != nil || !recorded {
		t.Fatalf("ExportSinkViews = %v, %v; want recorded", recorded, err)
	}
	if len(got) != len(want) {
		t.Fatalf("ExportSinkViews = %q, want %q", got, want)
	}
	for i := range want {
		if string(got[i]) != string(want[i]) {
			t.Errorf("view %d = %s, want %s", i, got[i], want[i])
		}
	}
	if err := db.SetExportSinkViews(ctx, e.ID, [][]byte{[]byte("{")}); err == nil {
		t.Error("SetExportSinkViews took a view that is not JSON")
	}
	if _, _, err := db.ExportSinkViews(ctx, e.ID+1); !errors.Is(err, core.ErrNotFound) {
		t.Errorf("ExportSinkViews of no export: %v, want ErrNotFound", err)
	}
	if err := db.SetExportSinkViews(ctx, e.ID+1, nil); !errors.Is(err, core.ErrNotFound) {
		t.Errorf("SetExportSinkViews of no export: %v, want ErrNotFound", err)
	}
}
