package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/lestrrat-go/jwx/v3/jwk"

	"tranche.dev/tranche/core"
	"tranche.dev/tranche/core/registry"
	"tranche.dev/tranche/core/smart"
)

const registrationsUsage = `Usage:
  tranche registrations add --name NAME --fhir-url URL [--client-id ID] [--scope S]
                            [--alg RS384|ES384] [--token-url URL] [--key-file FILE]
  tranche registrations list
  tranche registrations show NAME
  tranche registrations edit NAME [--name NEW] [--fhir-url URL] [--client-id ID] [--scope S] ...
  tranche registrations delete NAME        (also removes its private key)
  tranche registrations register NAME      (RFC 7591 dynamic registration)
  tranche registrations test NAME          (discovery, token, metadata read)

Common flags: --db FILE, --key-file-fallback (passphrase from
TRANCHE_KEY_PASSPHRASE or typed in).
`

// headerFlag collects repeated --header Name=Value flags.
type headerFlag map[string]string

func (h headerFlag) String() string { return "" }
func (h headerFlag) Set(v string) error {
	k, val, ok := strings.Cut(v, "=")
	if !ok || strings.TrimSpace(k) == "" {
		return errors.New("want Name=Value")
	}
	h[strings.TrimSpace(k)] = val
	return nil
}

// regFlags are the registration fields add and edit accept.
type regFlags struct {
	name, fhirURL, clientID, scope, alg, tokenURL, jwksURL string
	bits                                                   int
	keyFile, clientName                                    string
	headers                                                headerFlag
	maxParallel                                            int
	pollMin, pollMax                                       time.Duration
	sink                                                   string
}

func (f *regFlags) register(fs *flag.FlagSet, sub string) {
	f.headers = headerFlag{}
	fs.StringVar(&f.name, "name", "", "registration `name`")
	fs.StringVar(&f.fhirURL, "fhir-url", "", "FHIR base `URL`")
	fs.StringVar(&f.clientID, "client-id", "", "client id issued by the data holder")
	fs.StringVar(&f.scope, "scope", "", "space-separated scopes (default system/*.rs, or system/*.read for SMART v1 servers)")
	fs.StringVar(&f.alg, "alg", "", "signing algorithm RS384 or ES384 (default RS384)")
	fs.StringVar(&f.tokenURL, "token-url", "", "token endpoint `URL` (default: discovered)")
	fs.StringVar(&f.jwksURL, "jwks-url", "", "JWKS `URL` the data holder was given, if any")
	fs.Var(f.headers, "header", "extra `Name=Value` header for FHIR requests (repeatable)")
	fs.IntVar(&f.maxParallel, "max-parallel", 0, "parallel downloads (0 = default)")
	fs.StringVar(&f.sink, "sink", "", "object storage for this registration's exports: s3://`BUCKET/PREFIX` (\"\" for none)")
	fs.DurationVar(&f.pollMin, "poll-min", 0, "lower clamp on Retry-After (0 = default)")
	fs.DurationVar(&f.pollMax, "poll-max", 0, "upper clamp on Retry-After (0 = default)")
	if sub == "add" {
		fs.IntVar(&f.bits, "bits", smart.DefaultRSABits, "RSA key size for a generated key")
		fs.StringVar(&f.keyFile, "key-file", "", "import this private key (JWK, JWKS or PEM) instead of generating one")
	}
	if sub == "register" {
		fs.StringVar(&f.clientName, "client-name", "", "client_name sent to the server (default \"Tranche: NAME\")")
	}
}

func runRegistrations(args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		fmt.Fprint(stdout, registrationsUsage)
		return nil
	}
	sub, args := args[0], args[1:]
	switch sub {
	case "add", "list", "show", "edit", "delete", "register", "test":
	default:
		fmt.Fprint(stderr, registrationsUsage)
		return &exitError{code: 2, err: fmt.Errorf("unknown registrations command %q", sub)}
	}
	fs := flag.NewFlagSet("registrations "+sub, flag.ContinueOnError)
	fs.SetOutput(stderr)
	var common commonFlags
	common.register(fs)
	var rf regFlags
	rf.register(fs, sub)
	pos, err := parseInterspersed(fs, args)
	if err != nil {
		return err
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	var name string
	switch {
	case sub == "add" || sub == "list":
		if len(pos) != 0 {
			return &exitError{code: 2, err: fmt.Errorf("registrations %s takes no arguments, got %q", sub, pos)}
		}
	case len(pos) != 1:
		return &exitError{code: 2, err: fmt.Errorf("usage: tranche registrations %s NAME", sub)}
	default:
		name = pos[0]
	}
	env, err := openKeyEnv(common, stdout, stderr)
	if err != nil {
		return err
	}
	defer env.Close()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	switch sub {
	case "add":
		return env.regAdd(ctx, rf)
	case "list":
		return env.regList(ctx)
	case "show":
		return env.regShow(ctx, name)
	case "edit":
		return env.regEdit(ctx, name, rf, set)
	case "delete":
		return env.regDelete(ctx, name)
	case "register":
		return env.regRegister(ctx, name, rf)
	default:
		return env.regTest(ctx, name)
	}
}

