package smart

import (
	"crypto"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/lestrrat-go/jwx/v3/jwa"
	"github.com/lestrrat-go/jwx/v3/jwk"
	"github.com/lestrrat-go/jwx/v3/jws"
)

// AssertionLifetime is how far in the future a client assertion expires.
// SMART allows at most 5 minutes (SMART App Launch v2, Client Authentication: Asymmetric, Authenticating to the Token endpoint); 4 leaves room for clock
// skew between us and the authorization server.
const AssertionLifetime = 4 * time.Minute

// maxAssertionLifetime is SMART's ceiling on exp - now (SMART App Launch v2, Client Authentication: Asymmetric, Authenticating to the Token endpoint).
const maxAssertionLifetime = 5 * time.Minute

// assertionClaims are the claims of a client assertion (SMART App Launch v2, Client Authentication: Asymmetric, Authenticating to the Token endpoint).
type assertionClaims struct {
	Issuer   string `json:"iss"`
	Subject  string `json:"sub"`
	Audience string `json:"aud"`
	Expiry   int64  `json:"exp"`
	IssuedAt int64  `json:"iat"`
	JTI      string `json:"jti"`
}

// signingKey resolves Config.Key, Config.Alg and Config.KeyID into a JWK
// ready to sign with.
func (c *Config) signingKey() (jwk.Key, jwa.SignatureAlgorithm, string, error) {
	var k jwk.Key
	switch key := c.Key.(type) {
	case jwk.Key:
		k = key
	case crypto.Signer:
		var err error
		if k, err = KeyFromSigner(key, c.Alg); err != nil {
			return nil, jwa.SignatureAlgorithm{}, "", err
		}
	case nil:
		return nil, jwa.SignatureAlgorithm{}, "", errors.New("no signing key")
	default:
		return nil, jwa.SignatureAlgorithm{}, "", fmt.Errorf("signing key of type %T: want jwk.Key or crypto.Signer", c.Key)
	}
	alg := c.Alg
	if alg == "" {
		var err error
		if alg, err = AlgOf(k); err != nil {
			return nil, jwa.SignatureAlgorithm{}, "", err
		}
	}
	if err := checkKeyAlg(k, alg); err != nil {
		return nil, jwa.SignatureAlgorithm{}, "", err
	}
	sa, _ := jwa.LookupSignatureAlgorithm(alg)
	kid := c.KeyID
	if kid == "" {
		kid = KeyID(k)
	}
	if kid == "" {
		return nil, jwa.SignatureAlgorithm{}, "", errors.New("signing key has no kid")
	}
	return k, sa, kid, nil
}

// newJTI returns 128 random bits, base64url: unique per assertion.
func newJTI() (string, error) {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", fmt.Errorf("random jti: %w", err)
	}
	return base64.RawURLEncoding.EncodeToString(b[:]), nil
}

// Assertion mints one fresh signed client assertion (a JWT) for the token
// endpoint: header alg, kid, typ=JWT; claims iss = sub = ClientID, aud =
// TokenURL, iat = now, exp = now + AssertionLifetime, a random jti. It is a
// credential: never log it.
func (c *Config) Assertion() (string, error) {
	if c.ClientID == "" {
		return "", errors.New("no client id")
	}
	if c.TokenURL == "" {
		return "", errors.New("no token URL")
	}
	k, alg, kid, err := c.signingKey()
	if err != nil {
		return "", err
	}
	jti, err := newJTI()
	if err != nil {
		return "", err
	}
	now := c.now()
	payload, err := json.Marshal(assertionClaims{
		Issuer:   c.ClientID,
		Subject:  c.ClientID,
		Audience: c.TokenURL, // a string, as in SMART's examples
		IssuedAt: now.Unix(),
		Expiry:   now.Add(AssertionLifetime).Unix(),
		JTI:      jti,
	})
	if err != nil {
		return "", fmt.Errorf("encode claims: %w", err)
	}
	hdr := jws.NewHeaders()
	for name, v := range map[string]any{jws.TypeKey: "JWT", jws.KeyIDKey: kid} {
		if err := hdr.Set(name, v); err != nil {
			return "", fmt.Errorf("set header %s: %w", name, err)
		}
	}
	// Sign with the raw key: jwx would copy a jwk.Key's own kid over the
	// header's, and KeyID may name the key differently (an imported key).
	raw, err := Signer(k)
	if err != nil {
		return "", err
	}
	signed, err := jws.Sign(payload, jws.WithKey(alg, raw, jws.WithProtectedHeaders(hdr)))
	if err != nil {
		return "", fmt.Errorf("sign assertion: %w", err)
	}
	return string(signed), nil
}

