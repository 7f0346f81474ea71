package demo

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rsa"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/lestrrat-go/jwx/v3/jwk"
)

// pubKey is one usable verification key from a client's JWKS.
type pubKey struct {
	kid string
	kty string // "RSA" or "EC"
	alg string // the key's "alg", if it declares one
	key any    // *rsa.PublicKey or *ecdsa.PublicKey
}

// privateMembers are JWK members that only private or symmetric keys have.
var privateMembers = []string{"d", "p", "q", "dp", "dq", "qi", "oth", "k"}

// parseJWKS parses and checks a client's public JWK Set of at most
// maxJWKSKeys keys: every key must be a public RSA (MinRSABits to
// MaxRSABits, for RS384) or EC P-384 (for ES384) signing key with a kid. When unique is set, a kid may appear only once (SMART:
// "kid SHALL be unique within the client's JWKS"); keys fetched from a
// JWKS URL are checked for that at use, where it fails the assertion.
func parseJWKS(b []byte, unique bool) ([]pubKey, error) {
	var set struct {
		Keys []json.RawMessage `json:"keys"`
	}
	if err := json.Unmarshal(b, &set); err != nil {
		return nil, fmt.Errorf("jwks is not a JSON JWK Set: %w", err)
	}
	if len(set.Keys) == 0 {
		return nil, errors.New("jwks has no keys")
	}
	if len(set.Keys) > maxJWKSKeys {
		return nil, fmt.Errorf("jwks has %d keys; this server takes at most %d", len(set.Keys), maxJWKSKeys)
	}
	var keys []pubKey
	for i, raw := range set.Keys {
		k, err := parsePublicJWK(raw)
		if err != nil {
			return nil, fmt.Errorf("jwks key %d: %w", i, err)
		}
		if unique {
			for _, o := range keys {
				if o.kid == k.kid {
					return nil, fmt.Errorf("jwks key %d: duplicate kid %q", i, k.kid)
				}
			}
		}
		keys = append(keys, k)
	}
	return keys, nil
}

func parsePublicJWK(raw json.RawMessage) (pubKey, error) {
	var m map[string]json.RawMessage
	if err := json.Unmarshal(raw, &m); err != nil {
		return pubKey{}, fmt.Errorf("not a JSON object: %w", err)
	}
	for _, name := range privateMembers {
		if _, ok := m[name]; ok {
			return pubKey{}, fmt.Errorf("contains private key material (%q); register the public key only", name)
		}
	}
	var hdr struct {
		Kty, Kid, Alg, Use, N string
	}
	if err := json.Unmarshal(raw, &hdr); err != nil {
		return pubKey{}, fmt.Errorf("bad member: %w", err)
	}
	if hdr.Kid == "" {
		return pubKey{}, errors.New("missing kid")
	}
	if hdr.Use != "" && hdr.Use != "sig" {
		return pubKey{}, fmt.Errorf("use %q is not sig", hdr.Use)
	}
	// Refuse an oversized modulus before any big-number work: base64url
	// takes 4 characters per 3 bytes.
	if hdr.Kty == "RSA" && len(hdr.N) > (MaxRSABits/8*4+2)/3+2 {
		return pubKey{}, fmt.Errorf("rsa key is larger than %d bits; this server takes %d to %d", MaxRSABits, MinRSABits, MaxRSABits)
	}
	k, err := jwk.ParseKey(raw)
	if err != nil {
		return pubKey{}, fmt.Errorf("parse: %w", err)
	}
	pk := pubKey{kid: hdr.Kid, kty: hdr.Kty, alg: hdr.Alg}
	switch hdr.Kty {
	case "RSA":
		if hdr.Alg != "" && hdr.Alg != "RS384" {
			return pubKey{}, fmt.Errorf("alg %q: RSA keys must be RS384", hdr.Alg)
		}
		var rk rsa.PublicKey
		if err := jwk.Export(k, &rk); err != nil {
			return pubKey{}, fmt.Errorf("rsa key: %w", err)
		}
		if bits := rk.N.BitLen(); bits < MinRSABits || bits > MaxRSABits {
			return pubKey{}, fmt.Errorf("rsa key has %d bits; this server takes %d to %d", bits, MinRSABits, MaxRSABits)
		}
		if rk.E < 3 || rk.E > 1<<32-1 || rk.E%2 == 0 {
			return pubKey{}, errors.New("rsa key has an unusable public exponent")
		}
		pk.key = &rk
	case "EC":
		if hdr.Alg != "" && hdr.Alg != "ES384" {
			return pubKey{}, fmt.Errorf("alg %q: EC keys must be ES384", hdr.Alg)
		}
		var ek ecdsa.PublicKey
		if err := jwk.Export(k, &ek); err != nil {
			return pubKey{}, fmt.Errorf("ec key: %w", err)
		}
		if ek.Curve != elliptic.P384() {
			return pubKey{}, errors.New("ec key is not on P-384 (ES384)")
		}
		pk.key = &ek
	default:
		return pubKey{}, fmt.Errorf("kty %q not supported (RSA or EC)", hdr.Kty)
	}
	return pk, nil
}

