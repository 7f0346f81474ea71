package main

import (
	"context"
	"crypto"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"strings"
	"sync"

	"github.com/lestrrat-go/jwx/v3/jwk"

	"tranche.dev/tranche/core"
	"tranche.dev/tranche/core/bulk"
	"tranche.dev/tranche/core/demo"
	"tranche.dev/tranche/core/engine"
	"tranche.dev/tranche/core/smart"
	samplejwks "tranche.dev/tranche/sample-jwks"
	"tranche.dev/tranche/ui"
)

// guiServices adapts the core packages to the screens' interfaces
// (ui.Registrations, ui.Servers, ui.Exports). It shares keyEnv with the
// keys and registrations commands, so a key made in the GUI is found by the
// CLI and the other way round.
type guiServices struct {
	env        *keyEnv
	dataDir    string
	logger     *slog.Logger
	sampleKeys bool // accept sample: key refs (tranche demo only)
	logs       *exportLogs

	bgMu      sync.Mutex
	bgCtx     context.Context // background work (search indexing); cancelled by closeBackground
	bgCancel  context.CancelFunc
	bg        sync.WaitGroup
	reindexMu sync.Mutex
	memLimit  goMemoryLimit // while exports run
}

var (
	_ ui.Registrations = (*guiServices)(nil)
	_ ui.Servers       = (*guiServices)(nil)
	_ ui.Exports       = (*guiServices)(nil)
)

func (g *guiServices) FindRegistrations(ctx context.Context) ([]*core.Registration, error) {
	return g.env.DB.FindRegistrations(ctx)
}

func (g *guiServices) CreateRegistration(ctx context.Context, r *core.Registration) error {
	if err := r.CheckURLs(); err != nil {
		return err
	}
	return g.env.DB.CreateRegistration(ctx, r)
}

func (g *guiServices) UpdateRegistration(ctx context.Context, r *core.Registration) error {
	if err := r.CheckURLs(); err != nil {
		return err
	}
	return g.env.DB.UpdateRegistration(ctx, r)
}

// DeleteRegistration removes the private key first, as the CLI does: a
// registration is never left pointing at a key that is gone.
func (g *guiServices) DeleteRegistration(ctx context.Context, id int64) error {
	r, err := g.env.DB.FindRegistration(ctx, id)
	if err != nil {
		return err
	}
	if r.KeyRef != "" && !strings.HasPrefix(r.KeyRef, demo.SampleKeyPrefix) {
		if err := g.env.deleteKey(r.KeyRef); err != nil {
			return fmt.Errorf("remove private key (the registration is kept): %w", err)
		}
	}
	return g.env.DB.DeleteRegistration(ctx, id)
}

// Discover reads the SMART configuration and the CapabilityStatement.
func (g *guiServices) Discover(ctx context.Context, base string) (*ui.Discovery, error) {
	if _, err := core.Origin(base); err != nil {
		return nil, err
	}
	d, err := smart.Discover(ctx, g.env.HTTPClient, base)
	if err != nil {
		return nil, err
	}
	out := &ui.Discovery{TokenURL: d.TokenEndpoint, RegistrationURL: d.RegistrationEndpoint,
		Algorithms: d.SigningAlgs, Scopes: d.ScopesSupported}
	c := &bulk.Client{BaseURL: base, HTTPClient: g.env.HTTPClient, FileClient: g.env.HTTPClient, Logger: g.logger}
	if caps, err := c.Capabilities(ctx); err != nil {
		g.logger.Info("read CapabilityStatement", "url", base, "err", err)
	} else {
		out.Types = caps.Types
	}
	return out, nil
}

func (g *guiServices) GenerateKey(ctx context.Context, name, alg string) (*ui.Key, error) {
	k, err := smart.GenerateKey(alg, 0)
	if err != nil {
		return nil, err
	}
	return g.storeKey(name, k)
}

func (g *guiServices) ImportKey(ctx context.Context, name string, data []byte) (*ui.Key, error) {
	k, err := smart.ParseKey(data, "")
	if err != nil {
		return nil, err
	}
	return g.storeKey(name, k)
}

// storeKey keeps k's private half in the keychain under name.
func (g *guiServices) storeKey(name string, k jwk.Key) (*ui.Key, error) {
	reg := &core.Registration{Name: name}
	if err := g.env.saveKey(reg, k); err != nil {
		return nil, err
	}
	return &ui.Key{Alg: reg.Alg, KeyID: reg.KeyID, KeyRef: reg.KeyRef, PublicJWKS: reg.PublicJWKS}, nil
}

// Register registers reg's public key with the server (RFC 7591).
func (g *guiServices) Register(ctx context.Context, reg *core.Registration, endpoint string) (string, error) {
	md := smart.ClientMetadata{ClientName: "Tranche: " + reg.Name, Scope: reg.Scopes, JWKSURI: reg.JWKSURL}
	if reg.JWKSURL == "" {
		if reg.PublicJWKS == "" {
			return "", errors.New("the registration has no key yet")
		}
		md.JWKS = json.RawMessage(reg.PublicJWKS)
	}
	rc, err := smart.Register(ctx, g.env.HTTPClient, endpoint, md)
	if err != nil {
		return "", err
	}
	return rc.ClientID, nil
}