// VerifyOptions tune VerifyAssertion.
type VerifyOptions struct {
	ClientID string // when set, iss and sub must equal it
	Audience string // when set, aud must contain it
	// Now is the clock for exp. Defaults to time.Now.
	Now func() time.Time
	// SkipExpiry disables the exp checks (for recorded test vectors).
	SkipExpiry bool
	// Skew is the clock skew tolerated on exp. Defaults to 30 s.
	Skew time.Duration
}

// AssertionClaims are the verified contents of a client assertion.
type AssertionClaims struct {
	Alg, KeyID, Type string
	Issuer, Subject  string
	Audience         []string
	JTI              string
	Expiry, IssuedAt time.Time
}

// VerifyAssertion checks a client assertion the way a SMART authorization
// server must (SMART App Launch v2, Client Authentication: Asymmetric, Signature Verification): alg RS384 or ES384, exactly one key in jwks
// with the header's kid and a key type fitting alg, a valid signature,
// iss = sub, aud, jti, and exp no more than 5 minutes ahead.
func VerifyAssertion(token string, jwks []byte, opts VerifyOptions) (*AssertionClaims, error) {
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		return nil, errors.New("assertion is not a compact JWS")
	}
	hb, err := base64.RawURLEncoding.DecodeString(parts[0])
	if err != nil {
		return nil, errors.New("assertion header is not base64url")
	}
	var h struct{ Alg, Kid, Typ string }
	if err := json.Unmarshal(hb, &h); err != nil {
		return nil, errors.New("assertion header is not JSON")
	}
	var kty jwa.KeyType
	switch h.Alg {
	case RS384:
		kty = jwa.RSA()
	case ES384:
		kty = jwa.EC()
	default:
		return nil, fmt.Errorf("assertion alg %q: want RS384 or ES384", h.Alg)
	}
	if h.Kid == "" {
		return nil, errors.New("assertion header has no kid")
	}
	set, err := jwk.Parse(jwks)
	if err != nil {
		return nil, fmt.Errorf("parse JWKS: %w", err)
	}
	var match []jwk.Key
	for i := range set.Len() {
		k, _ := set.Key(i)
		if kid, _ := k.KeyID(); kid == h.Kid && k.KeyType() == kty {
			match = append(match, k)
		}
	}
	if len(match) != 1 {
		return nil, fmt.Errorf("JWKS has %d keys with kid %q for %s, want exactly 1", len(match), h.Kid, h.Alg)
	}
	sa, _ := jwa.LookupSignatureAlgorithm(h.Alg)
	payload, err := jws.Verify([]byte(token), jws.WithKey(sa, match[0]))
	if err != nil {
		return nil, errors.New("assertion signature does not verify")
	}
	var raw struct {
		Iss, Sub, Jti string
		Aud           json.RawMessage
		Exp, Iat      *json.Number
	}
	if err := json.Unmarshal(payload, &raw); err != nil {
		return nil, errors.New("assertion claims are not JSON")
	}
	c := &AssertionClaims{Alg: h.Alg, KeyID: h.Kid, Type: h.Typ, Issuer: raw.Iss, Subject: raw.Sub, JTI: raw.Jti}
	if err := json.Unmarshal(raw.Aud, &c.Audience); err != nil {
		var one string
		if json.Unmarshal(raw.Aud, &one) != nil {
			return nil, errors.New("assertion aud is neither a string nor a list")
		}
		c.Audience = []string{one}
	}
	switch {
	case c.Issuer == "" || c.Issuer != c.Subject:
		return nil, fmt.Errorf("assertion iss %q and sub %q must be equal and set", c.Issuer, c.Subject)
	case opts.ClientID != "" && c.Issuer != opts.ClientID:
		return nil, fmt.Errorf("assertion iss %q is not client %q", c.Issuer, opts.ClientID)
	case opts.Audience != "" && !contains(c.Audience, opts.Audience):
		return nil, fmt.Errorf("assertion aud %q does not name %q", c.Audience, opts.Audience)
	case c.JTI == "":
		return nil, errors.New("assertion has no jti")
	case raw.Exp == nil:
		return nil, errors.New("assertion has no exp")
	}
	exp, err := raw.Exp.Int64()
	if err != nil {
		return nil, errors.New("assertion exp is not an integer")
	}
	c.Expiry = time.Unix(exp, 0)
	if raw.Iat != nil {
		if iat, err := raw.Iat.Int64(); err == nil {
			c.IssuedAt = time.Unix(iat, 0)
		}
	}
	if !opts.SkipExpiry {
		now, skew := time.Now(), opts.Skew
		if opts.Now != nil {
			now = opts.Now()
		}
		if skew == 0 {
			skew = 30 * time.Second
		}
		if now.Add(-skew).After(c.Expiry) {
			return nil, fmt.Errorf("assertion expired at %s", c.Expiry.UTC().Format(time.RFC3339))
		}
		if c.Expiry.After(now.Add(maxAssertionLifetime + skew)) {
			return nil, errors.New("assertion exp is more than 5 minutes ahead")
		}
	}
	return c, nil
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}
