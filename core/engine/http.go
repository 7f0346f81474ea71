package engine

import (
	"context"
	"net"
	"net/http"
	"time"

	"tranche.dev/tranche/core"
)

// Timeouts of the HTTP clients.
const (
	// shortTimeout bounds a whole discovery, token or registration
	// exchange.
	shortTimeout = 30 * time.Second
	// headerTimeout bounds the wait for a response's headers during an
	// export; bodies (files of any size) have no overall limit.
	headerTimeout = 2 * time.Minute
	dialTimeout   = 30 * time.Second
)

// NewTransport returns the transport of an export's requests: the
// default transport with connect and response-header timeouts, enough idle
// connections per host for parallel downloads, and core.UserAgent on
// every request.
func NewTransport(parallel int) http.RoundTripper {
	return NewTransportDial(parallel, nil)
}

// Dial makes a network connection, as net.Dialer.DialContext does. Tests
// pass one that fails the test, to prove nothing was sent.
type Dial func(ctx context.Context, network, addr string) (net.Conn, error)

// NewTransportDial is NewTransport with connections made by dial (nil:
// the network's, with the connect timeout).
func NewTransportDial(parallel int, dial Dial) http.RoundTripper {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.MaxIdleConnsPerHost = parallel + 2
	tr.ResponseHeaderTimeout = headerTimeout
	tr.DialContext = dial
	if dial == nil {
		tr.DialContext = (&net.Dialer{Timeout: dialTimeout, KeepAlive: 30 * time.Second}).DialContext
	}
	return &UserAgentTransport{Base: tr}
}

// NewHTTPClient returns the client of short exchanges (discovery, tokens,
// dynamic registration, Group search): a 30 s limit per request, and
// core.UserAgent on every request.
func NewHTTPClient() *http.Client {
	return &http.Client{Timeout: shortTimeout, Transport: &UserAgentTransport{}}
}

// NewHTTPClientDial is NewHTTPClient with connections made by dial (nil:
// the network's).
func NewHTTPClientDial(dial Dial) *http.Client {
	if dial == nil {
		return NewHTTPClient()
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.DialContext = dial
	return &http.Client{Timeout: shortTimeout, Transport: &UserAgentTransport{Base: tr}}
}

// UserAgentTransport sets core.UserAgent on every request that has no
// User-Agent yet.
type UserAgentTransport struct {
	Base http.RoundTripper // nil: http.DefaultTransport
}

// RoundTrip implements http.RoundTripper.
func (t *UserAgentTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	base := t.Base
	if base == nil {
		base = http.DefaultTransport
	}
	if req.Header.Get("User-Agent") == "" {
		r := req.Clone(req.Context()) // a RoundTripper must not modify req
		r.Header.Set("User-Agent", core.UserAgent)
		req = r
	}
	return base.RoundTrip(req)
}