func (e *keyEnv) regAdd(ctx context.Context, f regFlags) error {
	if f.name == "" || f.fhirURL == "" {
		return &exitError{code: 2, err: errors.New("add needs --name and --fhir-url")}
	}
	if _, err := e.DB.FindRegistrationByName(ctx, f.name); err == nil {
		return fmt.Errorf("a registration named %q already exists", f.name)
	}
	reg := &core.Registration{
		Name: f.name, FHIRBaseURL: strings.TrimRight(f.fhirURL, "/"), ClientID: f.clientID,
		TokenURL: f.tokenURL, JWKSURL: f.jwksURL, Headers: f.headers,
		MaxParallel: f.maxParallel, PollMin: f.pollMin, PollMax: f.pollMax, Alg: f.alg, Sink: f.sink,
	}
	if err := reg.Validate(); err != nil {
		return &exitError{code: 2, err: err}
	}
	d, err := e.Reg.Discover(ctx, reg.FHIRBaseURL)
	switch {
	case err != nil && reg.TokenURL == "":
		return fmt.Errorf("%w (pass --token-url to set it by hand)", err)
	case err != nil:
		fmt.Fprintf(e.Stderr, "Discovery failed, using --token-url: %v\n", err)
		d = nil
	default:
		fmt.Fprintf(e.Stderr, "Discovered: %s\n", d.Summary)
		if reg.TokenURL == "" {
			reg.TokenURL = d.TokenURL
		}
	}
	reg.Scopes = f.scope
	if reg.Scopes == "" {
		reg.Scopes = d.DefaultScopes()
	}
	alg := f.alg
	if alg == "" {
		alg = d.DefaultAlg()
	}
	if !d.SupportsAlg(alg) {
		fmt.Fprintf(e.Stderr, "Warning: the server lists algorithms %v, not %s.\n", d.Algorithms, alg)
	}
	var k jwk.Key
	if f.keyFile != "" {
		data, err := os.ReadFile(f.keyFile)
		if err != nil {
			return fmt.Errorf("read key file: %w", err)
		}
		if k, err = smart.ParseKey(data, f.alg); err != nil {
			return fmt.Errorf("import %s: %w", f.keyFile, err)
		}
	} else if k, err = smart.GenerateKey(alg, f.bits); err != nil {
		return err
	}
	if err := e.Reg.SetKey(reg, k); err != nil {
		return err
	}
	if err := e.Reg.CreateRegistration(ctx, reg); err != nil {
		e.Reg.DeleteKey(reg.KeyRef) // no orphan key
		return fmt.Errorf("save registration: %w", err)
	}
	fmt.Fprintf(e.Stderr, "Added registration %q: key %s (%s) in %s.\n", reg.Name, reg.KeyID, reg.Alg, registry.KeyPlace(reg.KeyRef))
	switch {
	case reg.ClientID == "" && d != nil && d.RegistrationURL != "":
		fmt.Fprintf(e.Stderr, "Next: tranche registrations register %q (the server lists a registration endpoint;\n"+
			"Tranche speaks RFC 7591 there), or give the data holder the public JWKS below and set\n"+
			"--client-id with edit.\n", reg.Name)
	case reg.ClientID == "":
		fmt.Fprintf(e.Stderr, "Next: give the data holder the public JWKS below, then\n"+
			"tranche registrations edit %q --client-id ID\n", reg.Name)
	default:
		fmt.Fprintf(e.Stderr, "Next: tranche registrations test %q\n", reg.Name)
	}
	fmt.Fprintln(e.Stdout, reg.PublicJWKS)
	return nil
}

