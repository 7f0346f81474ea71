package sink

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"slices"
	"strings"

	"tranche.dev/tranche/core"
	"tranche.dev/tranche/core/views"
)

// Recorder is the catalogue as a sink export needs it: the export store,
// and where each export lands and with which views, so a resume lands in
// the same place the same way. catalog.DB implements it.
type Recorder interface {
	core.ExportStore
	SetExportSink(ctx context.Context, id int64, url string) error
	SetExportSinkViews(ctx context.Context, id int64, defs [][]byte) error
	ExportSink(ctx context.Context, id int64) (string, error)
	ExportSinkViews(ctx context.Context, id int64) (defs [][]byte, recorded bool, err error)
}

// Options open a sink for one export.
type Options struct {
	URL string // s3://BUCKET/PREFIX
	// Views are the ViewDefinitions (JSON) landed as Parquet tables.
	Views     [][]byte
	KeepLocal bool
	// Getenv reads the AWS environment (os.Getenv): the endpoint, region
	// and credentials never come from a flag value.
	Getenv func(string) string
	Logger *slog.Logger
}

// Open returns the Store that lands an export at o.URL with o.Views,
// recording the sink and its views with each export it creates (in rec),
// and the endpoint it reaches.
func Open(rec Recorder, o Options) (*Store, string, error) {
	target, err := ParseURL(o.URL)
	if err != nil {
		return nil, "", err
	}
	vs, err := ParseViews(o.Views)
	if err != nil {
		return nil, "", fmt.Errorf("sink %s: views: %w", target, err)
	}
	getenv := o.Getenv
	if getenv == nil {
		getenv = os.Getenv
	}
	cfg, err := Environment(getenv)
	if err != nil {
		return nil, "", fmt.Errorf("sink %s: %w", target, err)
	}
	// Refused here, before the export is kicked off, rather than at the
	// first upload, after the server has done the work.
	if v, err := cfg.Creds.GetWithContext(nil); err != nil || v.AccessKeyID == "" {
		return nil, "", fmt.Errorf("sink %s: %w", target, ErrNoCredentials)
	}
	client, err := NewClient(cfg)
	if err != nil {
		return nil, "", fmt.Errorf("sink %s: %w", target, err)
	}
	return &Store{
		Views:     vs,
		Inner:     recorder{Recorder: rec, url: target.String(), views: o.Views},
		Client:    client,
		Target:    target,
		KeepLocal: o.KeepLocal,
		PartSize:  cfg.PartSize,
		Uploads:   cfg.Uploads,
		Logger:    o.Logger,
	}, cfg.Endpoint, nil
}

// ErrNoCredentials reports a sink with no credentials in the AWS
// environment: writing anonymously is never what an export wants.
var ErrNoCredentials = errors.New("no credentials: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or AWS_PROFILE naming a profile in ~/.aws/credentials")

// recorder records the sink and its views with each export it creates.
type recorder struct {
	Recorder
	url   string
	views [][]byte
}

func (r recorder) CreateExport(ctx context.Context, e *core.Export) error {
	if err := r.Recorder.CreateExport(ctx, e); err != nil {
		return err
	}
	if err := r.SetExportSink(ctx, e.ID, r.url); err != nil {
		return err
	}
	return r.SetExportSinkViews(ctx, e.ID, r.views)
}

// ErrViewsChanged reports views given for a resumed sink export that
// differ from those it was started with: its view tables would hold some
// segments and not others.
var ErrViewsChanged = errors.New("a resumed sink export keeps the views it was started with")

// ResumeOptions returns how to land export id again: at the sink and with
// the views recorded with it ("" URL: it has no sink). given are views
// the resuming command names; they may repeat the recorded ones but not
// change them, and are used when none were recorded (an export from before
// views were recorded).
func ResumeOptions(ctx context.Context, rec Recorder, id int64, given [][]byte) (Options, error) {
	url, err := rec.ExportSink(ctx, id)
	if err != nil || url == "" {
		return Options{}, err
	}
	defs, recorded, err := rec.ExportSinkViews(ctx, id)
	if err != nil {
		return Options{}, err
	}
	switch {
	case !recorded:
		defs = given
	case len(given) > 0 && !slices.EqualFunc(given, defs, bytes.Equal):
		return Options{}, fmt.Errorf("export %d writes the views %s: %w", id, viewNames(defs), ErrViewsChanged)
	}
	return Options{URL: url, Views: defs}, nil
}

// ReadViewFiles reads ViewDefinition files, each compacted to one JSON
// line, and checks they can be landed together (ParseViews).
func ReadViewFiles(files []string) ([][]byte, error) {
	var defs [][]byte
	for _, file := range files {
		data, err := os.ReadFile(file)
		if err != nil {
			return nil, err
		}
		var b bytes.Buffer
		if err := json.Compact(&b, data); err != nil {
			return nil, fmt.Errorf("%s: %w", file, err)
		}
		if _, err := ParseViews([][]byte{b.Bytes()}); err != nil {
			return nil, fmt.Errorf("%s: %w", file, err)
		}
		defs = append(defs, b.Bytes())
	}
	if _, err := ParseViews(defs); err != nil {
		return nil, err
	}
	return defs, nil
}

// ParseViews parses ViewDefinitions to land: each name must be able to
// name a directory (ValidViewName), and appear once.
func ParseViews(defs [][]byte) ([]*views.View, error) {
	var vs []*views.View
	seen := map[string]bool{}
	for _, data := range defs {
		v, err := views.Parse(data)
		if err != nil {
			return nil, err
		}
		if !ValidViewName(v.Name()) {
			return nil, fmt.Errorf("the view's name %q must be lower-case letters, digits and _ (it names a directory)", v.Name())
		}
		if seen[v.Name()] {
			return nil, fmt.Errorf("a second view named %q", v.Name())
		}
		for _, c := range v.Columns() {
			if strings.EqualFold(c.Name, "export") {
				// views/NAME/export=N/: engines read the partition as a
				// column of that name.
				return nil, fmt.Errorf("view %q: a column named %q would clash with the export partition; rename it", v.Name(), c.Name)
			}
		}
		seen[v.Name()] = true
		vs = append(vs, v)
	}
	return vs, nil
}

// viewNames lists the names of definitions, for a message.
func viewNames(defs [][]byte) string {
	vs, err := ParseViews(defs)
	if err != nil || len(vs) == 0 {
		return "(none)"
	}
	names := make([]string, len(vs))
	for i, v := range vs {
		names[i] = v.Name()
	}
	return strings.Join(names, ", ")
}
