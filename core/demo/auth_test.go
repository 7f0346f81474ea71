package demo_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/lestrrat-go/jwx/v3/jwa"
	"github.com/lestrrat-go/jwx/v3/jwk"

	"tranche.dev/tranche/core/demo"
)

func TestToken_OK(t *testing.T) {
	s := newServer(t, demo.Config{TokenTTL: 120 * time.Second})
	tests := []struct {
		client, alg, scope, want string
	}{
		{demo.DemoClientRS384, "RS384", "system/*.rs", "system/*.rs"},
		{demo.DemoClientES384, "ES384", "system/*.read", "system/*.read"},
		{demo.DemoClientRS384, "RS384", "system/Patient.read system/Observation.rs", "system/Patient.read system/Observation.rs"},
		{demo.DemoClientRS384, "RS384", "system/Observation.r", "system/Observation.r"},
		{demo.DemoClientRS384, "RS384", "system/*.cruds", "system/*.rs"},             // narrowed to what is allowed
		{demo.DemoClientRS384, "RS384", "system/*.* launch openid", "system/*.read"}, // v1 kept, junk dropped
	}
	for _, tt := range tests {
		t.Run(tt.client+" "+tt.scope, func(t *testing.T) {
			a := sign(t, sampleKey(t, tt.alg), mustAlg(tt.alg), nil, s.claimsFor(tt.client))
			status, body := s.postToken(t, tokenForm(a, tt.scope))
			if status != http.StatusOK {
				t.Fatalf("status %d, want 200: %v", status, body)
			}
			if body["token_type"] != "bearer" || body["expires_in"] != float64(120) || body["scope"] != tt.want {
				t.Errorf("token response %v, want bearer, 120, scope %q", body, tt.want)
			}
			if _, ok := body["refresh_token"]; ok {
				t.Errorf("refresh_token issued")
			}
			if tok, _ := body["access_token"].(string); len(tok) < 32 {
				t.Errorf("access_token %q too short", tok)
			}
		})
	}
}

