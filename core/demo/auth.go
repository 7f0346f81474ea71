package demo

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"
)

const assertionType = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"

// client is a registered backend service.
type client struct {
	id       string
	name     string
	keys     []pubKey // inline JWKS
	jwksURL  string
	allowed  scopeSet // the most it may be granted
	faults   *Faults
	issuedAt time.Time
}

// accessToken is an issued bearer token. Tokens are opaque random strings;
// only the server's map gives them meaning.
type accessToken struct {
	clientID string
	scopes   scopeSet
	expires  time.Time
}

// randomID returns n random bytes in hex: 16 bytes make the 128-bit ids of
// jobs and clients, 32 the access tokens.
func randomID(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// handleToken is the token endpoint: client_credentials with a
// private_key_jwt client assertion (SMART App Launch: Backend Services, Obtaining an Access Token).
func (s *Server) handleToken(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, maxTokenBody)
	ct := strings.TrimSpace(strings.Split(r.Header.Get("Content-Type"), ";")[0])
	if !strings.EqualFold(ct, "application/x-www-form-urlencoded") {
		writeOAuthError(w, http.StatusBadRequest, "invalid_request", "Content-Type must be application/x-www-form-urlencoded")
		return
	}
	if err := r.ParseForm(); err != nil {
		if tooLarge(err) {
			writeOAuthError(w, http.StatusRequestEntityTooLarge, "invalid_request",
				fmt.Sprintf("token request body is over %d bytes", maxTokenBody))
			return
		}
		writeOAuthError(w, http.StatusBadRequest, "invalid_request", "unreadable form body")
		return
	}
	f := r.PostForm
	for _, name := range []string{"grant_type", "client_assertion_type", "client_assertion", "scope"} {
		if len(f[name]) > 1 {
			writeOAuthError(w, http.StatusBadRequest, "invalid_request", name+" given more than once")
			return
		}
	}
	switch gt := f.Get("grant_type"); gt {
	case "client_credentials":
	case "":
		writeOAuthError(w, http.StatusBadRequest, "invalid_request", "grant_type missing")
		return
	default:
		writeOAuthError(w, http.StatusBadRequest, "unsupported_grant_type", "grant_type must be client_credentials")
		return
	}
	if f.Get("client_assertion_type") != assertionType {
		writeOAuthError(w, http.StatusBadRequest, "invalid_request", "client_assertion_type must be "+assertionType)
		return
	}
	assertion := f.Get("client_assertion")
	if assertion == "" {
		writeOAuthError(w, http.StatusBadRequest, "invalid_request", "client_assertion missing")
		return
	}
	c, err := s.authenticate(r.Context(), assertion)
	if errors.Is(err, errTooManyAssertions) {
		s.logger.Info("token request rejected", "reason", err.Error())
		w.Header().Set("Retry-After", retryAfter(maxAssertionLifetime))
		writeOAuthError(w, http.StatusTooManyRequests, "invalid_request", err.Error())
		return
	}
	if err != nil {
		s.logger.Info("token request rejected", "reason", err.Error())
		writeOAuthError(w, http.StatusBadRequest, "invalid_client", err.Error())
		return
	}
	setClientID(r, c.id)
	if id := f.Get("client_id"); id != "" && id != c.id {
		writeOAuthError(w, http.StatusBadRequest, "invalid_client", "client_id does not match the assertion's iss")
		return
	}
	requested, _ := parseScopes(f.Get("scope"))
	if f.Get("scope") == "" {
		writeOAuthError(w, http.StatusBadRequest, "invalid_scope", "scope missing (e.g. system/*.rs)")
		return
	}
	granted := grant(requested, c.allowed)
	if len(granted) == 0 {
		writeOAuthError(w, http.StatusBadRequest, "invalid_scope",
			"none of the requested scopes is allowed for this client (allowed: "+c.allowed.String()+")")
		return
	}
	tok := randomID(32)
	ttl := s.cfg.TokenTTL
	s.mu.Lock()
	now := s.now()
	var oldest string // the client's token that expires first
	mine := 0
	for k, t := range s.tokens {
		switch {
		case now.After(t.expires):
			delete(s.tokens, k)
		case t.clientID == c.id:
			mine++
			if oldest == "" || t.expires.Before(s.tokens[oldest].expires) {
				oldest = k
			}
		}
	}
	// A client that keeps asking holds at most maxTokensPerClient live
	// tokens: the one that would expire first makes room.
	if mine >= maxTokensPerClient {
		delete(s.tokens, oldest)
	}
	s.tokens[tok] = &accessToken{clientID: c.id, scopes: granted, expires: now.Add(ttl)}
	s.mu.Unlock()
	s.logger.Info("token issued", "client", c.id, "scope", granted.String())
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Pragma", "no-cache")
	writeJSON(w, http.StatusOK, ctJSON, map[string]any{
		"access_token": tok,
		"token_type":   "bearer",
		"expires_in":   int(ttl / time.Second),
		"scope":        granted.String(),
	})
}

// authorize checks the bearer token of a FHIR request. It answers 401 and
// returns false when the request may not proceed. In open mode every
// request is authorized with all read scopes and no client.
func (s *Server) authorize(w http.ResponseWriter, r *http.Request) (*accessToken, bool) {
	if s.cfg.Open {
		return &accessToken{scopes: scopeSet{{typ: "*", perms: permR | permS}}}, true
	}
	h := r.Header.Get("Authorization")
	scheme, tok, ok := strings.Cut(h, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") || tok == "" {
		w.Header().Set("WWW-Authenticate", `Bearer realm="tranche-demo"`)
		writeOutcome(w, http.StatusUnauthorized, "login", "bearer token required")
		return nil, false
	}
	s.mu.Lock()
	t := s.tokens[strings.TrimSpace(tok)]
	s.mu.Unlock()
	if t == nil || s.now().After(t.expires) {
		w.Header().Set("WWW-Authenticate", `Bearer realm="tranche-demo", error="invalid_token"`)
		writeOutcome(w, http.StatusUnauthorized, "expired", "access token unknown or expired")
		return nil, false
	}
	setClientID(r, t.clientID)
	return t, true
}
