package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"

	"tranche.dev/tranche/core"
	"tranche.dev/tranche/core/catalog"
	"tranche.dev/tranche/core/demo"
	"tranche.dev/tranche/core/smart"
	samplejwks "tranche.dev/tranche/sample-jwks"
	"tranche.dev/tranche/ui"
)

// demoRegistrationName is the registration tranche demo makes ready.
const demoRegistrationName = "Demo server"

// guiDemo runs the loopback demo server for the Demo server tab (ui.Demo)
// and keeps the "Demo server" registration pointing at it.
type guiDemo struct {
	DB     *catalog.DB
	Seed   int64
	Logger *slog.Logger

	mu        sync.Mutex
	srv       *demo.Server
	info      *ui.DemoInfo
	onRequest func(ui.DemoRequest)
}

var _ ui.Demo = (*guiDemo)(nil)

// SetOnRequest sets where the request log goes.
func (d *guiDemo) SetOnRequest(f func(ui.DemoRequest)) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.onRequest = f
}

func (d *guiDemo) logRequest(l demo.RequestLog) {
	d.mu.Lock()
	f := d.onRequest
	d.mu.Unlock()
	if f != nil {
		f(ui.DemoRequest{Time: l.Time, Method: l.Method, Path: l.Path, Status: l.Status, Duration: l.Duration, Client: l.ClientID})
	}
}

// demoFaults turns the screen's switches into the server's fault counts:
// enough to show each behaviour, few enough that retries get through.
func demoFaults(f ui.DemoFaults) demo.Faults {
	out := demo.Faults{JobDelay: f.JobDelay, ExpiredFiles: f.ExpiredFiles}
	if f.StatusErrors {
		out.StatusErrors = 2
	}
	if f.TooManyRequests {
		out.Burst429 = 3
	}
	if f.FileErrors {
		out.FileErrors, out.DropMidFile = 1, 1
	}
	if f.FailSomeFiles {
		out.ErrorFiles = 3
	}
	return out
}

// Start starts the server on 127.0.0.1 and readies the demo registration.
func (d *guiDemo) Start(cfg ui.DemoConfig, onRequest func(ui.DemoRequest)) (*ui.DemoInfo, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.srv != nil {
		return nil, errors.New("the demo server is already running")
	}
	if onRequest != nil {
		d.onRequest = onRequest
	}
	srv := demo.NewServer(demo.Config{
		Addr:      fmt.Sprintf("127.0.0.1:%d", cfg.Port),
		Patients:  cfg.Patients,
		Seed:      d.Seed,
		Faults:    demoFaults(cfg.Faults),
		Logger:    d.Logger.With("system", "demo"),
		OnRequest: d.logRequest,
	})
	if err := srv.Open(); err != nil {
		return nil, err
	}
	if err := readyDemoRegistration(context.Background(), d.DB, srv.URL(), srv.TokenURL()); err != nil {
		srv.Close()
		return nil, fmt.Errorf("demo registration: %w", err)
	}
	d.srv = srv
	d.info = &ui.DemoInfo{URL: srv.URL(), TokenURL: srv.TokenURL(), Clients: []ui.DemoClient{
		{ID: demo.DemoClientRS384, Alg: smart.RS384, KeyFile: "RS384.private.json"},
		{ID: demo.DemoClientES384, Alg: smart.ES384, KeyFile: "ES384.private.json"},
	}}
	return d.info, nil
}

func (d *guiDemo) Stop() error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.srv == nil {
		return nil
	}
	err := d.srv.Close()
	d.srv, d.info = nil, nil
	return err
}

func (d *guiDemo) Running() *ui.DemoInfo {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.info
}

func (d *guiDemo) SetFaults(f ui.DemoFaults) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.srv == nil {
		return errors.New("the demo server is not running")
	}
	d.srv.SetFaults(demoFaults(f))
	return nil
}

// readyDemoRegistration creates or updates the "Demo server" registration:
// client tranche-demo-rs384 signing with the embedded sample RS384 key.
func readyDemoRegistration(ctx context.Context, db *catalog.DB, base, tokenURL string) error {
	data, err := samplejwks.File("RS384.private.json")
	if err != nil {
		return err
	}
	k, err := smart.ParseKey(data, smart.RS384)
	if err != nil {
		return err
	}
	pub, err := smart.PublicJWKS(k)
	if err != nil {
		return err
	}
	reg, err := db.FindRegistrationByName(ctx, demoRegistrationName)
	create := errors.Is(err, core.ErrNotFound)
	if err != nil && !create {
		return err
	}
	if create {
		reg = &core.Registration{Name: demoRegistrationName}
	}
	reg.FHIRBaseURL, reg.TokenURL = base, tokenURL
	reg.ClientID, reg.Scopes, reg.Alg = demo.DemoClientRS384, "system/*.rs", smart.RS384
	reg.KeyID, reg.KeyRef, reg.PublicJWKS = smart.KeyID(k), sampleKeyPrefix+smart.RS384, string(pub)
	if create {
		return db.CreateRegistration(ctx, reg)
	}
	return db.UpdateRegistration(ctx, reg)
}
