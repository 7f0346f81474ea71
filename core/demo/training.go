package demo

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"tranche.dev/tranche/core"
	"tranche.dev/tranche/core/smart"
	samplejwks "tranche.dev/tranche/sample-jwks"
)

// RegistrationName is the registration a training server keeps ready.
const RegistrationName = "Demo server"

// SampleKeyPrefix marks a Registration.KeyRef that names one of the IG's
// sample keys (embedded, public knowledge) instead of a keychain entry:
// "sample:RS384".
const SampleKeyPrefix = "sample:"

// FaultSwitches are the training faults as a trainer switches them on and
// off; Faults turns them into the server's counts.
type FaultSwitches struct {
	JobDelay        time.Duration // how long a job runs before its manifest is ready
	StatusErrors    bool          // transient 5xx on status polls
	TooManyRequests bool          // 429 bursts
	FileErrors      bool          // 5xx or dropped connections mid-file
	ExpiredFiles    bool          // downloads answer 410 Gone
	FailSomeFiles   bool          // some files end up in error[]
}

// Faults is enough of each fault to show its behaviour, and few enough
// that retries get through.
func (f FaultSwitches) Faults() Faults {
	out := Faults{JobDelay: f.JobDelay, ExpiredFiles: f.ExpiredFiles}
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

// TrainingConfig starts a training server.
type TrainingConfig struct {
	Port     int // 0 picks a free port
	Patients int
	Faults   FaultSwitches
}

// SampleClient is a pre-registered client signing with a sample key.
type SampleClient struct {
	ID      string
	Alg     string
	KeyFile string // sample-jwks file with its private key (public knowledge)
}

// TrainingInfo describes a running training server.
type TrainingInfo struct {
	URL      string // FHIR base URL
	TokenURL string
	Clients  []SampleClient
}

// Training runs the demo server on 127.0.0.1 for a trainer (the desktop
// app's Demo tab): start, stop, switch faults, watch requests, and a
// registration named RegistrationName kept pointing at it.
type Training struct {
	Registrations core.RegistrationStore
	Seed          int64
	Logger        *slog.Logger

	mu        sync.Mutex
	srv       *Server
	info      *TrainingInfo
	onRequest func(RequestLog)
}

// SetOnRequest sets where the request log goes; f is called from any
// goroutine.
func (t *Training) SetOnRequest(f func(RequestLog)) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.onRequest = f
}

func (t *Training) logRequest(l RequestLog) {
	t.mu.Lock()
	f := t.onRequest
	t.mu.Unlock()
	if f != nil {
		f(l)
	}
}

// Start starts the server and readies the registration. onRequest, if not
// nil, replaces the request log's receiver.
func (t *Training) Start(cfg TrainingConfig, onRequest func(RequestLog)) (*TrainingInfo, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.srv != nil {
		return nil, errors.New("the demo server is already running")
	}
	if onRequest != nil {
		t.onRequest = onRequest
	}
	logger := t.Logger
	if logger == nil {
		logger = slog.Default()
	}
	srv := NewServer(Config{
		Addr:      fmt.Sprintf("127.0.0.1:%d", cfg.Port),
		Patients:  cfg.Patients,
		Seed:      t.Seed,
		Faults:    cfg.Faults.Faults(),
		Logger:    logger.With("system", "demo"),
		OnRequest: t.logRequest,
	})
	if err := srv.Open(); err != nil {
		return nil, err
	}
	if err := ReadyRegistration(context.Background(), t.Registrations, srv.URL(), srv.TokenURL()); err != nil {
		srv.Close()
		return nil, fmt.Errorf("demo registration: %w", err)
	}
	t.srv = srv
	t.info = &TrainingInfo{URL: srv.URL(), TokenURL: srv.TokenURL(), Clients: []SampleClient{
		{ID: DemoClientRS384, Alg: smart.RS384, KeyFile: "RS384.private.json"},
		{ID: DemoClientES384, Alg: smart.ES384, KeyFile: "ES384.private.json"},
	}}
	return t.info, nil
}

// Stop stops the server; stopping a stopped one does nothing.
func (t *Training) Stop() error {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.srv == nil {
		return nil
	}
	err := t.srv.Close()
	t.srv, t.info = nil, nil
	return err
}

// Running returns the running server's details, or nil.
func (t *Training) Running() *TrainingInfo {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.info
}

// SetFaults switches the running server's faults.
func (t *Training) SetFaults(f FaultSwitches) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.srv == nil {
		return errors.New("the demo server is not running")
	}
	t.srv.SetFaults(f.Faults())
	return nil
}

// ReadyRegistration creates or updates the registration named
// RegistrationName for the server at base: client DemoClientRS384 signing
// with the embedded sample RS384 key.
func ReadyRegistration(ctx context.Context, regs core.RegistrationStore, base, tokenURL string) error {
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
	reg, err := regs.FindRegistrationByName(ctx, RegistrationName)
	create := errors.Is(err, core.ErrNotFound)
	if err != nil && !create {
		return err
	}
	if create {
		reg = &core.Registration{Name: RegistrationName}
	}
	reg.FHIRBaseURL, reg.TokenURL = base, tokenURL
	reg.ClientID, reg.Scopes, reg.Alg = DemoClientRS384, "system/*.rs", smart.RS384
	reg.KeyID, reg.KeyRef, reg.PublicJWKS = smart.KeyID(k), SampleKeyPrefix+smart.RS384, string(pub)
	if create {
		return regs.CreateRegistration(ctx, reg)
	}
	return regs.UpdateRegistration(ctx, reg)
}
