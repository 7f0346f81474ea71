package keychain_test

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"tranche.dev/tranche/core"
	"tranche.dev/tranche/core/keychain"
)

func TestFileStore(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "keys")
	s := keychain.NewFileStore(dir, []byte("correct horse"))
	s.Iterations = 1000 // the minimum jwx accepts; keeps the test fast
	key := mustRSA(t, 2048)
	if err := s.SetKey("my reg/1", key); err != nil {
		t.Fatalf("SetKey: %v", err)
	}

	t.Run("Permissions", func(t *testing.T) {
		fi, err := os.Stat(s.Path("my reg/1"))
		if err != nil {
			t.Fatal(err)
		}
		if got, want := fi.Mode().Perm(), os.FileMode(0o600); got != want {
			t.Fatalf("key file mode = %v, want %v", got, want)
		}
		di, err := os.Stat(dir)
		if err != nil {
			t.Fatal(err)
		}
		if got, want := di.Mode().Perm(), os.FileMode(0o700); got != want {
			t.Fatalf("key dir mode = %v, want %v", got, want)
		}
	})

	t.Run("Encrypted", func(t *testing.T) {
		raw, err := os.ReadFile(s.Path("my reg/1"))
		if err != nil {
			t.Fatal(err)
		}
		text, _ := keychain.MarshalKey(key)
		if bytes.Contains(raw, []byte(text[:40])) {
			t.Fatal("key file holds the key in clear")
		}
		if !bytes.Contains(raw, []byte(".")) || bytes.Count(raw, []byte(".")) != 4 {
			t.Fatalf("key file is not a compact JWE: %.40q", raw)
		}
	})

	t.Run("RoundTrip", func(t *testing.T) {
		again := keychain.NewFileStore(dir, []byte("correct horse"))
		got, err := again.Key("my reg/1")
		if err != nil {
			t.Fatalf("Key: %v", err)
		}
		sameKey(t, got, key)
	})

	t.Run("WrongPassphrase", func(t *testing.T) {
		_, err := keychain.NewFileStore(dir, []byte("battery staple")).Key("my reg/1")
		if !errors.Is(err, keychain.ErrWrongPassphrase) {
			t.Fatalf("Key with wrong passphrase: err = %v, want ErrWrongPassphrase", err)
		}
		if !strings.Contains(err.Error(), "wrong passphrase") {
			t.Fatalf("error = %q, want it to say wrong passphrase", err)
		}
	})

	t.Run("NoPassphrase", func(t *testing.T) {
		if err := keychain.NewFileStore(dir, nil).SetKey("x", key); err == nil {
			t.Fatal("SetKey with no passphrase: err = nil, want an error")
		}
	})

	t.Run("Delete", func(t *testing.T) {
		if err := s.DeleteKey("my reg/1"); err != nil {
			t.Fatalf("DeleteKey: %v", err)
		}
		if _, err := s.Key("my reg/1"); !errors.Is(err, core.ErrNotFound) {
			t.Fatalf("Key after delete: err = %v, want core.ErrNotFound", err)
		}
		if err := s.DeleteKey("my reg/1"); !errors.Is(err, core.ErrNotFound) {
			t.Fatalf("DeleteKey twice: err = %v, want core.ErrNotFound", err)
		}
		leftovers, _ := filepath.Glob(filepath.Join(dir, "*"))
		if len(leftovers) != 0 {
			t.Fatalf("files left in key dir: %v", leftovers)
		}
	})
}
