package main

import (
	"context"
	"errors"
	"path/filepath"

	"tranche.dev/tranche/core"
	"tranche.dev/tranche/core/catalog"
	"tranche.dev/tranche/core/engine"
	"tranche.dev/tranche/core/sink"
	"tranche.dev/tranche/ui"
)

// guiServices runs exports for the Exports screen (ui.Exports) on the
// engine, with the registry that the keys and registrations commands use,
// so a key made in the GUI is found by the CLI and the other way round.
type guiServices struct {
	env   *keyEnv
	eng   *engine.Engine
	index *catalog.Indexer // after each run
}

var _ ui.Exports = (*guiServices)(nil)

// Groups searches the server's Groups: GET [base]/Group, first page.
func (g *guiServices) Groups(ctx context.Context, reg *core.Registration) ([]core.Group, error) {
	return g.eng.Groups(ctx, reg)
}

func (g *guiServices) FindExports(ctx context.Context, limit int) ([]*core.Export, error) {
	return g.env.DB.FindExports(ctx, limit)
}

func (g *guiServices) FindExport(ctx context.Context, id int64) (*core.Export, error) {
	return g.env.DB.FindExport(ctx, id)
}

func (g *guiServices) FindFiles(ctx context.Context, id int64) ([]*core.ExportFile, error) {
	return g.env.DB.FindFiles(ctx, id)
}

func (g *guiServices) Start(ctx context.Context, reg *core.Registration, req core.ExportRequest, sinkViews [][]byte, onEvent func(core.Event)) (*core.Export, error) {
	exp := &core.Export{Request: req}
	o := engine.Options{OnEvent: onEvent}
	if len(sinkViews) > 0 {
		o.Sink = &sink.Options{Views: sinkViews} // at the registration's sink
	}
	err := g.eng.Start(ctx, exp, reg, o)
	return g.after(ctx, exp.ID, err)
}

func (g *guiServices) Resume(ctx context.Context, id int64, onEvent func(core.Event)) (*core.Export, error) {
	_, err := g.eng.Resume(ctx, id, engine.Options{OnEvent: onEvent})
	return g.after(ctx, id, err)
}

func (g *guiServices) RetryFailed(ctx context.Context, id int64, onEvent func(core.Event)) (*core.Export, error) {
	_, err := g.eng.RetryFailed(ctx, id, engine.Options{OnEvent: onEvent})
	return g.after(ctx, id, err)
}

// after reads the export's final state and brings the search index up to
// date in the background.
func (g *guiServices) after(ctx context.Context, id int64, runErr error) (*core.Export, error) {
	if id == 0 {
		return nil, runErr
	}
	exp, err := g.env.DB.FindExport(context.WithoutCancel(ctx), id)
	if err != nil {
		return nil, errors.Join(runErr, err)
	}
	g.index.Later()
	return exp, runErr
}

func (g *guiServices) Cancel(ctx context.Context, id int64) error {
	return g.eng.Cancel(ctx, id, engine.Options{})
}

func (g *guiServices) Release(ctx context.Context, id int64) error {
	return g.eng.Release(ctx, id, engine.Options{})
}

// exportLogDir is where each export's log.ndjson goes.
func exportLogDir(dataDir string) string { return filepath.Join(dataDir, "exports") }
