// Package demo is a loopback FHIR Bulk Data server with SMART Backend
// Services authorization, serving a synthetic population from core/synth. It
// is strict on purpose: Tranche's client and the SMART reference client are
// tested against it, and a lenient fake would hide their mistakes.
package demo

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"time"

	"tranche.dev/tranche/core/synth"
)

// Defaults for Config fields left zero.
const (
	DefaultAddr       = "127.0.0.1:0"
	DefaultPatients   = 100
	DefaultTokenTTL   = 300 * time.Second
	DefaultFileLines  = 10000
	DefaultRetryAfter = 1 * time.Second
	DefaultJobTTL     = 1 * time.Hour
)

// Fixed ids of the pre-registered demo clients. Each uses the sample key set
// of the same algorithm from sample-jwks (e.g. RS384.private.json to sign).
const (
	DemoClientRS384 = "tranche-demo-rs384"
	DemoClientES384 = "tranche-demo-es384"
)

// Paths under the server's root.
const (
	fhirPath     = "/fhir"
	tokenPath    = "/auth/token"
	registerPath = "/auth/register"
)

// Config configures a Server. Zero fields take the defaults above.
type Config struct {
	Addr        string // listen address; loopback only unless AllowRemote
	AllowRemote bool
	Patients    int
	Seed        int64
	Open        bool          // no authorization at all (requiresAccessToken false)
	TokenTTL    time.Duration // access token lifetime, at most MaxTokenTTL unless TokenTTLBreaksSpec
	// TokenTTLBreaksSpec allows a TokenTTL over MaxTokenTTL, which the
	// SMART Backend Services IG advises against: for training on token
	// expiry only.
	TokenTTLBreaksSpec bool
	FileLines          int    // resources per output file at most
	Faults             Faults // server-wide fault simulation; see SetFaults

	// RetryAfter is sent with every 202 status answer.
	RetryAfter time.Duration
	// MinPoll is how soon after its previous poll a client may poll a
	// running job again before it gets 429. Zero means half of RetryAfter
	// (slack for clients that round); negative disables the check.
	MinPoll time.Duration
	// JobTTL is how long a finished job and its files stay available (the
	// manifest's Expires header).
	JobTTL time.Duration
	// Workers is how many goroutines count a job's output; 0 = 2.
	Workers int
	// MaxClients is how many clients may register through the RFC 7591
	// endpoint; 0 = DefaultMaxClients. More get 403.
	MaxClients int

	// HTTPClient fetches registered JWKS URLs; nil uses a client with a
	// 5 s timeout. Only loopback URLs are ever fetched.
	HTTPClient *http.Client
	// Now returns the current time; nil uses time.Now. Job progress, token
	// expiry and assertion checks all read it, so tests can freeze time.
	Now func() time.Time
	// SyncJobs counts an export's resources before the kick-off answers,
	// instead of in the background: with Now, a test then sees each
	// status answer decided by its clock alone, with no goroutine to wait
	// for.
	SyncJobs  bool
	Logger    *slog.Logger
	OnRequest func(RequestLog) // called after each request, from the request's goroutine
}

// RequestLog describes one handled request, for a live request log.
type RequestLog struct {
	Time     time.Time
	Method   string
	Path     string
	Status   int
	Duration time.Duration
	ClientID string // the authenticated client, if any
}

// Server is the demo Bulk Data server. Create it with NewServer, start it
// with Open and stop it with Close.
type Server struct {
	cfg      Config
	timeouts timeouts
	logger   *slog.Logger
	now      func() time.Time
	pop      *synth.Population
	cat      catalogue

	ln   net.Listener
	http *http.Server
	root string // scheme://host:port, set by Open
	wg   sync.WaitGroup
	ctx  context.Context
	stop context.CancelFunc

	mu         sync.Mutex
	faults     Faults
	clients    map[string]*client
	registered int // clients registered through the RFC 7591 endpoint
	tokens     map[string]*accessToken
	jtis       map[string]time.Time // client id + " " + jti → when it may be forgotten
	jwks       map[string]cachedJWKS
	jobs       map[string]*job
}

