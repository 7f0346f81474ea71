package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"

	"tranche.dev/tranche/core"
	"tranche.dev/tranche/core/bulk"
	"tranche.dev/tranche/core/catalog"
	"tranche.dev/tranche/core/engine"
	"tranche.dev/tranche/core/sink"
	"tranche.dev/tranche/core/smart"
)

const exportUsage = `Usage:
  tranche export -f URL [level] [parameters] [auth] [options]
  tranche export --resume [ID]          carry on with unfinished exports
  tranche export --cancel ID            cancel an unfinished export (DELETE on the server)
  tranche export --retry-failed ID      download the files of an export that failed again
  tranche export --release ID           tell the server a complete export's files may go (DELETE)

Level (patient is the default, as in the SMART bulk-data-client):
  --global                 system level: [base]/$export
  -g, --group ID           group level:  [base]/Group/ID/$export

Parameters (repeatable; -t, -e, -p and -i also take comma lists):
  -t, --_type T            -s, --_since INSTANT|auto     --_until INSTANT
  -e, --_elements E        -p, --patient ID              -q, --_typeFilter Type?query
  -i, --includeAssociatedData V   --_outputFormat F      --organizeOutputBy T
  --allowPartialManifests  --lenient (Prefer: handling=lenient)
  --post                   kick off with POST (always done for Bulk Data v4 servers)
  --separate-export-status  Prefer: respond-async,separate-export-status (Bulk Data v3):
                           status polls answer 200 with the job's status in X-Export-Status
  --associated-data-as code|coding
                           how a POST sends includeAssociatedData: valueCode (v2/v3) or
                           valueCoding (v4); default: as the server's CapabilityStatement says

Auth (one of):
  --registration NAME      a saved registration (tranche registrations)
  --client-id ID --private-key FILE [--token-url URL] [--scope S]
  --open                   no authorization

Options:
  --db FILE      catalogue (default: in the data directory)
  --status URL   pick up an export already started (its status URL)
  --parallel N   parallel downloads (default 4, or the registration's)
  --keep-job     do not DELETE the job on the server when done
  --max-line N   longest accepted NDJSON line in bytes (default 64 MiB)

Object storage (docs/sink-layout.md; the registration's sink when not given):
  --sink s3://BUCKET/PREFIX   write the export there: raw files, Parquet, manifests.
                 The catalogue keeps only the export's progress. Endpoint, region and
                 credentials come from the AWS variables (AWS_ENDPOINT_URL,
                 AWS_REGION, AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_PROFILE)
                 and ~/.aws/config and ~/.aws/credentials; https unless loopback.
  --sink-keep-local  also store the records in the catalogue
  --sink-view FILE   also write this SQL on FHIR ViewDefinition's rows as a Parquet
                 table (views/NAME/; repeatable; give them again with --resume)

The exit status is 0 only when every file was downloaded and verified.
The log (bulk-data-client format) goes to exports/<id>/log.ndjson beside the
catalogue: in the data directory, or beside FILE with --db FILE.
`

// listFlag is a repeatable flag; with split, values are also comma lists.
type listFlag struct {
	vals  *[]string
	split bool
}

func (l listFlag) String() string { return "" }
func (l listFlag) Set(v string) error {
	if !l.split {
		*l.vals = append(*l.vals, v)
		return nil
	}
	for _, s := range strings.Split(v, ",") {
		if s = strings.TrimSpace(s); s != "" {
			*l.vals = append(*l.vals, s)
		}
	}
	return nil
}

type exportFlags struct {
	fhirURL, group, since, until, outputFormat, organize, status  string
	global, post, lenient, partial, keepJob, open, resume, cancel bool
	release, retry                                                bool
	separateStatus                                                bool
	associatedAs                                                  string
	types, elements, patients, filters, assoc                     []string
	registration, clientID, keyFile, tokenURL, scope, db          string
	parallel, maxLine                                             int
	sink                                                          string
	sinkKeepLocal                                                 bool
	sinkViews                                                     []string
}

