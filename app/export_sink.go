package main

import (
	"context"
	"errors"
	"fmt"
	"os"

	"tranche.dev/tranche/core/bulk"
	"tranche.dev/tranche/core/catalog"
	"tranche.dev/tranche/core/sink"
)

var _ sink.Recorder = (*catalog.DB)(nil)

// useSink makes r land its export in the object storage at url
// (s3://BUCKET/PREFIX) with the --sink-view views (sink.Open): endpoint,
// region and credentials come from the AWS environment and shared files,
// never a flag value, which would land in shell history and logs.
func (x *exporter) useSink(r *bulk.Runner, url string) error {
	defs, err := sink.ReadViewFiles(x.flags.sinkViews)
	if err != nil {
		return &exitError{code: 2, err: fmt.Errorf("--sink-view: %w", err)}
	}
	return x.openSink(r, sink.Options{URL: url, Views: defs})
}

func (x *exporter) openSink(r *bulk.Runner, o sink.Options) error {
	o.KeepLocal, o.Getenv, o.Logger = x.flags.sinkKeepLocal, os.Getenv, r.Logger
	store, endpoint, err := sink.Open(x.env.DB, o)
	if err != nil {
		return &exitError{code: 2, err: fmt.Errorf("--sink: %w", err)}
	}
	r.Store = store
	// The sink's soft memory limit, within the export's (engine.MemoryLimit).
	x.memLimit.AtLeast(sink.MemoryLimit)
	fmt.Fprintf(x.stderr, "Writing to %s (%s)\n", store.Target, endpoint)
	return nil
}

// resumeSink points r at the sink export id was started with, if any, with
// its recorded views (sink.ResumeOptions), and aborts the multipart
// uploads there that nothing will carry on.
func (x *exporter) resumeSink(ctx context.Context, r *bulk.Runner, id int64) error {
	given, err := sink.ReadViewFiles(x.flags.sinkViews)
	if err != nil {
		return &exitError{code: 2, err: fmt.Errorf("--sink-view: %w", err)}
	}
	o, err := sink.ResumeOptions(ctx, x.env.DB, id, given)
	switch {
	case errors.Is(err, sink.ErrViewsChanged):
		return &exitError{code: 2, err: fmt.Errorf("--sink-view: %w (give no --sink-view)", err)}
	case err != nil || o.URL == "":
		return err
	}
	if err := x.openSink(r, o); err != nil {
		return err
	}
	n, err := r.Store.(*sink.Store).Sweep(ctx)
	if err != nil {
		return fmt.Errorf("sink %s: %w", o.URL, err)
	}
	if n > 0 {
		fmt.Fprintf(x.stderr, "Aborted %d unfinished uploads no export refers to.\n", n)
	}
	return nil
}
