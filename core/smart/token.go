// Package smart is a SMART Backend Services client (SMART App Launch v2, Backend Services): keys and
// public JWKS, discovery, signed client assertions, an oauth2.TokenSource that
// reuses and refreshes access tokens, an *http.Client that sends the token
// only to the FHIR server's origin, RFC 7591 dynamic registration and a
// step-by-step connection test. Callers see tokens and HTTP clients; JWTs
// stay inside this package.
package smart

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/oauth2"

	"tranche.dev/tranche/core"
)

// Token reuse defaults.
const (
	// DefaultLeeway is how long before expiry a token is replaced.
	DefaultLeeway = 30 * time.Second
	// DefaultTokenLifetime is assumed when a token response has no usable
	// expires_in: SMART's recommended (and maximum SHOULD) 300 s.
	DefaultTokenLifetime = 5 * time.Minute
	// maxTokenBody bounds what we read from a token endpoint.
	maxTokenBody = 1 << 20
)

// Config describes one SMART Backend Services client.
type Config struct {
	ClientID string
	TokenURL string
	Scopes   []string
	// Key is the private signing key: a jwk.Key or a crypto.Signer
	// (*rsa.PrivateKey, *ecdsa.PrivateKey).
	Key any
	// KeyID is the kid header. Defaults to the key's kid, else its
	// thumbprint.
	KeyID string
	// Alg is RS384 or ES384. Defaults to the key's alg, else its type.
	Alg string
	// HTTPClient posts to the token endpoint. Defaults to a client with a
	// 30-second timeout.
	HTTPClient *http.Client
	// Now is the clock for assertions and token expiry. Defaults to
	// time.Now; tests inject their own.
	Now func() time.Time
	// Leeway is how long before expiry a cached token is replaced.
	// Defaults to DefaultLeeway, and to half the lifetime for short-lived
	// tokens.
	Leeway time.Duration
}

func (c *Config) now() time.Time {
	if c.Now != nil {
		return c.Now()
	}
	return time.Now()
}

func (c *Config) httpClient() *http.Client {
	if c.HTTPClient != nil {
		return c.HTTPClient
	}
	return &http.Client{Timeout: 30 * time.Second}
}

// TokenError is an error answer from a token endpoint (RFC 6749 §5.2). Its
// message names the OAuth error and description, never the raw body or the
// assertion.
type TokenError struct {
	Code        string // e.g. "invalid_client"
	Description string
	URI         string
	Status      int // HTTP status
}

func (e *TokenError) Error() string {
	switch {
	case e.Code != "" && e.Description != "":
		return e.Code + ": " + e.Description
	case e.Code != "":
		return e.Code
	}
	return fmt.Sprintf("token endpoint answered HTTP %d %s", e.Status, http.StatusText(e.Status))
}

// Invalidator is a token source whose cached token can be dropped, so the
// next Token call fetches a new one (after a 401).
type Invalidator interface {
	Invalidate()
}

// Source is the token source TokenSource returns. It caches one token,
// replaces it a leeway before expiry, and mints a fresh assertion for every
// token request. Safe for concurrent use.
type Source struct {
	cfg Config
	ctx context.Context

	mu        sync.Mutex
	tok       *oauth2.Token
	refreshAt time.Time
}

var (
	_ oauth2.TokenSource = (*Source)(nil)
	_ Invalidator        = (*Source)(nil)
)

// TokenSource returns a reusing token source for c. ctx is used for the token
// requests (as in x/oauth2). Refresh tokens are never used: a new assertion
// buys each new token (SMART App Launch v2, Backend Services: Response).
func (c *Config) TokenSource(ctx context.Context) oauth2.TokenSource {
	return &Source{cfg: *c, ctx: ctx}
}

// Token returns the cached token, or fetches a new one when there is none or
// it is due for refresh.
func (s *Source) Token() (*oauth2.Token, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.tok != nil && s.cfg.now().Before(s.refreshAt) {
		return s.tok, nil
	}
	tok, refreshAt, err := s.cfg.fetch(s.ctx)
	if err != nil {
		return nil, err
	}
	s.tok, s.refreshAt = tok, refreshAt
	return tok, nil
}

