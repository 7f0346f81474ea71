package engine

import (
	"context"
	"errors"
	"fmt"

	"tranche.dev/tranche/core"
	"tranche.dev/tranche/core/bulk"
	"tranche.dev/tranche/core/sink"
)

// SinkStore is a Store that records where exports land (catalog.DB is
// one): without it, exports land in the catalogue only.
type SinkStore interface {
	Store
	sink.Recorder
}

// ErrNoSinkStore reports a sink asked of an engine whose store cannot
// record one.
var ErrNoSinkStore = errors.New("this catalogue cannot record an object-storage sink")

// newSink points r, about to start a new export of reg, at its sink:
// o.Sink, else the registration's, else none (the catalogue). The desktop
// app and the command line land a registration's exports alike.
func (e *Engine) newSink(r *bulk.Runner, reg *core.Registration, o Options) error {
	ss, ok := e.Store.(SinkStore)
	var so sink.Options
	switch {
	case o.Sink != nil && o.Sink.URL != "":
		so = *o.Sink
	case reg != nil && reg.Sink != "":
		so = sink.Options{URL: reg.Sink}
		if o.Sink != nil {
			so.Views, so.KeepLocal = o.Sink.Views, o.Sink.KeepLocal
		}
	default:
		return nil
	}
	if !ok {
		return ErrNoSinkStore
	}
	store, endpoint, err := e.openSink(r, ss, so)
	if err == nil && o.OnSink != nil {
		o.OnSink(SinkInfo{Target: store.Target.String(), Endpoint: endpoint})
	}
	return err
}

// storedSink points r at the sink stored export id was started with, if
// any, with its recorded views (sink.ResumeOptions), and aborts the
// multipart uploads there that nothing will carry on.
func (e *Engine) storedSink(ctx context.Context, r *bulk.Runner, id int64, o Options) error {
	ss, ok := e.Store.(SinkStore)
	if !ok {
		return nil
	}
	var given [][]byte
	if o.Sink != nil {
		given = o.Sink.Views
	}
	so, err := sink.ResumeOptions(ctx, ss, id, given)
	if err != nil || so.URL == "" {
		return err
	}
	if o.Sink != nil {
		so.KeepLocal = o.Sink.KeepLocal
	}
	store, endpoint, err := e.openSink(r, ss, so)
	if err != nil {
		return err
	}
	n, err := store.Sweep(ctx)
	if err != nil {
		return fmt.Errorf("sink %s: %w", so.URL, err)
	}
	if o.OnSink != nil {
		o.OnSink(SinkInfo{Target: store.Target.String(), Endpoint: endpoint, Aborted: n})
	}
	return nil
}

// SinkInfo says where an export lands (Options.OnSink).
type SinkInfo struct {
	Target   string // s3://BUCKET/PREFIX
	Endpoint string
	// Aborted counts the unfinished uploads that nothing referred to,
	// aborted when a stored export resumed.
	Aborted int
}

// openSink makes r land in the sink so describes, within the sink's
// memory budget (sink.MemoryLimit) while the export runs.
func (e *Engine) openSink(r *bulk.Runner, ss SinkStore, so sink.Options) (*sink.Store, string, error) {
	so.Logger = r.Logger
	store, endpoint, err := sink.Open(ss, so) // its errors name the sink
	if err != nil {
		return nil, "", err
	}
	r.Store = store
	e.Memory.AtLeast(sink.MemoryLimit)
	return store, endpoint, nil
}
