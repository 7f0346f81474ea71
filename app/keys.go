package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"sync"
	"syscall"

	"github.com/lestrrat-go/jwx/v3/jwk"

	"tranche.dev/tranche/core"
	"tranche.dev/tranche/core/catalog"
	"tranche.dev/tranche/core/engine"
	"tranche.dev/tranche/core/keychain"
	"tranche.dev/tranche/core/registry"
	"tranche.dev/tranche/core/smart"
)

const keysUsage = `Usage:
  tranche keys generate --registration NAME [--alg RS384|ES384] [--bits 3072]
  tranche keys import --registration NAME FILE     (JWK, JWKS or PEM)
  tranche keys show NAME [--out FILE]              (print the public JWKS)
  tranche keys assertion --registration NAME       (print one signed client assertion)

Common flags: --db FILE, --key-file-fallback (passphrase from
TRANCHE_KEY_PASSPHRASE or typed in).
`

// keyEnv holds what the keys and registrations commands share: the
// catalogue, the registry of registrations and keys, and an HTTP client.
type keyEnv struct {
	DB  *catalog.DB
	Reg *registry.Registry
	// HTTPClient makes discovery, token and registration requests.
	HTTPClient *http.Client
	// Dial makes every connection (HTTPClient's and the exports'); tests
	// put one there that fails the test.
	Dial   engine.Dial
	Stdout io.Writer
	Stderr io.Writer
}

// commonFlags are the flags every keys/registrations subcommand takes.
type commonFlags struct {
	db       string
	fallback bool
	// dial, when set, replaces the network dialer (tests).
	dial engine.Dial
}

func (c *commonFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&c.db, "db", "", "catalogue database `file` (default: in the data directory)")
	fs.BoolVar(&c.fallback, "key-file-fallback", false,
		"keep private keys in a passphrase-encrypted file instead of the OS keychain (passphrase from TRANCHE_KEY_PASSPHRASE or typed in)")
}

// parseInterspersed parses flags that may come after positional arguments
// ("show NAME --db x") and returns the positionals.
func parseInterspersed(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		if fs.NArg() == 0 {
			return pos, nil
		}
		pos = append(pos, fs.Arg(0))
		args = fs.Args()[1:]
	}
}

// openKeyEnv opens the catalogue and decides where keys live.
func openKeyEnv(c commonFlags, stdout, stderr io.Writer) (*keyEnv, error) {
	path := c.db
	if path == "" {
		var err error
		if path, err = defaultDBPath(); err != nil {
			return nil, err
		}
	}
	db := catalog.NewDB(path)
	// Migrations are routine: say nothing below a warning on the terminal.
	db.Logger = slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	if err := db.Open(); err != nil {
		return nil, fmt.Errorf("open catalogue: %w", err)
	}
	// Asked once per command, so a person types the passphrase once.
	stdin := bufio.NewReader(os.Stdin)
	env := newKeyEnv(db, filepath.Dir(path), c.dial, db.Logger, func(create bool) ([]byte, error) {
		return readPassphrase(os.Getenv("TRANCHE_KEY_PASSPHRASE"), stdin, stderr, create)
	})
	env.Stdout, env.Stderr, env.Reg.Fallback = stdout, stderr, c.fallback
	return env, nil
}

// newKeyEnv is the registry of registrations and keys over db: keys in the
// OS keychain, or in the key file in dir/keys under the passphrase that
// passphrase gives (asked once; create: a new file is to be written).
func newKeyEnv(db *catalog.DB, dir string, dial engine.Dial, logger *slog.Logger, passphrase func(create bool) ([]byte, error)) *keyEnv {
	env := &keyEnv{DB: db, Dial: dial, HTTPClient: engine.NewHTTPClientDial(dial), Stdout: io.Discard, Stderr: io.Discard}
	var pass []byte
	env.Reg = &registry.Registry{
		Store:      db,
		Keychain:   probedKeychain(),
		HTTPClient: env.HTTPClient,
		Logger:     logger,
		FileKeys: func(create bool) (keychain.Keys, error) {
			if pass == nil {
				p, err := passphrase(create)
				if err != nil {
					return nil, err
				}
				pass = p
			}
			if create { // a passphrase first given to read a key
				if err := keychain.CheckPassphrase(pass); err != nil {
					return nil, fmt.Errorf("the key file passphrase is refused for a new key: %w", err)
				}
			}
			return keychain.NewFileStore(filepath.Join(dir, "keys"), pass), nil
		},
	}
	return env
}