func TestToken_Rejected(t *testing.T) {
	s := newServer(t, demo.Config{})
	rs := sampleKey(t, "RS384")
	es := sampleKey(t, "ES384")
	id := demo.DemoClientRS384
	with := func(k string, v any) map[string]any {
		c := s.claimsFor(id)
		if v == nil {
			delete(c, k)
		} else {
			c[k] = v
		}
		return c
	}
	now := s.clock.Now()
	rawRSA, _ := rsa.GenerateKey(rand.Reader, 2048)
	strangerKey, _ := jwk.Import(rawRSA)
	strangerKey.Set(jwk.KeyIDKey, "eee9f17a3b598fd86417a980b591fbe6") // the demo kid, another key
	hmacKey, _ := jwk.Import([]byte("0123456789abcdef0123456789abcdef"))
	hmacKey.Set(jwk.KeyIDKey, "eee9f17a3b598fd86417a980b591fbe6")

	tests := []struct {
		name      string
		form      func() map[string][]string
		wantError string
	}{
		{"AlgNone", func() map[string][]string {
			return tokenForm(unsigned(s.claimsFor(id), "eee9f17a3b598fd86417a980b591fbe6"), "system/*.rs")
		}, "invalid_client"},
		{"HS256", func() map[string][]string {
			return tokenForm(sign(t, hmacKey, jwa.HS256(), nil, s.claimsFor(id)), "system/*.rs")
		}, "invalid_client"},
		{"RS256", func() map[string][]string {
			return tokenForm(sign(t, rs, jwa.RS256(), nil, s.claimsFor(id)), "system/*.rs")
		}, "invalid_client"},
		{"WrongKey", func() map[string][]string {
			return tokenForm(sign(t, strangerKey, jwa.RS384(), nil, s.claimsFor(id)), "system/*.rs")
		}, "invalid_client"},
		{"ESKeyForRSClient", func() map[string][]string {
			return tokenForm(sign(t, es, jwa.ES384(), nil, s.claimsFor(id)), "system/*.rs")
		}, "invalid_client"},
		{"WrongAud", func() map[string][]string {
			return tokenForm(sign(t, rs, jwa.RS384(), nil, with("aud", "https://elsewhere.example/token")), "system/*.rs")
		}, "invalid_client"},
		{"ExpTooFar", func() map[string][]string {
			return tokenForm(sign(t, rs, jwa.RS384(), nil, with("exp", now.Add(6*time.Minute).Unix())), "system/*.rs")
		}, "invalid_client"},
		{"Expired", func() map[string][]string {
			return tokenForm(sign(t, rs, jwa.RS384(), nil, with("exp", now.Add(-time.Minute).Unix())), "system/*.rs")
		}, "invalid_client"},
		{"NoExp", func() map[string][]string {
			return tokenForm(sign(t, rs, jwa.RS384(), nil, with("exp", nil)), "system/*.rs")
		}, "invalid_client"},
		{"NoJTI", func() map[string][]string {
			return tokenForm(sign(t, rs, jwa.RS384(), nil, with("jti", nil)), "system/*.rs")
		}, "invalid_client"},
		{"UnknownClient", func() map[string][]string {
			c := s.claimsFor("nobody")
			return tokenForm(sign(t, rs, jwa.RS384(), nil, c), "system/*.rs")
		}, "invalid_client"},
		{"IssNotSub", func() map[string][]string {
			return tokenForm(sign(t, rs, jwa.RS384(), nil, with("sub", demo.DemoClientES384)), "system/*.rs")
		}, "invalid_client"},
		{"UnknownKid", func() map[string][]string {
			return tokenForm(sign(t, rs, jwa.RS384(), map[string]any{"kid": "nope"}, s.claimsFor(id)), "system/*.rs")
		}, "invalid_client"},
		{"NoTyp", func() map[string][]string {
			return tokenForm(sign(t, rs, jwa.RS384(), map[string]any{"typ": "at+jwt"}, s.claimsFor(id)), "system/*.rs")
		}, "invalid_client"},
		{"JKUWithoutRegisteredURL", func() map[string][]string {
			return tokenForm(sign(t, rs, jwa.RS384(), map[string]any{"jku": "http://127.0.0.1:1/jwks.json"}, s.claimsFor(id)), "system/*.rs")
		}, "invalid_client"},
		{"Tampered", func() map[string][]string {
			a := sign(t, rs, jwa.RS384(), nil, s.claimsFor(id))
			return tokenForm(a[:len(a)-4]+"AAAA", "system/*.rs")
		}, "invalid_client"},
		{"ClientIDMismatch", func() map[string][]string {
			f := tokenForm(sign(t, rs, jwa.RS384(), nil, s.claimsFor(id)), "system/*.rs")
			f["client_id"] = []string{demo.DemoClientES384}
			return f
		}, "invalid_client"},
		{"WrongAssertionType", func() map[string][]string {
			f := tokenForm(sign(t, rs, jwa.RS384(), nil, s.claimsFor(id)), "system/*.rs")
			f["client_assertion_type"] = []string{"urn:ietf:params:oauth:client-assertion-type:saml2-bearer"}
			return f
		}, "invalid_request"},
		{"WrongGrant", func() map[string][]string {
			f := tokenForm(sign(t, rs, jwa.RS384(), nil, s.claimsFor(id)), "system/*.rs")
			f["grant_type"] = []string{"authorization_code"}
			return f
		}, "unsupported_grant_type"},
		{"NoScope", func() map[string][]string {
			return tokenForm(sign(t, rs, jwa.RS384(), nil, s.claimsFor(id)), "")
		}, "invalid_scope"},
		{"OnlyUnsupportedScopes", func() map[string][]string {
			return tokenForm(sign(t, rs, jwa.RS384(), nil, s.claimsFor(id)), "patient/*.read system/*.cud")
		}, "invalid_scope"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, body := s.postToken(t, tt.form())
			if status != http.StatusBadRequest || body["error"] != tt.wantError {
				t.Errorf("got %d %v, want 400 %s", status, body, tt.wantError)
			}
			if body["error_description"] == "" {
				t.Errorf("no error_description")
			}
		})
	}
}

func TestToken_JTIReplay(t *testing.T) {
	s := newServer(t, demo.Config{})
	a := sign(t, sampleKey(t, "RS384"), jwa.RS384(), nil, s.claimsFor(demo.DemoClientRS384))
	if status, body := s.postToken(t, tokenForm(a, "system/*.rs")); status != http.StatusOK {
		t.Fatalf("first use: %d %v", status, body)
	}
	status, body := s.postToken(t, tokenForm(a, "system/*.rs"))
	if status != http.StatusBadRequest || body["error"] != "invalid_client" {
		t.Errorf("replay: %d %v, want 400 invalid_client", status, body)
	}
}

