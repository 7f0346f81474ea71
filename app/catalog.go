package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"text/tabwriter"

	"tranche.dev/tranche/core"
	"tranche.dev/tranche/core/catalog"
	"tranche.dev/tranche/core/tables"
)

const catalogUsage = `Usage:
  tranche catalog counts [--db FILE] [--export ID]
      one "<ResourceType><TAB><count>" line per type of the latest view
  tranche catalog search [--db FILE] [--type T] [--limit N] QUERY
      full-text search over the raw JSON (FTS5 syntax: word, "a phrase", pref*)
  tranche catalog show [--db FILE] TYPE/ID
      the resource's JSON, pretty-printed
  tranche catalog export [--db FILE] [--type T] [--patient ID] [--export ID]
                         [--query Q] [--format ndjson|csv] [-o FILE]
      write a selection as NDJSON (exact bytes) or CSV
  tranche catalog exports [--db FILE] [--limit N]
      list exports with their state
  tranche catalog tables [--db FILE]
      list the view tables (tranche views run --format table), stale or not
  tranche catalog export --table NAME [--db FILE] [--format csv|ndjson|parquet] [-o FILE]
      write a view table
`

// runCatalog runs "tranche catalog SUBCOMMAND ...".
func runCatalog(args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		fmt.Fprint(stderr, catalogUsage)
		return flag.ErrHelp
	}
	cmd, args := args[0], args[1:]
	run, ok := map[string]func(context.Context, *catalogCmd, []string) error{
		"counts":  catalogCounts,
		"search":  catalogSearch,
		"show":    catalogShow,
		"export":  catalogExport,
		"exports": catalogExports,
		"tables":  catalogTables,
	}[cmd]
	if !ok {
		fmt.Fprint(stderr, catalogUsage)
		return &exitError{code: 2, err: fmt.Errorf("catalog: unknown subcommand %q", cmd)}
	}
	c := &catalogCmd{stdout: stdout, stderr: stderr,
		fs: flag.NewFlagSet("tranche catalog "+cmd, flag.ContinueOnError)}
	c.fs.SetOutput(stderr)
	c.fs.StringVar(&c.dbPath, "db", "", "catalogue database `file` (default: in the data directory)")
	c.fs.Usage = func() { fmt.Fprint(stderr, catalogUsage) }
	if err := run(context.Background(), c, args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return fmt.Errorf("catalog %s: %w", cmd, err)
	}
	return nil
}

// catalogCmd is what every catalog subcommand shares.
type catalogCmd struct {
	fs     *flag.FlagSet
	dbPath string
	stdout io.Writer
	stderr io.Writer
}

// parse parses flags, which may also follow positional arguments
// ("search diabetes --type Condition"), and returns the positionals.
func (c *catalogCmd) parse(args []string) ([]string, error) { return parseInterspersed(c.fs, args) }

// parseNone parses flags for a command that takes no positional
// arguments, and refuses any.
func (c *catalogCmd) parseNone(args []string) error {
	pos, err := c.parse(args)
	if err != nil {
		return err
	}
	if len(pos) != 0 {
		return fmt.Errorf("unexpected argument %q", pos[0])
	}
	return nil
}

// open opens the catalogue at --db or the default path. Opening never
// creates a catalogue where none is: a typo in --db is an error, not an
// empty result.
func (c *catalogCmd) open() (*catalog.DB, error) {
	path := c.dbPath
	if path == "" {
		var err error
		if path, err = defaultDBPath(); err != nil {
			return nil, err
		}
	}
	if _, err := os.Stat(path); errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("no catalogue at %s (run an export first, or pass --db)", path)
	}
	db := catalog.NewDB(path)
	db.Logger = slog.New(slog.DiscardHandler)
	if err := db.Open(); err != nil {
		return nil, fmt.Errorf("open catalogue: %w", err)
	}
	return db, nil
}

func catalogCounts(ctx context.Context, c *catalogCmd, args []string) error {
	exportID := c.fs.Int64("export", 0, "count one export's resources instead of the latest view")
	if err := c.parseNone(args); err != nil {
		return err
	}
	db, err := c.open()
	if err != nil {
		return err
	}
	defer db.Close()
	counts, err := db.Counts(ctx, *exportID)
	if err != nil {
		return err
	}
	w := bufio.NewWriter(c.stdout)
	for _, tc := range counts {
		fmt.Fprintf(w, "%s\t%d\n", tc.Type, tc.Count)
	}
	return w.Flush()
}