// Invalidate drops the cached token.
func (s *Source) Invalidate() {
	s.mu.Lock()
	s.tok = nil
	s.mu.Unlock()
}

type tokenResponse struct {
	AccessToken string          `json:"access_token"`
	TokenType   string          `json:"token_type"`
	ExpiresIn   json.RawMessage `json:"expires_in"`
	Scope       string          `json:"scope"`
	Error       string          `json:"error"`
	Description string          `json:"error_description"`
	URI         string          `json:"error_uri"`
}

// fetch posts one token request with a fresh assertion (SMART App Launch v2, Backend Services: Obtaining an access token).
func (c *Config) fetch(ctx context.Context) (*oauth2.Token, time.Time, error) {
	// Checked before the assertion is signed: it must never go over plain
	// http off this computer.
	if err := core.CheckURL(c.TokenURL); err != nil {
		return nil, time.Time{}, fmt.Errorf("token endpoint: %w", err)
	}
	assertion, err := c.Assertion()
	if err != nil {
		return nil, time.Time{}, fmt.Errorf("client assertion: %w", err)
	}
	form := url.Values{
		"grant_type":            {"client_credentials"},
		"scope":                 {strings.Join(c.Scopes, " ")},
		"client_assertion_type": {"urn:ietf:params:oauth:client-assertion-type:jwt-bearer"},
		"client_assertion":      {assertion},
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.TokenURL, strings.NewReader(form.Encode()))
	if err != nil {
		return nil, time.Time{}, fmt.Errorf("token request: %w", err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "application/json")
	start := c.now() // lifetimes count from before the request: conservative
	resp, err := checked(c.httpClient()).Do(req)
	if err != nil {
		return nil, time.Time{}, fmt.Errorf("token request: %w", err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxTokenBody))
	if err != nil {
		return nil, time.Time{}, fmt.Errorf("read token response: %w", err)
	}
	var tr tokenResponse
	jsonErr := json.Unmarshal(body, &tr)
	if resp.StatusCode/100 != 2 || tr.Error != "" {
		return nil, time.Time{}, &TokenError{Code: tr.Error, Description: tr.Description, URI: tr.URI, Status: resp.StatusCode}
	}
	if jsonErr != nil {
		return nil, time.Time{}, errors.New("token response is not JSON")
	}
	if tr.AccessToken == "" {
		return nil, time.Time{}, errors.New("token response has no access_token")
	}
	// token_type is "bearer", compared case-insensitively: SMART's own
	// example says "Bearer" (SMART App Launch v2, Backend Services: Response). A missing one is tolerated.
	if tr.TokenType != "" && !strings.EqualFold(tr.TokenType, "bearer") {
		return nil, time.Time{}, fmt.Errorf("token_type %q is not supported: want bearer", tr.TokenType)
	}
	lifetime := parseExpiresIn(tr.ExpiresIn)
	leeway := c.Leeway
	if leeway == 0 {
		leeway = DefaultLeeway
	}
	// Short-lived tokens refresh at half-life, so a 20 s token is not
	// refreshed on every call.
	leeway = min(leeway, lifetime/2)
	tok := &oauth2.Token{AccessToken: tr.AccessToken, TokenType: "Bearer", Expiry: start.Add(lifetime)}
	if tr.Scope != "" {
		tok = tok.WithExtra(map[string]any{"scope": tr.Scope})
	}
	return tok, start.Add(lifetime - leeway), nil
}

// parseExpiresIn reads expires_in as a number or a numeric string (some
// servers send "300"). Missing, zero, negative or odd values give
// DefaultTokenLifetime.
func parseExpiresIn(raw json.RawMessage) time.Duration {
	s := strings.Trim(strings.TrimSpace(string(raw)), `"`)
	if s == "" || s == "null" {
		return DefaultTokenLifetime
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || f <= 0 || f > 1e9 {
		return DefaultTokenLifetime
	}
	return time.Duration(f * float64(time.Second))
}
