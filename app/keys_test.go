package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/zalando/go-keyring"

	"tranche.dev/tranche/core/demo"
	"tranche.dev/tranche/core/demo/demotest"
	"tranche.dev/tranche/core/keychain"
	"tranche.dev/tranche/core/smart"
)

// cli runs tranche with args plus --db and returns stdout, stderr and the
// error.
type cli struct {
	t  *testing.T
	db string
}

func (c cli) run(args ...string) (string, string, error) {
	c.t.Helper()
	var out, errOut bytes.Buffer
	err := run(append(args, "--db", c.db), &out, &errOut)
	return out.String(), errOut.String(), err
}

func (c cli) must(args ...string) string {
	c.t.Helper()
	out, errOut, err := c.run(args...)
	if err != nil {
		c.t.Fatalf("tranche %s: %v\nstderr:\n%s", strings.Join(args, " "), err, errOut)
	}
	return out
}

// strongPassphrase passes keychain.CheckPassphrase: four random words.
const strongPassphrase = "mauve lantern quietly orbit"

// mockKeyring swaps go-keyring for its in-memory mock (failing every call
// with err, if not nil). On Linux the keychain refuses to call go-keyring
// without a D-Bus session bus address rather than let godbus launch a
// bus, so the test names one; the mock never dials it.
func mockKeyring(t *testing.T, err error) {
	t.Helper()
	t.Setenv("DBUS_SESSION_BUS_ADDRESS", "unix:path="+filepath.Join(t.TempDir(), "no-bus"))
	if err != nil {
		keyring.MockInitWithError(err)
	} else {
		keyring.MockInit()
	}
}

func startDemo(t *testing.T) *demo.Server {
	t.Helper()
	return demotest.Start(t, demo.Config{Patients: 5})
}

func kidOf(t *testing.T, jwks string) string {
	t.Helper()
	var set struct {
		Keys []struct {
			Kid string `json:"kid"`
			D   string `json:"d"`
		} `json:"keys"`
	}
	if err := json.Unmarshal([]byte(jwks), &set); err != nil || len(set.Keys) != 1 {
		t.Fatalf("public JWKS %q: %d keys, %v; want 1", jwks, len(set.Keys), err)
	}
	if set.Keys[0].D != "" {
		t.Fatal("public JWKS holds the private key")
	}
	return set.Keys[0].Kid
}

// TestRegistrations_DemoFlow walks the README flow against the loopback demo
// server: add (discover + generate), register (RFC 7591), test, assertion,
// key rotation, edit, delete. The keychain is go-keyring's mock.
func TestRegistrations_DemoFlow(t *testing.T) {
	mockKeyring(t, nil)
	srv := startDemo(t)
	c := cli{t: t, db: filepath.Join(t.TempDir(), "tranche.db")}

	jwks := c.must("registrations", "add", "--name", "demo", "--fhir-url", srv.URL(), "--alg", "ES384")
	kid := kidOf(t, jwks)
	if got := c.must("keys", "show", "demo"); strings.TrimSpace(got) != strings.TrimSpace(jwks) {
		t.Fatalf("keys show = %s, want the JWKS add printed", got)
	}
	outFile := filepath.Join(t.TempDir(), "jwks.json")
	c.must("keys", "show", "demo", "--out", outFile)
	if got, err := os.ReadFile(outFile); err != nil || strings.TrimSpace(string(got)) != strings.TrimSpace(jwks) {
		t.Fatalf("keys show --out wrote %q, %v; want the public JWKS", got, err)
	}
	if _, err := keyring.Get(keychain.Service, "demo"); err != nil {
		t.Fatalf("keychain entry for demo: %v", err)
	}

	// No client id yet: test says so.
	if _, _, err := c.run("registrations", "test", "demo"); err == nil || !strings.Contains(err.Error(), "no client id") {
		t.Fatalf("test before register: err = %v, want no client id", err)
	}
	out := c.must("registrations", "register", "demo")
	clientID := strings.TrimSpace(strings.TrimPrefix(out, "client_id:"))
	if clientID == "" || strings.Contains(clientID, " ") {
		t.Fatalf("register printed %q, want client_id: ID", out)
	}
	if out := c.must("registrations", "test", "demo"); !strings.Contains(out, "Connection works.") ||
		!strings.Contains(out, "3. Metadata read: ok") {
		t.Fatalf("test output:\n%s", out)
	}

	// keys assertion prints one assertion that verifies with the public JWKS.
	out, errOut, err := c.run("keys", "assertion", "--registration", "demo")
	if err != nil {
		t.Fatalf("keys assertion: %v", err)
	}
	if !strings.Contains(errOut, "credential") {
		t.Errorf("keys assertion stderr = %q, want a warning that it is a credential", errOut)
	}
	claims, err := smart.VerifyAssertion(strings.TrimSpace(out), []byte(jwks), smart.VerifyOptions{ClientID: clientID, Audience: srv.TokenURL()})
	if err != nil {
		t.Fatalf("VerifyAssertion(keys assertion output): %v", err)
	}
	if claims.KeyID != kid {
		t.Errorf("assertion kid = %q, want %q", claims.KeyID, kid)
	}

	if out := c.must("registrations", "list"); !strings.Contains(out, "demo") || !strings.Contains(out, clientID) {
		t.Errorf("list output:\n%s", out)
	}
	c.must("registrations", "edit", "demo", "--scope", "system/Patient.rs", "--max-parallel", "3")
	if out := c.must("registrations", "show", "demo"); !strings.Contains(out, "system/Patient.rs") || !strings.Contains(out, "Parallel downloads:  3") {
		t.Errorf("show after edit:\n%s", out)
	}

	// A new key is unknown to the server until registered again.
	newJWKS := c.must("keys", "generate", "--registration", "demo", "--alg", "RS384", "--bits", "2048")
	if kidOf(t, newJWKS) == kid {
		t.Fatal("keys generate kept the old kid")
	}
	out, _, err = c.run("registrations", "test", "demo")
	if err == nil || !strings.Contains(out, "2. Access token: FAILED") || !strings.Contains(out, "invalid_client") {
		t.Fatalf("test with an unregistered key: err = %v, output:\n%s\nwant an invalid_client failure", err, out)
	}
	c.must("registrations", "register", "demo")
	if out := c.must("registrations", "test", "demo"); !strings.Contains(out, "Connection works.") {
		t.Fatalf("test after re-register:\n%s", out)
	}

	c.must("registrations", "delete", "demo")
	if _, err := keyring.Get(keychain.Service, "demo"); !errors.Is(err, keyring.ErrNotFound) {
		t.Fatalf("keychain entry after delete: err = %v, want ErrNotFound", err)
	}
	if _, _, err := c.run("registrations", "show", "demo"); err == nil {
		t.Fatal("show after delete: err = nil, want an error")
	}
}

