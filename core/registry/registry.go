// Package registry manages client registrations and their key pairs for
// every front end: where a private key lives (the OS keychain, the
// passphrase-encrypted key file, or one of the IG's sample keys for the
// demo), discovery of a server's SMART configuration, RFC 7591 dynamic
// registration, and the connection test. The command line and the desktop
// app only turn input into calls and errors into sentences.
package registry

import (
	"context"
	"crypto"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"strings"

	"github.com/lestrrat-go/jwx/v3/jwk"

	"tranche.dev/tranche/core"
	"tranche.dev/tranche/core/bulk"
	"tranche.dev/tranche/core/demo"
	"tranche.dev/tranche/core/keychain"
	"tranche.dev/tranche/core/smart"
	samplejwks "tranche.dev/tranche/sample-jwks"
)

// FileKeyPrefix marks a Registration.KeyRef whose key lives in the
// passphrase-encrypted key file rather than the OS keychain.
const FileKeyPrefix = "file:"

// ErrNoRegistrationEndpoint reports a server that lists no RFC 7591
// registration endpoint: its data holder registers clients by hand.
var ErrNoRegistrationEndpoint = errors.New("the server offers no dynamic registration (no registration_endpoint)")

// Store persists registrations. catalog.DB implements it.
type Store interface {
	core.RegistrationStore
	FindRegistration(ctx context.Context, id int64) (*core.Registration, error)
	FindRegistrations(ctx context.Context) ([]*core.Registration, error)
	DeleteRegistration(ctx context.Context, id int64) error
}

// Registry manages registrations and their keys.
type Registry struct {
	Store Store
	// Keychain returns the OS keychain, or why it cannot be used; called
	// on first use of a key only (probing may start a D-Bus service).
	Keychain func() (keychain.Keys, error)
	// FileKeys returns the passphrase-encrypted key file store; create
	// says a key will be written (a new passphrase must be strong).
	FileKeys func(create bool) (keychain.Keys, error)
	// Fallback: new keys go to the key file instead of the keychain.
	Fallback bool
	// SampleKeys: accept KeyRefs naming the IG's sample keys (the demo only:
	// they are public knowledge).
	SampleKeys bool
	HTTPClient *http.Client
	Logger     *slog.Logger
}

func (r *Registry) logger() *slog.Logger {
	if r.Logger != nil {
		return r.Logger
	}
	return slog.Default()
}

// Find returns the registration named name; the error wraps
// core.ErrNotFound when there is none.
func (r *Registry) Find(ctx context.Context, name string) (*core.Registration, error) {
	reg, err := r.Store.FindRegistrationByName(ctx, name)
	if errors.Is(err, core.ErrNotFound) {
		return nil, fmt.Errorf("no registration named %q: %w", name, core.ErrNotFound)
	}
	return reg, err
}

// FindRegistrations lists every registration.
func (r *Registry) FindRegistrations(ctx context.Context) ([]*core.Registration, error) {
	return r.Store.FindRegistrations(ctx)
}

// CreateRegistration validates (core.Registration.Validate) and stores reg.
func (r *Registry) CreateRegistration(ctx context.Context, reg *core.Registration) error {
	reg.FHIRBaseURL = strings.TrimRight(reg.FHIRBaseURL, "/")
	if err := reg.Validate(); err != nil {
		return err
	}
	return r.Store.CreateRegistration(ctx, reg)
}

// UpdateRegistration validates and stores reg.
func (r *Registry) UpdateRegistration(ctx context.Context, reg *core.Registration) error {
	reg.FHIRBaseURL = strings.TrimRight(reg.FHIRBaseURL, "/")
	if err := reg.Validate(); err != nil {
		return err
	}
	return r.Store.UpdateRegistration(ctx, reg)
}

