package ui

import (
	"context"

	"tranche.dev/tranche/core"
	"tranche.dev/tranche/core/demo"
	"tranche.dev/tranche/core/registry"
)

// The interfaces below are what the screens need, each as narrow as its
// screen (evebuddy's per-screen interfaces). app/gui.go adapts the core
// packages to them; the tests use the in-package fakes. Every method may be
// slow (network, SQLite): the screens call them off the UI goroutine.

// Registrations stores client registrations (core/catalog, plus the
// keychain for deleting a registration's key).
type Registrations interface {
	FindRegistrations(ctx context.Context) ([]*core.Registration, error)
	CreateRegistration(ctx context.Context, r *core.Registration) error
	UpdateRegistration(ctx context.Context, r *core.Registration) error
	// DeleteRegistration removes a registration and its private key.
	DeleteRegistration(ctx context.Context, id int64) error
}

// Servers talks to a registration's FHIR server and keys (core/smart and
// core/keychain).
type Servers interface {
	Discover(ctx context.Context, baseURL string) (*registry.Discovery, error)
	// GenerateKey makes a key pair for a registration named name and keeps
	// the private half in the keychain.
	GenerateKey(ctx context.Context, name, alg string) (*registry.Key, error)
	// ImportKey reads a private key (JWK, JWKS or PEM) into the keychain.
	ImportKey(ctx context.Context, name string, data []byte) (*registry.Key, error)
	// Register registers reg's public key dynamically (RFC 7591) with the
	// endpoint d lists (nil: discovered now) and sets reg's client id, and
	// its token URL when it has none (registry.Registry.Register).
	Register(ctx context.Context, reg *core.Registration, d *registry.Discovery, clientName string) (*registry.Discovery, error)
	TestConnection(ctx context.Context, reg *core.Registration) ([]registry.Check, error)
}

// Exports runs bulk exports (core/bulk) and reads their records (core/catalog).
// Start, Resume and RetryFailed block until the export stops; onEvent may be
// called from any goroutine meanwhile.
type Exports interface {
	FindExports(ctx context.Context, limit int) ([]*core.Export, error)
	FindExport(ctx context.Context, id int64) (*core.Export, error)
	FindFiles(ctx context.Context, exportID int64) ([]*core.ExportFile, error)
	// Start runs a new export of reg. sinkViews are ViewDefinitions (JSON)
	// whose rows land as Parquet tables beside the records when reg lands
	// its exports in object storage (reg.Sink); nil for none.
	Start(ctx context.Context, reg *core.Registration, req core.ExportRequest, sinkViews [][]byte, onEvent func(core.Event)) (*core.Export, error)
	Resume(ctx context.Context, id int64, onEvent func(core.Event)) (*core.Export, error)
	RetryFailed(ctx context.Context, id int64, onEvent func(core.Event)) (*core.Export, error)
	// Cancel asks the server to drop a running job (DELETE) and marks it cancelled.
	Cancel(ctx context.Context, id int64) error
	// Release tells the server a finished job's files may go (DELETE).
	Release(ctx context.Context, id int64) error
	// Groups searches a registration's server for Groups (GET [base]/Group).
	Groups(ctx context.Context, reg *core.Registration) ([]core.Group, error)
}

// Demo controls the loopback demo server (core/demo).
type Demo interface {
	// Start starts the server; onRequest is called from any goroutine.
	Start(cfg demo.TrainingConfig, onRequest func(demo.RequestLog)) (*demo.TrainingInfo, error)
	Stop() error
	// Running returns the running server's details, or nil.
	Running() *demo.TrainingInfo
	SetFaults(f demo.FaultSwitches) error
}
