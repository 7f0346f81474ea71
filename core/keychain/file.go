package keychain

import (
	"crypto"
	"encoding/base64"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/lestrrat-go/jwx/v3/jwa"
	"github.com/lestrrat-go/jwx/v3/jwe"

	"tranche.dev/tranche/core"
)

// DefaultIterations is the PBKDF2 iteration count for new key files
// (OWASP's 2023 figure for PBKDF2-HMAC-SHA512).
const DefaultIterations = 210_000

// maxIterations bounds what a key file may ask for on decrypt, so a tampered
// file cannot make us spin for minutes.
const maxIterations = 5_000_000

// ErrWrongPassphrase reports a key file that the passphrase does not open.
var ErrWrongPassphrase = errors.New("wrong passphrase, or the key file is damaged")

// FileStore is the explicit, opt-in fallback for machines without a keychain:
// each key is a JWE (PBES2-HS512+A256KW, A256GCM) encrypted with a passphrase,
// in its own file with 0600 permissions. There is no plaintext fallback.
type FileStore struct {
	// Dir holds the key files. Created with 0700 permissions if missing.
	Dir string
	// Passphrase encrypts and decrypts the files. Must not be empty, and
	// must pass CheckPassphrase to write a new file.
	Passphrase []byte
	// Iterations is the PBKDF2 count for new files. Defaults to
	// DefaultIterations.
	Iterations int
}

// NewFileStore returns a FileStore in dir with the given passphrase.
func NewFileStore(dir string, passphrase []byte) *FileStore {
	return &FileStore{Dir: dir, Passphrase: passphrase, Iterations: DefaultIterations}
}

// Path returns the file that holds the key under ref. Refs are encoded so
// any name is a safe file name.
func (s *FileStore) Path(ref string) string {
	return filepath.Join(s.Dir, base64.RawURLEncoding.EncodeToString([]byte(ref))+".key.jwe")
}

func (s *FileStore) check(ref string) error {
	if err := checkRef(ref); err != nil {
		return err
	}
	if len(s.Passphrase) == 0 {
		return errors.New("key file fallback needs a passphrase (set TRANCHE_KEY_PASSPHRASE or type one)")
	}
	return nil
}

// SetKey encrypts key with the passphrase and writes it atomically with 0600
// permissions. The passphrase must pass CheckPassphrase: a file that leaves
// the machine is only as safe as its passphrase.
func (s *FileStore) SetKey(ref string, key crypto.Signer) error {
	if err := s.check(ref); err != nil {
		return err
	}
	if err := CheckPassphrase(s.Passphrase, ref); err != nil {
		return err
	}
	text, err := MarshalKey(key)
	if err != nil {
		return err
	}
	n := s.Iterations
	if n == 0 {
		n = DefaultIterations
	}
	msg, err := jwe.Encrypt([]byte(text),
		jwe.WithKey(jwa.PBES2_HS512_A256KW(), s.Passphrase),
		jwe.WithContentEncryption(jwa.A256GCM()),
		jwe.WithPBES2Count(n))
	if err != nil {
		// jwx's message names the step, never the payload.
		return fmt.Errorf("encrypt key %q: %w", ref, err)
	}
	if err := os.MkdirAll(s.Dir, 0o700); err != nil {
		return fmt.Errorf("create key directory: %w", err)
	}
	// Write to a temp file, then rename, so a crash never leaves half a key.
	f, err := os.CreateTemp(s.Dir, ".key-*.tmp")
	if err != nil {
		return fmt.Errorf("create key file: %w", err)
	}
	tmp := f.Name()
	defer os.Remove(tmp) // no-op after a successful rename
	if err := f.Chmod(0o600); err != nil {
		f.Close()
		return fmt.Errorf("chmod key file: %w", err)
	}
	if _, err := f.Write(msg); err != nil {
		f.Close()
		return fmt.Errorf("write key file: %w", err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return fmt.Errorf("sync key file: %w", err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("close key file: %w", err)
	}
	if err := os.Rename(tmp, s.Path(ref)); err != nil {
		return fmt.Errorf("save key file: %w", err)
	}
	return nil
}

// Key decrypts the key under ref. Returns core.ErrNotFound if there is no
// file, ErrWrongPassphrase if the passphrase does not open it.
func (s *FileStore) Key(ref string) (crypto.Signer, error) {
	if err := s.check(ref); err != nil {
		return nil, err
	}
	path := s.Path(ref)
	msg, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("key file for %q: %w", ref, core.ErrNotFound)
	} else if err != nil {
		return nil, fmt.Errorf("read key file: %w", err)
	}
	text, err := jwe.Decrypt(msg,
		jwe.WithKey(jwa.PBES2_HS512_A256KW(), s.Passphrase),
		jwe.WithMaxPBES2Count(maxIterations))
	if err != nil {
		// Do not wrap jwx's error: the person needs one clear sentence.
		return nil, fmt.Errorf("open key file %s: %w", path, ErrWrongPassphrase)
	}
	key, err := UnmarshalKey(string(text))
	if err != nil {
		return nil, fmt.Errorf("key file %s: %w", path, err)
	}
	return key, nil
}

// DeleteKey removes the file under ref. Returns core.ErrNotFound if there is
// none.
func (s *FileStore) DeleteKey(ref string) error {
	if err := checkRef(ref); err != nil {
		return err
	}
	err := os.Remove(s.Path(ref))
	if errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("key file for %q: %w", ref, core.ErrNotFound)
	}
	if err != nil {
		return fmt.Errorf("delete key file: %w", err)
	}
	return nil
}
