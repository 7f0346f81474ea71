package smart_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"strings"
	"testing"
	"time"

	"github.com/lestrrat-go/jwx/v3/jwk"

	"tranche.dev/tranche/core/smart"
	samplejwks "tranche.dev/tranche/sample-jwks"
)

func mustGenerate(tb testing.TB, alg string) jwk.Key {
	tb.Helper()
	bits := 0
	if alg == smart.RS384 {
		bits = 2048 // fast; the default is 3072
	}
	k, err := smart.GenerateKey(alg, bits)
	if err != nil {
		tb.Fatalf("GenerateKey(%s): %v", alg, err)
	}
	return k
}

func mustJWKS(tb testing.TB, keys ...jwk.Key) []byte {
	tb.Helper()
	b, err := smart.PublicJWKS(keys...)
	if err != nil {
		tb.Fatalf("PublicJWKS: %v", err)
	}
	return b
}

func TestGenerateKey(t *testing.T) {
	for _, alg := range []string{smart.RS384, smart.ES384} {
		t.Run(alg, func(t *testing.T) {
			k := mustGenerate(t, alg)
			pub, err := k.PublicKey()
			if err != nil {
				t.Fatal(err)
			}
			tp, err := pub.Thumbprint(cryptoSHA256)
			if err != nil {
				t.Fatal(err)
			}
			if got, want := smart.KeyID(k), b64(tp); got != want {
				t.Errorf("kid = %q, want RFC 7638 thumbprint %q", got, want)
			}
			var set struct {
				Keys []map[string]any `json:"keys"`
			}
			if err := json.Unmarshal(mustJWKS(t, k), &set); err != nil || len(set.Keys) != 1 {
				t.Fatalf("PublicJWKS = %d keys, %v; want 1", len(set.Keys), err)
			}
			m := set.Keys[0]
			if m["alg"] != alg || m["use"] != "sig" || m["kid"] != smart.KeyID(k) {
				t.Errorf("public JWK alg, use, kid = %v, %v, %v; want %s, sig, %s", m["alg"], m["use"], m["kid"], alg, smart.KeyID(k))
			}
			for _, private := range []string{"d", "p", "q", "dp", "dq", "qi"} {
				if _, ok := m[private]; ok {
					t.Errorf("public JWKS leaks private member %q", private)
				}
			}
		})
	}
	t.Run("DefaultBits", func(t *testing.T) {
		if testing.Short() {
			t.Skip("RSA 3072 generation is slow")
		}
		k, err := smart.GenerateKey(smart.RS384, 0)
		if err != nil {
			t.Fatal(err)
		}
		var pub rsa.PublicKey
		if err := jwk.Export(mustPublic(t, k), &pub); err != nil {
			t.Fatal(err)
		}
		if got := pub.N.BitLen(); got != 3072 {
			t.Errorf("default RSA size = %d bits, want 3072", got)
		}
	})
	for _, tt := range []struct {
		alg  string
		bits int
	}{{smart.RS384, 1024}, {"HS256", 0}, {"none", 0}} {
		if _, err := smart.GenerateKey(tt.alg, tt.bits); err == nil {
			t.Errorf("GenerateKey(%q, %d): err = nil, want an error", tt.alg, tt.bits)
		}
	}
}

func mustPublic(tb testing.TB, k jwk.Key) jwk.Key {
	tb.Helper()
	p, err := k.PublicKey()
	if err != nil {
		tb.Fatal(err)
	}
	return p
}

func TestParseKey(t *testing.T) {
	rsaKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	ecKey, err := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	p256, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	pemOf := func(typ string, der []byte) []byte {
		return pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der})
	}
	pkcs8 := func(k any) []byte {
		der, err := x509.MarshalPKCS8PrivateKey(k)
		if err != nil {
			t.Fatal(err)
		}
		return pemOf("PRIVATE KEY", der)
	}
	sec1, _ := x509.MarshalECPrivateKey(ecKey)
	sampleRS, _ := samplejwks.File("RS384.private.json")
	sampleES, _ := samplejwks.File("ES384.private.json")
	samplePub, _ := samplejwks.File("RS384.public.json")
	rsaJWK, _ := smart.KeyFromSigner(rsaKey, "")
	rsaJWKJSON, _ := json.Marshal(rsaJWK)
	twoKeys := `{"keys":[` + string(rsaJWKJSON) + `,` + string(rsaJWKJSON) + `]}`

	tests := []struct {
		name    string
		data    []byte
		wantAlg string
		wantKid string
		wantErr string
	}{
		{name: "PKCS1", data: pemOf("RSA PRIVATE KEY", x509.MarshalPKCS1PrivateKey(rsaKey)), wantAlg: smart.RS384},
		{name: "PKCS8RSA", data: pkcs8(rsaKey), wantAlg: smart.RS384},
		{name: "PKCS8EC", data: pkcs8(ecKey), wantAlg: smart.ES384},
		{name: "SEC1", data: pemOf("EC PRIVATE KEY", sec1), wantAlg: smart.ES384},
		{name: "JWK", data: rsaJWKJSON, wantAlg: smart.RS384},
		{name: "JWKSSampleRS384", data: sampleRS, wantAlg: smart.RS384, wantKid: "eee9f17a3b598fd86417a980b591fbe6"},
		{name: "JWKSSampleES384", data: sampleES, wantAlg: smart.ES384, wantKid: "cd520211e5661dbba2256f67f6d53f97"},
		{name: "PublicOnly", data: samplePub, wantErr: "no private key"},
		{name: "TwoPrivate", data: []byte(twoKeys), wantErr: "2 private keys"},
		{name: "P256", data: pkcs8(p256), wantErr: "P-384"},
		{name: "Garbage", data: []byte("hello"), wantErr: "neither PEM nor JSON"},
		{name: "BadPEM", data: pemOf("RSA PRIVATE KEY", []byte("not der")), wantErr: "malformed"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			k, err := smart.ParseKey(tt.data, "")
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("ParseKey() err = %v, want one containing %q", err, tt.wantErr)
				}
				if strings.Contains(err.Error(), string(tt.data[:min(len(tt.data), 40)])) && len(tt.data) > 10 {
					t.Fatalf("ParseKey() error quotes its input: %v", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("ParseKey(): %v", err)
			}
			alg, _ := smart.AlgOf(k)
			if alg != tt.wantAlg {
				t.Errorf("alg = %q, want %q", alg, tt.wantAlg)
			}
			if tt.wantKid != "" && smart.KeyID(k) != tt.wantKid {
				t.Errorf("kid = %q, want the file's %q", smart.KeyID(k), tt.wantKid)
			}
			if smart.KeyID(k) == "" {
				t.Error("parsed key has no kid")
			}
			// The parsed key signs assertions that verify independently.
			now := time.Unix(1_800_000_000, 0)
			cfg := smart.Config{ClientID: "c", TokenURL: "https://as.example/token", Key: k, Now: func() time.Time { return now }}
			tok, err := cfg.Assertion()
			if err != nil {
				t.Fatalf("Assertion: %v", err)
			}
			checkAssertion(t, tok, mustJWKS(t, k), "c", "https://as.example/token", now)
		})
	}
}