func catalogSearch(ctx context.Context, c *catalogCmd, args []string) error {
	typ := c.fs.String("type", "", "only resources of this `type`")
	limit := c.fs.Int("limit", 50, "at most `N` results")
	pos, err := c.parse(args)
	if err != nil {
		return err
	}
	if len(pos) == 0 {
		return errors.New("a search query is required, e.g. tranche catalog search diabetes")
	}
	db, err := c.open()
	if err != nil {
		return err
	}
	defer db.Close()
	// The full-text index is filled lazily; bring it up to date first.
	if err := indexForSearch(ctx, db, c.stderr); err != nil {
		return err
	}
	page, err := db.Resources(ctx, catalog.ResourceFilter{Type: *typ, Query: strings.Join(pos, " "),
		Limit: max(*limit, 1)})
	if err != nil {
		return fmt.Errorf("%w (FTS5 query syntax: words, \"a phrase\", prefix*)", err)
	}
	tw := tabwriter.NewWriter(c.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, strings.Join(page.Columns, "\t"))
	for _, r := range page.Rows {
		fmt.Fprintln(tw, strings.Join(r.Values, "\t"))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if page.Next != "" {
		fmt.Fprintf(c.stderr, "(first %d results; use --limit for more)\n", len(page.Rows))
	}
	return nil
}

func catalogShow(ctx context.Context, c *catalogCmd, args []string) error {
	pos, err := c.parse(args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return errors.New("one TYPE/ID is required, e.g. tranche catalog show Patient/123")
	}
	typ, id, ok := strings.Cut(pos[0], "/")
	if !ok || typ == "" || id == "" {
		return fmt.Errorf("%q is not TYPE/ID, e.g. Patient/123", pos[0])
	}
	db, err := c.open()
	if err != nil {
		return err
	}
	defer db.Close()
	r, err := db.Resource(ctx, typ, id)
	if errors.Is(err, core.ErrNotFound) {
		return fmt.Errorf("%s/%s is not in the catalogue", typ, id)
	} else if err != nil {
		return err
	}
	var buf bytes.Buffer
	if err := json.Indent(&buf, r.Raw, "", "  "); err != nil {
		return fmt.Errorf("%s/%s: stored JSON: %w", typ, id, err)
	}
	buf.WriteByte('\n')
	if _, err := buf.WriteTo(c.stdout); err != nil {
		return err
	}
	if r.Deleted {
		fmt.Fprintf(c.stderr, "note: %s/%s was deleted on the server by a later export\n", typ, id)
	}
	return nil
}

func catalogExport(ctx context.Context, c *catalogCmd, args []string) (err error) {
	var f catalog.ResourceFilter
	c.fs.StringVar(&f.Type, "type", "", "only resources of this `type`")
	c.fs.StringVar(&f.Patient, "patient", "", "only this patient's resources (`ID` or Patient/ID)")
	c.fs.Int64Var(&f.ExportID, "export", 0, "one export's resources instead of the latest view")
	c.fs.StringVar(&f.Query, "query", "", "only resources matching this full-text query")
	format := c.fs.String("format", "ndjson", "ndjson or csv (and parquet for --table)")
	out := c.fs.String("o", "", "write to `file` instead of standard output")
	table := c.fs.String("table", "", "write this view table (see catalog tables) instead of resources")
	if err := c.parseNone(args); err != nil {
		return err
	}
	if *table != "" {
		if !flagSet(c.fs, "format") {
			*format = tables.FormatOf(*out, tables.FormatNDJSON)
		}
		return catalogExportTable(ctx, c, *table, *format, *out)
	}
	write := map[string]func(*catalog.DB, io.Writer) (int, error){
		"ndjson": func(db *catalog.DB, w io.Writer) (int, error) { return db.ExportNDJSON(ctx, w, f) },
		"csv":    func(db *catalog.DB, w io.Writer) (int, error) { return db.ExportCSV(ctx, w, f) },
	}[*format]
	if write == nil {
		return fmt.Errorf("unknown --format %q: want ndjson or csv", *format)
	}
	db, err := c.open()
	if err != nil {
		return err
	}
	defer db.Close()
	if f.Query != "" {
		if err := indexForSearch(ctx, db, c.stderr); err != nil {
			return err
		}
	}

	n, err := writeFile(*out, c.stdout, func(w io.Writer) (int64, error) {
		n, err := write(db, w)
		return int64(n), err
	})
	if err != nil {
		return err
	}
	if *out != "" {
		fmt.Fprintf(c.stderr, "wrote %d resources to %s\n", n, *out)
	}
	return nil
}

func catalogExports(ctx context.Context, c *catalogCmd, args []string) error {
	limit := c.fs.Int("limit", 20, "at most `N` exports, newest first (0 = all)")
	if err := c.parseNone(args); err != nil {
		return err
	}
	db, err := c.open()
	if err != nil {
		return err
	}
	defer db.Close()
	es, err := db.FindExports(ctx, *limit)
	if err != nil {
		return err
	}
	tw := tabwriter.NewWriter(c.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tSTATE\tLEVEL\tCREATED\tTRANSACTION TIME\tSERVER\tERROR")
	for _, e := range es {
		problem := firstLine(e.Error)
		if problem == "" {
			// A complete export may still hold the server's error lines:
			// its data is incomplete, and the column says so.
			if sum, err := db.OutcomeSummary(ctx, e.ID); err == nil && sum.Errors() > 0 {
				problem = fmt.Sprintf("the server reported %d errors: the data is incomplete", sum.Errors())
			}
		}
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%s\t%s\n", e.ID, e.State, e.Request.Level,
			e.CreatedAt.Local().Format("2006-01-02 15:04"), e.TransactionTime, e.FHIRBaseURL, problem)
	}
	return tw.Flush()
}

// firstLine keeps a table row on one line.
func firstLine(s string) string {
	s, _, _ = strings.Cut(s, "\n")
	return s
}

// indexForSearch brings the full-text index up to date, showing on w how
// far it has got when there is more than a batch to do: the first search of
// a large catalogue indexes every resource (a million take tens of
// seconds); after that, each export's rows are indexed once, by the first
// search after it (or by the desktop app in the background). Interrupted,
// it keeps the batches done.
func indexForSearch(ctx context.Context, db *catalog.DB, w io.Writer) error {
	pending, err := db.Unindexed(ctx)
	if err != nil {
		return err
	}
	if pending <= catalog.ReindexBatch {
		_, err := db.Reindex(ctx)
		return err
	}
	out := newStatusLine(w)
	fmt.Fprintf(w, "indexing %d resources for search (once; later exports index only their own)\n", pending)
	shown := int64(-1) // tenths shown, off a terminal
	_, err = db.ReindexWithProgress(ctx, func(done int64) {
		pct := min(done*100/pending, 100) // more may have arrived since
		if out.tty || pct/10 > shown {
			shown = pct / 10
			out.show(fmt.Sprintf("indexed %d of %d (%d%%)", done, pending, pct))
		}
	})
	out.done()
	return err
}
