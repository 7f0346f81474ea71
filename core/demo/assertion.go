package demo

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/lestrrat-go/jwx/v3/jwa"
	"github.com/lestrrat-go/jwx/v3/jws"
)

// Limits on client assertions (SMART App Launch v2, Client Authentication: Asymmetric, Authenticating to the Token endpoint; SMART App Launch v2, Client Authentication: Asymmetric, Signature Verification).
const (
	maxAssertionLifetime = 5 * time.Minute
	clockSkew            = 10 * time.Second
)

// allowedAlgs is the allow-list of assertion algorithms. The header's alg
// only selects from this list; it never chooses the verifier by itself, so
// "none", HS256 and friends cannot get through.
var allowedAlgs = map[string]struct {
	alg jwa.SignatureAlgorithm
	kty string
}{
	"RS384": {jwa.RS384(), "RSA"},
	"ES384": {jwa.ES384(), "EC"},
}

// joseHeader is the protected header of a client assertion.
type joseHeader struct {
	Alg string `json:"alg"`
	Kid string `json:"kid"`
	Typ string `json:"typ"`
	Jku string `json:"jku"`
}

// assertionClaims are the claims SMART requires (RFC 7523 §3).
type assertionClaims struct {
	Iss string          `json:"iss"`
	Sub string          `json:"sub"`
	Aud json.RawMessage `json:"aud"`
	Exp *float64        `json:"exp"`
	Nbf *float64        `json:"nbf"`
	Jti string          `json:"jti"`
}

// splitJWT returns the decoded header and the (unverified) payload bytes.
func splitJWT(compact string) (joseHeader, []byte, error) {
	parts := strings.Split(compact, ".")
	if len(parts) != 3 {
		return joseHeader{}, nil, errors.New("client_assertion is not a compact JWS")
	}
	hb, err := base64.RawURLEncoding.DecodeString(parts[0])
	if err != nil {
		return joseHeader{}, nil, errors.New("client_assertion header is not base64url")
	}
	var h joseHeader
	if err := json.Unmarshal(hb, &h); err != nil {
		return joseHeader{}, nil, errors.New("client_assertion header is not JSON")
	}
	pb, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		return joseHeader{}, nil, errors.New("client_assertion payload is not base64url")
	}
	return h, pb, nil
}

// checkHeader enforces the header rules that do not need keys.
func checkHeader(h joseHeader) error {
	if _, ok := allowedAlgs[h.Alg]; !ok {
		return fmt.Errorf("alg %q not allowed (RS384 or ES384)", h.Alg)
	}
	if !strings.EqualFold(h.Typ, "JWT") {
		return fmt.Errorf("typ %q, want JWT", h.Typ)
	}
	if h.Kid == "" {
		return errors.New("kid header missing")
	}
	return nil
}

// selectKey applies SMART's key selection: the keys whose kid equals the
// header's and whose kty fits alg; exactly one must remain.
func selectKey(keys []pubKey, h joseHeader) (pubKey, error) {
	want := allowedAlgs[h.Alg].kty
	var found []pubKey
	for _, k := range keys {
		if k.kid == h.Kid && k.kty == want {
			found = append(found, k)
		}
	}
	switch len(found) {
	case 0:
		return pubKey{}, fmt.Errorf("no %s key with kid %q", want, h.Kid)
	case 1:
		if found[0].alg != "" && found[0].alg != h.Alg {
			return pubKey{}, fmt.Errorf("key %q is for %s, not %s", h.Kid, found[0].alg, h.Alg)
		}
		return found[0], nil
	}
	return pubKey{}, fmt.Errorf("%d keys with kid %q; exactly one required", len(found), h.Kid)
}

// verifySignature checks a compact JWS against keys (the key-selection and
// verify path shared by the token endpoint and the sample vector test) and
// returns the verified payload.
func verifySignature(compact string, keys []pubKey) (joseHeader, []byte, error) {
	h, _, err := splitJWT(compact)
	if err != nil {
		return h, nil, err
	}
	if err := checkHeader(h); err != nil {
		return h, nil, err
	}
	k, err := selectKey(keys, h)
	if err != nil {
		return h, nil, err
	}
	payload, err := jws.VerifyCompactFast(k.key, []byte(compact), allowedAlgs[h.Alg].alg)
	if err != nil {
		return h, nil, errors.New("signature does not verify")
	}
	return h, payload, nil
}