// probedKeychain returns the OS keychain on first use, or why it cannot be
// used: probing may start a D-Bus service, which commands that need no key
// should not do.
func probedKeychain() func() (keychain.Keys, error) {
	return sync.OnceValues(func() (keychain.Keys, error) {
		store := keychain.NewStore()
		if err := store.Probe(); err != nil {
			return nil, err
		}
		return store, nil
	})
}

// readPassphrase returns the key-file passphrase: env (the value of
// TRANCHE_KEY_PASSPHRASE) if set, else a line typed after a prompt, without
// echo when stdin is a terminal. When create is set a key file will be
// written: the passphrase must pass keychain.CheckPassphrase, and a typed
// one is asked twice.
func readPassphrase(env string, in *bufio.Reader, stderr io.Writer, create bool) ([]byte, error) {
	if env != "" {
		if create {
			if err := keychain.CheckPassphrase([]byte(env)); err != nil {
				return nil, fmt.Errorf("TRANCHE_KEY_PASSPHRASE is refused for a new key file: %w", err)
			}
		}
		return []byte(env), nil
	}
	if !create {
		return promptLine(in, stderr, "Passphrase for the key file: ")
	}
	p, err := promptLine(in, stderr, "New passphrase for the key file (four or more random words): ")
	if err != nil {
		return nil, err
	}
	if err := keychain.CheckPassphrase(p); err != nil {
		return nil, err
	}
	again, err := promptLine(in, stderr, "Type it again: ")
	if err != nil {
		return nil, err
	}
	if !bytes.Equal(p, again) {
		return nil, errors.New("the two passphrases differ; nothing was stored")
	}
	return p, nil
}

// promptLine prints prompt and reads one line, without echo when stdin is
// a terminal.
func promptLine(in *bufio.Reader, stderr io.Writer, prompt string) ([]byte, error) {
	fmt.Fprint(stderr, prompt)
	if restore := noEcho(); restore != nil {
		defer func() {
			restore()
			fmt.Fprintln(stderr)
		}()
	}
	line, err := in.ReadString('\n')
	line = strings.TrimRight(line, "\r\n")
	if line == "" {
		if err != nil && !errors.Is(err, io.EOF) {
			return nil, fmt.Errorf("read passphrase: %w", err)
		}
		return nil, errors.New("no passphrase given: set TRANCHE_KEY_PASSPHRASE or type one")
	}
	return []byte(line), nil
}

// noEcho turns off terminal echo with stty when stdin is a terminal and
// returns a function that turns it back on, or nil if it could not.
func noEcho() func() {
	fi, err := os.Stdin.Stat()
	if err != nil || fi.Mode()&os.ModeCharDevice == 0 {
		return nil
	}
	stty := func(arg string) error {
		cmd := exec.Command("stty", arg)
		cmd.Stdin = os.Stdin
		return cmd.Run()
	}
	if stty("-echo") != nil {
		return nil
	}
	return func() { stty("echo") }
}

func (e *keyEnv) Close() error { return e.DB.Close() }

// findRegistration is registry.Find, saying how to list them.
func (e *keyEnv) findRegistration(ctx context.Context, name string) (*core.Registration, error) {
	reg, err := e.Reg.Find(ctx, name)
	if errors.Is(err, core.ErrNotFound) {
		return nil, fmt.Errorf("%w (see tranche registrations list)", err)
	}
	return reg, err
}

// loadKey is registry.LoadKey.
func (e *keyEnv) loadKey(reg *core.Registration) (crypto.Signer, error) {
	return e.Reg.LoadKey(reg)
}

