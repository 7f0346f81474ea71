package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"

	"tranche.dev/tranche/core/sink"
)

const sinkUsage = `Usage:
  tranche sink ddl --engine duckdb|spark|trino [--view FILE]... s3://BUCKET/PREFIX

Prints the statements that register an export sink's tables (docs/sink-layout.md)
in the engine: resources, exports, resources_complete and latest (each
resource's newest version, deletions dropped), and view_NAME for each --view
(a ViewDefinition given to tranche export --sink-view). Paste them into the
engine's shell.
`

func runSink(args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 || args[0] != "ddl" {
		fmt.Fprint(stderr, sinkUsage)
		if len(args) > 0 && (args[0] == "-h" || args[0] == "--help" || args[0] == "help") {
			return flag.ErrHelp
		}
		return &exitError{code: 2, err: errors.New("want: tranche sink ddl")}
	}
	fs := flag.NewFlagSet("tranche sink ddl", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprint(stderr, sinkUsage) }
	engine := fs.String("engine", "", "duckdb, spark or trino")
	var viewFiles []string
	fs.Var(listFlag{&viewFiles, false}, "view", "ViewDefinition file (repeatable)")
	pos, err := parseInterspersed(fs, args[1:])
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		fs.Usage()
		return &exitError{code: 2, err: errors.New("want one s3://BUCKET/PREFIX")}
	}
	target, err := sink.ParseURL(pos[0])
	if err != nil {
		return &exitError{code: 2, err: err}
	}
	defs, err := sink.ReadViewFiles(viewFiles)
	if err != nil {
		return &exitError{code: 2, err: fmt.Errorf("--view: %w", err)}
	}
	vs, err := sink.ParseViews(defs)
	if err != nil {
		return &exitError{code: 2, err: fmt.Errorf("--view: %w", err)}
	}
	ddl, err := sink.DDL(strings.ToLower(*engine), target, vs...)
	if err != nil {
		return &exitError{code: 2, err: fmt.Errorf("--engine: %w", err)}
	}
	_, err = io.WriteString(stdout, ddl)
	return err
}
