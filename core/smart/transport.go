package smart

import (
	"errors"
	"fmt"
	"io"
	"net/http"

	"golang.org/x/oauth2"

	"tranche.dev/tranche/core"
)

// checked returns a copy of c (nil: http.DefaultClient) whose redirects
// are held to the transport rule (core.CheckURL) before they are sent.
func checked(c *http.Client) *http.Client {
	if c == nil {
		c = http.DefaultClient
	}
	cp := *c
	next := c.CheckRedirect
	cp.CheckRedirect = func(req *http.Request, via []*http.Request) error {
		if err := core.CheckParsedURL(req.URL); err != nil {
			return err
		}
		if next != nil {
			return next(req, via)
		}
		if len(via) >= 10 {
			return errTooManyRedirects
		}
		return nil
	}
	return &cp
}

// Transport adds "Authorization: Bearer <token>" to requests for one origin
// only, and on a 401 from that origin drops the cached token and retries
// once with a new one (if the request body can be replayed).
type Transport struct {
	// Base sends the requests. Defaults to http.DefaultTransport.
	Base http.RoundTripper
	// Source gives tokens. If it is an Invalidator, a 401 invalidates it.
	Source oauth2.TokenSource
	// Origin is the only origin that gets the token, as core.Origin returns it.
	Origin string
}

func (t *Transport) base() http.RoundTripper {
	if t.Base != nil {
		return t.Base
	}
	return http.DefaultTransport
}

// RoundTrip implements http.RoundTripper.
func (t *Transport) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.URL == nil || core.OriginOf(req.URL) != t.Origin {
		return t.base().RoundTrip(req)
	}
	resp, err := t.send(req, req.Body)
	if err != nil || resp.StatusCode != http.StatusUnauthorized {
		return resp, err
	}
	inv, ok := t.Source.(Invalidator)
	replayable := req.Body == nil || req.Body == http.NoBody || req.GetBody != nil
	if !ok || !replayable {
		return resp, nil
	}
	// The token may have been revoked or expired early: one re-auth.
	io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	resp.Body.Close()
	inv.Invalidate()
	body := req.Body
	if req.GetBody != nil {
		if body, err = req.GetBody(); err != nil {
			return nil, fmt.Errorf("replay request body: %w", err)
		}
	}
	return t.send(req, body)
}

func (t *Transport) send(req *http.Request, body io.ReadCloser) (*http.Response, error) {
	tok, err := t.Source.Token()
	if err != nil {
		if req.Body != nil {
			req.Body.Close()
		}
		return nil, fmt.Errorf("access token: %w", err)
	}
	r := req.Clone(req.Context()) // a RoundTripper must not modify req
	r.Body = body
	r.Header.Set("Authorization", "Bearer "+tok.AccessToken)
	return t.base().RoundTrip(r)
}

// errTooManyRedirects matches net/http's default limit of 10.
var errTooManyRedirects = errors.New("stopped after 10 redirects")

// NewClient returns a copy of base (nil means http.DefaultClient) whose
// requests to origin carry the bearer token from ts. The token is never sent
// to another origin, including after a redirect: Authorization is stripped
// from any cross-origin hop. ts should come from Config.TokenSource so a 401
// can invalidate it.
func NewClient(base *http.Client, ts oauth2.TokenSource, origin string) (*http.Client, error) {
	if err := core.CheckURL(origin); err != nil {
		return nil, err
	}
	o, err := core.Origin(origin)
	if err != nil {
		return nil, fmt.Errorf("token origin: %w", err)
	}
	if base == nil {
		base = http.DefaultClient
	}
	c := *base
	c.Transport = &Transport{Base: base.Transport, Source: ts, Origin: o}
	next := base.CheckRedirect
	c.CheckRedirect = func(req *http.Request, via []*http.Request) error {
		if err := core.CheckParsedURL(req.URL); err != nil {
			return err
		}
		if core.OriginOf(req.URL) != o {
			req.Header.Del("Authorization")
		}
		if next != nil {
			return next(req, via)
		}
		if len(via) >= 10 {
			return errTooManyRedirects
		}
		return nil
	}
	return &c, nil
}
