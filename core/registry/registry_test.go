package registry_test

import (
	"errors"
	"io"
	"log/slog"
	"path/filepath"
	"strings"
	"testing"

	"tranche.dev/tranche/core"
	"tranche.dev/tranche/core/catalog"
	"tranche.dev/tranche/core/demo"
	"tranche.dev/tranche/core/demo/demotest"
	"tranche.dev/tranche/core/keychain"
	"tranche.dev/tranche/core/registry"
	"tranche.dev/tranche/core/smart"
)

// newRegistry is a registry over a fresh catalogue whose "keychain" and key
// file are two passphrase-encrypted file stores (the real store code, no
// session bus needed).
func newRegistry(t *testing.T) (*registry.Registry, *catalog.DB) {
	t.Helper()
	discard := slog.New(slog.NewTextHandler(io.Discard, nil))
	dir := t.TempDir()
	db := catalog.NewDB(filepath.Join(dir, "tranche.db"))
	db.Logger = discard
	if err := db.Open(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	pass := []byte("correct horse battery staple tranche")
	chain := keychain.NewFileStore(filepath.Join(dir, "chain"), pass)
	file := keychain.NewFileStore(filepath.Join(dir, "keys"), pass)
	return &registry.Registry{
		Store:    db,
		Keychain: func() (keychain.Keys, error) { return chain, nil },
		FileKeys: func(bool) (keychain.Keys, error) { return file, nil },
		Logger:   discard,
	}, db
}

func TestRegistry_ValidatesBeforeSaving(t *testing.T) {
	r, db := newRegistry(t)
	ctx := t.Context()
	bad := &core.Registration{Name: "County", FHIRBaseURL: "https://ehr.example/fhir", TokenURL: "http://192.0.2.1/token"}
	if err := r.CreateRegistration(ctx, bad); err == nil || !strings.Contains(err.Error(), "token URL") {
		t.Fatalf("CreateRegistration(plain http token URL) = %v, want a refusal naming the token URL", err)
	}
	if regs, _ := db.FindRegistrations(ctx); len(regs) != 0 {
		t.Errorf("%d registrations stored after a refusal, want 0", len(regs))
	}
	good := &core.Registration{Name: "County", FHIRBaseURL: "https://ehr.example/fhir/"}
	if err := r.CreateRegistration(ctx, good); err != nil {
		t.Fatalf("CreateRegistration() = %v", err)
	}
	if good.FHIRBaseURL != "https://ehr.example/fhir" {
		t.Errorf("FHIR base URL stored as %q, want it without the trailing slash", good.FHIRBaseURL)
	}
	good.MaxParallel = -1
	if err := r.UpdateRegistration(ctx, good); err == nil {
		t.Errorf("UpdateRegistration(MaxParallel -1) = nil, want a refusal")
	}
	if _, err := r.Find(ctx, "Nobody"); !errors.Is(err, core.ErrNotFound) || !strings.Contains(err.Error(), `"Nobody"`) {
		t.Errorf("Find(unknown) = %v, want core.ErrNotFound naming it", err)
	}
}

// A key moved from the keychain to the key file leaves nothing behind;
// deleting a registration deletes its key first; sample keys are the
// demo's only.
func TestRegistry_Keys(t *testing.T) {
	r, _ := newRegistry(t)
	ctx := t.Context()
	reg := &core.Registration{Name: "County", FHIRBaseURL: "https://ehr.example/fhir"}
	k1, err := smart.GenerateKey(smart.ES384, 0)
	if err != nil {
		t.Fatal(err)
	}
	if err := r.SetKey(reg, k1); err != nil {
		t.Fatal(err)
	}
	if reg.KeyRef != "County" || reg.Alg != smart.ES384 || reg.KeyID != smart.KeyID(k1) || !strings.Contains(reg.PublicJWKS, reg.KeyID) {
		t.Fatalf("after SetKey: ref %q alg %q kid %q, want the keychain, ES384 and the key's thumbprint", reg.KeyRef, reg.Alg, reg.KeyID)
	}
	if err := r.CreateRegistration(ctx, reg); err != nil {
		t.Fatal(err)
	}
	if _, err := r.LoadKey(reg); err != nil {
		t.Fatalf("LoadKey() = %v", err)
	}
	r.Fallback = true
	k2, err := smart.GenerateKey(smart.RS384, 2048)
	if err != nil {
		t.Fatal(err)
	}
	oldRef := reg.KeyRef
	if err := r.SetKey(reg, k2); err != nil {
		t.Fatal(err)
	}
	if reg.KeyRef != registry.FileKeyPrefix+"County" {
		t.Errorf("KeyRef = %q, want the key file's", reg.KeyRef)
	}
	if _, err := r.LoadKey(&core.Registration{Name: "County", KeyRef: oldRef}); !errors.Is(err, core.ErrNotFound) {
		t.Errorf("the replaced keychain key: LoadKey = %v, want core.ErrNotFound", err)
	}
	if err := r.UpdateRegistration(ctx, reg); err != nil {
		t.Fatal(err)
	}
	if err := r.DeleteRegistration(ctx, reg.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := r.LoadKey(reg); !errors.Is(err, core.ErrNotFound) {
		t.Errorf("after DeleteRegistration: LoadKey = %v, want core.ErrNotFound", err)
	}

	sample := &core.Registration{Name: "Demo", KeyRef: demo.SampleKeyPrefix + smart.RS384}
	if _, err := r.LoadKey(sample); err == nil || !strings.Contains(err.Error(), "only tranche demo") {
		t.Errorf("LoadKey(sample key) without SampleKeys = %v, want a refusal", err)
	}
	r.SampleKeys = true
	if _, err := r.LoadKey(sample); err != nil {
		t.Errorf("LoadKey(sample key) with SampleKeys = %v", err)
	}
}

// Discover, register dynamically (RFC 7591), and test the connection,
// against the demo server on loopback.
func TestRegistry_DiscoverRegisterTest(t *testing.T) {
	r, _ := newRegistry(t)
	ctx := t.Context()
	srv := demotest.Start(t, demo.Config{Patients: 2, Seed: 1})
	d, err := r.Discover(ctx, srv.URL())
	if err != nil {
		t.Fatalf("Discover() = %v", err)
	}
	if d.TokenURL != srv.TokenURL() || d.RegistrationURL == "" || len(d.Types) == 0 || len(d.Operations) == 0 {
		t.Fatalf("Discover() = %+v, want the token and registration endpoints, types and export levels", d)
	}
	reg := &core.Registration{Name: "Demo", FHIRBaseURL: srv.URL(), TokenURL: d.TokenURL, Scopes: d.DefaultScopes()}
	key, err := r.GenerateKey(ctx, reg.Name, d.DefaultAlg())
	if err != nil {
		t.Fatal(err)
	}
	reg.Alg, reg.KeyID, reg.KeyRef, reg.PublicJWKS = key.Alg, key.KeyID, key.KeyRef, key.PublicJWKS
	if _, err := r.Test(ctx, reg); err == nil {
		t.Errorf("Test() without a client id = nil, want an error saying so")
	}
	if _, err = r.Register(ctx, reg, nil, ""); err != nil || reg.ClientID == "" {
		t.Fatalf("Register() = %q, %v", reg.ClientID, err)
	}
	report, err := r.Test(ctx, reg)
	if err != nil || !report.OK() {
		t.Fatalf("Test() = %v, %v; want every step ok", report, err)
	}
	if _, err := r.Register(ctx, reg, &registry.Discovery{TokenURL: d.TokenURL}, ""); !errors.Is(err, registry.ErrNoRegistrationEndpoint) {
		t.Errorf("Register(no endpoint) = %v, want ErrNoRegistrationEndpoint", err)
	}
}

// TestDiscoveryDefaults: what a new registration asks for, by what the
// server lists; the same for both front ends.
func TestDiscoveryDefaults(t *testing.T) {
	for _, tt := range []struct {
		name       string
		d          *registry.Discovery
		scope, alg string
		supportsES bool
	}{
		{"nothing known", nil, "system/*.rs", "RS384", true},
		{"lists nothing", &registry.Discovery{}, "system/*.rs", "RS384", true},
		{"v2 and both", &registry.Discovery{Capabilities: []string{"permission-v1", "permission-v2"}, Algorithms: []string{"RS384", "ES384"}}, "system/*.rs", "RS384", true},
		{"v1 only", &registry.Discovery{Capabilities: []string{"permission-v1"}}, "system/*.read", "RS384", true},
		{"ES384 only", &registry.Discovery{Algorithms: []string{"ES384"}}, "system/*.rs", "ES384", true},
		{"RS384 only", &registry.Discovery{Algorithms: []string{"RS384"}}, "system/*.rs", "RS384", false},
	} {
		if got := tt.d.DefaultScopes(); got != tt.scope {
			t.Errorf("%s: DefaultScopes() = %q, want %q", tt.name, got, tt.scope)
		}
		if got := tt.d.DefaultAlg(); got != tt.alg {
			t.Errorf("%s: DefaultAlg() = %q, want %q", tt.name, got, tt.alg)
		}
		if got := tt.d.SupportsAlg("ES384"); got != tt.supportsES {
			t.Errorf("%s: SupportsAlg(ES384) = %v, want %v", tt.name, got, tt.supportsES)
		}
	}
}