func (e *keyEnv) regList(ctx context.Context) error {
	regs, err := e.DB.FindRegistrations(ctx)
	if err != nil {
		return err
	}
	if len(regs) == 0 {
		fmt.Fprintln(e.Stderr, "No registrations yet: tranche registrations add --name NAME --fhir-url URL")
		return nil
	}
	tw := tabwriter.NewWriter(e.Stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "NAME\tFHIR BASE URL\tCLIENT ID\tALG\tKID")
	for _, r := range regs {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", r.Name, r.FHIRBaseURL, orDash(r.ClientID), orDash(r.Alg), orDash(r.KeyID))
	}
	return tw.Flush()
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func (e *keyEnv) regShow(ctx context.Context, name string) error {
	r, err := e.findRegistration(ctx, name)
	if err != nil {
		return err
	}
	tw := tabwriter.NewWriter(e.Stdout, 0, 4, 2, ' ', 0)
	rows := [][2]string{
		{"Name", r.Name}, {"FHIR base URL", r.FHIRBaseURL}, {"Token URL", orDash(r.TokenURL)},
		{"Client id", orDash(r.ClientID)}, {"Scopes", orDash(r.Scopes)}, {"Algorithm", orDash(r.Alg)},
		{"Key id", orDash(r.KeyID)}, {"Private key", registry.KeyPlace(r.KeyRef)}, {"JWKS URL", orDash(r.JWKSURL)},
	}
	for k, v := range r.Headers {
		rows = append(rows, [2]string{"Header", k + ": " + v})
	}
	if r.MaxParallel != 0 {
		rows = append(rows, [2]string{"Parallel downloads", fmt.Sprint(r.MaxParallel)})
	}
	if r.PollMin != 0 || r.PollMax != 0 {
		rows = append(rows, [2]string{"Poll clamp", fmt.Sprintf("%v to %v", r.PollMin, r.PollMax)})
	}
	if r.Sink != "" {
		rows = append(rows, [2]string{"Sink", r.Sink})
	}
	for _, row := range rows {
		fmt.Fprintf(tw, "%s:\t%s\n", row[0], row[1])
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if r.PublicJWKS != "" {
		fmt.Fprintf(e.Stdout, "Public JWKS:\n%s\n", r.PublicJWKS)
	}
	return nil
}

func (e *keyEnv) regEdit(ctx context.Context, name string, f regFlags, set map[string]bool) error {
	r, err := e.findRegistration(ctx, name)
	if err != nil {
		return err
	}
	if set["name"] {
		r.Name = f.name
	}
	if set["fhir-url"] {
		r.FHIRBaseURL = strings.TrimRight(f.fhirURL, "/")
	}
	if set["client-id"] {
		r.ClientID = f.clientID
	}
	if set["scope"] {
		r.Scopes = f.scope
	}
	if set["token-url"] {
		r.TokenURL = f.tokenURL
	}
	if set["jwks-url"] {
		r.JWKSURL = f.jwksURL
	}
	if set["alg"] && f.alg != r.Alg {
		return errors.New("the algorithm follows the key: use tranche keys generate --alg to change it")
	}
	if set["header"] {
		r.Headers = f.headers
	}
	if set["max-parallel"] {
		r.MaxParallel = f.maxParallel
	}
	if set["poll-min"] {
		r.PollMin = f.pollMin
	}
	if set["poll-max"] {
		r.PollMax = f.pollMax
	}
	if len(set) == 0 || (len(set) == 1 && (set["db"] || set["key-file-fallback"])) {
		return &exitError{code: 2, err: errors.New("nothing to change: pass the flags to edit (see -h)")}
	}
	if set["sink"] {
		r.Sink = f.sink
	}
	if err := r.Validate(); err != nil {
		return &exitError{code: 2, err: err}
	}
	if err := e.Reg.UpdateRegistration(ctx, r); err != nil {
		return fmt.Errorf("save registration: %w", err)
	}
	fmt.Fprintf(e.Stderr, "Updated registration %q.\n", r.Name)
	return nil
}

func (e *keyEnv) regDelete(ctx context.Context, name string) error {
	r, err := e.findRegistration(ctx, name)
	if err != nil {
		return err
	}
	if err := e.Reg.DeleteRegistration(ctx, r.ID); err != nil {
		return err
	}
	fmt.Fprintf(e.Stderr, "Deleted registration %q and its private key.\n", r.Name)
	return nil
}

func (e *keyEnv) regRegister(ctx context.Context, name string, f regFlags) error {
	r, err := e.findRegistration(ctx, name)
	if err != nil {
		return err
	}
	byHand := fmt.Sprintf("register by hand: give the data holder the public JWKS (tranche keys show %q),\n"+
		"then set the client id they issue with: tranche registrations edit %q --client-id ID", r.Name, r.Name)
	d, err := e.Reg.Register(ctx, r, nil, f.clientName)
	switch {
	case errors.Is(err, registry.ErrNoRegistrationEndpoint):
		return fmt.Errorf("%w: %s", err, byHand)
	case errors.Is(err, smart.ErrNotRFC7591):
		return fmt.Errorf("the server's registration endpoint %s is not an RFC 7591 endpoint (it answered: %v); %s",
			d.RegistrationURL, err, byHand)
	case err != nil:
		return err
	}
	if err := e.Reg.UpdateRegistration(ctx, r); err != nil {
		return fmt.Errorf("save registration: %w", err)
	}
	fmt.Fprintf(e.Stderr, "Registered %q at %s.\n", r.Name, d.RegistrationURL)
	fmt.Fprintf(e.Stdout, "client_id: %s\n", r.ClientID)
	return nil
}

func (e *keyEnv) regTest(ctx context.Context, name string) error {
	r, err := e.findRegistration(ctx, name)
	if err != nil {
		return err
	}
	report, err := e.Reg.Test(ctx, r)
	if err != nil {
		return err
	}
	fmt.Fprint(e.Stdout, report.String())
	if !report.OK() {
		return errors.New("connection test failed")
	}
	fmt.Fprintln(e.Stdout, "Connection works.")
	return nil
}
