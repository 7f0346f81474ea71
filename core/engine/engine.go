package engine

import (
	"context"
	"crypto"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"tranche.dev/tranche/core"
	"tranche.dev/tranche/core/bulk"
	"tranche.dev/tranche/core/sink"
	"tranche.dev/tranche/core/smart"
)

// Store is what the engine keeps: exports and the registrations they
// were made with. catalog.DB implements it.
type Store interface {
	core.ExportStore
	FindRegistration(ctx context.Context, id int64) (*core.Registration, error)
}

// Engine runs exports for the command line and the desktop app alike: it
// builds each run's HTTP clients and bulk.Runner in one place (Runner) and
// holds the control actions (Start, Resume, RetryFailed, Cancel,
// Release), whose rules are core.Export's Can* methods.
type Engine struct {
	Store Store
	// LoadKey returns a registration's private key (keychain, key file,
	// or the demo's sample keys).
	LoadKey func(reg *core.Registration) (crypto.Signer, error)
	// HTTPClient makes the short exchanges (discovery, tokens); nil:
	// NewHTTPClientDial(Dial).
	HTTPClient *http.Client
	// Dial makes every connection of the exports' transports; nil: the
	// network's. Tests give one that fails on any address off loopback.
	Dial   Dial
	Logger *slog.Logger
	// Logs, when set, keeps every run's events in its export's
	// log.ndjson (the bulk-data-client format), each file closed when the
	// run returns.
	Logs *bulk.LogDir
	// Memory is the process's soft memory limit while runs are in flight:
	// an Engine is shared, not copied.
	Memory MemoryLimit
}

// Auth is an ad hoc client (no stored registration): the CLI's
// --client-id and --private-key.
type Auth struct {
	ClientID string
	TokenURL string // "": discovered
	Scopes   []string
	// Key is the private key as smart.Config takes it: a jwk.Key (its kid
	// and alg are used) or a crypto.Signer.
	Key any
}

// Options are the settings of one run that are not the registration's.
type Options struct {
	Parallel int  // parallel downloads; 0: the registration's, else bulk.DefaultMaxParallel
	MaxLine  int  // longest NDJSON line; 0: the default
	KeepJob  bool // do not DELETE the job after a verified download
	// PollMin and PollMax clamp Retry-After (bulk.Runner); 0: the
	// registration's, else the defaults.
	PollMin, PollMax time.Duration
	Auth             *Auth // an export without a registration; nil: without authorization
	// OnEvent receives the run's events, on the engine's goroutines and
	// possibly at once (bulk.Runner.OnEvent): it must be safe for
	// concurrent use and must not block.
	OnEvent func(core.Event)
	Logger  *slog.Logger // nil: the Engine's
	// Sink lands a new export in object storage (docs/sink-layout.md);
	// nil: its registration's sink, if it has one, else the catalogue. A
	// stored export lands where it was started, with its recorded views
	// (sink.ResumeOptions); Sink's views, when given again, must match.
	Sink *sink.Options
	// OnSink, when set, hears where an export in object storage lands.
	OnSink func(SinkInfo)
}

func (e *Engine) httpClient() *http.Client {
	if e.HTTPClient != nil {
		return e.HTTPClient
	}
	return NewHTTPClientDial(e.Dial)
}

func (e *Engine) logger(o Options) *slog.Logger {
	switch {
	case o.Logger != nil:
		return o.Logger
	case e.Logger != nil:
		return e.Logger
	}
	return slog.Default().With("system", "bulk")
}