// cachedJWKS is a fetched JWKS kept as long as its Cache-Control allows.
type cachedJWKS struct {
	keys    []pubKey
	expires time.Time
}

// checkJWKSURL allows only http(s) URLs on loopback: the demo server must
// never reach out to the network on a client's say-so.
func checkJWKSURL(raw string) error {
	u, err := url.Parse(raw)
	if err != nil || !u.IsAbs() {
		return fmt.Errorf("jwks_uri %q is not an absolute URL", raw)
	}
	if len(raw) > maxJWKSURL {
		return fmt.Errorf("jwks_uri is longer than %d bytes", maxJWKSURL)
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return fmt.Errorf("jwks_uri %q: scheme must be http or https", raw)
	}
	if !isLoopbackHost(u.Hostname()) {
		return fmt.Errorf("jwks_uri %q: only loopback hosts are allowed by the demo server", raw)
	}
	return nil
}

// fetchJWKS returns the keys at a registered JWKS URL, from the cache when
// the last response's Cache-Control max-age still covers it (SMART: SHALL
// NOT cache longer than the client's Cache-Control allows).
func (s *Server) fetchJWKS(ctx context.Context, rawURL string) ([]pubKey, error) {
	if err := checkJWKSURL(rawURL); err != nil {
		return nil, err
	}
	now := s.now()
	s.mu.Lock()
	c, ok := s.jwks[rawURL]
	s.mu.Unlock()
	if ok && now.Before(c.expires) {
		return c.keys, nil
	}
	keys, cc, err := s.getJWKS(ctx, rawURL)
	if err != nil {
		// The operator may see why; the registrant learns only that it
		// failed, so the server cannot be used to probe loopback ports and
		// read other services' answers.
		s.logger.Info("jwks fetch failed", "url", rawURL, "err", err)
		return nil, errJWKSFetch
	}
	if age := maxAge(cc); age > 0 {
		s.mu.Lock()
		s.jwks[rawURL] = cachedJWKS{keys: keys, expires: now.Add(age)}
		s.mu.Unlock()
	} else {
		s.mu.Lock()
		delete(s.jwks, rawURL)
		s.mu.Unlock()
	}
	return keys, nil
}

// errJWKSFetch is all a client is told when its JWKS URL fails.
var errJWKSFetch = errors.New("the client's JWKS could not be fetched from its registered jwks_uri")

// getJWKS fetches and parses the JWK Set at rawURL and returns it with
// the response's Cache-Control.
func (s *Server) getJWKS(ctx context.Context, rawURL string) ([]pubKey, string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, rawURL, nil)
	if err != nil {
		return nil, "", err
	}
	req.Header.Set("Accept", "application/json")
	resp, err := s.cfg.HTTPClient.Do(req)
	if err != nil {
		return nil, "", err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, "", fmt.Errorf("status %d", resp.StatusCode)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxJWKSBody+1))
	if err != nil {
		return nil, "", err
	}
	if len(body) > maxJWKSBody {
		return nil, "", fmt.Errorf("body over %d bytes", maxJWKSBody)
	}
	keys, err := parseJWKS(body, false)
	if err != nil {
		return nil, "", err
	}
	return keys, resp.Header.Get("Cache-Control"), nil
}

// maxAge returns the max-age of a Cache-Control value, or 0 when the
// response may not be reused (no-store, no-cache, or no max-age).
func maxAge(cc string) time.Duration {
	var age time.Duration
	for _, d := range strings.Split(cc, ",") {
		d = strings.ToLower(strings.TrimSpace(d))
		switch {
		case d == "no-store" || d == "no-cache":
			return 0
		case strings.HasPrefix(d, "max-age="):
			n, err := strconv.Atoi(strings.Trim(d[len("max-age="):], `"`))
			if err != nil || n < 0 {
				return 0
			}
			age = time.Duration(n) * time.Second
		}
	}
	return age
}