// checkClaims validates verified claims for clientID at time now.
func checkClaims(c assertionClaims, clientID, tokenURL string, now time.Time) error {
	if c.Iss != clientID || c.Sub != clientID {
		return fmt.Errorf("iss and sub must both equal the client_id")
	}
	if !audienceHas(c.Aud, tokenURL) {
		return fmt.Errorf("aud must be the token URL %s", tokenURL)
	}
	if c.Exp == nil || math.IsNaN(*c.Exp) {
		return errors.New("exp claim missing")
	}
	exp := time.Unix(int64(*c.Exp), 0)
	if now.After(exp.Add(clockSkew)) {
		return errors.New("assertion expired")
	}
	if exp.After(now.Add(maxAssertionLifetime + clockSkew)) {
		return errors.New("exp more than 5 minutes in the future")
	}
	if c.Nbf != nil && now.Add(clockSkew).Before(time.Unix(int64(*c.Nbf), 0)) {
		return errors.New("assertion not valid yet (nbf)")
	}
	if c.Jti == "" {
		return errors.New("jti claim missing")
	}
	return nil
}

func audienceHas(raw json.RawMessage, want string) bool {
	var one string
	if json.Unmarshal(raw, &one) == nil {
		return one == want
	}
	var many []string
	if json.Unmarshal(raw, &many) == nil {
		for _, a := range many {
			if a == want {
				return true
			}
		}
	}
	return false
}

// authenticate verifies a client assertion (SMART App Launch: Backend Services, Authorization Server Obligations)
// and returns the authenticated client. Every failure is an invalid_client.
func (s *Server) authenticate(ctx context.Context, compact string) (*client, error) {
	h, unverified, err := splitJWT(compact)
	if err != nil {
		return nil, err
	}
	if err := checkHeader(h); err != nil {
		return nil, err
	}
	var pre assertionClaims
	if err := json.Unmarshal(unverified, &pre); err != nil {
		return nil, errors.New("client_assertion claims are not JSON")
	}
	s.mu.Lock()
	c := s.clients[pre.Iss]
	s.mu.Unlock()
	if c == nil {
		return nil, fmt.Errorf("unknown client %q", pre.Iss)
	}
	keys, err := s.clientKeys(ctx, c, h.Jku)
	if err != nil {
		return nil, err
	}
	_, payload, err := verifySignature(compact, keys)
	if err != nil {
		return nil, err
	}
	var claims assertionClaims
	if err := json.Unmarshal(payload, &claims); err != nil {
		return nil, errors.New("client_assertion claims are not JSON")
	}
	now := s.now()
	if err := checkClaims(claims, c.id, s.TokenURL(), now); err != nil {
		return nil, err
	}
	if err := s.useJTI(c.id, claims.Jti, time.Unix(int64(*claims.Exp), 0), now); err != nil {
		return nil, err
	}
	return c, nil
}

// clientKeys resolves the keys to verify with (SMART App Launch: Backend Services, Authorization Server Obligations, Signature Verification): with a
// jku header it must equal the registered JWKS URL, which is then fetched;
// without one, the inline JWKS and/or the registered URL's keys.
func (s *Server) clientKeys(ctx context.Context, c *client, jku string) ([]pubKey, error) {
	if jku != "" {
		if c.jwksURL == "" || jku != c.jwksURL {
			return nil, errors.New("jku does not match the registered JWKS URL")
		}
		return s.fetchJWKS(ctx, c.jwksURL)
	}
	keys := append([]pubKey(nil), c.keys...)
	if c.jwksURL != "" {
		fetched, err := s.fetchJWKS(ctx, c.jwksURL)
		if err != nil {
			return nil, err
		}
		keys = append(keys, fetched...)
	}
	return keys, nil
}

// useJTI records a jti and fails if the client used it before within the
// assertion lifetime (replay protection).
func (s *Server) useJTI(clientID, jti string, exp, now time.Time) error {
	key := clientID + " " + jti
	s.mu.Lock()
	defer s.mu.Unlock()
	if until, ok := s.jtis[key]; ok && now.Before(until) {
		return errors.New("jti already used (replayed assertion)")
	}
	prefix, mine := clientID+" ", 0
	for k, until := range s.jtis {
		switch {
		case !now.Before(until):
			delete(s.jtis, k)
		case strings.HasPrefix(k, prefix):
			mine++
		}
	}
	// Every jti is kept until its assertion expires, so the count is
	// bounded by refusing new assertions, never by forgetting old ones
	// (which would let them be replayed).
	if mine >= maxAssertionsPerClient {
		return errTooManyAssertions
	}
	s.jtis[key] = exp.Add(clockSkew)
	return nil
}

// errTooManyAssertions refuses a client that used maxAssertionsPerClient
// assertions within their lifetime.
var errTooManyAssertions = fmt.Errorf("more than %d client assertions from this client in five minutes; "+
	"reuse the access token until it expires", maxAssertionsPerClient)