// Runner builds the runner of one export against base: its transport,
// the authorizing client (from reg, else o.Auth, else none), the
// registration's headers and poll clamps, and o's settings. It is the only
// place a bulk.Runner is put together.
func (e *Engine) Runner(ctx context.Context, base string, reg *core.Registration, o Options) (*bulk.Runner, error) {
	// The transport rule (core.CheckURL: TLS but on loopback), before anything is
	// sent or looked up.
	if err := core.CheckURL(base); err != nil {
		return nil, err
	}
	if reg != nil {
		if err := reg.CheckURLs(); err != nil {
			return nil, fmt.Errorf("registration %q: %w", reg.Name, err)
		}
	}
	if o.Auth != nil && o.Auth.TokenURL != "" {
		if err := core.CheckURL(o.Auth.TokenURL); err != nil {
			return nil, err
		}
	}
	parallel := o.Parallel
	if parallel <= 0 && reg != nil {
		parallel = reg.MaxParallel
	}
	if parallel <= 0 {
		parallel = bulk.DefaultMaxParallel
	}
	plain := &http.Client{Transport: NewTransportDial(parallel, e.Dial)}
	log := e.logger(o)
	r := &bulk.Runner{Store: e.Store, MaxParallel: parallel, MaxLine: o.MaxLine, KeepJob: o.KeepJob, Logger: log, OnEvent: o.OnEvent}
	api := plain
	var headers map[string]string
	var cfg *smart.Config
	switch {
	case reg != nil:
		key, err := e.LoadKey(reg)
		if err != nil {
			return nil, err
		}
		cfg = &smart.Config{ClientID: reg.ClientID, TokenURL: reg.TokenURL, Scopes: strings.Fields(reg.Scopes),
			Key: key, KeyID: reg.KeyID, Alg: reg.Alg}
		headers, r.PollMin, r.PollMax = reg.Headers, reg.PollMin, reg.PollMax
	case o.Auth != nil:
		cfg = &smart.Config{ClientID: o.Auth.ClientID, TokenURL: o.Auth.TokenURL, Scopes: o.Auth.Scopes, Key: o.Auth.Key}
	}
	if o.PollMin != 0 {
		r.PollMin = o.PollMin
	}
	if o.PollMax != 0 {
		r.PollMax = o.PollMax
	}
	if cfg != nil {
		cfg.HTTPClient = e.httpClient()
		if cfg.TokenURL == "" {
			d, err := smart.Discover(ctx, cfg.HTTPClient, base)
			if err != nil {
				return nil, fmt.Errorf("find the token endpoint: %w", err)
			}
			cfg.TokenURL = d.TokenEndpoint
		}
		var err error
		if api, err = smart.NewClient(plain, cfg.TokenSource(ctx), base); err != nil {
			return nil, err
		}
	}
	r.Client = &bulk.Client{BaseURL: base, HTTPClient: api, FileClient: plain, Headers: headers, Logger: log}
	return r, nil
}

// run is what every run of an export does around it: the soft memory
// limit while it runs, its events also to its log, and the log closed when
// it returns. id is read once the run returns (a new export's is set then).
func (e *Engine) run(o Options, id func() int64, f func(Options) error) error {
	defer e.Memory.Begin()()
	if e.Logs != nil {
		onEvent := o.OnEvent
		o.OnEvent = func(ev core.Event) {
			e.Logs.Handle(ev)
			if onEvent != nil {
				onEvent(ev)
			}
		}
		defer func() { e.Logs.Done(id()) }()
	}
	return f(o)
}

// registration returns the registration exp was made with; nil for an ad
// hoc export.
func (e *Engine) registration(ctx context.Context, exp *core.Export) (*core.Registration, error) {
	if exp.RegistrationID == 0 {
		return nil, nil
	}
	reg, err := e.Store.FindRegistration(ctx, exp.RegistrationID)
	if err != nil {
		return nil, fmt.Errorf("registration of export %d: %w", exp.ID, err)
	}
	return reg, nil
}

// Start validates, records and runs a new export of reg (nil: ad hoc, with
// o.Auth or none) to the end. exp needs Request and, without reg,
// FHIRBaseURL and Scope; the rest is filled in. exp.ID is set once the
// export is recorded, even when Start fails later.
func (e *Engine) Start(ctx context.Context, exp *core.Export, reg *core.Registration, o Options) error {
	return e.run(o, func() int64 { return exp.ID }, func(o Options) error { return e.start(ctx, exp, reg, o) })
}

func (e *Engine) start(ctx context.Context, exp *core.Export, reg *core.Registration, o Options) error {
	if reg != nil {
		exp.RegistrationID, exp.Scope = reg.ID, reg.Scopes
		if exp.FHIRBaseURL == "" {
			exp.FHIRBaseURL = reg.FHIRBaseURL
		}
	}
	r, err := e.Runner(ctx, exp.FHIRBaseURL, reg, o)
	if err != nil {
		return err
	}
	if err := e.newSink(r, reg, o); err != nil {
		return err
	}
	return r.Start(ctx, exp)
}

