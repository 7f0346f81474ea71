package keychain

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"fmt"
	"math/big"
	"strings"
)

// Compact key forms, version 1. Each is "k1.<kind>." followed by base64url
// (unpadded) fields separated by dots:
//
//	k1.rsa.<e>.<p>.<q>      two-prime RSA; n, d and the CRT values are recomputed
//	k1.ec.<crv>.<d>         ECDSA on P-256, P-384 or P-521; the public point is recomputed
//	k1.pkcs8.<der>          anything else Go can marshal as PKCS #8
//
// An RSA 4096 key is about 700 bytes this way against about 3250 as PEM,
// which does not fit Windows' 2560-byte limit.
const (
	formRSA   = "k1.rsa."
	formEC    = "k1.ec."
	formPKCS8 = "k1.pkcs8."
)

var b64 = base64.RawURLEncoding

// errBadKey never carries key material, only which part was wrong.
var errBadKey = errors.New("stored key is malformed")

// MarshalKey encodes a private key in its compact, versioned text form.
func MarshalKey(key crypto.Signer) (string, error) {
	switch k := key.(type) {
	case *rsa.PrivateKey:
		if len(k.Primes) == 2 {
			return formRSA + b64.EncodeToString(big.NewInt(int64(k.E)).Bytes()) + "." +
				b64.EncodeToString(k.Primes[0].Bytes()) + "." + b64.EncodeToString(k.Primes[1].Bytes()), nil
		}
	case *ecdsa.PrivateKey:
		raw, err := k.Bytes()
		if err != nil {
			return "", fmt.Errorf("encode EC key: %w", errBadKey)
		}
		return formEC + k.Curve.Params().Name + "." + b64.EncodeToString(raw), nil
	case nil:
		return "", errors.New("no key")
	}
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return "", fmt.Errorf("encode %T key: unsupported key type", key)
	}
	return formPKCS8 + b64.EncodeToString(der), nil
}

// UnmarshalKey decodes a key written by MarshalKey.
func UnmarshalKey(text string) (crypto.Signer, error) {
	switch {
	case strings.HasPrefix(text, formRSA):
		return unmarshalRSA(strings.TrimPrefix(text, formRSA))
	case strings.HasPrefix(text, formEC):
		crv, d, ok := strings.Cut(strings.TrimPrefix(text, formEC), ".")
		if !ok {
			return nil, errBadKey
		}
		var curve elliptic.Curve
		switch crv {
		case "P-256":
			curve = elliptic.P256()
		case "P-384":
			curve = elliptic.P384()
		case "P-521":
			curve = elliptic.P521()
		default:
			return nil, fmt.Errorf("stored EC key has unsupported curve %q", crv)
		}
		raw, err := b64.DecodeString(d)
		if err != nil {
			return nil, errBadKey
		}
		k, err := ecdsa.ParseRawPrivateKey(curve, raw)
		if err != nil {
			return nil, errBadKey
		}
		return k, nil
	case strings.HasPrefix(text, formPKCS8):
		der, err := b64.DecodeString(strings.TrimPrefix(text, formPKCS8))
		if err != nil {
			return nil, errBadKey
		}
		k, err := x509.ParsePKCS8PrivateKey(der)
		if err != nil {
			return nil, errBadKey
		}
		s, ok := k.(crypto.Signer)
		if !ok {
			return nil, errors.New("stored key cannot sign")
		}
		return s, nil
	}
	return nil, errors.New("stored key is in a format this version of Tranche does not know")
}

func unmarshalRSA(rest string) (*rsa.PrivateKey, error) {
	parts := strings.Split(rest, ".")
	if len(parts) != 3 {
		return nil, errBadKey
	}
	var ints [3]*big.Int
	for i, p := range parts {
		b, err := b64.DecodeString(p)
		if err != nil || len(b) == 0 {
			return nil, errBadKey
		}
		ints[i] = new(big.Int).SetBytes(b)
	}
	e, p, q := ints[0], ints[1], ints[2]
	if !e.IsInt64() || e.Int64() < 3 || e.Int64() > 1<<31-1 {
		return nil, errBadKey
	}
	// A damaged entry must not turn into a different, bogus key: the primes
	// must still be prime (n, d are recomputed from them, so nothing else
	// would notice).
	if !p.ProbablyPrime(10) || !q.ProbablyPrime(10) {
		return nil, errBadKey
	}
	one := big.NewInt(1)
	p1 := new(big.Int).Sub(p, one)
	q1 := new(big.Int).Sub(q, one)
	// d = e⁻¹ mod λ(n), λ(n) = lcm(p-1, q-1) (RFC 8017 §3.2).
	gcd := new(big.Int).GCD(nil, nil, p1, q1)
	lambda := new(big.Int).Div(new(big.Int).Mul(p1, q1), gcd)
	d := new(big.Int).ModInverse(e, lambda)
	if d == nil {
		return nil, errBadKey
	}
	k := &rsa.PrivateKey{
		PublicKey: rsa.PublicKey{N: new(big.Int).Mul(p, q), E: int(e.Int64())},
		D:         d,
		Primes:    []*big.Int{p, q},
	}
	if err := k.Validate(); err != nil {
		return nil, errBadKey
	}
	k.Precompute()
	return k, nil
}
