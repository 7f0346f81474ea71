package smart

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"strings"

	"github.com/lestrrat-go/jwx/v3/jwa"
	"github.com/lestrrat-go/jwx/v3/jwk"
)

// Signing algorithms a SMART Backend Services client SHALL support
// (SMART App Launch v2, Client Authentication: Asymmetric, Registering a client).
const (
	RS384 = "RS384"
	ES384 = "ES384"
)

// RSA key sizes.
const (
	DefaultRSABits = 3072
	MinRSABits     = 2048
)

// GenerateKey makes a new private signing key for alg (RS384 or ES384) with
// kid = its RFC 7638 thumbprint, alg and use=sig set. bits applies to RSA
// only; 0 means DefaultRSABits.
func GenerateKey(alg string, bits int) (jwk.Key, error) {
	var raw crypto.Signer
	var err error
	switch alg {
	case RS384:
		if bits == 0 {
			bits = DefaultRSABits
		}
		if bits < MinRSABits {
			return nil, fmt.Errorf("RSA keys need at least %d bits, got %d", MinRSABits, bits)
		}
		raw, err = rsa.GenerateKey(rand.Reader, bits)
	case ES384:
		raw, err = ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	default:
		return nil, fmt.Errorf("unsupported algorithm %q: use RS384 or ES384", alg)
	}
	if err != nil {
		return nil, fmt.Errorf("generate %s key: %w", alg, err)
	}
	return KeyFromSigner(raw, alg)
}

// KeyFromSigner wraps a private key as a JWK with alg (derived from the key
// when empty), use=sig and, unless it has one, kid = RFC 7638 thumbprint.
func KeyFromSigner(s crypto.Signer, alg string) (jwk.Key, error) {
	k, err := jwk.Import(s)
	if err != nil {
		return nil, fmt.Errorf("import key: %w", err)
	}
	if err := prepareKey(k, alg); err != nil {
		return nil, err
	}
	return k, nil
}

// AlgOf returns the signing algorithm a private or public key is for: its
// alg member if set, else RS384 for RSA and ES384 for P-384.
func AlgOf(k jwk.Key) (string, error) {
	if a, ok := k.Algorithm(); ok && a.String() != "" {
		return a.String(), nil
	}
	switch k.KeyType() {
	case jwa.RSA():
		return RS384, nil
	case jwa.EC():
		var crv jwa.EllipticCurveAlgorithm
		if err := k.Get(jwk.ECDSACrvKey, &crv); err == nil && crv == jwa.P384() {
			return ES384, nil
		}
		return "", errors.New("EC keys must use curve P-384 for ES384")
	}
	return "", fmt.Errorf("unsupported key type %s: use an RSA or P-384 EC key", k.KeyType())
}

// checkKeyAlg verifies that k can sign with alg under SMART's rules.
func checkKeyAlg(k jwk.Key, alg string) error {
	switch alg {
	case RS384:
		if k.KeyType() != jwa.RSA() {
			return fmt.Errorf("RS384 needs an RSA key, got %s", k.KeyType())
		}
		var pub rsa.PublicKey
		if err := jwk.Export(k, &pub); err == nil && pub.N.BitLen() < MinRSABits {
			return fmt.Errorf("RSA key has %d bits, need at least %d", pub.N.BitLen(), MinRSABits)
		}
	case ES384:
		var crv jwa.EllipticCurveAlgorithm
		if k.KeyType() != jwa.EC() || k.Get(jwk.ECDSACrvKey, &crv) != nil || crv != jwa.P384() {
			return errors.New("ES384 needs an EC key on curve P-384")
		}
	default:
		return fmt.Errorf("unsupported algorithm %q: use RS384 or ES384", alg)
	}
	return nil
}

func prepareKey(k jwk.Key, alg string) error {
	if alg == "" {
		a, err := AlgOf(k)
		if err != nil {
			return err
		}
		alg = a
	}
	if err := checkKeyAlg(k, alg); err != nil {
		return err
	}
	sa, _ := jwa.LookupSignatureAlgorithm(alg)
	if err := k.Set(jwk.AlgorithmKey, sa); err != nil {
		return fmt.Errorf("set alg: %w", err)
	}
	if err := k.Set(jwk.KeyUsageKey, "sig"); err != nil {
		return fmt.Errorf("set use: %w", err)
	}
	if err := jwk.AssignKeyID(k); err != nil { // leaves an existing kid alone
		return fmt.Errorf("assign kid: %w", err)
	}
	return nil
}