// TestKeys_ImportSample imports the sample RS384 key for the demo's fixed
// client and tests the connection with it.
func TestKeys_ImportSample(t *testing.T) {
	mockKeyring(t, nil)
	srv := startDemo(t)
	c := cli{t: t, db: filepath.Join(t.TempDir(), "tranche.db")}
	c.must("registrations", "add", "--name", "sample", "--fhir-url", srv.URL(), "--client-id", demo.DemoClientRS384)
	out := c.must("keys", "import", "--registration", "sample", filepath.Join("..", "sample-jwks", "RS384.private.json"))
	if got := kidOf(t, out); got != "eee9f17a3b598fd86417a980b591fbe6" {
		t.Fatalf("imported kid = %q, want the sample's", got)
	}
	if out := c.must("registrations", "test", "sample"); !strings.Contains(out, "Connection works.") {
		t.Fatalf("test output:\n%s", out)
	}
}

func TestRegistrations_KeyFileFallback(t *testing.T) {
	mockKeyring(t, errors.New("The name org.freedesktop.secrets was not provided by any .service files"))
	srv := startDemo(t)
	dir := t.TempDir()
	c := cli{t: t, db: filepath.Join(dir, "tranche.db")}
	t.Setenv("TRANCHE_KEY_PASSPHRASE", "correct horse")

	// A weak passphrase is refused for a new key file, in a sentence that
	// names where it came from, and nothing is left behind.
	_, _, err := c.run("registrations", "add", "--name", "f", "--fhir-url", srv.URL(), "--alg", "ES384", "--key-file-fallback")
	if !errors.Is(err, keychain.ErrWeakPassphrase) || !strings.Contains(err.Error(), "TRANCHE_KEY_PASSPHRASE") {
		t.Fatalf("add with a weak passphrase: err = %v, want ErrWeakPassphrase naming TRANCHE_KEY_PASSPHRASE", err)
	}
	if files, _ := filepath.Glob(filepath.Join(dir, "keys", "*")); len(files) != 0 {
		t.Fatalf("key files after a refused add = %v, want none", files)
	}
	if out, _, _ := c.run("registrations", "list"); strings.Contains(out, "f ") {
		t.Fatal("a refused add left a registration behind")
	}
	t.Setenv("TRANCHE_KEY_PASSPHRASE", strongPassphrase)

	// Without the opt-in, no keychain is an error that says what to do.
	_, _, err = c.run("registrations", "add", "--name", "f", "--fhir-url", srv.URL(), "--alg", "ES384")
	if err == nil || !strings.Contains(err.Error(), "--key-file-fallback") || !strings.Contains(err.Error(), "gnome-keyring") {
		t.Fatalf("add without keychain: err = %v, want advice naming gnome-keyring and --key-file-fallback", err)
	}
	if out, _, _ := c.run("registrations", "list"); strings.Contains(out, "f ") {
		t.Fatal("a failed add left a registration behind")
	}

	c.must("registrations", "add", "--name", "f", "--fhir-url", srv.URL(), "--alg", "ES384", "--key-file-fallback")
	files, _ := filepath.Glob(filepath.Join(dir, "keys", "*"))
	if len(files) != 1 {
		t.Fatalf("key files = %v, want 1", files)
	}
	fi, err := os.Stat(files[0])
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("key file mode = %v, %v; want 0600", fi.Mode().Perm(), err)
	}
	c.must("registrations", "register", "f")
	if out := c.must("registrations", "test", "f"); !strings.Contains(out, "Connection works.") {
		t.Fatalf("test output:\n%s", out)
	}
	t.Setenv("TRANCHE_KEY_PASSPHRASE", "wrong")
	if _, _, err := c.run("registrations", "test", "f"); !errors.Is(err, keychain.ErrWrongPassphrase) {
		t.Fatalf("test with wrong passphrase: err = %v, want ErrWrongPassphrase", err)
	}
	t.Setenv("TRANCHE_KEY_PASSPHRASE", strongPassphrase)
	c.must("registrations", "delete", "f")
	if files, _ := filepath.Glob(filepath.Join(dir, "keys", "*")); len(files) != 0 {
		t.Fatalf("key files after delete = %v, want none", files)
	}
}

