package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"tranche.dev/tranche/core/views"
)

const viewsUsage = `Usage:
  tranche views conformance DIR [--report FILE]   run the SQL on FHIR v2 test suite in DIR
`

// runViews dispatches the views subcommands (SQL on FHIR v2 ViewDefinitions).
func runViews(args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, viewsUsage)
		return &exitError{code: 2, err: errors.New("views: missing subcommand")}
	}
	switch args[0] {
	case "conformance":
		return viewsConformance(args[1:], stdout, stderr)
	case "help", "-h", "--help":
		fmt.Fprint(stdout, viewsUsage)
		return nil
	}
	fmt.Fprint(stderr, viewsUsage)
	return &exitError{code: 2, err: fmt.Errorf("views: unknown subcommand %q", args[0])}
}

// viewsConformance runs every test file in DIR, prints one line per file and
// the score, writes the suite's report format with --report, and fails when
// a shareable test fails.
func viewsConformance(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("views conformance", flag.ContinueOnError)
	fs.SetOutput(stderr)
	report := fs.String("report", "", "write the test report (the suite's test_report.json format) to `file`")
	pos, err := parseInterspersed(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		fmt.Fprint(stderr, viewsUsage)
		return &exitError{code: 2, err: errors.New("views conformance: want one test directory")}
	}
	rep, err := views.RunConformance(pos[0], stdout)
	if err != nil {
		return err
	}
	if *report != "" {
		if err := writeReport(*report, rep); err != nil {
			return fmt.Errorf("views conformance: %w", err)
		}
	}
	if rep.Failed() {
		return fmt.Errorf("views conformance: %d of %d shareable tests failed",
			rep.Shareable.Total-rep.Shareable.Passed, rep.Shareable.Total)
	}
	return nil
}

// writeReport writes the report to a temporary file and renames it into place.
func writeReport(path string, rep views.Report) error {
	f, err := os.CreateTemp(filepath.Dir(path), ".report-*.json")
	if err != nil {
		return err
	}
	defer os.Remove(f.Name())
	if err := rep.WriteJSON(f); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return os.Rename(f.Name(), path)
}
