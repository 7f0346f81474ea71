package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"text/tabwriter"
	"time"

	"tranche.dev/tranche/core"
	"tranche.dev/tranche/core/catalog"
	"tranche.dev/tranche/core/outfile"
	"tranche.dev/tranche/core/tables"
	"tranche.dev/tranche/core/viewlib"
	"tranche.dev/tranche/core/views"
	"tranche.dev/tranche/core/workbench"
)

const viewsUsage = `Usage:
  tranche views list [--db FILE]
      the built-in views, then the views saved in the catalogue and the
      tables no view there made, each with its table's state
  tranche views show NAME|FILE [--db FILE]
      a view's columns and its ViewDefinition JSON
  tranche views validate FILE
      check a ViewDefinition (SQL on FHIR v2) without running it
  tranche views save FILE [--db FILE]
      save a ViewDefinition in the catalogue under its name, as it is,
      without running it (the desktop app's library lists it)
  tranche views rename NAME NEW_NAME [--db FILE]
  tranche views delete NAME [--db FILE]
      rename or delete a saved view; a table built from it stays
  tranche views run VIEW [--db FILE] [--export ID] [--format table|csv|ndjson|parquet]
                         [-o FILE] [--limit N]
      run a view (a built-in name, a saved view's name or a ViewDefinition
      file) over the catalogue's latest view, or one export; --format table
      stores it in the catalogue as a table named after the view
  tranche views conformance DIR [--report FILE]
      run the SQL on FHIR v2 test suite in DIR
`

// runViews runs "tranche views SUBCOMMAND ...".
func runViews(args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		fmt.Fprint(stderr, viewsUsage)
		return flag.ErrHelp
	}
	cmd, args := args[0], args[1:]
	if cmd == "conformance" {
		return viewsConformance(args, stdout, stderr)
	}
	run, ok := map[string]func(context.Context, *viewsCmd, []string) error{
		"list":     viewsList,
		"show":     viewsShow,
		"validate": viewsValidate,
		"run":      viewsRun,
		"save":     viewsSave,
		"rename":   viewsRename,
		"delete":   viewsDelete,
	}[cmd]
	if !ok {
		fmt.Fprint(stderr, viewsUsage)
		return &exitError{code: 2, err: fmt.Errorf("views: unknown subcommand %q", cmd)}
	}
	c := &viewsCmd{catalogCmd{stdout: stdout, stderr: stderr,
		fs: flag.NewFlagSet("tranche views "+cmd, flag.ContinueOnError)}}
	c.fs.SetOutput(stderr)
	c.fs.Usage = func() { fmt.Fprint(stderr, viewsUsage) }
	if err := run(context.Background(), c, args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		var ee *exitError
		if errors.As(err, &ee) {
			return err
		}
		return fmt.Errorf("views %s: %w", cmd, err)
	}
	return nil
}

// viewsCmd shares the catalog commands' flag parsing and catalogue opening.
type viewsCmd struct{ catalogCmd }

func (c *viewsCmd) oneArg(args []string, what string) (string, error) {
	pos, err := c.parse(args)
	if err != nil {
		return "", err
	}
	if len(pos) != 1 {
		return "", fmt.Errorf("one %s is required", what)
	}
	return pos[0], nil
}