// DeleteRegistration removes the private key first, then the
// registration: a registration is never left pointing at a key that is
// gone. A sample key is not removed (it is not ours).
func (r *Registry) DeleteRegistration(ctx context.Context, id int64) error {
	reg, err := r.Store.FindRegistration(ctx, id)
	if err != nil {
		return err
	}
	if reg.KeyRef != "" && !strings.HasPrefix(reg.KeyRef, demo.SampleKeyPrefix) {
		if err := r.DeleteKey(reg.KeyRef); err != nil {
			return fmt.Errorf("remove private key (the registration is kept): %w", err)
		}
	}
	return r.Store.DeleteRegistration(ctx, id)
}

// storeFor returns the key store for ref (a Registration.KeyRef) and the
// name inside that store.
func (r *Registry) storeFor(ref string, create bool) (keychain.Keys, string, error) {
	if name, ok := strings.CutPrefix(ref, FileKeyPrefix); ok {
		if r.FileKeys == nil {
			return nil, "", errors.New("no key file store")
		}
		s, err := r.FileKeys(create)
		return s, name, err
	}
	if r.Keychain == nil {
		return nil, "", errors.New("no keychain")
	}
	store, err := r.Keychain()
	return store, ref, err
}

// newRef is where a new key for registration name goes.
func (r *Registry) newRef(name string) string {
	if r.Fallback {
		return FileKeyPrefix + name
	}
	return name
}

// SetKey stores k's private half for reg and fills reg's Alg, KeyID,
// KeyRef and PublicJWKS; the key it replaces, if kept elsewhere, is
// removed. It does not save reg.
func (r *Registry) SetKey(reg *core.Registration, k jwk.Key) error {
	signer, err := smart.Signer(k)
	if err != nil {
		return err
	}
	alg, err := smart.AlgOf(k)
	if err != nil {
		return err
	}
	pub, err := smart.PublicJWKS(k)
	if err != nil {
		return err
	}
	ref := r.newRef(reg.Name)
	store, name, err := r.storeFor(ref, true)
	if err != nil {
		return err
	}
	if err := store.SetKey(name, signer); err != nil {
		return err
	}
	// A key that moved between stores leaves nothing behind.
	if reg.KeyRef != "" && reg.KeyRef != ref && !strings.HasPrefix(reg.KeyRef, demo.SampleKeyPrefix) {
		if err := r.DeleteKey(reg.KeyRef); err != nil {
			r.logger().Warn("remove the replaced key", "registration", reg.Name, "err", err)
		}
	}
	reg.Alg, reg.KeyID, reg.KeyRef, reg.PublicJWKS = alg, smart.KeyID(k), ref, string(pub)
	return nil
}

// LoadKey returns reg's private key.
func (r *Registry) LoadKey(reg *core.Registration) (crypto.Signer, error) {
	if reg.KeyRef == "" {
		return nil, fmt.Errorf("registration %q has no key yet", reg.Name)
	}
	if alg, ok := strings.CutPrefix(reg.KeyRef, demo.SampleKeyPrefix); ok {
		if !r.SampleKeys {
			return nil, fmt.Errorf("registration %q uses a sample key, which only tranche demo accepts", reg.Name)
		}
		data, err := samplejwks.File(alg + ".private.json")
		if err != nil {
			return nil, err
		}
		k, err := smart.ParseKey(data, alg)
		if err != nil {
			return nil, err
		}
		return smart.Signer(k)
	}
	store, name, err := r.storeFor(reg.KeyRef, false)
	if err != nil {
		return nil, err
	}
	return store.Key(name)
}

// DeleteKey removes the key under ref; a missing key is not an error.
func (r *Registry) DeleteKey(ref string) error {
	store, name, err := r.storeFor(ref, false)
	if err != nil {
		return err
	}
	if err := store.DeleteKey(name); err != nil && !errors.Is(err, core.ErrNotFound) {
		return err
	}
	return nil
}

