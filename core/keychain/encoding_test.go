package keychain_test

import (
	"strings"
	"testing"

	"tranche.dev/tranche/core/keychain"
)

// FuzzUnmarshalKey checks that damaged keychain entries give an error, never
// a panic, and that errors never echo the entry.
func FuzzUnmarshalKey(f *testing.F) {
	ec, _ := keychain.MarshalKey(mustEC(f))
	rs, _ := keychain.MarshalKey(mustRSA(f, 2048))
	for _, seed := range []string{ec, rs, "k1.rsa.AQAB.AA.AA", "k1.ec.P-999.AA", "k1.pkcs8.AAAA", "k1.rsa...", "", "s1.x"} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, text string) {
		k, err := keychain.UnmarshalKey(text)
		if err != nil {
			if len(text) > 16 && strings.Contains(err.Error(), text) {
				t.Fatalf("error %q echoes the entry", err)
			}
			return
		}
		if k == nil {
			t.Fatal("UnmarshalKey returned nil key and nil error")
		}
	})
}
