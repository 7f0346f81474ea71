// Command tranche pulls FHIR Bulk Data exports onto an analyst's machine.
// With no arguments it opens the desktop app; subcommands cover the same work
// from a terminal and run the loopback demo server.
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
)

const usage = `Tranche pulls FHIR Bulk Data exports into a local catalogue.

Usage:
  tranche                      open the desktop app
  tranche demo                 open the desktop app with the loopback demo server
  tranche serve [flags]        run the loopback Bulk Data server (synthetic data, SMART auth)
  tranche keys ...             generate, import and show client keys
  tranche registrations ...    manage client registrations (alias: reg)
  tranche export [flags]       run a bulk export into the catalogue
  tranche catalog ...          query the catalogue (counts, search, show, export)
  tranche sink ddl ...         SQL that registers an export sink's tables in DuckDB, Spark, Trino
  tranche bench [flags]        end-to-end throughput benchmark against the demo server
  tranche views ...            SQL on FHIR views: run one over the catalogue into CSV, NDJSON,
                               Parquet or a catalogue table; list, show, validate; conformance

Run "tranche <command> -h" for a command's flags.
`

func main() {
	if err := run(os.Args[1:], os.Stdout, os.Stderr); err != nil {
		if !errors.Is(err, flag.ErrHelp) {
			fmt.Fprintln(os.Stderr, "tranche:", err)
		}
		os.Exit(exitCode(err))
	}
}

// exitError carries a specific exit status out of run.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string { return e.err.Error() }
func (e *exitError) Unwrap() error { return e.err }

func exitCode(err error) int {
	var e *exitError
	if errors.As(err, &e) {
		return e.code
	}
	if errors.Is(err, flag.ErrHelp) {
		return 2
	}
	return 1
}

func run(args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		return runGUI(nil, stdout, stderr)
	}
	cmd, rest := args[0], args[1:]
	switch cmd {
	case "gui":
		return runGUI(rest, stdout, stderr)
	case "demo":
		return runDemo(rest, stdout, stderr)
	case "serve":
		return runServe(rest, stdout, stderr)
	case "keys":
		return runKeys(rest, stdout, stderr)
	case "registrations", "registration", "reg":
		return runRegistrations(rest, stdout, stderr)
	case "export":
		return runExport(rest, stdout, stderr)
	case "catalog", "catalogue":
		return runCatalog(rest, stdout, stderr)
	case "bench":
		return runBench(rest, stdout, stderr)
	case "views":
		return runViews(rest, stdout, stderr)
	case "sink":
		return runSink(rest, stdout, stderr)
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
		return nil
	}
	fmt.Fprint(stderr, usage)
	return &exitError{code: 2, err: fmt.Errorf("unknown command %q", cmd)}
}