func parseExportFlags(args []string, stderr io.Writer) (*exportFlags, []string, error) {
	f := &exportFlags{}
	fs := flag.NewFlagSet("tranche export", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprint(stderr, exportUsage) }
	str := func(p *string, usage string, names ...string) {
		for _, n := range names {
			fs.StringVar(p, n, "", usage)
		}
	}
	list := func(p *[]string, split bool, usage string, names ...string) {
		for _, n := range names {
			fs.Var(listFlag{p, split}, n, usage)
		}
	}
	str(&f.fhirURL, "FHIR base URL", "f", "fhir-url")
	str(&f.group, "group id", "g", "group")
	str(&f.since, "_since instant or auto", "s", "_since", "since")
	str(&f.until, "_until instant", "_until", "until")
	str(&f.outputFormat, "_outputFormat", "_outputFormat")
	str(&f.organize, "organizeOutputBy", "organizeOutputBy")
	str(&f.status, "status URL of a started export", "status")
	str(&f.registration, "registration name", "registration")
	str(&f.clientID, "client id", "client-id")
	str(&f.keyFile, "private key file (JWK, JWKS or PEM)", "private-key")
	str(&f.tokenURL, "token endpoint (default: discovered)", "token-url")
	str(&f.scope, "scopes (default system/*.rs)", "scope")
	str(&f.db, "catalogue database file", "db")
	str(&f.sink, "object storage: s3://BUCKET/PREFIX", "sink")
	fs.BoolVar(&f.sinkKeepLocal, "sink-keep-local", false, "with --sink, also store the records in the catalogue")
	list(&f.sinkViews, false, "ViewDefinition file to write as Parquet", "sink-view")
	list(&f.types, true, "_type", "t", "_type", "type")
	list(&f.elements, true, "_elements", "e", "_elements", "elements")
	list(&f.patients, true, "patient", "p", "patient")
	list(&f.filters, false, "_typeFilter", "q", "_typeFilter", "typeFilter")
	list(&f.assoc, true, "includeAssociatedData", "i", "includeAssociatedData")
	fs.BoolVar(&f.global, "global", false, "system level")
	fs.BoolVar(&f.post, "post", false, "kick off with POST")
	fs.BoolVar(&f.lenient, "lenient", false, "Prefer: handling=lenient")
	fs.BoolVar(&f.separateStatus, "separate-export-status", false, "Prefer: respond-async,separate-export-status")
	str(&f.associatedAs, "includeAssociatedData in a POST body: code or coding", "associated-data-as")
	fs.BoolVar(&f.partial, "allowPartialManifests", false, "allow partial manifests")
	fs.BoolVar(&f.keepJob, "keep-job", false, "do not DELETE the job when done")
	fs.BoolVar(&f.open, "open", false, "no authorization")
	fs.BoolVar(&f.resume, "resume", false, "resume unfinished exports")
	fs.BoolVar(&f.cancel, "cancel", false, "cancel an unfinished export")
	fs.BoolVar(&f.release, "release", false, "release a complete export's job")
	fs.BoolVar(&f.retry, "retry-failed", false, "download an export's failed files again")
	fs.IntVar(&f.parallel, "parallel", 0, "parallel downloads")
	fs.IntVar(&f.maxLine, "max-line", 0, "longest NDJSON line in bytes")
	pos, err := parseInterspersed(fs, args)
	return f, pos, err
}

func (f *exportFlags) request() core.ExportRequest {
	req := core.ExportRequest{
		Level: core.LevelPatient, OutputFormat: f.outputFormat, Since: f.since, Until: f.until,
		Types: f.types, Elements: f.elements, Patients: f.patients, TypeFilters: f.filters,
		IncludeAssociatedData: f.assoc, OrganizeOutputBy: f.organize, AllowPartialManifests: f.partial,
		Lenient: f.lenient, POST: f.post, SeparateExportStatus: f.separateStatus, AssociatedDataAs: f.associatedAs,
	}
	switch {
	case f.global:
		req.Level = core.LevelSystem
	case f.group != "":
		req.Level, req.GroupID = core.LevelGroup, f.group
	}
	return req
}

func runExport(args []string, stdout, stderr io.Writer) error {
	return runExportDial(args, stdout, stderr, nil)
}

