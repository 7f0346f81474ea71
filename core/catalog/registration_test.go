package catalog_test

import (
	"errors"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"tranche.dev/tranche/core"
	"tranche.dev/tranche/core/catalog"
)

func TestDB_Registrations(t *testing.T) {
	newReg := func(name string) *core.Registration {
		return &core.Registration{
			Name: name, FHIRBaseURL: "http://127.0.0.1:8080/fhir", TokenURL: "http://127.0.0.1:8080/token",
			ClientID: "client-" + name, Scopes: "system/*.rs", Alg: "ES384", KeyID: "kid-" + name,
			KeyRef: "registration/" + name, PublicJWKS: `{"keys":[]}`, JWKSURL: "https://example.org/jwks.json",
			Headers: map[string]string{"X-Tenant": "a", "X-Other": "b"}, MaxParallel: 3,
			PollMin: 1500 * time.Millisecond, PollMax: 2 * time.Minute,
		}
	}

	t.Run("CRUD", func(t *testing.T) {
		db := MustOpenDB(t)
		ctx := t.Context()
		zed, ann := newReg("zed"), newReg("ann")
		ann.Headers = nil
		for _, r := range []*core.Registration{zed, ann} {
			if err := db.CreateRegistration(ctx, r); err != nil {
				t.Fatalf("CreateRegistration(%q) = %v", r.Name, err)
			}
		}
		if zed.ID == 0 || zed.CreatedAt.IsZero() || !zed.UpdatedAt.Equal(zed.CreatedAt) {
			t.Errorf("CreateRegistration set ID %d, CreatedAt %v, UpdatedAt %v", zed.ID, zed.CreatedAt, zed.UpdatedAt)
		}

		got, err := db.FindRegistration(ctx, zed.ID)
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(zed, got); diff != "" {
			t.Errorf("FindRegistration() (-want +got):\n%s", diff)
		}
		got, err = db.FindRegistrationByName(ctx, "ann")
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(ann, got); diff != "" {
			t.Errorf("FindRegistrationByName() (-want +got):\n%s", diff)
		}

		zed.Name, zed.ClientID, zed.Headers = "bob", "new-client", map[string]string{"X-Tenant": "c"}
		if err := db.UpdateRegistration(ctx, zed); err != nil {
			t.Fatal(err)
		}
		all, err := db.FindRegistrations(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff([]*core.Registration{ann, zed}, all); diff != "" {
			t.Errorf("FindRegistrations() after update, by name (-want +got):\n%s", diff)
		}

		if err := db.DeleteRegistration(ctx, zed.ID); err != nil {
			t.Fatal(err)
		}
		if _, err := db.FindRegistration(ctx, zed.ID); !errors.Is(err, core.ErrNotFound) {
			t.Errorf("FindRegistration(deleted) = %v, want core.ErrNotFound", err)
		}
	})

	t.Run("ErrNameTaken", func(t *testing.T) {
		db := MustOpenDB(t)
		if err := db.CreateRegistration(t.Context(), newReg("dup")); err != nil {
			t.Fatal(err)
		}
		err := db.CreateRegistration(t.Context(), newReg("dup"))
		if !errors.Is(err, catalog.ErrNameTaken) {
			t.Fatalf("CreateRegistration(dup) = %v, want ErrNameTaken", err)
		}
		if got, want := err.Error(), `registration "dup": name already taken`; got != want {
			t.Errorf("error = %q, want %q", got, want)
		}
		other := newReg("other")
		if err := db.CreateRegistration(t.Context(), other); err != nil {
			t.Fatal(err)
		}
		other.Name = "dup"
		if err := db.UpdateRegistration(t.Context(), other); !errors.Is(err, catalog.ErrNameTaken) {
			t.Errorf("UpdateRegistration(rename to dup) = %v, want ErrNameTaken", err)
		}
	})

	t.Run("ErrNotFound", func(t *testing.T) {
		db := MustOpenDB(t)
		ctx := t.Context()
		missing := newReg("missing")
		missing.ID = 99
		for name, err := range map[string]error{
			"FindRegistration":       func() error { _, err := db.FindRegistration(ctx, 99); return err }(),
			"FindRegistrationByName": func() error { _, err := db.FindRegistrationByName(ctx, "nope"); return err }(),
			"UpdateRegistration":     db.UpdateRegistration(ctx, missing),
			"DeleteRegistration":     db.DeleteRegistration(ctx, 99),
		} {
			if !errors.Is(err, core.ErrNotFound) {
				t.Errorf("%s = %v, want core.ErrNotFound", name, err)
			}
		}
	})

	t.Run("ErrNameRequired", func(t *testing.T) {
		db := MustOpenDB(t)
		if err := db.CreateRegistration(t.Context(), &core.Registration{}); err == nil {
			t.Error("CreateRegistration(no name) = nil, want an error")
		}
	})

	t.Run("DeleteKeepsExports", func(t *testing.T) {
		db := MustOpenDB(t)
		r := newReg("gone")
		if err := db.CreateRegistration(t.Context(), r); err != nil {
			t.Fatal(err)
		}
		e := &core.Export{RegistrationID: r.ID, Request: core.ExportRequest{Level: core.LevelSystem}}
		if err := db.CreateExport(t.Context(), e); err != nil {
			t.Fatal(err)
		}
		if err := db.DeleteRegistration(t.Context(), r.ID); err != nil {
			t.Fatal(err)
		}
		got, err := db.FindExport(t.Context(), e.ID)
		if err != nil {
			t.Fatal(err)
		}
		if got.RegistrationID != 0 {
			t.Errorf("export RegistrationID = %d after the registration was deleted, want 0", got.RegistrationID)
		}
	})
}