func TestReadPassphrase(t *testing.T) {
	for _, tt := range []struct {
		name    string
		env     string
		typed   string
		create  bool
		want    string
		wantErr string // in the error; "" = no error
		prompts int
	}{
		{"EnvOpen", "weak", "", false, "weak", "", 0}, // an existing file opens with what made it
		{"EnvCreateStrong", strongPassphrase, "", true, strongPassphrase, "", 0},
		{"EnvCreateWeak", "correct horse", "", true, "", "TRANCHE_KEY_PASSPHRASE is refused for a new key file", 0},
		{"TypedOpen", "", "anything\n", false, "anything", "", 1},
		{"TypedCreateTwice", "", strongPassphrase + "\n" + strongPassphrase + "\r\n", true, strongPassphrase, "", 2},
		{"TypedCreateDiffer", "", strongPassphrase + "\n" + strongPassphrase + "!\n", true, "", "differ", 2},
		{"TypedCreateWeak", "", "correct horse\ncorrect horse\n", true, "", "too weak", 1}, // refused before the repeat
		{"TypedCreateNoRepeat", "", strongPassphrase + "\n", true, "", "no passphrase given", 2},
		{"Nothing", "", "", false, "", "no passphrase given", 1},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var stderr bytes.Buffer
			got, err := readPassphrase(tt.env, bufio.NewReader(strings.NewReader(tt.typed)), &stderr, tt.create)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("readPassphrase = %q, %v; want an error mentioning %q", got, err, tt.wantErr)
				}
			} else if err != nil || string(got) != tt.want {
				t.Fatalf("readPassphrase = %q, %v; want %q", got, err, tt.want)
			}
			if n := strings.Count(stderr.String(), ": "); n != tt.prompts {
				t.Errorf("prompts %q: %d, want %d", stderr.String(), n, tt.prompts)
			}
			if tt.typed != "" && strings.Contains(stderr.String(), strings.SplitN(tt.typed, "\n", 2)[0]) {
				t.Errorf("stderr %q echoes the passphrase", stderr.String())
			}
		})
	}
}

// TestRegistrations_FormStyleEndpoint: a registration endpoint that is not
// RFC 7591's (the SMART reference server's takes a form) is said to be so,
// with how to register by hand, instead of a raw invalid_request.
func TestRegistrations_FormStyleEndpoint(t *testing.T) {
	mockKeyring(t, nil)
	var base string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/fhir/.well-known/smart-configuration":
			w.Header().Set("Content-Type", "application/json")
			fmt.Fprintf(w, `{"token_endpoint":%q,"registration_endpoint":%q,"token_endpoint_auth_methods_supported":["private_key_jwt"]}`,
				base+"/auth/token", base+"/auth/register")
		case "/auth/register":
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusBadRequest)
			fmt.Fprint(w, `{"error":"invalid_request","error_description":"Invalid request content-type header (must be \"application/x-www-form-urlencoded\")"}`)
		default:
			http.NotFound(w, r)
		}
	}))
	t.Cleanup(srv.Close)
	base = srv.URL
	c := cli{t: t, db: filepath.Join(t.TempDir(), "tranche.db")}
	c.must("registrations", "add", "--name", "ref", "--fhir-url", base+"/fhir", "--alg", "ES384")
	_, _, err := c.run("registrations", "register", "ref")
	if err == nil {
		t.Fatal("register at a form-style endpoint: no error, want one")
	}
	for _, want := range []string{"not an RFC 7591 endpoint", "tranche keys show", "registrations edit \"ref\" --client-id ID"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("register error = %q, want it to say %q", err, want)
		}
	}
}
