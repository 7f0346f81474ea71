package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"syscall"
	"time"

	"tranche.dev/tranche/core/demo"
	"tranche.dev/tranche/core/smart"
	samplejwks "tranche.dev/tranche/sample-jwks"
)

// runServe runs the loopback Bulk Data demo server until SIGINT/SIGTERM.
func runServe(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var cfg demo.Config
	fs.StringVar(&cfg.Addr, "addr", demo.DefaultAddr, "listen address HOST:PORT (loopback only)")
	fs.IntVar(&cfg.Patients, "patients", demo.DefaultPatients, "number of synthetic patients")
	fs.Int64Var(&cfg.Seed, "seed", 1, "seed of the synthetic population")
	fs.BoolVar(&cfg.Open, "open", false, "no authorization at all (requiresAccessToken false)")
	fs.DurationVar(&cfg.TokenTTL, "token-ttl", demo.DefaultTokenTTL, "access token lifetime, at most 5m (SMART Backend Services)")
	fs.BoolVar(&cfg.TokenTTLBreaksSpec, "token-ttl-breaks-spec", false,
		"allow a --token-ttl over 5m, which breaks the SMART Backend Services IG (for training on token expiry only)")
	fs.IntVar(&cfg.FileLines, "file-lines", demo.DefaultFileLines, "resources per output file at most")
	fs.DurationVar(&cfg.RetryAfter, "retry-after", demo.DefaultRetryAfter, "Retry-After sent while an export runs")
	fs.DurationVar(&cfg.Faults.JobDelay, "job-delay", 0, "fault: keep each export running at least this long")
	fs.IntVar(&cfg.Faults.StatusErrors, "status-errors", 0, "fault: first N status polls of each export answer 500 (transient)")
	fs.IntVar(&cfg.Faults.Burst429, "burst-429", 0, "fault: next N status polls answer 429 with Retry-After")
	fs.IntVar(&cfg.Faults.FileErrors, "file-errors", 0, "fault: first N downloads of each file answer 500 (transient)")
	fs.IntVar(&cfg.Faults.DropMidFile, "drop-mid-file", 0, "fault: next N downloads of each file are cut off half way")
	fs.Int64Var(&cfg.Faults.SlowFiles, "slow-files", 0, "fault: cap each download at this many bytes per second")
	fs.BoolVar(&cfg.Faults.ExpiredFiles, "expired-files", false, "fault: every download answers 410 Gone")
	fs.IntVar(&cfg.Faults.ErrorFiles, "error-files", 0, "fault: every Nth output file fails into error[]")
	fs.BoolVar(&cfg.Faults.FailJobs, "fail-jobs", false, "fault: every export fails (status 500, OperationOutcome code processing)")
	verbose := fs.Bool("v", false, "log every request")
	assertion := fs.Bool("demo-assertion", false,
		"print a fresh client assertion for "+demo.DemoClientRS384+" (token URL from --addr or --token-url) and exit")
	tokenURL := fs.String("token-url", "", "token URL for --demo-assertion (default http://ADDR/auth/token)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("serve: unexpected argument %q", fs.Arg(0))
	}
	if *assertion {
		return printDemoAssertion(stdout, cfg.Addr, *tokenURL)
	}

	level := slog.LevelInfo
	if *verbose {
		level = slog.LevelDebug
	}
	cfg.Logger = slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level}))
	srv := demo.NewServer(cfg)
	if err := srv.Open(); errors.Is(err, demo.ErrTokenTTL) {
		return &exitError{code: 2, err: fmt.Errorf("serve: %w; pass --token-ttl-breaks-spec to allow it for training", err)}
	} else if err != nil {
		return fmt.Errorf("serve: %w", err)
	}
	defer srv.Close()

	fmt.Fprintf(stdout, "Tranche demo Bulk Data server: %d synthetic patients (seed %d)\n", cfg.Patients, cfg.Seed)
	if cfg.TokenTTL > demo.MaxTokenTTL {
		fmt.Fprintf(stderr, "Warning: access tokens live %v, over the 5 minutes SMART Backend Services allows (--token-ttl-breaks-spec).\n", cfg.TokenTTL)
	}
	fmt.Fprintf(stdout, "FHIR base URL: %s\n", srv.URL())
	if cfg.Open {
		fmt.Fprintln(stdout, "Authorization: none (--open)")
	} else {
		fmt.Fprintf(stdout, "Token URL: %s\n", srv.TokenURL())
		fmt.Fprintf(stdout, "Registration URL: %s\n", srv.RegistrationURL())
		fmt.Fprintf(stdout, "Demo client %s signs with sample-jwks/RS384.private.json (RS384)\n", demo.DemoClientRS384)
		fmt.Fprintf(stdout, "Demo client %s signs with sample-jwks/ES384.private.json (ES384)\n", demo.DemoClientES384)
		fmt.Fprintln(stdout, "Scopes: system/*.rs or system/*.read (or per type, e.g. system/Observation.rs)")
	}
	fmt.Fprintln(stdout, "Press Ctrl-C to stop.")

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	<-ctx.Done()
	fmt.Fprintln(stdout, "stopping")
	return srv.Close()
}

// printDemoAssertion prints a client assertion for the RS384 demo client,
// signed with the sample key, valid for four minutes: what the README's
// curl walk-through posts to the token endpoint.
func printDemoAssertion(stdout io.Writer, addr, tokenURL string) error {
	if tokenURL == "" {
		_, port, err := net.SplitHostPort(addr)
		if err != nil || port == "0" || port == "" {
			return errors.New("serve --demo-assertion: give --addr HOST:PORT of the running server, or --token-url")
		}
		tokenURL = "http://" + addr + "/auth/token"
	}
	raw, err := samplejwks.File("RS384.private.json")
	if err != nil {
		return fmt.Errorf("serve --demo-assertion: %w", err)
	}
	key, err := smart.ParseKey(raw, "RS384")
	if err != nil {
		return fmt.Errorf("serve --demo-assertion: sample key: %w", err)
	}
	c := smart.Config{ClientID: demo.DemoClientRS384, TokenURL: tokenURL, Key: key, Alg: "RS384", Now: time.Now}
	a, err := c.Assertion()
	if err != nil {
		return fmt.Errorf("serve --demo-assertion: %w", err)
	}
	fmt.Fprintln(stdout, a)
	return nil
}
