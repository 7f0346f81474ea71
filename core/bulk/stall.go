package bulk

import (
	"context"
	"errors"
	"io"
	"net/http"
	"sync"
	"time"
)

// DefaultStallTimeout is how long a response may send nothing, headers
// received, before it is abandoned and retried as a reset connection.
const DefaultStallTimeout = 90 * time.Second

// ErrStalled reports a response that sent nothing for the stall timeout.
// It is retried as a reset connection is.
var ErrStalled = errors.New("the server sent nothing for too long (stalled)")

// stallTransport bounds the time without progress on every response body
// read (status, manifest pages, files, metadata): each read that brings
// bytes restarts the clock, and a body silent for longer than idle is cut
// with ErrStalled.
type stallTransport struct {
	base http.RoundTripper
	idle time.Duration
}

func (t *stallTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	base := t.base
	if base == nil {
		base = http.DefaultTransport
	}
	ctx, cancel := context.WithCancelCause(req.Context())
	resp, err := base.RoundTrip(req.WithContext(ctx))
	if err != nil {
		cancel(nil)
		return nil, err
	}
	b := &stallBody{rc: resp.Body, ctx: ctx, cancel: cancel, idle: t.idle}
	b.timer = time.AfterFunc(t.idle, func() { cancel(ErrStalled) })
	resp.Body = b
	return resp, nil
}

type stallBody struct {
	rc     io.ReadCloser
	ctx    context.Context
	cancel context.CancelCauseFunc
	idle   time.Duration
	timer  *time.Timer
	once   sync.Once
}

func (b *stallBody) Read(p []byte) (int, error) {
	n, err := b.rc.Read(p)
	if n > 0 {
		b.timer.Reset(b.idle)
	}
	if err != nil && err != io.EOF && errors.Is(context.Cause(b.ctx), ErrStalled) {
		err = ErrStalled
	}
	return n, err
}

func (b *stallBody) Close() error {
	b.once.Do(func() {
		b.timer.Stop()
		b.cancel(nil)
	})
	return b.rc.Close()
}

// withStall returns a copy of hc whose responses are bounded by the stall
// timeout.
func (c *Client) withStall(hc *http.Client) *http.Client {
	idle := c.StallTimeout
	if idle <= 0 {
		idle = DefaultStallTimeout
	}
	cp := *hc
	cp.Transport = &stallTransport{base: hc.Transport, idle: idle}
	return &cp
}
