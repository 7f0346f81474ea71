package demo

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"

	samplejwks "tranche.dev/tranche/sample-jwks"
)

// defaultScope is what a client may be granted when its registration
// names no scope: read everything.
const defaultScope = "system/*.rs"

// Client is a client registration made in code (tests, the GUI).
type Client struct {
	ID      string // "" = a random id
	Name    string
	JWKS    []byte // inline public JWK Set, or
	JWKSURL string // a loopback JWKS URL (or both)
	Scope   string // the most it may be granted; "" = system/*.rs
	Faults  *Faults
}

// RegisterClient registers c and returns its client id. The JWKS must hold
// public RS384 (RSA ≥2048) or ES384 (P-384) keys with unique kids.
func (s *Server) RegisterClient(c Client) (string, error) {
	nc := &client{id: c.ID, name: c.Name, jwksURL: c.JWKSURL, faults: c.Faults, issuedAt: s.now()}
	if len(c.JWKS) == 0 && c.JWKSURL == "" {
		return "", errors.New("register client: jwks or jwks url required")
	}
	if len(c.Name) > maxClientName || len(c.Scope) > maxScope {
		return "", fmt.Errorf("register client: name over %d or scope over %d bytes", maxClientName, maxScope)
	}
	if len(c.JWKS) > 0 {
		keys, err := parseJWKS(c.JWKS, true)
		if err != nil {
			return "", fmt.Errorf("register client: %w", err)
		}
		nc.keys = keys
	}
	if c.JWKSURL != "" {
		if err := checkJWKSURL(c.JWKSURL); err != nil {
			return "", fmt.Errorf("register client: %w", err)
		}
	}
	scope := c.Scope
	if scope == "" {
		scope = defaultScope
	}
	allowed, unknown := parseScopes(scope)
	if len(unknown) > 0 || len(allowed) == 0 {
		return "", fmt.Errorf("register client: unsupported scope %q", strings.Join(unknown, " "))
	}
	nc.allowed = allowed
	if c.Faults != nil {
		f := *c.Faults
		nc.faults = &f
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if nc.id == "" {
		nc.id = randomID(16)
	}
	if _, ok := s.clients[nc.id]; ok {
		return "", fmt.Errorf("register client: id %q already registered", nc.id)
	}
	s.clients[nc.id] = nc
	return nc.id, nil
}

// registerDemoClients registers the sample key sets under their fixed ids.
func (s *Server) registerDemoClients() {
	for _, d := range []struct{ id, file string }{
		{DemoClientRS384, "RS384.public.json"},
		{DemoClientES384, "ES384.public.json"},
	} {
		jwks, err := samplejwks.File(d.file)
		if err == nil {
			_, err = s.RegisterClient(Client{ID: d.id, Name: "Tranche demo (" + d.file + ")", JWKS: jwks})
		}
		if err != nil {
			s.logger.Error("register demo client", "client", d.id, "err", err)
		}
	}
}

// registrationRequest is the RFC 7591 §2 client metadata we understand.
type registrationRequest struct {
	ClientName              string          `json:"client_name,omitempty"`
	TokenEndpointAuthMethod string          `json:"token_endpoint_auth_method,omitempty"`
	GrantTypes              []string        `json:"grant_types,omitempty"`
	ResponseTypes           []string        `json:"response_types,omitempty"`
	RedirectURIs            []string        `json:"redirect_uris,omitempty"`
	Scope                   string          `json:"scope,omitempty"`
	JWKS                    json.RawMessage `json:"jwks,omitempty"`
	JWKSURI                 string          `json:"jwks_uri,omitempty"`
}

// handleRegister is RFC 7591 dynamic client registration for backend
// services (private_key_jwt, client_credentials).
func (s *Server) handleRegister(w http.ResponseWriter, r *http.Request) {
	bad := func(desc string) {
		writeOAuthError(w, http.StatusBadRequest, "invalid_client_metadata", desc)
	}
	ct := strings.TrimSpace(strings.Split(r.Header.Get("Content-Type"), ";")[0])
	if !strings.EqualFold(ct, "application/json") {
		bad("Content-Type must be application/json")
		return
	}
	var req registrationRequest
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxRegistrationBody))
	if err := dec.Decode(&req); err != nil {
		if tooLarge(err) {
			writeOAuthError(w, http.StatusRequestEntityTooLarge, "invalid_client_metadata",
				fmt.Sprintf("registration body is over %d bytes", maxRegistrationBody))
			return
		}
		bad("body is not a JSON object of client metadata")
		return
	}
	switch {
	case len(req.ClientName) > maxClientName:
		bad(fmt.Sprintf("client_name is longer than %d bytes", maxClientName))
		return
	case len(req.Scope) > maxScope:
		bad(fmt.Sprintf("scope is longer than %d bytes", maxScope))
		return
	case len(req.JWKSURI) > maxJWKSURL:
		bad(fmt.Sprintf("jwks_uri is longer than %d bytes", maxJWKSURL))
		return
	}
	if m := req.TokenEndpointAuthMethod; m != "" && m != "private_key_jwt" {
		bad("token_endpoint_auth_method must be private_key_jwt")
		return
	}
	if req.TokenEndpointAuthMethod == "" {
		req.TokenEndpointAuthMethod = "private_key_jwt"
	}
	if len(req.GrantTypes) == 0 {
		req.GrantTypes = []string{"client_credentials"}
	}
	for _, g := range req.GrantTypes {
		if g != "client_credentials" {
			bad("grant_types may only contain client_credentials")
			return
		}
	}
	if len(req.ResponseTypes) > 0 || len(req.RedirectURIs) > 0 {
		bad("backend services have no redirect_uris or response_types")
		return
	}
	hasJWKS := len(req.JWKS) > 0 && string(req.JWKS) != "null"
	switch {
	case hasJWKS && req.JWKSURI != "":
		bad("give jwks or jwks_uri, not both (RFC 7591 §2)")
		return
	case !hasJWKS && req.JWKSURI == "":
		bad("jwks or jwks_uri required")
		return
	}
	if req.JWKSURI != "" {
		if err := checkJWKSURL(req.JWKSURI); err != nil {
			bad(err.Error())
			return
		}
	}
	if req.Scope != "" {
		if set, unknown := parseScopes(req.Scope); len(unknown) > 0 || len(set) == 0 {
			bad("unsupported scope: " + strings.Join(unknown, " "))
			return
		}
	}
	c := Client{Name: req.ClientName, JWKSURL: req.JWKSURI, Scope: req.Scope}
	if hasJWKS {
		c.JWKS = req.JWKS
	}
	// Count the registration before making it, so concurrent requests
	// cannot overshoot the bound.
	s.mu.Lock()
	full := s.registered >= s.cfg.MaxClients
	if !full {
		s.registered++
	}
	s.mu.Unlock()
	if full {
		writeOAuthError(w, http.StatusForbidden, "access_denied", fmt.Sprintf(
			"this demo server takes at most %d registrations; restart it to start afresh", s.cfg.MaxClients))
		return
	}
	id, err := s.RegisterClient(c)
	if err != nil {
		s.mu.Lock()
		s.registered--
		s.mu.Unlock()
		bad(strings.TrimPrefix(err.Error(), "register client: "))
		return
	}
	setClientID(r, id)
	s.mu.Lock()
	nc := s.clients[id]
	s.mu.Unlock()
	resp := map[string]any{
		"client_id":                  id,
		"client_id_issued_at":        nc.issuedAt.Unix(),
		"token_endpoint_auth_method": req.TokenEndpointAuthMethod,
		"grant_types":                slices.Clone(req.GrantTypes),
		"scope":                      nc.allowed.String(),
	}
	if req.ClientName != "" {
		resp["client_name"] = req.ClientName
	}
	if hasJWKS {
		resp["jwks"] = req.JWKS
	} else {
		resp["jwks_uri"] = req.JWKSURI
	}
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, http.StatusCreated, ctJSON, resp)
	s.logger.Info("client registered", "client", id, "name", req.ClientName)
}