// Adopt picks up a job started elsewhere (or by an earlier run) from its
// status URL: the export already recorded with it, or a new one, then
// carries on as Resume does.
func (e *Engine) Adopt(ctx context.Context, exp *core.Export, reg *core.Registration, o Options) (*core.Export, error) {
	if old, err := e.Store.FindExportByStatusURL(ctx, exp.StatusURL); err == nil {
		return e.Resume(ctx, old.ID, o)
	}
	if reg != nil {
		exp.RegistrationID, exp.Scope = reg.ID, reg.Scopes
		if exp.FHIRBaseURL == "" {
			exp.FHIRBaseURL = reg.FHIRBaseURL
		}
	}
	exp.State = core.StatePolling
	if err := e.Store.CreateExport(ctx, exp); err != nil {
		return nil, fmt.Errorf("record export: %w", err)
	}
	return e.Resume(ctx, exp.ID, o)
}

// runner is Runner for the stored export id.
func (e *Engine) runner(ctx context.Context, id int64, o Options) (*bulk.Runner, *core.Export, error) {
	exp, err := e.Store.FindExport(ctx, id)
	if err != nil {
		return nil, nil, fmt.Errorf("export %d: %w", id, err)
	}
	reg, err := e.registration(ctx, exp)
	if err != nil {
		return nil, exp, err
	}
	r, err := e.Runner(ctx, exp.FHIRBaseURL, reg, o)
	return r, exp, err
}

// onStored runs action on the runner of stored export id, as every run
// goes (run). With lands, the action stores files, and the runner lands
// them where the export was started (storedSink); Cancel and Release only
// talk to the server and record a state, which needs no object storage.
// The export is action's, else the stored one's when the runner could not
// be built.
func (e *Engine) onStored(ctx context.Context, id int64, o Options, lands bool, action func(*bulk.Runner) (*core.Export, error)) (exp *core.Export, err error) {
	err = e.run(o, func() int64 { return id }, func(o Options) error {
		var r *bulk.Runner
		if r, exp, err = e.runner(ctx, id, o); err != nil {
			return err
		}
		if lands {
			if err = e.storedSink(ctx, r, id, o); err != nil {
				return err
			}
		}
		exp, err = action(r)
		return err
	})
	return exp, err
}

// Resume carries on with an unfinished export (core.Export.CanResume):
// polling the same job, then downloading what is not stored yet.
func (e *Engine) Resume(ctx context.Context, id int64, o Options) (*core.Export, error) {
	return e.onStored(ctx, id, o, true, func(r *bulk.Runner) (*core.Export, error) { return r.Resume(ctx, id) })
}

// RetryFailed downloads again the files whose download gave up
// (core.Export.CanRetryFailed); every other file is kept as it is.
func (e *Engine) RetryFailed(ctx context.Context, id int64, o Options) (*core.Export, error) {
	return e.onStored(ctx, id, o, true, func(r *bulk.Runner) (*core.Export, error) { return r.RetryFailed(ctx, id) })
}

// Cancel asks the server to drop an unfinished export's job (DELETE) and
// records it as cancelled (core.Export.CanCancel).
func (e *Engine) Cancel(ctx context.Context, id int64, o Options) error {
	_, err := e.onStored(ctx, id, o, false, func(r *bulk.Runner) (*core.Export, error) { return nil, r.Cancel(ctx, id) })
	return err
}

// Release tells the server a complete export's files may go (DELETE;
// core.Export.CanRelease).
func (e *Engine) Release(ctx context.Context, id int64, o Options) error {
	_, err := e.onStored(ctx, id, o, false, func(r *bulk.Runner) (*core.Export, error) { return nil, r.Release(ctx, id) })
	return err
}

// Groups searches the Groups of reg's server (bulk.Client.Groups), with
// reg's authorization and headers.
func (e *Engine) Groups(ctx context.Context, reg *core.Registration) ([]core.Group, error) {
	r, err := e.Runner(ctx, reg.FHIRBaseURL, reg, Options{Parallel: 1})
	if err != nil {
		return nil, err
	}
	return r.Client.Groups(ctx)
}
