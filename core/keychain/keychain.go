// Package keychain keeps client private keys in the OS keychain (Secret
// Service on Linux, Keychain on macOS, Credential Manager on Windows) through
// go-keyring, and, only when the user opts in, in a passphrase-encrypted file.
//
// Keychain entries live under the service name [Service] ("dev.tranche.app"),
// one entry per registration with the registration's KeyRef as the user name.
// Keys are stored in a compact, versioned text form (see [MarshalKey]) so that
// even an RSA 4096 key fits the smallest platform limit; anything larger is
// split into numbered chunk entries.
package keychain

import (
	"crypto"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/zalando/go-keyring"

	"tranche.dev/tranche/core"
)

// Service is the keychain service name every Tranche entry is stored under.
// It is the application id, so a person can find the entries in their
// keychain tool (for example `secret-tool search service dev.tranche.app`).
const Service = "dev.tranche.app"

// MaxEntrySize is the largest secret stored in one keychain entry. Windows
// Credential Manager refuses blobs over 2560 bytes and macOS refuses a
// `security` command line over 4096 bytes after base64 (about 3000 bytes of
// secret), so 2560 fits every platform. The limit is enforced here on all
// platforms, so what works on Linux also works elsewhere.
const MaxEntrySize = 2560

// maxRefSize bounds an entry name: macOS passes it on the same 4096-byte
// command line as the secret.
const maxRefSize = 200

// Entry prefixes: a whole secret, or the number of chunk entries that hold it.
const (
	prefixWhole  = "s1."
	prefixChunks = "c1."
)

// Backend is the keychain operations Store needs. go-keyring's package
// functions satisfy it (see [OSKeyring]); tests may pass an in-memory one.
type Backend interface {
	Set(service, user, secret string) error
	Get(service, user string) (string, error)
	Delete(service, user string) error
}

// OSKeyring is the OS keychain through go-keyring. keyring.MockInit swaps it
// for an in-memory map in tests (which, on Linux, still need a session bus
// address, real or not: OSKeyring refuses to go on without one rather than
// let godbus launch a bus).
type OSKeyring struct{}

// Set stores secret under service and user.
func (OSKeyring) Set(service, user, secret string) error {
	if err := checkBus(); err != nil {
		return err
	}
	return explain(keyring.Set(service, user, secret))
}

// Get returns the secret under service and user, or keyring.ErrNotFound.
func (OSKeyring) Get(service, user string) (string, error) {
	if err := checkBus(); err != nil {
		return "", err
	}
	v, err := keyring.Get(service, user)
	return v, explain(err)
}

// Delete removes the secret under service and user.
func (OSKeyring) Delete(service, user string) error {
	if err := checkBus(); err != nil {
		return err
	}
	return explain(keyring.Delete(service, user))
}

// explain turns a keychain failure other than "not found" or "too big"
// into core.ErrKeychainUnavailable that says why: no bus, no Secret
// Service, or a locked keyring (core.ErrKeychainLocked).
func explain(err error) error {
	if err == nil || errors.Is(err, keyring.ErrNotFound) || errors.Is(err, keyring.ErrSetDataTooBig) {
		return err
	}
	return diagnose(err)
}

// Keys stores private keys by reference. Implemented by *Store (the OS
// keychain) and *FileStore (the opt-in encrypted file fallback).
type Keys interface {
	// SetKey stores key under ref, replacing any key already there.
	SetKey(ref string, key crypto.Signer) error
	// Key returns the key stored under ref, or core.ErrNotFound.
	Key(ref string) (crypto.Signer, error)
	// DeleteKey removes the key under ref. Returns core.ErrNotFound if
	// there is none.
	DeleteKey(ref string) error
}

var (
	_ Keys = (*Store)(nil)
	_ Keys = (*FileStore)(nil)
)

// Store keeps keys in the OS keychain.
type Store struct {
	// Service is the keychain service name. Defaults to [Service].
	Service string
	// Backend is the keychain. Defaults to [OSKeyring].
	Backend Backend
}

// NewStore returns a Store on the OS keychain under [Service].
func NewStore() *Store { return &Store{Service: Service, Backend: OSKeyring{}} }

func (s *Store) service() string {
	if s.Service == "" {
		return Service
	}
	return s.Service
}

func (s *Store) backend() Backend {
	if s.Backend == nil {
		return OSKeyring{}
	}
	return s.Backend
}

// unavailable wraps a keychain error that is not "not found" into
// core.ErrKeychainUnavailable with advice. The cause is kept for the curious
// (it never holds secret material: go-keyring reports D-Bus and exec errors).
func unavailable(err error) error {
	return fmt.Errorf("%w: no Secret Service found: start gnome-keyring or KeePassXC's Secret Service, "+
		"or use --key-file-fallback with a passphrase (%v)", core.ErrKeychainUnavailable, err)
}

// classify turns a backend error into ErrNotFound, ErrKeychainUnavailable or
// nil.
func classify(err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, keyring.ErrNotFound):
		return core.ErrNotFound
	case errors.Is(err, keyring.ErrSetDataTooBig):
		return fmt.Errorf("keychain refused the entry as too big: %w", err)
	case errors.Is(err, core.ErrKeychainUnavailable):
		return err // already says why (OSKeyring)
	}
	return unavailable(err)
}