// loadKey is keyEnv.loadKey that also knows the demo's sample keys.
func (g *guiServices) loadKey(reg *core.Registration) (crypto.Signer, error) {
	if alg, ok := strings.CutPrefix(reg.KeyRef, demo.SampleKeyPrefix); ok {
		if !g.sampleKeys {
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
	return g.env.loadKey(reg)
}

func (g *guiServices) smartConfig(reg *core.Registration) (smart.Config, error) {
	key, err := g.loadKey(reg)
	if err != nil {
		return smart.Config{}, err
	}
	return smart.Config{ClientID: reg.ClientID, TokenURL: reg.TokenURL, Scopes: strings.Fields(reg.Scopes),
		Key: key, KeyID: reg.KeyID, Alg: reg.Alg, HTTPClient: g.env.HTTPClient}, nil
}

func (g *guiServices) TestConnection(ctx context.Context, reg *core.Registration) ([]ui.Check, error) {
	if reg.ClientID == "" {
		return nil, errors.New("the registration has no client id yet: register it, or enter the one the data holder gave you")
	}
	cfg, err := g.smartConfig(reg)
	if err != nil {
		return nil, err
	}
	report := smart.CheckConnection(ctx, reg.FHIRBaseURL, cfg)
	var checks []ui.Check
	for _, s := range report.Steps {
		detail := s.Summary
		if s.Detail != "" {
			detail += " " + s.Detail
		}
		checks = append(checks, ui.Check{Name: s.Name, OK: s.OK, Detail: detail})
	}
	return checks, nil
}

// Groups searches the server's Groups: GET [base]/Group, first page.
func (g *guiServices) Groups(ctx context.Context, reg *core.Registration) ([]ui.Group, error) {
	return g.engine().Groups(ctx, reg)
}

// engine is the export engine, with this app's keys and export logs.
func (g *guiServices) engine() *engine.Engine {
	return &engine.Engine{Store: g.env.DB, LoadKey: g.loadKey, HTTPClient: g.env.HTTPClient, Dial: g.env.Dial, Logger: g.logger}
}

// options sends a run's events to onEvent and to the export's log.ndjson.
func (g *guiServices) options(onEvent func(core.Event)) engine.Options {
	return engine.Options{OnEvent: func(ev core.Event) {
		g.logs.handle(ev)
		if onEvent != nil {
			onEvent(ev)
		}
	}}
}

func (g *guiServices) FindExports(ctx context.Context, limit int) ([]*core.Export, error) {
	return g.env.DB.FindExports(ctx, limit)
}

func (g *guiServices) FindExport(ctx context.Context, id int64) (*core.Export, error) {
	return g.env.DB.FindExport(ctx, id)
}

func (g *guiServices) FindFiles(ctx context.Context, id int64) ([]*core.ExportFile, error) {
	return g.env.DB.FindFiles(ctx, id)
}

func (g *guiServices) Start(ctx context.Context, reg *core.Registration, req core.ExportRequest, onEvent func(core.Event)) (*core.Export, error) {
	defer g.memLimit.begin()()
	exp := &core.Export{Request: req}
	err := g.engine().Start(ctx, exp, reg, g.options(onEvent))
	return g.after(ctx, exp.ID, err)
}

// after reads the export's final state and, in the background, brings the
// search index up to date (catalog.Reindex is lazy by design and takes a
// while on a big export; searches catch up on their own).
func (g *guiServices) after(ctx context.Context, id int64, runErr error) (*core.Export, error) {
	if id == 0 {
		return nil, runErr
	}
	ctx = context.WithoutCancel(ctx)
	exp, err := g.env.DB.FindExport(ctx, id)
	if err != nil {
		return nil, errors.Join(runErr, err)
	}
	g.reindexLater()
	return exp, runErr
}

// reindexLater runs catalog.Reindex off the export's goroutine, one at a
// time; closeBackground stops it.
func (g *guiServices) reindexLater() {
	g.bgMu.Lock()
	defer g.bgMu.Unlock()
	if g.bgCtx == nil {
		g.bgCtx, g.bgCancel = context.WithCancel(context.Background())
	}
	if g.bgCtx.Err() != nil {
		return
	}
	g.bg.Go(func() {
		g.reindexMu.Lock()
		defer g.reindexMu.Unlock()
		if _, err := g.env.DB.Reindex(g.bgCtx); err != nil && g.bgCtx.Err() == nil {
			g.logger.Warn("index for search", "err", err)
		}
	})
}

// closeBackground cancels background work and waits for it.
func (g *guiServices) closeBackground() {
	g.bgMu.Lock()
	if g.bgCancel != nil {
		g.bgCancel()
	} else {
		g.bgCtx, g.bgCancel = context.WithCancel(context.Background())
		g.bgCancel()
	}
	g.bgMu.Unlock()
	g.bg.Wait()
}

func (g *guiServices) Resume(ctx context.Context, id int64, onEvent func(core.Event)) (*core.Export, error) {
	defer g.memLimit.begin()()
	_, err := g.engine().Resume(ctx, id, g.options(onEvent))
	return g.after(ctx, id, err)
}

// RetryFailed downloads the files that failed again; the runner skips
// every file already loaded.
func (g *guiServices) RetryFailed(ctx context.Context, id int64, onEvent func(core.Event)) (*core.Export, error) {
	defer g.memLimit.begin()()
	_, err := g.engine().RetryFailed(ctx, id, g.options(onEvent))
	return g.after(ctx, id, err)
}

// Cancel sends DELETE for the job and marks the export cancelled.
func (g *guiServices) Cancel(ctx context.Context, id int64) error {
	return g.engine().Cancel(ctx, id, g.options(nil))
}

// Release sends DELETE for a finished job so the server may drop its files.
func (g *guiServices) Release(ctx context.Context, id int64) error {
	return g.engine().Release(ctx, id, g.options(nil))
}

// exportLogDir is where each export's log.ndjson goes.
func exportLogDir(dataDir string) string { return filepath.Join(dataDir, "exports") }
