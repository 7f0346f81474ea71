// Package demotest helps tests run against the loopback demo server, in
// the spirit of net/http/httptest: a server that closes when the test
// ends, and a manual clock that the server and the engine can share, so a
// slow job or a short token lifetime takes no time.
package demotest

import (
	"context"
	"io"
	"log/slog"
	"sync"
	"testing"
	"time"

	"tranche.dev/tranche/core/demo"
)

// Start opens a demo server on loopback with cfg, logging nowhere unless
// cfg.Logger is set, and closes it when the test ends.
func Start(tb testing.TB, cfg demo.Config) *demo.Server {
	tb.Helper()
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	srv := demo.NewServer(cfg)
	if err := srv.Open(); err != nil {
		tb.Fatalf("open the demo server: %v", err)
	}
	tb.Cleanup(func() { srv.Close() })
	return srv
}

// Clock is a manual clock, safe for concurrent use: Now returns the time
// set; Sleep and Advance move it on at once.
type Clock struct {
	mu sync.Mutex
	t  time.Time
}

// NewClock returns a clock set to t.
func NewClock(t time.Time) *Clock { return &Clock{t: t} }

// Now returns the clock's time.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

// Set sets the clock to t.
func (c *Clock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = t
}

// Advance moves the clock on by d.
func (c *Clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// Sleep moves the clock on by d without waiting, and reports ctx's error:
// use it as bulk.Runner.Sleep.
func (c *Clock) Sleep(ctx context.Context, d time.Duration) error {
	c.Advance(d)
	return ctx.Err()
}
