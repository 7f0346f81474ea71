package keychain_test

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"math/big"
	"os"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/zalando/go-keyring"

	"tranche.dev/tranche/core"
	"tranche.dev/tranche/core/keychain"
)

// memBackend is an in-memory keychain that enforces Windows' 2560-byte limit
// on every platform, so a passing test means the entry fits everywhere.
type memBackend struct {
	mu      sync.Mutex
	entries map[string]string
	err     error // returned by every call when set
}

func newMemBackend() *memBackend { return &memBackend{entries: map[string]string{}} }

func (m *memBackend) Set(service, user, secret string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.err != nil {
		return m.err
	}
	if len(secret) > 2560 {
		return keyring.ErrSetDataTooBig
	}
	m.entries[service+"/"+user] = secret
	return nil
}

func (m *memBackend) Get(service, user string) (string, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.err != nil {
		return "", m.err
	}
	v, ok := m.entries[service+"/"+user]
	if !ok {
		return "", keyring.ErrNotFound
	}
	return v, nil
}

func (m *memBackend) Delete(service, user string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.err != nil {
		return m.err
	}
	if _, ok := m.entries[service+"/"+user]; !ok {
		return keyring.ErrNotFound
	}
	delete(m.entries, service+"/"+user)
	return nil
}

func (m *memBackend) names() []string {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []string
	for k := range m.entries {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func mustRSA(tb testing.TB, bits int) *rsa.PrivateKey {
	tb.Helper()
	k, err := rsa.GenerateKey(rand.Reader, bits)
	if err != nil {
		tb.Fatal(err)
	}
	return k
}

// rsa4096 is generated once: it is slow, and every test only reads it.
var rsa4096 = func() func(testing.TB) *rsa.PrivateKey {
	var once sync.Once
	var k *rsa.PrivateKey
	return func(tb testing.TB) *rsa.PrivateKey {
		once.Do(func() { k = mustRSA(tb, 4096) })
		return k
	}
}()

func mustEC(tb testing.TB) *ecdsa.PrivateKey {
	tb.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	if err != nil {
		tb.Fatal(err)
	}
	return k
}

// sameKey checks that got is usable as want: same public key, and a
// signature made with got verifies under want's public key.
func sameKey(tb testing.TB, got, want crypto.Signer) {
	tb.Helper()
	type equaler interface{ Equal(crypto.PublicKey) bool }
	if !want.Public().(equaler).Equal(got.Public()) {
		tb.Fatalf("public key of the stored key differs from the original")
	}
	digest := sha256.Sum256([]byte("tranche"))
	sig, err := got.Sign(rand.Reader, digest[:], crypto.SHA256)
	if err != nil {
		tb.Fatalf("Sign with stored key: %v", err)
	}
	switch pub := want.Public().(type) {
	case *rsa.PublicKey:
		if err := rsa.VerifyPKCS1v15(pub, crypto.SHA256, digest[:], sig); err != nil {
			tb.Fatalf("signature of stored RSA key does not verify: %v", err)
		}
	case *ecdsa.PublicKey:
		if !ecdsa.VerifyASN1(pub, digest[:], sig) {
			tb.Fatalf("signature of stored EC key does not verify")
		}
	}
}

func TestMarshalKey_FitsEveryPlatform(t *testing.T) {
	tests := []struct {
		name string
		key  crypto.Signer
	}{
		{"RSA2048", mustRSA(t, 2048)},
		{"RSA3072", mustRSA(t, 3072)},
		{"RSA4096", rsa4096(t)},
		{"P384", mustEC(t)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			text, err := keychain.MarshalKey(tt.key)
			if err != nil {
				t.Fatalf("MarshalKey: %v", err)
			}
			// The stored entry adds a 3-byte prefix.
			if got := len(text) + 3; got > keychain.MaxEntrySize {
				t.Fatalf("entry size = %d, want <= %d", got, keychain.MaxEntrySize)
			}
			got, err := keychain.UnmarshalKey(text)
			if err != nil {
				t.Fatalf("UnmarshalKey: %v", err)
			}
			sameKey(t, got, tt.key)
			if rk, ok := tt.key.(*rsa.PrivateKey); ok {
				g := got.(*rsa.PrivateKey)
				if g.N.Cmp(rk.N) != 0 || g.E != rk.E || g.Primes[0].Cmp(rk.Primes[0]) != 0 {
					t.Fatalf("RSA round trip changed n, e or p")
				}
			}
		})
	}
}

func TestStore_RoundTrip(t *testing.T) {
	for _, tt := range []struct {
		name string
		key  crypto.Signer
	}{{"RSA4096", rsa4096(t)}, {"P384", mustEC(t)}} {
		t.Run(tt.name, func(t *testing.T) {
			mem := newMemBackend()
			s := &keychain.Store{Backend: mem}
			if err := s.SetKey("reg one", tt.key); err != nil {
				t.Fatalf("SetKey: %v", err)
			}
			// One entry, no chunks: the compact form fits the 2560 limit.
			if diff := cmp.Diff([]string{"dev.tranche.app/reg one"}, mem.names()); diff != "" {
				t.Fatalf("entries (-want +got):\n%s", diff)
			}
			got, err := s.Key("reg one")
			if err != nil {
				t.Fatalf("Key: %v", err)
			}
			sameKey(t, got, tt.key)
			if err := s.DeleteKey("reg one"); err != nil {
				t.Fatalf("DeleteKey: %v", err)
			}
			if _, err := s.Key("reg one"); !errors.Is(err, core.ErrNotFound) {
				t.Fatalf("Key after delete: err = %v, want core.ErrNotFound", err)
			}
			if err := s.DeleteKey("reg one"); !errors.Is(err, core.ErrNotFound) {
				t.Fatalf("DeleteKey twice: err = %v, want core.ErrNotFound", err)
			}
		})
	}
}

func TestStore_Chunks(t *testing.T) {
	mem := newMemBackend()
	s := &keychain.Store{Service: "test", Backend: mem}
	big := strings.Repeat("abcdefghij", 700) // 7000 bytes: three chunks
	if err := s.Set("r", big); err != nil {
		t.Fatalf("Set: %v", err)
	}
	want := []string{"test/r", "test/r#1", "test/r#2", "test/r#3"}
	if diff := cmp.Diff(want, mem.names()); diff != "" {
		t.Fatalf("entries (-want +got):\n%s", diff)
	}
	got, err := s.Get("r")
	if err != nil || got != big {
		t.Fatalf("Get = %d bytes, %v; want %d bytes", len(got), err, len(big))
	}
	// Overwriting with a small secret removes the old chunks.
	if err := s.Set("r", "small"); err != nil {
		t.Fatalf("Set small: %v", err)
	}
	if diff := cmp.Diff([]string{"test/r"}, mem.names()); diff != "" {
		t.Fatalf("entries after overwrite (-want +got):\n%s", diff)
	}
	if err := s.Set("r", big); err != nil {
		t.Fatalf("Set: %v", err)
	}
	if err := s.Delete("r"); err != nil {
		t.Fatalf("Delete: %v", err)
	}
	if got := mem.names(); len(got) != 0 {
		t.Fatalf("entries after Delete = %v, want none", got)
	}
}

func TestStore_Unavailable(t *testing.T) {
	mem := newMemBackend()
	mem.err = errors.New("The name org.freedesktop.secrets was not provided by any .service files")
	s := &keychain.Store{Backend: mem}
	err := s.Probe()
	if !errors.Is(err, core.ErrKeychainUnavailable) {
		t.Fatalf("Probe() = %v, want core.ErrKeychainUnavailable", err)
	}
	for _, want := range []string{"gnome-keyring", "--key-file-fallback"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("Probe() = %q, want it to mention %q", err, want)
		}
	}
	if err := s.SetKey("r", mustEC(t)); !errors.Is(err, core.ErrKeychainUnavailable) {
		t.Fatalf("SetKey() = %v, want core.ErrKeychainUnavailable", err)
	}
	if err := (&keychain.Store{Backend: newMemBackend()}).Probe(); err != nil {
		t.Fatalf("Probe() on a working keychain = %v, want nil", err)
	}
}