// KeyPlace says where the key under ref is kept, for a person.
func KeyPlace(ref string) string {
	switch {
	case strings.HasPrefix(ref, FileKeyPrefix):
		return "the passphrase-encrypted key file"
	case strings.HasPrefix(ref, demo.SampleKeyPrefix):
		return "the sample keys (public knowledge: demo only)"
	}
	return "the OS keychain (service " + keychain.Service + ")"
}

// Key is a registration's key pair as a front end shows it; the private
// half stays in its store under KeyRef.
type Key struct {
	Alg        string
	KeyID      string
	KeyRef     string
	PublicJWKS string
}

// GenerateKey makes a key pair for the registration named name (RSA at
// the default size, or P-384) and keeps the private half.
func (r *Registry) GenerateKey(ctx context.Context, name, alg string) (*Key, error) {
	k, err := smart.GenerateKey(alg, 0)
	if err != nil {
		return nil, err
	}
	return r.keep(name, k)
}

// ImportKey reads a private key (JWK, JWKS or PEM) and keeps it for the
// registration named name.
func (r *Registry) ImportKey(ctx context.Context, name string, data []byte) (*Key, error) {
	k, err := smart.ParseKey(data, "")
	if err != nil {
		return nil, err
	}
	return r.keep(name, k)
}

func (r *Registry) keep(name string, k jwk.Key) (*Key, error) {
	reg := &core.Registration{Name: name}
	if err := r.SetKey(reg, k); err != nil {
		return nil, err
	}
	return &Key{Alg: reg.Alg, KeyID: reg.KeyID, KeyRef: reg.KeyRef, PublicJWKS: reg.PublicJWKS}, nil
}

// Config is the SMART client configuration of reg, its key loaded.
func (r *Registry) Config(reg *core.Registration) (smart.Config, error) {
	key, err := r.LoadKey(reg)
	if err != nil {
		return smart.Config{}, err
	}
	return smart.Config{ClientID: reg.ClientID, TokenURL: reg.TokenURL, Scopes: strings.Fields(reg.Scopes),
		Key: key, KeyID: reg.KeyID, Alg: reg.Alg, HTTPClient: r.HTTPClient}, nil
}

// Discovery is what a FHIR server says about itself: its
// .well-known/smart-configuration and, when readable, its
// CapabilityStatement's resource types.
type Discovery struct {
	TokenURL        string
	RegistrationURL string   // registration_endpoint; empty when the server lists none
	Algorithms      []string // token_endpoint_auth_signing_alg_values_supported
	Scopes          []string // scopes_supported
	Types           []string // resource types in the CapabilityStatement
	Operations      []string // export levels it declares an export operation at (core.LevelSystem, …)
	Capabilities    []string // SMART capabilities (permission-v1, permission-v2, …)
	Summary         string   // one line for a person
}

// DefaultScopes is the scope a new registration asks for: SMART v2's
// system/*.rs, or v1's system/*.read on a server that lists only v1
// (SMART App Launch 2.x, Conformance: permission-v1, permission-v2).
func (d *Discovery) DefaultScopes() string {
	if d != nil && slices.Contains(d.Capabilities, "permission-v1") && !slices.Contains(d.Capabilities, "permission-v2") {
		return "system/*.read"
	}
	return "system/*.rs"
}

// DefaultAlg is the algorithm a new key uses: RS384, or ES384 on a server
// that lists only that.
func (d *Discovery) DefaultAlg() string {
	if !d.SupportsAlg(smart.RS384) && d.SupportsAlg(smart.ES384) {
		return smart.ES384
	}
	return smart.RS384
}

// SupportsAlg reports whether the server lists alg, or lists none.
func (d *Discovery) SupportsAlg(alg string) bool {
	return d == nil || len(d.Algorithms) == 0 || slices.Contains(d.Algorithms, alg)
}