// jwksServer serves a JWKS with a Cache-Control header and counts fetches.
func jwksServer(t *testing.T, body []byte, cacheControl string) (*httptest.Server, *atomic.Int32) {
	var n atomic.Int32
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n.Add(1)
		if r.Method != http.MethodGet || r.Header.Get("Accept") != "application/json" {
			t.Errorf("JWKS fetch %s Accept %q, want GET application/json", r.Method, r.Header.Get("Accept"))
		}
		if cacheControl != "" {
			w.Header().Set("Cache-Control", cacheControl)
		}
		w.Header().Set("Content-Type", "application/json")
		w.Write(body)
	}))
	t.Cleanup(ts.Close)
	return ts, &n
}

func TestToken_JWKSURL(t *testing.T) {
	rs := sampleKey(t, "RS384")
	t.Run("CachedWithinMaxAge", func(t *testing.T) {
		s := newServer(t, demo.Config{})
		js, fetches := jwksServer(t, sampleJWKS(t, "RS384"), "max-age=60")
		id, err := s.RegisterClient(demo.Client{JWKSURL: js.URL})
		if err != nil {
			t.Fatal(err)
		}
		s.token(t, id, "RS384", "system/*.rs")
		s.token(t, id, "RS384", "system/*.rs")
		if got := fetches.Load(); got != 1 {
			t.Errorf("fetches = %d within max-age, want 1", got)
		}
		s.clock.Advance(61 * time.Second)
		s.token(t, id, "RS384", "system/*.rs")
		if got := fetches.Load(); got != 2 {
			t.Errorf("fetches = %d after max-age, want 2", got)
		}
		// jku equal to the registered URL is fine.
		a := sign(t, rs, jwa.RS384(), map[string]any{"jku": js.URL}, s.claimsFor(id))
		if status, body := s.postToken(t, tokenForm(a, "system/*.rs")); status != http.StatusOK {
			t.Errorf("jku = registered URL: %d %v", status, body)
		}
	})
	t.Run("NoStoreRefetches", func(t *testing.T) {
		s := newServer(t, demo.Config{})
		js, fetches := jwksServer(t, sampleJWKS(t, "RS384"), "no-store")
		id, _ := s.RegisterClient(demo.Client{JWKSURL: js.URL})
		s.token(t, id, "RS384", "system/*.rs")
		s.token(t, id, "RS384", "system/*.rs")
		if got := fetches.Load(); got != 2 {
			t.Errorf("fetches = %d with no-store, want 2", got)
		}
	})
	t.Run("JKUMismatch", func(t *testing.T) {
		s := newServer(t, demo.Config{})
		js, _ := jwksServer(t, sampleJWKS(t, "RS384"), "")
		other, _ := jwksServer(t, sampleJWKS(t, "RS384"), "")
		id, _ := s.RegisterClient(demo.Client{JWKSURL: js.URL})
		a := sign(t, rs, jwa.RS384(), map[string]any{"jku": other.URL}, s.claimsFor(id))
		if status, body := s.postToken(t, tokenForm(a, "system/*.rs")); status != http.StatusBadRequest || body["error"] != "invalid_client" {
			t.Errorf("jku mismatch: %d %v, want 400 invalid_client", status, body)
		}
	})
	t.Run("DuplicateKid", func(t *testing.T) {
		s := newServer(t, demo.Config{})
		var set struct{ Keys []json.RawMessage }
		json.Unmarshal(sampleJWKS(t, "RS384"), &set)
		dup, _ := json.Marshal(map[string]any{"keys": []json.RawMessage{set.Keys[0], set.Keys[0]}})
		js, _ := jwksServer(t, dup, "")
		id, err := s.RegisterClient(demo.Client{JWKSURL: js.URL})
		if err != nil {
			t.Fatal(err)
		}
		a := sign(t, rs, jwa.RS384(), nil, s.claimsFor(id))
		if status, body := s.postToken(t, tokenForm(a, "system/*.rs")); status != http.StatusBadRequest || body["error"] != "invalid_client" {
			t.Errorf("duplicate kid: %d %v, want 400 invalid_client", status, body)
		}
		if _, err := s.RegisterClient(demo.Client{JWKS: dup}); err == nil {
			t.Errorf("RegisterClient(inline JWKS with duplicate kid) = nil error")
		}
	})
}