func runKeys(args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		fmt.Fprint(stdout, keysUsage)
		return nil
	}
	sub, args := args[0], args[1:]
	fs := flag.NewFlagSet("keys "+sub, flag.ContinueOnError)
	fs.SetOutput(stderr)
	var common commonFlags
	common.register(fs)
	regName := fs.String("registration", "", "registration `name`")
	outFile := fs.String("out", "", "show: also write the public JWKS to this `file`")
	var alg *string
	var bits *int
	if sub == "generate" {
		alg = fs.String("alg", smart.RS384, "signing algorithm: RS384 or ES384")
		bits = fs.Int("bits", smart.DefaultRSABits, "RSA key size (at least 2048)")
	}
	pos, err := parseInterspersed(fs, args)
	if err != nil {
		return err
	}
	if sub == "show" && *regName == "" && len(pos) == 1 {
		*regName, pos = pos[0], nil
	}
	switch sub {
	case "generate", "import", "show", "assertion":
	default:
		fmt.Fprint(stderr, keysUsage)
		return &exitError{code: 2, err: fmt.Errorf("unknown keys command %q", sub)}
	}
	if *regName == "" {
		return &exitError{code: 2, err: errors.New("which registration? pass --registration NAME")}
	}
	env, err := openKeyEnv(common, stdout, stderr)
	if err != nil {
		return err
	}
	defer env.Close()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	switch sub {
	case "generate":
		return env.keysGenerate(ctx, *regName, *alg, *bits)
	case "import":
		if len(pos) != 1 {
			return &exitError{code: 2, err: errors.New("usage: tranche keys import --registration NAME FILE")}
		}
		return env.keysImport(ctx, *regName, pos[0])
	case "show":
		reg, err := env.findRegistration(ctx, *regName)
		if err != nil {
			return err
		}
		if reg.PublicJWKS == "" {
			return fmt.Errorf("registration %q has no key yet", reg.Name)
		}
		if *outFile != "" {
			if err := os.WriteFile(*outFile, []byte(reg.PublicJWKS+"\n"), 0o644); err != nil {
				return fmt.Errorf("write public JWKS: %w", err)
			}
			fmt.Fprintf(stderr, "Wrote the public JWKS of %q to %s.\n", reg.Name, *outFile)
		}
		fmt.Fprintln(stdout, reg.PublicJWKS)
		return nil
	default: // assertion
		return env.keysAssertion(ctx, *regName)
	}
}

func (e *keyEnv) keysGenerate(ctx context.Context, name, alg string, bits int) error {
	reg, err := e.findRegistration(ctx, name)
	if err != nil {
		return err
	}
	k, err := smart.GenerateKey(alg, bits)
	if err != nil {
		return err
	}
	return e.replaceKey(ctx, reg, k)
}

func (e *keyEnv) keysImport(ctx context.Context, name, path string) error {
	reg, err := e.findRegistration(ctx, name)
	if err != nil {
		return err
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("read key file: %w", err)
	}
	k, err := smart.ParseKey(data, "")
	if err != nil {
		return fmt.Errorf("import %s: %w", path, err)
	}
	return e.replaceKey(ctx, reg, k)
}

func (e *keyEnv) replaceKey(ctx context.Context, reg *core.Registration, k jwk.Key) error {
	old := reg.KeyID
	if err := e.Reg.SetKey(reg, k); err != nil {
		return err
	}
	if err := e.DB.UpdateRegistration(ctx, reg); err != nil {
		return fmt.Errorf("save registration: %w", err)
	}
	if old != "" && old != reg.KeyID {
		fmt.Fprintf(e.Stderr, "Replaced key %s of %q: give the data holder the new public JWKS below.\n", old, reg.Name)
	}
	fmt.Fprintf(e.Stderr, "Key %s (%s) stored in %s.\n", reg.KeyID, reg.Alg, registry.KeyPlace(reg.KeyRef))
	fmt.Fprintln(e.Stdout, reg.PublicJWKS)
	return nil
}

func (e *keyEnv) keysAssertion(ctx context.Context, name string) error {
	reg, err := e.findRegistration(ctx, name)
	if err != nil {
		return err
	}
	if reg.ClientID == "" || reg.TokenURL == "" {
		return fmt.Errorf("registration %q needs a client id and a token URL first", reg.Name)
	}
	cfg, err := e.Reg.Config(reg)
	if err != nil {
		return err
	}
	a, err := cfg.Assertion()
	if err != nil {
		return err
	}
	fmt.Fprintf(e.Stderr, "This assertion is a credential, valid for %v and once: do not share or log it.\n", smart.AssertionLifetime)
	fmt.Fprintln(e.Stdout, a)
	return nil
}

// transport is a fresh HTTP transport whose connections go through
// e.Dial, with idle connections for parallel downloads.
func (e *keyEnv) transport(parallel int) http.RoundTripper {
	return engine.NewTransportDial(parallel, e.Dial)
}