// ParseKey reads one private key from a JWK, a JWKS holding exactly one
// private key, or PEM (PKCS #1, PKCS #8 or SEC 1). alg may be empty to derive
// it from the key. The key gets use=sig, alg, and a thumbprint kid unless it
// already had a kid. Errors never quote the input.
func ParseKey(data []byte, alg string) (jwk.Key, error) {
	text := strings.TrimSpace(string(data))
	var k jwk.Key
	switch {
	case strings.HasPrefix(text, "-----BEGIN"):
		s, err := parsePEM([]byte(text))
		if err != nil {
			return nil, err
		}
		if k, err = jwk.Import(s); err != nil {
			return nil, fmt.Errorf("import PEM key: %w", err)
		}
	case strings.HasPrefix(text, "{"):
		var probe struct {
			Keys json.RawMessage `json:"keys"`
		}
		if err := json.Unmarshal([]byte(text), &probe); err != nil {
			return nil, errors.New("key file is not valid JSON")
		}
		var err error
		if probe.Keys != nil {
			k, err = privateFromSet([]byte(text))
		} else if k, err = jwk.ParseKey([]byte(text)); err != nil {
			err = errors.New("key file is not a valid JWK")
		}
		if err != nil {
			return nil, err
		}
	default:
		return nil, errors.New("key file is neither PEM nor JSON (JWK or JWKS)")
	}
	if ok, err := jwk.IsPrivateKey(k); err != nil || !ok {
		return nil, errors.New("key file holds a public key; the private key is needed to sign")
	}
	if err := prepareKey(k, alg); err != nil {
		return nil, err
	}
	return k, nil
}

func privateFromSet(data []byte) (jwk.Key, error) {
	set, err := jwk.Parse(data)
	if err != nil {
		return nil, errors.New("key file is not a valid JWKS")
	}
	var found []jwk.Key
	for i := range set.Len() {
		k, _ := set.Key(i)
		if ok, err := jwk.IsPrivateKey(k); err == nil && ok {
			found = append(found, k)
		}
	}
	switch len(found) {
	case 0:
		return nil, errors.New("JWKS holds no private key")
	case 1:
		return found[0], nil
	}
	return nil, fmt.Errorf("JWKS holds %d private keys; keep only the one to use", len(found))
}

func parsePEM(data []byte) (crypto.Signer, error) {
	for rest := data; ; {
		var block *pem.Block
		block, rest = pem.Decode(rest)
		if block == nil {
			return nil, errors.New("PEM holds no private key block")
		}
		var key any
		var err error
		switch block.Type {
		case "RSA PRIVATE KEY":
			key, err = x509.ParsePKCS1PrivateKey(block.Bytes)
		case "EC PRIVATE KEY":
			key, err = x509.ParseECPrivateKey(block.Bytes)
		case "PRIVATE KEY":
			key, err = x509.ParsePKCS8PrivateKey(block.Bytes)
		case "ENCRYPTED PRIVATE KEY":
			return nil, errors.New("encrypted PEM keys are not supported; decrypt it first (openssl pkcs8)")
		default:
			continue // e.g. EC PARAMETERS before the key
		}
		if err != nil {
			return nil, fmt.Errorf("parse PEM %s: malformed key", strings.ToLower(block.Type))
		}
		s, ok := key.(crypto.Signer)
		if !ok {
			return nil, errors.New("PEM key cannot sign")
		}
		return s, nil
	}
}

// Signer returns the crypto.Signer behind a private JWK, for storage in the
// keychain.
func Signer(k jwk.Key) (crypto.Signer, error) {
	var raw any
	if err := jwk.Export(k, &raw); err != nil {
		return nil, errors.New("export private key: not a private key")
	}
	s, ok := raw.(crypto.Signer)
	if !ok {
		return nil, errors.New("key cannot sign")
	}
	return s, nil
}

// PublicJWKS returns the public JWK Set of keys, as JSON: only the public
// members (kty, kid, alg, use, n/e or crv/x/y); never "d" or the primes.
func PublicJWKS(keys ...jwk.Key) ([]byte, error) {
	set := jwk.NewSet()
	for _, k := range keys {
		pub, err := k.PublicKey()
		if err != nil {
			return nil, fmt.Errorf("public key: %w", err)
		}
		if err := set.AddKey(pub); err != nil {
			return nil, fmt.Errorf("add key: %w", err)
		}
	}
	b, err := json.MarshalIndent(set, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("encode JWKS: %w", err)
	}
	return b, nil
}

// KeyID returns k's kid, or "" if it has none.
func KeyID(k jwk.Key) string {
	kid, _ := k.KeyID()
	return kid
}