// runExportDial is runExport with every connection made by dial (nil: the
// network's).
func runExportDial(args []string, stdout, stderr io.Writer, dial engine.Dial) error {
	f, pos, err := parseExportFlags(args, stderr)
	if err != nil {
		return err
	}
	if f.global && f.group != "" {
		return &exitError{code: 2, err: errors.New("--global and --group exclude each other")}
	}
	// The transport rule, before anything is read, sent or looked up.
	for _, u := range []string{f.fhirURL, f.tokenURL, f.status} {
		if u == "" {
			continue
		}
		if err := core.CheckURL(u); err != nil {
			return &exitError{code: 2, err: err}
		}
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	dbPath := f.db
	if dbPath == "" {
		if dbPath, err = defaultDBPath(); err != nil {
			return err
		}
	}
	env, err := openKeyEnv(commonFlags{db: dbPath, dial: dial}, stdout, stderr)
	if err != nil {
		return err
	}
	defer env.Close()
	logger := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	logs := &bulk.LogDir{Dir: exportLogDir(filepath.Dir(dbPath)), OnError: func(err error) { fmt.Fprintln(stderr, err) }}
	defer logs.Close()
	x := &exporter{env: env, flags: f, stdout: stdout, stderr: stderr,
		eng: &engine.Engine{Store: env.DB, LoadKey: env.loadKey, HTTPClient: env.HTTPClient, Dial: env.Dial, Logger: logger, Logs: logs}}
	if x.opts.Auth, err = f.auth(); err != nil {
		return err
	}
	x.opts.Parallel, x.opts.MaxLine, x.opts.KeepJob, x.opts.Logger = f.parallel, f.maxLine, f.keepJob, logger
	if x.opts.Sink, err = f.sinkOptions(); err != nil {
		return err
	}
	x.opts.OnSink = func(si engine.SinkInfo) {
		fmt.Fprintf(stderr, "Writing to %s (%s)\n", si.Target, si.Endpoint)
		if si.Aborted > 0 {
			fmt.Fprintf(stderr, "Aborted %d unfinished uploads no export refers to.\n", si.Aborted)
		}
	}

	switch {
	case f.resume:
		return x.resume(ctx, pos)
	case f.cancel:
		return x.control(ctx, pos, "--cancel", x.eng.Cancel, "Export %d cancelled.")
	case f.release:
		return x.control(ctx, pos, "--release", x.eng.Release, "Export %d released: the server may delete its files.")
	case f.retry:
		id, err := oneID(pos, "--retry-failed")
		if err != nil {
			return err
		}
		_, err = x.eng.RetryFailed(ctx, id, x.options())
		return x.report(ctx, id, err)
	}
	if len(pos) > 0 {
		return &exitError{code: 2, err: fmt.Errorf("unexpected argument %q", pos[0])}
	}
	exp := &core.Export{Request: f.request(), FHIRBaseURL: f.fhirURL}
	var reg *core.Registration
	if f.registration != "" {
		if reg, err = env.findRegistration(ctx, f.registration); err != nil {
			return err
		}
	}
	if exp.FHIRBaseURL == "" && reg == nil {
		fmt.Fprint(stderr, exportUsage)
		return &exitError{code: 2, err: errors.New("no FHIR server: give -f URL or --registration NAME")}
	}
	if reg != nil {
		if err := reg.CheckURLs(); err != nil {
			return &exitError{code: 2, err: fmt.Errorf("registration %q: %w", reg.Name, err)}
		}
	}
	if reg == nil && f.clientID == "" && !f.open {
		return &exitError{code: 2, err: errors.New("no authorization: give --registration NAME, --client-id ID --private-key FILE, or --open")}
	}
	if reg == nil && f.clientID != "" {
		exp.Scope = f.scopeOrDefault()
	}
	if f.status != "" {
		// Pick up a job started elsewhere (or by an earlier run).
		exp.StatusURL = f.status
		exp, err := x.eng.Adopt(ctx, exp, reg, x.options())
		if exp == nil {
			return err
		}
		return x.report(ctx, exp.ID, err)
	}
	err = x.eng.Start(ctx, exp, reg, x.options())
	return x.report(ctx, exp.ID, err)
}

// auth is the ad hoc client of --client-id and --private-key; nil without.
func (f *exportFlags) auth() (*engine.Auth, error) {
	if f.clientID == "" {
		return nil, nil
	}
	data, err := os.ReadFile(f.keyFile)
	if err != nil {
		return nil, fmt.Errorf("private key: %w", err)
	}
	key, err := smart.ParseKey(data, "")
	if err != nil {
		return nil, fmt.Errorf("private key %s: %w", f.keyFile, err)
	}
	return &engine.Auth{ClientID: f.clientID, TokenURL: f.tokenURL, Scopes: strings.Fields(f.scopeOrDefault()), Key: key}, nil
}

func (f *exportFlags) scopeOrDefault() string {
	if f.scope != "" {
		return f.scope
	}
	return "system/*.rs"
}

// exporter holds what one export command needs.
type exporter struct {
	env    *keyEnv
	eng    *engine.Engine
	opts   engine.Options
	flags  *exportFlags
	stdout io.Writer
	stderr io.Writer
	prog   *progress
}

// options are the engine options of one run, with a fresh progress line.
func (x *exporter) options() engine.Options {
	x.prog = newProgress(x.stderr)
	o := x.opts
	o.OnEvent = x.prog.handle
	return o
}

// oneID reads the one export id an action flag takes.
func oneID(pos []string, flagName string) (int64, error) {
	if len(pos) != 1 {
		return 0, &exitError{code: 2, err: fmt.Errorf("%s needs one export id", flagName)}
	}
	id, err := strconv.ParseInt(pos[0], 10, 64)
	if err != nil {
		return 0, &exitError{code: 2, err: fmt.Errorf("export id %q is not a number", pos[0])}
	}
	return id, nil
}

func (x *exporter) resume(ctx context.Context, pos []string) error {
	var ids []int64
	if len(pos) > 0 {
		for _, p := range pos {
			id, err := strconv.ParseInt(p, 10, 64)
			if err != nil {
				return &exitError{code: 2, err: fmt.Errorf("export id %q is not a number", p)}
			}
			ids = append(ids, id)
		}
	} else {
		exps, err := x.env.DB.UnfinishedExports(ctx)
		if err != nil {
			return err
		}
		for _, e := range exps {
			ids = append(ids, e.ID)
		}
		if len(ids) == 0 {
			fmt.Fprintln(x.stdout, "No unfinished exports.")
			return nil
		}
	}
	var errs []error
	for _, id := range ids {
		exp, err := x.env.DB.FindExport(ctx, id)
		if err != nil {
			errs = append(errs, fmt.Errorf("export %d: %w", id, err))
			continue
		}
		if exp.RegistrationID == 0 && x.flags.clientID == "" && !x.flags.open {
			// An ad hoc export: its key was never stored.
			fmt.Fprintf(x.stderr, "export %d has no registration; resuming without authorization (give --client-id and --private-key if it needs them)\n", id)
		}
		fmt.Fprintf(x.stderr, "Resuming export %d (%s, %s)\n", id, exp.FHIRBaseURL, exp.State)
		o := x.options()
		if files, err := x.env.DB.FindFiles(ctx, id); err == nil {
			x.prog.seed(files)
		}
		_, err = x.eng.Resume(ctx, id, o)
		if errors.Is(err, core.ErrFinished) && exp.State == core.StateFailed && len(exp.Manifest) > 0 {
			err = fmt.Errorf("%w; to download its failed files again: tranche export --retry-failed %d", err, id)
		}
		if err := x.report(ctx, id, err); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// control runs one of the engine's control actions on the export id in pos.
func (x *exporter) control(ctx context.Context, pos []string, flagName string, action func(context.Context, int64, engine.Options) error, done string) error {
	id, err := oneID(pos, flagName)
	if err != nil {
		return err
	}
	if err := action(ctx, id, x.options()); err != nil {
		return err
	}
	fmt.Fprintf(x.stdout, done+"\n", id)
	return nil
}

// report prints the outcome of export id.
func (x *exporter) report(ctx context.Context, id int64, runErr error) error {
	if x.prog != nil {
		x.prog.done()
	}
	if id == 0 {
		return runErr
	}
	exp, err := x.env.DB.FindExport(context.WithoutCancel(ctx), id)
	if err != nil {
		return errors.Join(runErr, err)
	}
	files, _ := x.env.DB.FindFiles(context.WithoutCancel(ctx), id)
	// Resources are the valid lines of output files; deletion entries and
	// the server's error lines are counted apart, and problem lines
	// (stored as received, not as resources) on their own.
	t := core.Sum(files)
	extra := ""
	if t.Deleted > 0 {
		extra += fmt.Sprintf(", %d deletion entries", t.Deleted)
	}
	if t.ErrorLines > 0 {
		extra += fmt.Sprintf(", %d server error lines", t.ErrorLines)
	}
	fmt.Fprintf(x.stdout, "Export %d %s: %d of %d files verified, %d resources%s, %.1f MB, %d problem lines\n",
		id, exp.State, t.Loaded, t.Files, t.Resources, extra, float64(t.Bytes)/1e6, t.Problems)
	if exp.Released {
		fmt.Fprintln(x.stdout, "The job was released on the server (DELETE).")
	}
	serverErrors := x.reportOutcomes(context.WithoutCancel(ctx), id)
	x.reportFiles(runErr)
	switch {
	case runErr == nil && serverErrors > 0:
		return &exitError{code: 3, err: fmt.Errorf("export %d: the server reported %d errors (see above); the data is incomplete", id, serverErrors)}
	case runErr == nil:
		return nil
	case ctx.Err() != nil:
		return fmt.Errorf("interrupted; carry on with: tranche export --resume %d", id)
	case errors.Is(runErr, sink.ErrViewsChanged):
		return &exitError{code: 2, err: fmt.Errorf("--sink-view: %w (give no --sink-view)", runErr)}
	case errors.Is(runErr, core.ErrExpired):
		return fmt.Errorf("export %d: %w; start a fresh export", id, runErr)
	case errors.Is(runErr, core.ErrIncomplete):
		return fmt.Errorf("export %d: %w; carry on with: tranche export --resume %d", id, runErr, id)
	}
	// A 401 to --open is resumable too, but resuming without
	// authorization would meet it again: say what does help.
	var he *bulk.HTTPError
	if errors.As(runErr, &he) && he.StatusCode == http.StatusUnauthorized && x.flags.open {
		return fmt.Errorf("%w\nThe server requires authorization: use --registration NAME, or --client-id ID --private-key FILE", runErr)
	}
	var re *bulk.ResumableError
	if errors.As(runErr, &re) {
		return fmt.Errorf("%w; carry on with: tranche export --resume %d", runErr, re.ExportID)
	}
	return runErr
}

// maxFilesShown is how many unverified files reportFiles lists.
const maxFilesShown = 5

// reportFiles lists the files a run could not verify, each once, capped.
func (x *exporter) reportFiles(runErr error) {
	var fe *bulk.FilesError
	if !errors.As(runErr, &fe) {
		return
	}
	fmt.Fprintf(x.stdout, "%s:\n", fe)
	for i, f := range fe.Files {
		if i == maxFilesShown {
			fmt.Fprintf(x.stdout, "  and %d more (tranche catalog exports lists every export)\n", len(fe.Files)-maxFilesShown)
			break
		}
		why := strings.TrimPrefix(f.Error, "download "+f.URL+": ")
		fmt.Fprintf(x.stdout, "  %s: %s: %s\n", f.URL, f.State, why)
	}
}

// ensure catalog.DB satisfies core.ExportStore.
var _ core.ExportStore = (*catalog.DB)(nil)

// maxOutcomesShown is how many OperationOutcome messages report prints.
const maxOutcomesShown = 5

// reportOutcomes prints what the server said in its error (outcome) files,
// by severity and with the first few messages, and returns how many were
// fatal or error: the files verified, but data the server meant to send is
// missing.
func (x *exporter) reportOutcomes(ctx context.Context, id int64) int64 {
	sum, err := x.env.DB.OutcomeSummary(ctx, id)
	if err != nil || len(sum) == 0 {
		return 0
	}
	var parts []string
	for _, c := range sum {
		parts = append(parts, fmt.Sprintf("%d %s", c.Count, c.Severity))
	}
	fmt.Fprintf(x.stdout, "The server's error files hold %s:\n", strings.Join(parts, ", "))
	if outs, err := x.env.DB.Outcomes(ctx, id, maxOutcomesShown); err == nil {
		for _, o := range outs {
			fmt.Fprintf(x.stdout, "  %s: %s\n", o.Severity, outcomeText(o.Raw))
		}
		if more := sum.Total() - int64(len(outs)); more > 0 {
			fmt.Fprintf(x.stdout, "  and %d more (tranche catalog exports, or Browse in the app)\n", more)
		}
	}
	return sum.Errors()
}

// outcomeText is an error-file line's first message, for a person.
func outcomeText(raw []byte) string {
	o, err := core.ParseOutcome(raw)
	switch {
	case err != nil || len(o.Issue) == 0:
		return "(not a readable OperationOutcome)"
	case o.Text() == "":
		return "(no message)"
	}
	return o.Text()
}