// NewServer returns a server for cfg. The population is built here (it is
// cheap: resources are generated on demand), the network only in Open.
func NewServer(cfg Config) *Server {
	if cfg.Addr == "" {
		cfg.Addr = DefaultAddr
	}
	if cfg.Patients <= 0 {
		cfg.Patients = DefaultPatients
	}
	if cfg.TokenTTL <= 0 {
		cfg.TokenTTL = DefaultTokenTTL
	}
	if cfg.FileLines <= 0 {
		cfg.FileLines = DefaultFileLines
	}
	if cfg.RetryAfter <= 0 {
		cfg.RetryAfter = DefaultRetryAfter
	}
	if cfg.MinPoll == 0 {
		cfg.MinPoll = cfg.RetryAfter / 2
	}
	if cfg.JobTTL <= 0 {
		cfg.JobTTL = DefaultJobTTL
	}
	if cfg.Workers <= 0 {
		cfg.Workers = 2
	}
	if cfg.MaxClients <= 0 {
		cfg.MaxClients = DefaultMaxClients
	}
	if cfg.HTTPClient == nil {
		cfg.HTTPClient = &http.Client{
			Timeout: 5 * time.Second,
			// A redirect must not lead the JWKS fetch off loopback.
			CheckRedirect: func(req *http.Request, via []*http.Request) error {
				if len(via) >= 3 {
					return errors.New("too many redirects")
				}
				return checkJWKSURL(req.URL.String())
			},
		}
	}
	s := &Server{
		cfg:      cfg,
		timeouts: defaultTimeouts,
		logger:   cfg.Logger,
		now:      cfg.Now,
		faults:   cfg.Faults,
		clients:  make(map[string]*client),
		tokens:   make(map[string]*accessToken),
		jtis:     make(map[string]time.Time),
		jwks:     make(map[string]cachedJWKS),
		jobs:     make(map[string]*job),
	}
	if s.logger == nil {
		s.logger = slog.Default().With("system", "demo")
	}
	if s.now == nil {
		s.now = time.Now
	}
	s.pop = synth.New(synth.Config{Patients: cfg.Patients, Seed: cfg.Seed})
	s.cat = newCatalogue(s.pop)
	s.ctx, s.stop = context.WithCancel(context.Background())
	s.registerDemoClients()
	return s
}

// Open listens on Config.Addr and serves in a goroutine. Listening happens
// here so that an address in use is reported to the caller.
func (s *Server) Open() error {
	host, _, err := net.SplitHostPort(s.cfg.Addr)
	if err != nil {
		return fmt.Errorf("listen address %q: %w", s.cfg.Addr, err)
	}
	if !s.cfg.AllowRemote && !isLoopbackHost(host) {
		return fmt.Errorf("listen address %q is not loopback (the demo server has no TLS)", s.cfg.Addr)
	}
	if s.cfg.TokenTTL > MaxTokenTTL && !s.cfg.TokenTTLBreaksSpec {
		return fmt.Errorf("token lifetime %v: %w", s.cfg.TokenTTL, ErrTokenTTL)
	}
	ln, err := net.Listen("tcp", s.cfg.Addr)
	if err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	s.ln = ln
	s.root = "http://" + ln.Addr().String()
	s.http = &http.Server{
		Handler:           s.routes(),
		ReadHeaderTimeout: s.timeouts.readHeader,
		ReadTimeout:       s.timeouts.read,
		WriteTimeout:      s.timeouts.writeStall, // file downloads push it on as they progress
		IdleTimeout:       s.timeouts.idle,
		BaseContext:       func(net.Listener) context.Context { return s.ctx },
	}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		if err := s.http.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			s.logger.Error("serve", "err", err)
		}
	}()
	s.logger.Info("demo server listening", "base", s.URL())
	return nil
}

// Close stops the server, giving open requests five seconds to finish, and
// stops the background work of running jobs.
func (s *Server) Close() error {
	var err error
	if s.http != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		err = s.http.Shutdown(ctx)
	}
	s.stop() // ends downloads still running and the counting of jobs
	s.wg.Wait()
	return err
}

// URL returns the FHIR base URL, e.g. http://127.0.0.1:8080/fhir. Valid after Open.
func (s *Server) URL() string { return s.root + fhirPath }

// TokenURL returns the token endpoint. Valid after Open.
func (s *Server) TokenURL() string { return s.root + tokenPath }

// RegistrationURL returns the RFC 7591 registration endpoint. Valid after Open.
func (s *Server) RegistrationURL() string { return s.root + registerPath }

// SetFaults replaces the server-wide fault simulation. Jobs started earlier
// keep the faults they started with. Safe for concurrent use.
func (s *Server) SetFaults(f Faults) {
	s.mu.Lock()
	s.faults = f
	s.mu.Unlock()
}

// currentFaults returns the faults for a new job of client id.
func (s *Server) currentFaults(clientID string) Faults {
	s.mu.Lock()
	defer s.mu.Unlock()
	if c := s.clients[clientID]; c != nil && c.faults != nil {
		return *c.faults
	}
	return s.faults
}

func isLoopbackHost(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
