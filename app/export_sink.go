package main

import (
	"context"
	"fmt"
	"os"
	"runtime/debug"

	"tranche.dev/tranche/core"
	"tranche.dev/tranche/core/bulk"
	"tranche.dev/tranche/core/catalog"
	"tranche.dev/tranche/core/sink"
	"tranche.dev/tranche/core/views"
)

// useSink makes r write to the object storage at url (s3://BUCKET/PREFIX),
// reached as the AWS environment and shared files say: never a flag
// value, which would land in shell history and logs.
func (x *exporter) useSink(r *bulk.Runner, url string) error {
	target, err := sink.ParseURL(url)
	if err != nil {
		return &exitError{code: 2, err: fmt.Errorf("--sink: %w", err)}
	}
	cfg, err := sink.Environment(os.Getenv)
	if err != nil {
		return fmt.Errorf("sink %s: %w", target, err)
	}
	client, err := sink.NewClient(cfg)
	if err != nil {
		return fmt.Errorf("sink %s: %w", target, err)
	}
	vs, err := readViews(x.flags.sinkViews)
	if err != nil {
		return &exitError{code: 2, err: fmt.Errorf("--sink-view: %w", err)}
	}
	r.Store = &sink.Store{
		Views:     vs,
		Inner:     sinkRecorder{DB: x.env.DB, url: target.String()},
		Client:    client,
		Target:    target,
		KeepLocal: x.flags.sinkKeepLocal,
		Logger:    r.Logger,
	}
	if os.Getenv("GOMEMLIMIT") == "" {
		debug.SetMemoryLimit(sink.MemoryLimit)
	}
	fmt.Fprintf(x.stderr, "Writing to %s (%s)\n", target, cfg.Endpoint)
	return nil
}

// readViews parses ViewDefinition files whose names can name a directory.
func readViews(files []string) ([]*views.View, error) {
	var vs []*views.View
	seen := map[string]bool{}
	for _, file := range files {
		data, err := os.ReadFile(file)
		if err != nil {
			return nil, err
		}
		v, err := views.Parse(data)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", file, err)
		}
		if !sink.ValidViewName(v.Name()) {
			return nil, fmt.Errorf("%s: the view's name %q must be lower-case letters, digits and _ (it names a directory)", file, v.Name())
		}
		if seen[v.Name()] {
			return nil, fmt.Errorf("%s: a second view named %q", file, v.Name())
		}
		seen[v.Name()] = true
		vs = append(vs, v)
	}
	return vs, nil
}

// resumeSink points r at the sink export id was started with, if any, and
// aborts the multipart uploads there that nothing will carry on.
func (x *exporter) resumeSink(ctx context.Context, r *bulk.Runner, id int64) error {
	url, err := x.env.DB.ExportSink(ctx, id)
	if err != nil || url == "" {
		return err
	}
	if err := x.useSink(r, url); err != nil {
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

// sinkRecorder records the sink with each export it creates, so --resume
// finds it.
type sinkRecorder struct {
	*catalog.DB
	url string
}

func (s sinkRecorder) CreateExport(ctx context.Context, e *core.Export) error {
	if err := s.DB.CreateExport(ctx, e); err != nil {
		return err
	}
	return s.DB.SetExportSink(ctx, e.ID, s.url)
}
