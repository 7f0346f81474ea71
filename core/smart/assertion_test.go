package smart_test

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"tranche.dev/tranche/core/smart"
	samplejwks "tranche.dev/tranche/sample-jwks"
)

func TestConfig_Assertion(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	for _, alg := range []string{smart.RS384, smart.ES384} {
		t.Run(alg, func(t *testing.T) {
			k := mustGenerate(t, alg)
			jwks := mustJWKS(t, k)
			cfg := smart.Config{ClientID: "client-1", TokenURL: "https://as.example/token", Key: k, Now: func() time.Time { return now }}
			seen := map[string]bool{}
			for range 3 {
				tok, err := cfg.Assertion()
				if err != nil {
					t.Fatalf("Assertion: %v", err)
				}
				c := checkAssertion(t, tok, jwks, "client-1", "https://as.example/token", now)
				if seen[c.Jti] {
					t.Fatalf("jti %q reused", c.Jti)
				}
				seen[c.Jti] = true
				// Our verifier agrees with the independent one.
				got, err := smart.VerifyAssertion(tok, jwks, smart.VerifyOptions{ClientID: "client-1",
					Audience: "https://as.example/token", Now: func() time.Time { return now }})
				if err != nil {
					t.Fatalf("VerifyAssertion: %v", err)
				}
				if got.Alg != alg || got.KeyID != smart.KeyID(k) || got.JTI != c.Jti {
					t.Fatalf("VerifyAssertion = %+v, want alg %s kid %s jti %s", got, alg, smart.KeyID(k), c.Jti)
				}
			}
		})
	}
	t.Run("CryptoSigner", func(t *testing.T) {
		k := mustGenerate(t, smart.ES384)
		signer, err := smart.Signer(k)
		if err != nil {
			t.Fatal(err)
		}
		cfg := smart.Config{ClientID: "c", TokenURL: "https://as.example/t", Key: signer, KeyID: smart.KeyID(k), Now: func() time.Time { return now }}
		tok, err := cfg.Assertion()
		if err != nil {
			t.Fatalf("Assertion: %v", err)
		}
		checkAssertion(t, tok, mustJWKS(t, k), "c", "https://as.example/t", now)
	})
	t.Run("KeyIDOverridesThumbprint", func(t *testing.T) {
		k := mustGenerate(t, smart.RS384)
		signer, err := smart.Signer(k)
		if err != nil {
			t.Fatal(err)
		}
		for _, key := range []any{k, signer} {
			cfg := smart.Config{ClientID: "c", TokenURL: "https://as.example/t", Key: key, KeyID: "registered-kid", Now: func() time.Time { return now }}
			tok, err := cfg.Assertion()
			if err != nil {
				t.Fatalf("Assertion: %v", err)
			}
			jwks := strings.Replace(string(mustJWKS(t, k)), smart.KeyID(k), "registered-kid", 1)
			if h, _ := indepVerify(t, tok, []byte(jwks)); h.Kid != "registered-kid" {
				t.Fatalf("%T key: kid header = %q, want registered-kid", key, h.Kid)
			}
		}
	})
	t.Run("WrongAlgForKey", func(t *testing.T) {
		cfg := smart.Config{ClientID: "c", TokenURL: "https://as.example/t", Key: mustGenerate(t, smart.ES384), Alg: smart.RS384}
		if _, err := cfg.Assertion(); err == nil {
			t.Fatal("Assertion with an EC key and RS384: err = nil, want an error")
		}
	})
}

// TestVerifyAssertion_Vectors checks our verifier against JWTs signed by an
// independent implementation (python-jose) with the sample keys.
func TestVerifyAssertion_Vectors(t *testing.T) {
	raw, err := samplejwks.File("vectors.json")
	if err != nil {
		t.Fatal(err)
	}
	var v struct {
		Claims struct {
			Iss, Aud, Jti string
			Exp           int64
		}
		Vectors []struct {
			Alg, Kid, JWT string
			PublicJWKS    string `json:"public_jwks"`
		}
	}
	if err := json.Unmarshal(raw, &v); err != nil {
		t.Fatal(err)
	}
	if len(v.Vectors) != 2 {
		t.Fatalf("vectors = %d, want 2", len(v.Vectors))
	}
	for _, vec := range v.Vectors {
		t.Run(vec.Alg, func(t *testing.T) {
			jwks, err := samplejwks.File(vec.PublicJWKS)
			if err != nil {
				t.Fatal(err)
			}
			opts := smart.VerifyOptions{ClientID: v.Claims.Iss, Audience: v.Claims.Aud, SkipExpiry: true}
			c, err := smart.VerifyAssertion(vec.JWT, jwks, opts)
			if err != nil {
				t.Fatalf("VerifyAssertion: %v", err)
			}
			if c.Alg != vec.Alg || c.KeyID != vec.Kid || c.JTI != v.Claims.Jti || c.Expiry.Unix() != v.Claims.Exp {
				t.Errorf("claims = %+v, want alg %s kid %s jti %s exp %d", c, vec.Alg, vec.Kid, v.Claims.Jti, v.Claims.Exp)
			}
			// With the expiry check on, the 2015 vector is rejected.
			if _, err := smart.VerifyAssertion(vec.JWT, jwks, smart.VerifyOptions{}); err == nil || !strings.Contains(err.Error(), "expired") {
				t.Errorf("VerifyAssertion with exp check: err = %v, want expired", err)
			}
			// A flipped signature byte is rejected.
			parts := strings.Split(vec.JWT, ".")
			sig := []byte(parts[2])
			if sig[10] == 'A' {
				sig[10] = 'B'
			} else {
				sig[10] = 'A'
			}
			bad := parts[0] + "." + parts[1] + "." + string(sig)
			if _, err := smart.VerifyAssertion(bad, jwks, opts); err == nil {
				t.Error("VerifyAssertion of a tampered JWT: err = nil, want an error")
			}
			// The other sample key set does not hold this kid.
			other := "ES384.public.json"
			if vec.Alg == smart.ES384 {
				other = "RS384.public.json"
			}
			otherJWKS, _ := samplejwks.File(other)
			if _, err := smart.VerifyAssertion(vec.JWT, otherJWKS, opts); err == nil {
				t.Error("VerifyAssertion with the wrong JWKS: err = nil, want an error")
			}
		})
	}
}

func TestVerifyAssertion_Rejects(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	k := mustGenerate(t, smart.ES384)
	jwks := mustJWKS(t, k)
	mint := func(at time.Time) string {
		cfg := smart.Config{ClientID: "c", TokenURL: "https://as.example/t", Key: k, Now: func() time.Time { return at }}
		tok, err := cfg.Assertion()
		if err != nil {
			t.Fatal(err)
		}
		return tok
	}
	tests := []struct {
		name string
		tok  string
		opts smart.VerifyOptions
		want string
	}{
		{"WrongClient", mint(now), smart.VerifyOptions{ClientID: "other", Now: func() time.Time { return now }}, "not client"},
		{"WrongAudience", mint(now), smart.VerifyOptions{Audience: "https://x/t", Now: func() time.Time { return now }}, "aud"},
		{"Expired", mint(now), smart.VerifyOptions{Now: func() time.Time { return now.Add(5 * time.Minute) }}, "expired"},
		{"TooFarAhead", mint(now.Add(2 * time.Minute)), smart.VerifyOptions{Now: func() time.Time { return now }}, "5 minutes"},
		{"NotJWT", "abc", smart.VerifyOptions{}, "compact"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := smart.VerifyAssertion(tt.tok, jwks, tt.opts)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("VerifyAssertion() err = %v, want one containing %q", err, tt.want)
			}
		})
	}
}