// TestStore_ErrorsHideKey checks that failing paths never put key material
// in an error string.
func TestStore_ErrorsHideKey(t *testing.T) {
	key := mustRSA(t, 2048)
	text, err := keychain.MarshalKey(key)
	if err != nil {
		t.Fatal(err)
	}
	secrets := []string{
		text,
		base64.RawURLEncoding.EncodeToString(key.Primes[0].Bytes()),
		base64.RawURLEncoding.EncodeToString(key.Primes[1].Bytes()),
		key.D.String(),
	}
	mem := newMemBackend()
	mem.err = fmt.Errorf("dbus: connection closed")
	s := &keychain.Store{Backend: mem}
	var errs []error
	errs = append(errs, s.SetKey("r", key))
	// Damaged entries: truncated (mid-p, so a field is missing) and corrupted
	// compact forms.
	// q+1 is even: a well-formed entry whose "prime" is not one.
	evenQ := new(big.Int).Add(key.Primes[1], big.NewInt(1))
	notPrime := text[:strings.LastIndex(text, ".")+1] + base64.RawURLEncoding.EncodeToString(evenQ.Bytes())
	for _, bad := range []string{text[:len(text)/2], strings.Replace(text, ".", "!", 3), text + ".x", notPrime} {
		ok := newMemBackend()
		ok.entries["dev.tranche.app/r"] = "s1." + bad
		_, err := (&keychain.Store{Backend: ok}).Key("r")
		errs = append(errs, err)
		_, err = keychain.UnmarshalKey(bad)
		errs = append(errs, err)
	}
	for i, err := range errs {
		if err == nil {
			t.Fatalf("case %d: err = nil, want an error", i)
		}
		for _, s := range secrets {
			if strings.Contains(err.Error(), s[:32]) {
				t.Fatalf("case %d: error %q contains key material", i, err)
			}
		}
	}
}

