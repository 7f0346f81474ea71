package keychain

import (
	"errors"
	"fmt"
	"math"
	"strings"
	"unicode/utf8"

	"github.com/ccojocar/zxcvbn-go"
	"github.com/ccojocar/zxcvbn-go/match"
)

// MinPassphraseBits is the least strength a new key file's passphrase must
// have, as zxcvbn's estimate of log2(guesses): 2^50 guesses at PBKDF2's
// 210,000 iterations of HMAC-SHA512 (RFC 7518 §4.8, PBES2) is over a
// thousand GPU-years. Four random common words pass; "Tr0ub4dor&3" (43
// bits) and "correct horse" (25) do not.
const MinPassphraseBits = 50

// maxJudged bounds the bytes the estimator looks at: its matching is
// quadratic, and 128 random bytes already take it a quarter second.
// Anything past that only adds strength.
const maxJudged = 128

// ErrWeakPassphrase reports a passphrase refused for a new key file.
var ErrWeakPassphrase = errors.New("passphrase too weak for the key file")

// CheckPassphrase judges a passphrase for a new key file with zxcvbn, which
// estimates how many guesses an attacker who knows common passwords, words,
// names, dates, keyboard patterns, repeats and sequences needs; a length
// rule alone would pass "aaaaaaaaaaaaaaaa". words are what an attacker would
// try first (the registration name, "tranche"). The error, wrapping
// ErrWeakPassphrase, says how strong the passphrase was and what to do.
func CheckPassphrase(passphrase []byte, words ...string) error {
	if len(passphrase) == 0 {
		return fmt.Errorf("%w: it is empty", ErrWeakPassphrase)
	}
	if !utf8.Valid(passphrase) {
		return fmt.Errorf("%w: it is not valid UTF-8 text", ErrWeakPassphrase)
	}
	bits, why := estimate(string(passphrase), append(words, "tranche", "passphrase", "password"))
	if bits >= MinPassphraseBits {
		return nil
	}
	msg := fmt.Sprintf("estimated %.0f bits, need %d", bits, MinPassphraseBits)
	if why != "" {
		msg += "; " + why
	}
	return fmt.Errorf("%w (%s): use four or more random words, or a long passphrase from a password manager",
		ErrWeakPassphrase, msg)
}

// estimate returns zxcvbn's strength of p in bits and, when a pattern made
// it weak, a few words on which.
func estimate(p string, words []string) (float64, string) {
	// zxcvbn-go finds repeats of one character only; "abcabcabc…" would
	// score as random. A passphrase that is a unit said k times (the last
	// time perhaps cut short) is as strong as the unit and the choice of k.
	extra := 0.0
	if unit, k := period(p); k > 1 {
		p, extra = unit, math.Log2(float64(k))
	}
	if len(p) > maxJudged {
		cut := maxJudged
		for cut > 0 && !utf8.RuneStart(p[cut]) {
			cut--
		}
		p = p[:cut]
	}
	r := zxcvbn.PasswordStrength(p, words)
	why := "it repeats itself"
	if extra == 0 {
		why = weakness(r.MatchSequence)
	}
	return r.Entropy + extra, why
}

// weakness names the guessable patterns zxcvbn matched.
func weakness(seq []match.Match) string {
	seen := map[string]bool{}
	var out []string
	for _, m := range seq {
		var s string
		switch m.Pattern {
		case "dictionary":
			s = "common words, names or passwords"
		case "spatial":
			s = "a keyboard pattern"
		case "repeat":
			s = "repeated characters"
		case "sequence":
			s = "a sequence like abc or 123"
		case "date":
			s = "a date"
		}
		if s != "" && !seen[s] {
			seen[s] = true
			out = append(out, s)
		}
	}
	if len(out) == 0 {
		return "it is too short"
	}
	return "it is made of " + strings.Join(out, ", ")
}

// period returns the shortest unit u such that p is u repeated, the last
// copy perhaps cut short, and how many whole copies p holds; (p, 1) when
// no unit fits twice. It is the prefix function of Knuth, Morris and
// Pratt: linear in len(p).
func period(p string) (string, int) {
	n := len(p)
	if n < 2 {
		return p, 1
	}
	border := make([]int, n)
	for i := 1; i < n; i++ {
		k := border[i-1]
		for k > 0 && p[i] != p[k] {
			k = border[k-1]
		}
		if p[i] == p[k] {
			k++
		}
		border[i] = k
	}
	size := n - border[n-1]
	if size > n/2 {
		return p, 1
	}
	return p[:size], n / size
}
