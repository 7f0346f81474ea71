package main

import (
	"fmt"

	"tranche.dev/tranche/core/catalog"
	"tranche.dev/tranche/core/engine"
	"tranche.dev/tranche/core/sink"
)

var _ engine.SinkStore = (*catalog.DB)(nil)

// sinkOptions are the object-storage flags as the engine takes them: a new
// export's sink (--sink; without it the registration's), and for any
// export its views and --sink-keep-local. Endpoint, region and
// credentials come from the AWS environment and shared files, never a flag
// value, which would land in shell history and logs.
func (f *exportFlags) sinkOptions() (*sink.Options, error) {
	if f.sink != "" {
		if _, err := sink.ParseURL(f.sink); err != nil {
			return nil, &exitError{code: 2, err: fmt.Errorf("--sink: %w", err)}
		}
	}
	defs, err := sink.ReadViewFiles(f.sinkViews)
	if err != nil {
		return nil, &exitError{code: 2, err: fmt.Errorf("--sink-view: %w", err)}
	}
	if f.sink == "" && len(defs) == 0 && !f.sinkKeepLocal {
		return nil, nil
	}
	return &sink.Options{URL: f.sink, Views: defs, KeepLocal: f.sinkKeepLocal}, nil
}