// Discover reads base's SMART configuration and CapabilityStatement (a
// missing CapabilityStatement is logged, not an error).
func (r *Registry) Discover(ctx context.Context, base string) (*Discovery, error) {
	if err := core.CheckURL(base); err != nil {
		return nil, err
	}
	d, err := smart.Discover(ctx, r.HTTPClient, base)
	if err != nil {
		return nil, err
	}
	out := &Discovery{TokenURL: d.TokenEndpoint, RegistrationURL: d.RegistrationEndpoint,
		Algorithms: d.SigningAlgs, Scopes: d.ScopesSupported, Capabilities: d.Capabilities, Summary: d.Summary()}
	c := &bulk.Client{BaseURL: base, HTTPClient: r.HTTPClient, FileClient: r.HTTPClient, Logger: r.logger()}
	if caps, err := c.Capabilities(ctx); err != nil {
		r.logger().Info("read CapabilityStatement", "url", base, "err", err)
	} else {
		out.Types = caps.Types
		for _, level := range []string{core.LevelSystem, core.LevelPatient, core.LevelGroup} {
			if _, ok := caps.ExportDefinitions[level]; ok {
				out.Operations = append(out.Operations, level)
			}
		}
	}
	return out, nil
}

// Register registers reg's public key (or JWKS URL) with the RFC 7591
// endpoint the server lists, and sets reg's ClientID to the id it issued
// and, when reg has none, its TokenURL to the server's; reg is not saved.
// d is what Discover found (nil: discovered now) and is returned. A server
// that lists no endpoint gives ErrNoRegistrationEndpoint; an endpoint of
// another kind an error matching smart.ErrNotRFC7591. clientName "" sends
// "Tranche: <reg's name>".
func (r *Registry) Register(ctx context.Context, reg *core.Registration, d *Discovery, clientName string) (*Discovery, error) {
	if d == nil {
		var err error
		if d, err = r.Discover(ctx, reg.FHIRBaseURL); err != nil {
			return nil, err
		}
	}
	if d.RegistrationURL == "" {
		return d, ErrNoRegistrationEndpoint
	}
	if clientName == "" {
		clientName = "Tranche: " + reg.Name
	}
	md := smart.ClientMetadata{ClientName: clientName, Scope: reg.Scopes, JWKSURI: reg.JWKSURL}
	if reg.JWKSURL == "" {
		if reg.PublicJWKS == "" {
			return d, fmt.Errorf("registration %q has no key yet", reg.Name)
		}
		md.JWKS = json.RawMessage(reg.PublicJWKS)
	}
	rc, err := smart.Register(ctx, r.HTTPClient, d.RegistrationURL, md)
	if err != nil {
		return d, err
	}
	reg.ClientID = rc.ClientID
	if reg.TokenURL == "" {
		reg.TokenURL = d.TokenURL
	}
	return d, nil
}

// Check is one step of the connection test.
type Check struct {
	Name   string // "Discovery", "Access token", "Metadata read"
	OK     bool
	Detail string // what happened, for a person
}

// Test runs the connection test of reg: discovery, a token, a metadata
// read.
func (r *Registry) Test(ctx context.Context, reg *core.Registration) (*smart.Report, error) {
	if reg.ClientID == "" {
		return nil, fmt.Errorf("registration %q has no client id yet: register it, or enter the one the data holder gave you", reg.Name)
	}
	cfg, err := r.Config(reg)
	if err != nil {
		return nil, err
	}
	return smart.CheckConnection(ctx, reg.FHIRBaseURL, cfg), nil
}

// TestConnection is Test with its steps as Checks.
func (r *Registry) TestConnection(ctx context.Context, reg *core.Registration) ([]Check, error) {
	report, err := r.Test(ctx, reg)
	if err != nil {
		return nil, err
	}
	var checks []Check
	for _, s := range report.Steps {
		detail := s.Summary
		if s.Detail != "" {
			detail += " " + s.Detail
		}
		checks = append(checks, Check{Name: s.Name, OK: s.OK, Detail: detail})
	}
	return checks, nil
}
