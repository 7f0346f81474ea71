package smart_test

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rsa"
	"crypto/sha512"
	"encoding/base64"
	"encoding/json"
	"math/big"
	"strings"
	"testing"
	"time"
)

// This file is an independent verifier of client assertions, written with
// crypto/rsa, crypto/ecdsa and encoding/base64 only (no jwx), so that our
// signer is checked by code that shares nothing with it.

type indepHeader struct {
	Alg string `json:"alg"`
	Kid string `json:"kid"`
	Typ string `json:"typ"`
}

type indepClaims struct {
	Iss string `json:"iss"`
	Sub string `json:"sub"`
	Aud string `json:"aud"`
	Exp int64  `json:"exp"`
	Iat int64  `json:"iat"`
	Jti string `json:"jti"`
}

// indepJWK is the public half of a JWK.
type indepJWK struct {
	Kty, Kid, Alg, Use string
	N, E, Crv, X, Y    string
}

func b64int(tb testing.TB, s string) *big.Int {
	tb.Helper()
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		tb.Fatalf("base64url %q: %v", s, err)
	}
	return new(big.Int).SetBytes(b)
}

// indepVerify checks compact JWT tok against the public JWK set jwks and
// returns its header and claims.
func indepVerify(tb testing.TB, tok string, jwks []byte) (indepHeader, indepClaims) {
	tb.Helper()
	parts := strings.Split(tok, ".")
	if len(parts) != 3 {
		tb.Fatalf("JWT has %d parts, want 3", len(parts))
	}
	var h indepHeader
	var c indepClaims
	for i, v := range []any{&h, &c} {
		raw, err := base64.RawURLEncoding.DecodeString(parts[i])
		if err != nil {
			tb.Fatalf("JWT part %d: %v", i, err)
		}
		if err := json.Unmarshal(raw, v); err != nil {
			tb.Fatalf("JWT part %d: %v", i, err)
		}
	}
	sig, err := base64.RawURLEncoding.DecodeString(parts[2])
	if err != nil {
		tb.Fatalf("JWT signature: %v", err)
	}
	var set struct{ Keys []indepJWK }
	if err := json.Unmarshal(jwks, &set); err != nil {
		tb.Fatalf("JWKS: %v", err)
	}
	var key *indepJWK
	for i := range set.Keys {
		if set.Keys[i].Kid == h.Kid {
			key = &set.Keys[i]
		}
	}
	if key == nil {
		tb.Fatalf("no key with kid %q in JWKS", h.Kid)
	}
	digest := sha512.Sum384([]byte(parts[0] + "." + parts[1]))
	switch h.Alg {
	case "RS384":
		pub := &rsa.PublicKey{N: b64int(tb, key.N), E: int(b64int(tb, key.E).Int64())}
		if err := rsa.VerifyPKCS1v15(pub, crypto.SHA384, digest[:], sig); err != nil {
			tb.Fatalf("RS384 signature does not verify: %v", err)
		}
	case "ES384":
		if key.Crv != "P-384" {
			tb.Fatalf("ES384 key crv = %q, want P-384", key.Crv)
		}
		if len(sig) != 96 {
			tb.Fatalf("ES384 signature is %d bytes, want 96 (raw r||s)", len(sig))
		}
		pub := &ecdsa.PublicKey{Curve: elliptic.P384(), X: b64int(tb, key.X), Y: b64int(tb, key.Y)}
		r, s := new(big.Int).SetBytes(sig[:48]), new(big.Int).SetBytes(sig[48:])
		if !ecdsa.Verify(pub, digest[:], r, s) {
			tb.Fatalf("ES384 signature does not verify")
		}
	default:
		tb.Fatalf("alg = %q, want RS384 or ES384", h.Alg)
	}
	return h, c
}

// checkAssertion verifies tok independently and checks the SMART claims.
func checkAssertion(tb testing.TB, tok string, jwks []byte, clientID, tokenURL string, now time.Time) indepClaims {
	tb.Helper()
	h, c := indepVerify(tb, tok, jwks)
	if h.Typ != "JWT" {
		tb.Errorf("typ = %q, want JWT", h.Typ)
	}
	if c.Iss != clientID || c.Sub != clientID {
		tb.Errorf("iss, sub = %q, %q; want %q", c.Iss, c.Sub, clientID)
	}
	if c.Aud != tokenURL {
		tb.Errorf("aud = %q, want %q", c.Aud, tokenURL)
	}
	if got, want := c.Exp-now.Unix(), int64(240); got != want {
		tb.Errorf("exp - now = %ds, want %ds", got, want)
	}
	if c.Iat != now.Unix() {
		tb.Errorf("iat = %d, want %d", c.Iat, now.Unix())
	}
	if len(c.Jti) < 16 {
		tb.Errorf("jti = %q, want a long random value", c.Jti)
	}
	return c
}

const cryptoSHA256 = crypto.SHA256

func b64(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }

func jsonUnmarshal(b []byte, v any) error { return json.Unmarshal(b, v) }
