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

// strongPassphrase passes CheckPassphrase: four random words.
const strongPassphrase = "mauve lantern quietly orbit"

func TestCheckPassphrase(t *testing.T) {
	for _, tt := range []struct {
		pass string
		ok   bool
		why  string // in the error, when refused
	}{
		{"", false, "empty"},
		{"a", false, "estimated"},
		{"correct horse", false, "common words"},
		{"Tr0ub4dor&3", false, "need 50"},
		{"password123456789", false, "common words"},
		{"qwertyuiopasdfghjkl", false, "need 50"},
		{"abcdefghijklmnopqrstuvwxyz", false, "sequence"},
		{strings.Repeat("a", 200), false, "repeat"},
		{strings.Repeat("ab", 64), false, "repeats itself"},        // zxcvbn-go alone scores this 385 bits
		{strings.Repeat("Xq7#v", 40), false, "repeats itself"},     // longer than maxJudged, still a repeat
		{"my-registration my-registration", false, "common words"}, // the registration name twice
		{"tranche tranche tranche", false, ""},
		{"\xff\xfe not utf-8", false, "UTF-8"},
		{strongPassphrase, true, ""},
		{"correct horse battery staple", true, ""},
		{"xK9#mP2$vL5@qW", true, ""},
		{"7f3a9c2e8b1d4f60a1b2", true, ""},
		{strings.Repeat("x", 127) + "7f3a9c2e8b1d4f60", false, "repeat"}, // only the first 128 bytes count
	} {
		t.Run(tt.pass[:min(len(tt.pass), 20)], func(t *testing.T) {
			err := keychain.CheckPassphrase([]byte(tt.pass), "my-registration")
			if tt.ok {
				if err != nil {
					t.Fatalf("CheckPassphrase(%q) = %v, want nil", tt.pass, err)
				}
				return
			}
			if !errors.Is(err, keychain.ErrWeakPassphrase) {
				t.Fatalf("CheckPassphrase(%q) = %v, want ErrWeakPassphrase", tt.pass, err)
			}
			if !strings.Contains(err.Error(), tt.why) {
				t.Errorf("CheckPassphrase(%q) = %q, want it to mention %q", tt.pass, err, tt.why)
			}
			if strings.Contains(err.Error(), tt.pass) && len(tt.pass) > 3 {
				t.Errorf("error %q repeats the passphrase", err)
			}
		})
	}
}

// FuzzCheckPassphrase: any input gets an answer, and a refusal always
// wraps ErrWeakPassphrase and never repeats the passphrase.
func FuzzCheckPassphrase(f *testing.F) {
	for _, s := range []string{"", "a", "correct horse", strongPassphrase, strings.Repeat("ab", 70), "\xff\xfe", "ü€𝄞"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, p string) {
		err := keychain.CheckPassphrase([]byte(p))
		if err == nil {
			return
		}
		if !errors.Is(err, keychain.ErrWeakPassphrase) {
			t.Fatalf("CheckPassphrase(%q) = %v, want nil or ErrWeakPassphrase", p, err)
		}
		if len(p) >= 8 && strings.Contains(err.Error(), p) {
			t.Fatalf("error %q repeats the passphrase", err)
		}
	})
}

func TestFileStore(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "keys")
	s := keychain.NewFileStore(dir, []byte(strongPassphrase))
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
		again := keychain.NewFileStore(dir, []byte(strongPassphrase))
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

	t.Run("WeakPassphrase", func(t *testing.T) {
		weak := keychain.NewFileStore(dir, []byte("correct horse"))
		err := weak.SetKey("weak", key)
		if !errors.Is(err, keychain.ErrWeakPassphrase) {
			t.Fatalf("SetKey with a weak passphrase: err = %v, want ErrWeakPassphrase", err)
		}
		if _, err := os.Stat(weak.Path("weak")); !errors.Is(err, os.ErrNotExist) {
			t.Fatalf("a refused SetKey left a file: %v", err)
		}
		// An existing file still opens with whatever passphrase made it.
		if _, err := keychain.NewFileStore(dir, []byte("battery staple")).Key("my reg/1"); !errors.Is(err, keychain.ErrWrongPassphrase) {
			t.Fatalf("Key: err = %v, want ErrWrongPassphrase (not a strength error)", err)
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