// TestStore_SecretService round-trips a generated key through a real Secret
// Service. `make test` starts gnome-keyring on a private D-Bus session bus
// (.ci/with-keyring.sh) and sets TRANCHE_TEST_KEYRING=1.
func TestStore_SecretService(t *testing.T) {
	if os.Getenv("TRANCHE_TEST_KEYRING") != "1" {
		t.Skip("set TRANCHE_TEST_KEYRING=1 with a Secret Service running (make test does)")
	}
	s := keychain.NewStore()
	if err := s.Probe(); err != nil {
		t.Fatalf("Probe: %v", err)
	}
	ref := "tranche-test-" + t.Name()
	for _, key := range []crypto.Signer{rsa4096(t), mustEC(t)} {
		if err := s.SetKey(ref, key); err != nil {
			t.Fatalf("SetKey: %v", err)
		}
		got, err := s.Key(ref)
		if err != nil {
			t.Fatalf("Key: %v", err)
		}
		sameKey(t, got, key)
		if err := s.DeleteKey(ref); err != nil {
			t.Fatalf("DeleteKey: %v", err)
		}
		if _, err := s.Key(ref); !errors.Is(err, core.ErrNotFound) {
			t.Fatalf("Key after delete: err = %v, want core.ErrNotFound", err)
		}
	}
	// A secret that needs chunks also round-trips.
	big := strings.Repeat("0123456789", 600)
	if err := s.Set(ref, big); err != nil {
		t.Fatalf("Set chunked: %v", err)
	}
	t.Cleanup(func() { s.Delete(ref) })
	if got, err := s.Get(ref); err != nil || got != big {
		t.Fatalf("Get chunked = %d bytes, %v; want %d bytes", len(got), err, len(big))
	}
}