// Probe reports whether the keychain can be used: it reads an entry that does
// not exist and expects "not found". Any other answer (no D-Bus session, no
// Secret Service, a locked collection nobody can unlock) is wrapped in
// core.ErrKeychainUnavailable with advice on what to do; a locked one also
// wraps core.ErrKeychainLocked. Without a session bus it starts none.
func (s *Store) Probe() error {
	_, err := s.backend().Get(s.service(), "__tranche_probe__")
	if err == nil || errors.Is(err, keyring.ErrNotFound) {
		return nil
	}
	return classify(err)
}

func checkRef(ref string) error {
	if ref == "" {
		return errors.New("empty key reference")
	}
	if len(ref) > maxRefSize {
		return fmt.Errorf("key reference longer than %d bytes", maxRefSize)
	}
	return nil
}

func chunkRef(ref string, i int) string { return ref + "#" + strconv.Itoa(i) }

// Set stores a secret under ref. A secret that does not fit one entry of
// MaxEntrySize bytes is split into chunk entries ref#1 … ref#n, and the entry
// ref records n.
func (s *Store) Set(ref, secret string) error {
	if err := checkRef(ref); err != nil {
		return err
	}
	b, svc := s.backend(), s.service()
	// Remove the chunks of an earlier, larger secret first.
	if err := s.deleteChunks(ref); err != nil && !errors.Is(err, core.ErrNotFound) {
		return err
	}
	if len(prefixWhole)+len(secret) <= MaxEntrySize {
		return classify(b.Set(svc, ref, prefixWhole+secret))
	}
	n := 0
	for rest := secret; rest != ""; n++ {
		part := rest[:min(MaxEntrySize, len(rest))]
		rest = rest[len(part):]
		if err := classify(b.Set(svc, chunkRef(ref, n+1), part)); err != nil {
			return fmt.Errorf("chunk %d: %w", n+1, err)
		}
	}
	return classify(b.Set(svc, ref, prefixChunks+strconv.Itoa(n)))
}

// Get returns the secret stored under ref, or core.ErrNotFound.
func (s *Store) Get(ref string) (string, error) {
	if err := checkRef(ref); err != nil {
		return "", err
	}
	b, svc := s.backend(), s.service()
	head, err := b.Get(svc, ref)
	if err != nil {
		return "", classify(err)
	}
	if v, ok := strings.CutPrefix(head, prefixWhole); ok {
		return v, nil
	}
	n, err := chunkCount(head)
	if err != nil {
		return "", err
	}
	var sb strings.Builder
	for i := 1; i <= n; i++ {
		part, err := b.Get(svc, chunkRef(ref, i))
		if err != nil {
			return "", fmt.Errorf("keychain entry %q chunk %d: %w", ref, i, classify(err))
		}
		sb.WriteString(part)
	}
	return sb.String(), nil
}

func chunkCount(head string) (int, error) {
	v, ok := strings.CutPrefix(head, prefixChunks)
	if !ok {
		return 0, errors.New("keychain entry is not in a format this version of Tranche knows")
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 || n > 1000 {
		return 0, errors.New("keychain entry has a bad chunk count")
	}
	return n, nil
}

// deleteChunks removes the chunk entries of ref, if ref is chunked.
func (s *Store) deleteChunks(ref string) error {
	b, svc := s.backend(), s.service()
	head, err := b.Get(svc, ref)
	if err != nil {
		return classify(err)
	}
	if !strings.HasPrefix(head, prefixChunks) {
		return nil
	}
	n, err := chunkCount(head)
	if err != nil {
		return err
	}
	for i := 1; i <= n; i++ {
		if err := classify(b.Delete(svc, chunkRef(ref, i))); err != nil && !errors.Is(err, core.ErrNotFound) {
			return fmt.Errorf("delete chunk %d: %w", i, err)
		}
	}
	return nil
}

// Delete removes the secret under ref and its chunks. Returns
// core.ErrNotFound if there is none.
func (s *Store) Delete(ref string) error {
	if err := checkRef(ref); err != nil {
		return err
	}
	if err := s.deleteChunks(ref); err != nil {
		return err
	}
	return classify(s.backend().Delete(s.service(), ref))
}

// SetKey stores a private key under ref in its compact form.
func (s *Store) SetKey(ref string, key crypto.Signer) error {
	text, err := MarshalKey(key)
	if err != nil {
		return err
	}
	if err := s.Set(ref, text); err != nil {
		return fmt.Errorf("store key %q in keychain: %w", ref, err)
	}
	return nil
}

// Key returns the private key stored under ref, or core.ErrNotFound.
func (s *Store) Key(ref string) (crypto.Signer, error) {
	text, err := s.Get(ref)
	if err != nil {
		return nil, fmt.Errorf("read key %q from keychain: %w", ref, err)
	}
	key, err := UnmarshalKey(text)
	if err != nil {
		return nil, fmt.Errorf("read key %q from keychain: %w", ref, err)
	}
	return key, nil
}

// DeleteKey removes the key under ref.
func (s *Store) DeleteKey(ref string) error {
	if err := s.Delete(ref); err != nil {
		return fmt.Errorf("delete key %q from keychain: %w", ref, err)
	}
	return nil
}