func TestToken_ClientScopeLimit(t *testing.T) {
	s := newServer(t, demo.Config{})
	id, err := s.RegisterClient(demo.Client{JWKS: sampleJWKS(t, "ES384"), Scope: "system/Patient.rs system/Observation.rs"})
	if err != nil {
		t.Fatal(err)
	}
	a := sign(t, sampleKey(t, "ES384"), jwa.ES384(), nil, s.claimsFor(id))
	status, body := s.postToken(t, tokenForm(a, "system/*.rs"))
	if status != http.StatusOK || body["scope"] != "system/Patient.rs system/Observation.rs" {
		t.Errorf("got %d %v, want the allowed scopes", status, body)
	}
	a = sign(t, sampleKey(t, "ES384"), jwa.ES384(), nil, s.claimsFor(id))
	if status, body := s.postToken(t, tokenForm(a, "system/Condition.rs")); status != http.StatusBadRequest || body["error"] != "invalid_scope" {
		t.Errorf("disallowed scope: %d %v, want 400 invalid_scope", status, body)
	}
}

func TestRegister(t *testing.T) {
	s := newServer(t, demo.Config{})
	post := func(body any, ct string) response {
		b, _ := json.Marshal(body)
		return do(t, "POST", s.RegistrationURL(), "", b, "Content-Type: "+ct)
	}
	var pub map[string]any
	json.Unmarshal(sampleJWKS(t, "ES384"), &pub)
	var priv map[string]any
	privBytes, _ := json.Marshal(sampleKey(t, "ES384"))
	json.Unmarshal([]byte(`{"keys":[`+string(privBytes)+`]}`), &priv)
	b64 := base64.RawURLEncoding.EncodeToString
	small, _ := rsa.GenerateKey(rand.Reader, 1024)
	smallSet := map[string]any{"keys": []any{map[string]any{"kty": "RSA", "kid": "small", "alg": "RS384",
		"n": b64(small.N.Bytes()), "e": "AQAB"}}}
	p256, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	p256Set := map[string]any{"keys": []any{map[string]any{"kty": "EC", "kid": "p256", "crv": "P-256",
		"x": b64(p256.X.FillBytes(make([]byte, 32))), "y": b64(p256.Y.FillBytes(make([]byte, 32)))}}}

	t.Run("InlineJWKS", func(t *testing.T) {
		r := post(map[string]any{"client_name": "test", "jwks": pub, "token_endpoint_auth_method": "private_key_jwt",
			"grant_types": []string{"client_credentials"}, "scope": "system/*.rs"}, "application/json")
		if r.status != http.StatusCreated {
			t.Fatalf("status %d, want 201: %s", r.status, r.body)
		}
		m := r.json(t)
		id, _ := m["client_id"].(string)
		if id == "" || m["client_id_issued_at"] == nil || m["client_name"] != "test" || m["jwks"] == nil ||
			m["token_endpoint_auth_method"] != "private_key_jwt" {
			t.Errorf("registration response %v lacks echoed metadata", m)
		}
		s.token(t, id, "ES384", "system/*.rs") // the new client can authenticate
	})
	t.Run("JWKSURI", func(t *testing.T) {
		js, _ := jwksServer(t, sampleJWKS(t, "RS384"), "")
		r := post(map[string]any{"jwks_uri": js.URL}, "application/json")
		if r.status != http.StatusCreated {
			t.Fatalf("status %d, want 201: %s", r.status, r.body)
		}
		s.token(t, r.json(t)["client_id"].(string), "RS384", "system/*.read")
	})
	bad := []struct {
		name string
		body any
		ct   string
	}{
		{"PrivateKey", map[string]any{"jwks": priv}, "application/json"},
		{"Both", map[string]any{"jwks": pub, "jwks_uri": "http://127.0.0.1:9/jwks"}, "application/json"},
		{"Neither", map[string]any{"client_name": "x"}, "application/json"},
		{"RSA1024", map[string]any{"jwks": smallSet}, "application/json"},
		{"P256", map[string]any{"jwks": p256Set}, "application/json"},
		{"RemoteJWKSURI", map[string]any{"jwks_uri": "https://example.org/jwks.json"}, "application/json"},
		{"SecretAuth", map[string]any{"jwks": pub, "token_endpoint_auth_method": "client_secret_basic"}, "application/json"},
		{"AuthCodeGrant", map[string]any{"jwks": pub, "grant_types": []string{"authorization_code"}}, "application/json"},
		{"BadScope", map[string]any{"jwks": pub, "scope": "user/*.read"}, "application/json"},
		{"NotJSON", map[string]any{"jwks": pub}, "application/x-www-form-urlencoded"},
	}
	for _, tt := range bad {
		t.Run(tt.name, func(t *testing.T) {
			r := post(tt.body, tt.ct)
			if r.status != http.StatusBadRequest || r.json(t)["error"] != "invalid_client_metadata" {
				t.Errorf("got %d %s, want 400 invalid_client_metadata", r.status, r.body)
			}
		})
	}
}
