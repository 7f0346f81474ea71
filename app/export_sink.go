package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"runtime/debug"
	"slices"
	"strings"

	"tranche.dev/tranche/core"
	"tranche.dev/tranche/core/bulk"
	"tranche.dev/tranche/core/catalog"
	"tranche.dev/tranche/core/sink"
	"tranche.dev/tranche/core/views"
)

// useSink makes r write to the object storage at url (s3://BUCKET/PREFIX),
// reached as the AWS environment and shared files say: never a flag
// value, which would land in shell history and logs. The views are the
// --sink-view files, recorded with the export so --resume writes them too.
func (x *exporter) useSink(r *bulk.Runner, url string) error {
	defs, err := readViewFiles(x.flags.sinkViews)
	if err != nil {
		return &exitError{code: 2, err: fmt.Errorf("--sink-view: %w", err)}
	}
	return x.useSinkViews(r, url, defs)
}

// useSinkViews is useSink with the views' definitions given.
func (x *exporter) useSinkViews(r *bulk.Runner, url string, defs [][]byte) error {
	target, err := sink.ParseURL(url)
	if err != nil {
		return &exitError{code: 2, err: fmt.Errorf("--sink: %w", err)}
	}
	vs, err := parseViews(defs)
	if err != nil {
		return &exitError{code: 2, err: fmt.Errorf("--sink-view: %w", err)}
	}
	cfg, err := sink.Environment(os.Getenv)
	if err != nil {
		return fmt.Errorf("sink %s: %w", target, err)
	}
	client, err := sink.NewClient(cfg)
	if err != nil {
		return fmt.Errorf("sink %s: %w", target, err)
	}
	r.Store = &sink.Store{
		Views:     vs,
		Inner:     sinkRecorder{DB: x.env.DB, url: target.String(), views: defs},
		Client:    client,
		Target:    target,
		KeepLocal: x.flags.sinkKeepLocal,
		PartSize:  cfg.PartSize,
		Uploads:   cfg.Uploads,
		Logger:    r.Logger,
	}
	if os.Getenv("GOMEMLIMIT") == "" {
		debug.SetMemoryLimit(sink.MemoryLimit)
	}
	fmt.Fprintf(x.stderr, "Writing to %s (%s)\n", target, cfg.Endpoint)
	return nil
}

// readViews reads and parses ViewDefinition files (tranche sink ddl --view).
func readViews(files []string) ([]*views.View, error) {
	defs, err := readViewFiles(files)
	if err != nil {
		return nil, err
	}
	return parseViews(defs)
}

// readViewFiles reads ViewDefinition files, each compacted to one JSON
// line, and checks they parse.
func readViewFiles(files []string) ([][]byte, error) {
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
		if _, err := parseViews([][]byte{b.Bytes()}); err != nil {
			return nil, fmt.Errorf("%s: %w", file, err)
		}
		defs = append(defs, b.Bytes())
	}
	if _, err := parseViews(defs); err != nil {
		return nil, err
	}
	return defs, nil
}

// parseViews parses ViewDefinitions whose names can name a directory,
// each name once.
func parseViews(defs [][]byte) ([]*views.View, error) {
	var vs []*views.View
	seen := map[string]bool{}
	for _, data := range defs {
		v, err := views.Parse(data)
		if err != nil {
			return nil, err
		}
		if !sink.ValidViewName(v.Name()) {
			return nil, fmt.Errorf("the view's name %q must be lower-case letters, digits and _ (it names a directory)", v.Name())
		}
		if seen[v.Name()] {
			return nil, fmt.Errorf("a second view named %q", v.Name())
		}
		seen[v.Name()] = true
		vs = append(vs, v)
	}
	return vs, nil
}

// resumeSink points r at the sink export id was started with, if any,
// with the views it was started with, and aborts the multipart uploads
// there that nothing will carry on. --sink-view may repeat the recorded
// views but not change them: the export's view tables would hold some
// segments and not others.
func (x *exporter) resumeSink(ctx context.Context, r *bulk.Runner, id int64) error {
	url, err := x.env.DB.ExportSink(ctx, id)
	if err != nil || url == "" {
		return err
	}
	defs, recorded, err := x.env.DB.ExportSinkViews(ctx, id)
	if err != nil {
		return err
	}
	given, err := readViewFiles(x.flags.sinkViews)
	if err != nil {
		return &exitError{code: 2, err: fmt.Errorf("--sink-view: %w", err)}
	}
	switch {
	case !recorded:
		// Started before the views were recorded: the command says.
		defs = given
	case len(given) > 0 && !slices.EqualFunc(given, defs, bytes.Equal):
		return &exitError{code: 2, err: fmt.Errorf("--sink-view: export %d writes the views %s; a resumed export keeps them (give no --sink-view)",
			id, viewNames(defs))}
	}
	if err := x.useSinkViews(r, url, defs); err != nil {
		return err
	}
	n, err := r.Store.(*sink.Store).Sweep(ctx)
	if err != nil {
		return fmt.Errorf("sink %s: %w", url, err)
	}
	if n > 0 {
		fmt.Fprintf(x.stderr, "Aborted %d unfinished uploads no export refers to.\n", n)
	}
	return nil
}

// viewNames lists the names of parsed definitions, for a message.
func viewNames(defs [][]byte) string {
	vs, err := parseViews(defs)
	if err != nil || len(vs) == 0 {
		return "(none)"
	}
	names := make([]string, len(vs))
	for i, v := range vs {
		names[i] = v.Name()
	}
	return strings.Join(names, ", ")
}

// sinkRecorder records the sink and its views with each export it
// creates, so --resume finds them.
type sinkRecorder struct {
	*catalog.DB
	url   string
	views [][]byte
}

func (s sinkRecorder) CreateExport(ctx context.Context, e *core.Export) error {
	if err := s.DB.CreateExport(ctx, e); err != nil {
		return err
	}
	if err := s.DB.SetExportSink(ctx, e.ID, s.url); err != nil {
		return err
	}
	return s.DB.SetExportSinkViews(ctx, e.ID, s.views)
}
