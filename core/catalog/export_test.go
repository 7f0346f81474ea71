package catalog_test

import (
	"errors"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"tranche.dev/tranche/core"
)

func TestDB_Exports(t *testing.T) {
	t.Run("CRUD", func(t *testing.T) {
		db := MustOpenDB(t)
		ctx := t.Context()
		e := &core.Export{
			FHIRBaseURL: "http://127.0.0.1/fhir", Scope: "system/*.rs",
			Request: core.ExportRequest{Level: core.LevelGroup, GroupID: "g1", Types: []string{"Patient", "Observation"},
				Since: "2024-01-01T00:00:00Z", TypeFilters: []string{"Observation?category=laboratory"}, POST: true},
			KickoffURL: "http://127.0.0.1/fhir/Group/g1/$export",
		}
		if err := db.CreateExport(ctx, e); err != nil {
			t.Fatal(err)
		}
		if e.ID == 0 || e.State != core.StateKickoff {
			t.Errorf("CreateExport set ID %d, State %q; want an ID and kickoff", e.ID, e.State)
		}
		e.StatusURL, e.State, e.Progress = "http://127.0.0.1/jobs/1", core.StatePolling, "50%"
		if err := db.UpdateExport(ctx, e); err != nil {
			t.Fatal(err)
		}
		e.State, e.TransactionTime, e.Manifest = core.StateDownloading, "2025-05-05T10:00:00.123+02:00", []byte(`{"output":[]}`)
		if err := db.UpdateExport(ctx, e); err != nil {
			t.Fatal(err)
		}
		got, err := db.FindExport(ctx, e.ID)
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(e, got); diff != "" {
			t.Errorf("FindExport() (-want +got):\n%s", diff)
		}
		got, err = db.FindExportByStatusURL(ctx, "http://127.0.0.1/jobs/1")
		if err != nil || got.ID != e.ID {
			t.Errorf("FindExportByStatusURL() = %v, %v; want export %d", got, err, e.ID)
		}
		if _, err := db.FindExportByStatusURL(ctx, "http://127.0.0.1/jobs/2"); !errors.Is(err, core.ErrNotFound) {
			t.Errorf("FindExportByStatusURL(unknown) = %v, want core.ErrNotFound", err)
		}
		if err := db.UpdateExport(ctx, &core.Export{ID: 42}); !errors.Is(err, core.ErrNotFound) {
			t.Errorf("UpdateExport(unknown) = %v, want core.ErrNotFound", err)
		}
	})

	t.Run("UnfinishedAndNewestFirst", func(t *testing.T) {
		db := MustOpenDB(t)
		ctx := t.Context()
		var ids []int64
		for _, s := range []core.ExportState{core.StateComplete, core.StatePolling, core.StateFailed,
			core.StateDownloading, core.StateCancelled, core.StateExpired, core.StateKickoff} {
			e := &core.Export{State: s, Request: core.ExportRequest{Level: core.LevelSystem}, FinishedAt: time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)}
			if err := db.CreateExport(ctx, e); err != nil {
				t.Fatal(err)
			}
			ids = append(ids, e.ID)
		}
		un, err := db.UnfinishedExports(ctx)
		if err != nil {
			t.Fatal(err)
		}
		var got []int64
		for _, e := range un {
			got = append(got, e.ID)
		}
		if diff := cmp.Diff([]int64{ids[1], ids[3], ids[6]}, got); diff != "" {
			t.Errorf("UnfinishedExports() (-want +got):\n%s", diff)
		}
		es, err := db.FindExports(ctx, 2)
		if err != nil {
			t.Fatal(err)
		}
		if len(es) != 2 || es[0].ID != ids[6] || es[1].ID != ids[5] {
			t.Errorf("FindExports(2) = %d exports, want the two newest", len(es))
		}
	})

	t.Run("LastTransactionTime", func(t *testing.T) {
		db := MustOpenDB(t)
		ctx := t.Context()
		reg := &core.Registration{Name: "r"}
		if err := db.CreateRegistration(ctx, reg); err != nil {
			t.Fatal(err)
		}
		base := core.Export{RegistrationID: reg.ID, FHIRBaseURL: "http://a/fhir", Scope: "system/*.rs",
			Request: core.ExportRequest{Level: core.LevelPatient, Types: []string{"Patient", "Condition"}}}
		add := func(mod func(*core.Export)) {
			e := base
			e.State = core.StateComplete
			mod(&e)
			if err := db.CreateExport(ctx, &e); err != nil {
				t.Fatal(err)
			}
		}
		// Candidates, newest transaction time last by ID but not by time.
		add(func(e *core.Export) { e.TransactionTime = "2025-03-01T00:00:00Z" })
		add(func(e *core.Export) { e.TransactionTime = "2025-03-01T02:00:00+01:00" }) // 01:00Z: newest
		add(func(e *core.Export) { e.TransactionTime = "2025-02-01T00:00:00Z" })
		// Not candidates: each differs in one way.
		add(func(e *core.Export) { e.TransactionTime = "2026-01-01T00:00:00Z"; e.State = core.StateFailed })
		add(func(e *core.Export) { e.TransactionTime = "2026-01-01T00:00:01Z"; e.Request.Level = core.LevelSystem })
		add(func(e *core.Export) {
			e.TransactionTime = "2026-01-01T00:00:02Z"
			e.Request.Types = []string{"Patient"}
		})
		add(func(e *core.Export) { e.TransactionTime = "2026-01-01T00:00:03Z"; e.RegistrationID = 0 })
		add(func(e *core.Export) { e.TransactionTime = "2026-01-01T00:00:04Z"; e.Scope = "system/Patient.rs" })

		e := base
		e.Request.Types = []string{"Condition", "Patient"} // order does not matter
		e.Request.Since = "auto"
		got, err := db.LastTransactionTime(ctx, &e)
		if err != nil {
			t.Fatal(err)
		}
		if want := "2025-03-01T02:00:00+01:00"; got != want {
			t.Errorf("LastTransactionTime() = %q, want %q", got, want)
		}

		adhoc := base
		adhoc.RegistrationID = 0
		if got, err := db.LastTransactionTime(ctx, &adhoc); err != nil || got != "2026-01-01T00:00:03Z" {
			t.Errorf("LastTransactionTime(ad hoc) = %q, %v; want the ad hoc export's time", got, err)
		}
		adhoc.FHIRBaseURL = "http://b/fhir"
		if got, err := db.LastTransactionTime(ctx, &adhoc); !errors.Is(err, core.ErrNotFound) || got != "" {
			t.Errorf("LastTransactionTime(other server) = %q, %v; want \"\", core.ErrNotFound", got, err)
		}
	})
}