func viewsList(ctx context.Context, c *viewsCmd, args []string) error {
	c.dbFlag()
	if err := c.parseNone(args); err != nil {
		return err
	}
	db, err := c.openIfAny()
	if err != nil {
		return err
	}
	tw := tabwriter.NewWriter(c.stdout, 0, 4, 2, ' ', 0)
	if db == nil {
		fmt.Fprintln(tw, "NAME\tRESOURCE\tTITLE")
		for _, v := range viewlib.All() {
			fmt.Fprintf(tw, "%s\t%s\t%s\n", v.Name, v.Resource, v.Title)
		}
		return tw.Flush()
	}
	defer db.Close()
	lib, err := tables.Library(ctx, db)
	if err != nil {
		return err
	}
	fmt.Fprintln(tw, "NAME\tRESOURCE\tKIND\tTABLE\tTITLE")
	for _, e := range lib {
		kind := "built-in"
		switch {
		case e.Saved != nil:
			kind = "saved " + e.Saved.Updated.Local().Format("2006-01-02 15:04")
		case !e.BuiltIn:
			kind = "table only"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", e.Name, e.Resource, kind, tableState(e), e.Title)
	}
	return tw.Flush()
}

// tableState says whether a library entry's table exists and is fresh.
func tableState(e tables.Entry) string {
	switch {
	case e.Table == nil:
		return "none"
	case e.Table.Stale():
		return fmt.Sprintf("stale (export %d is newer)", e.Table.NewerExport)
	case e.TableOtherVersion:
		return "of another version"
	}
	return "fresh"
}

// dbFlag adds --db to a views subcommand that can use the catalogue.
func (c *viewsCmd) dbFlag() {
	c.fs.StringVar(&c.dbPath, "db", "", "catalogue database `file` (default: in the data directory)")
}

// openIfAny opens the catalogue at --db, or at the default path when
// there is one there; nil (and no error) when there is none and no --db.
func (c *viewsCmd) openIfAny() (*catalog.DB, error) {
	if c.dbPath == "" {
		path, err := defaultDBPath()
		if err != nil {
			return nil, err
		}
		if _, err := os.Stat(path); errors.Is(err, os.ErrNotExist) {
			return nil, nil
		}
	}
	return c.open()
}

func viewsSave(ctx context.Context, c *viewsCmd, args []string) error {
	c.dbFlag()
	file, err := c.oneArg(args, "ViewDefinition file")
	if err != nil {
		return err
	}
	data, err := os.ReadFile(file)
	if err != nil {
		return err
	}
	db, err := c.open()
	if err != nil {
		return err
	}
	defer db.Close()
	d, created, err := tables.SaveView(ctx, db, data)
	if err != nil {
		return fmt.Errorf("%s: %w", file, err)
	}
	if created {
		fmt.Fprintf(c.stdout, "saved view %s of %s\n", d.Name, d.Resource)
	} else {
		fmt.Fprintf(c.stdout, "saved a new version of view %s of %s\n", d.Name, d.Resource)
	}
	return nil
}

func viewsRename(ctx context.Context, c *viewsCmd, args []string) error {
	c.dbFlag()
	pos, err := c.parse(args)
	if err != nil {
		return err
	}
	if len(pos) != 2 {
		return errors.New("a saved view's name and its new name are required")
	}
	db, err := c.open()
	if err != nil {
		return err
	}
	defer db.Close()
	if _, err := tables.RenameView(ctx, db, pos[0], pos[1]); errors.Is(err, core.ErrNotFound) {
		return fmt.Errorf("there is no saved view %s (see tranche views list)", pos[0])
	} else if errors.Is(err, catalog.ErrNameTaken) {
		return fmt.Errorf("there is a saved view called %s already", pos[1])
	} else if err != nil {
		return err
	}
	fmt.Fprintf(c.stdout, "renamed view %s to %s\n", pos[0], pos[1])
	return nil
}

func viewsDelete(ctx context.Context, c *viewsCmd, args []string) error {
	c.dbFlag()
	name, err := c.oneArg(args, "saved view's name")
	if err != nil {
		return err
	}
	db, err := c.open()
	if err != nil {
		return err
	}
	defer db.Close()
	if err := db.DeleteViewDef(ctx, name); errors.Is(err, core.ErrNotFound) {
		return fmt.Errorf("there is no saved view %s (see tranche views list)", name)
	} else if err != nil {
		return err
	}
	fmt.Fprintf(c.stdout, "deleted view %s\n", name)
	return nil
}

// loadView reads VIEW (workbench.Resolve), saying how to list the views.
func loadView(ctx context.Context, db *catalog.DB, arg string) (*tables.Compiled, error) {
	v, err := workbench.Resolve(ctx, db, arg)
	if errors.Is(err, workbench.ErrNoSuchView) {
		return nil, fmt.Errorf("%w (see tranche views list)", err)
	}
	return v, err
}

func viewsShow(ctx context.Context, c *viewsCmd, args []string) error {
	c.dbFlag()
	arg, err := c.oneArg(args, "view (a built-in or saved view's name, or a ViewDefinition file)")
	if err != nil {
		return err
	}
	db, err := c.openIfAny()
	if err != nil {
		return err
	}
	if db != nil {
		defer db.Close()
	}
	v, err := loadView(ctx, db, arg)
	if err != nil {
		return err
	}
	fmt.Fprintf(c.stdout, "%s: one table of %s\n", v.Name(), v.Resource())
	if b, ok := viewlib.Lookup(arg); ok {
		fmt.Fprintf(c.stdout, "%s\n", b.Description)
	}
	tw := tabwriter.NewWriter(c.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "\nCOLUMN\tTYPE\tDESCRIPTION")
	for _, col := range v.Columns() {
		typ := col.Type
		if col.Collection {
			typ += "[]"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\n", col.Name, typ, col.Description)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintf(c.stdout, "\n%s", v.JSON)
	return nil
}

func viewsValidate(_ context.Context, c *viewsCmd, args []string) error {
	arg, err := c.oneArg(args, "ViewDefinition file")
	if err != nil {
		return err
	}
	v, err := loadView(context.Background(), nil, arg)
	if err != nil {
		return err
	}
	fmt.Fprintf(c.stdout, "%s is valid: view %s of %s, %d columns\n", arg, v.Name(), v.Resource(), len(v.Columns()))
	return nil
}

func viewsRun(ctx context.Context, c *viewsCmd, args []string) (err error) {
	c.fs.StringVar(&c.dbPath, "db", "", "catalogue database `file` (default: in the data directory)")
	exportID := c.fs.Int64("export", 0, "read one export's resources instead of the latest view")
	format := c.fs.String("format", "", "table, csv, ndjson or parquet (default: from -o's extension, else csv)")
	out := c.fs.String("o", "", "write to `file` instead of standard output")
	limit := c.fs.Int64("limit", 0, "stop after `N` rows")
	arg, err := c.oneArg(args, "view (a built-in name or a ViewDefinition file)")
	if err != nil {
		return err
	}
	if *format == "" {
		*format = tables.FormatOf(*out, tables.FormatCSV)
	}
	switch *format {
	case "table", "csv", "ndjson", "parquet":
	default:
		return fmt.Errorf("unknown --format %q: want table, csv, ndjson or parquet", *format)
	}
	if *format == "parquet" && *out == "" {
		return errors.New("--format parquet writes a file: give one with -o FILE")
	}
	if *format == "table" && *out != "" {
		return errors.New("--format table stores the table in the catalogue: -o does not apply")
	}
	db, err := c.open()
	if err != nil {
		return err
	}
	defer db.Close()
	v, err := loadView(ctx, db, arg)
	if err != nil {
		return err
	}
	if *exportID != 0 {
		if _, err := db.FindExport(ctx, *exportID); errors.Is(err, core.ErrNotFound) {
			return fmt.Errorf("there is no export %d in the catalogue (see tranche catalog exports)", *exportID)
		} else if err != nil {
			return err
		}
	}

	prog := newViewProgress(c.stderr)
	r := &tables.Runner{Limit: *limit, OnProgress: prog.update}
	var st tables.Stats
	if *format == "table" {
		st, err = r.Materialise(ctx, db, v, *exportID)
		if err != nil {
			return err
		}
		prog.done()
		fmt.Fprintf(c.stderr, "stored %d rows from %d %s resources in table %s (%s)\n",
			st.Rows, st.Resources, v.Resource(), v.Name(), time.Since(prog.start).Round(time.Millisecond))
		reportProblems(c.stderr, st)
		return nil
	}

	st, err = writeView(ctx, r, db, v, *exportID, *format, *out, c.stdout)
	prog.done()
	if err != nil {
		return err
	}
	dest := *out
	if dest == "" {
		dest = "standard output"
	}
	fmt.Fprintf(c.stderr, "wrote %d rows from %d %s resources to %s (%s)\n",
		st.Rows, st.Resources, v.Resource(), dest, time.Since(prog.start).Round(time.Millisecond))
	reportProblems(c.stderr, st)
	return nil
}

// flagSet reports whether the flag name was given on the command line.
func flagSet(fs *flag.FlagSet, name string) bool {
	set := false
	fs.Visit(func(f *flag.Flag) { set = set || f.Name == name })
	return set
}

// writeView runs v into out (written beside it and renamed into place
// when complete) or to stdout.
func writeView(ctx context.Context, r *tables.Runner, db *catalog.DB, v *tables.Compiled, exportID int64,
	format, out string, stdout io.Writer) (tables.Stats, error) {
	var st tables.Stats
	_, err := writeFile(out, stdout, func(w io.Writer) (int64, error) {
		tw, err := tables.NewWriter(w, format, v.Name(), v.Resource(), v.Columns())
		if err != nil {
			return 0, err
		}
		if st, err = r.Run(ctx, v, tables.CatalogInput(db, exportID, v.Resource()), tw); err != nil {
			return st.Rows, err
		}
		return st.Rows, tw.Close()
	})
	return st, err
}

// writeFile calls write with stdout, or, when out is set, with a new file
// that replaces out once write has succeeded (outfile.Write): a failed or
// cancelled run leaves no half-written file. Records and tables are
// health data: the file is the user's alone (0600).
func writeFile(out string, stdout io.Writer, write func(io.Writer) (int64, error)) (int64, error) {
	if out == "" {
		return write(stdout)
	}
	return outfile.Write(out, 0o600, write)
}

func reportProblems(w io.Writer, st tables.Stats) {
	if st.Problems == 0 {
		return
	}
	fmt.Fprintf(w, "%d resources gave no rows because an expression failed on them; the first:\n", st.Problems)
	for _, p := range st.Examples {
		fmt.Fprintf(w, "  %s\n", p.Error())
	}
}

// viewProgress prints a view run's progress at most once a second.
type viewProgress struct {
	out   *statusLine
	start time.Time
	last  time.Time
}

func newViewProgress(w io.Writer) *viewProgress {
	return &viewProgress{out: newStatusLine(w), start: time.Now()}
}

func (p *viewProgress) update(st tables.Stats) {
	now := time.Now()
	if now.Sub(p.last) < time.Second || now.Sub(p.start) < time.Second {
		return
	}
	p.last = now
	p.out.show(fmt.Sprintf("%d resources, %d rows, %d problems, %.0f resources/s", st.Resources, st.Rows, st.Problems,
		float64(st.Resources)/now.Sub(p.start).Seconds()))
}

func (p *viewProgress) done() { p.out.done() }

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

// writeReport writes the report beside path and renames it into place.
func writeReport(path string, rep views.Report) error {
	_, err := writeFile(path, nil, func(w io.Writer) (int64, error) { return 0, rep.WriteJSON(w) })
	return err
}

// catalogTables runs "tranche catalog tables".
func catalogTables(ctx context.Context, c *catalogCmd, args []string) error {
	if err := c.parseNone(args); err != nil {
		return err
	}
	db, err := c.open()
	if err != nil {
		return err
	}
	defer db.Close()
	ts, err := db.ViewTables(ctx)
	if err != nil {
		return err
	}
	tw := tabwriter.NewWriter(c.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "TABLE\tRESOURCE\tROWS\tPROBLEMS\tFROM\tVIEW\tBUILT\tSTATE")
	for _, t := range ts {
		from := "latest view"
		if t.ExportID != 0 {
			from = fmt.Sprintf("export %d", t.ExportID)
		}
		version := t.ViewSHA256
		if len(version) > 12 {
			version = version[:12]
		}
		if t.ViewVersion != "" {
			version = "v" + t.ViewVersion + " " + version
		}
		state := "fresh"
		if t.Stale() {
			state = fmt.Sprintf("stale: export %d is newer", t.NewerExport)
		}
		fmt.Fprintf(tw, "%s\t%s\t%d\t%d\t%s\t%s\t%s\t%s\n", t.Name, t.Resource, t.Rows, t.Problems, from, version,
			t.BuiltAt.Local().Format("2006-01-02 15:04"), state)
	}
	return tw.Flush()
}

// catalogExportTable runs "tranche catalog export --table NAME".
func catalogExportTable(ctx context.Context, c *catalogCmd, name, format, out string) (err error) {
	if format == "parquet" && out == "" {
		return errors.New("--format parquet writes a file: give one with -o FILE")
	}
	db, err := c.open()
	if err != nil {
		return err
	}
	defer db.Close()
	t, err := db.FindViewTable(ctx, name)
	if errors.Is(err, core.ErrNotFound) {
		return fmt.Errorf("no view table %s in the catalogue (see catalog tables)", name)
	} else if err != nil {
		return err
	}
	if t.Stale() {
		fmt.Fprintf(c.stderr, "note: table %s is stale: export %d is newer (tranche views run %s --format table rebuilds it)\n",
			t.Name, t.NewerExport, t.Name)
	}
	n, err := writeFile(out, c.stdout, func(w io.Writer) (int64, error) {
		tw, err := tables.NewWriter(w, format, t.Name, t.Resource, tables.TableColumns(t))
		if err != nil {
			return 0, err
		}
		n, err := tables.CopyViewTable(ctx, db, t.Name, tw)
		if err != nil {
			return n, err
		}
		return n, tw.Close()
	})
	if err != nil {
		return err
	}
	if out != "" {
		fmt.Fprintf(c.stderr, "wrote %d rows to %s\n", n, out)
	}
	return nil
}
