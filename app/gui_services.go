package main

import (
	"context"
	"errors"
	"log/slog"
	"path/filepath"
	"sync"

	"tranche.dev/tranche/core"
	"tranche.dev/tranche/core/bulk"
	"tranche.dev/tranche/core/engine"
	"tranche.dev/tranche/ui"
)

// guiServices runs exports for the Exports screen (ui.Exports) on the
// engine, with the registry that the keys and registrations commands use,
// so a key made in the GUI is found by the CLI and the other way round.
type guiServices struct {
	env     *keyEnv
	dataDir string
	logger  *slog.Logger
	logs    *bulk.LogDir

	bgMu      sync.Mutex
	bgCtx     context.Context // background work (search indexing); cancelled by closeBackground
	bgCancel  context.CancelFunc
	bg        sync.WaitGroup
	reindexMu sync.Mutex
	memLimit  engine.MemoryLimit // while exports run
}

var _ ui.Exports = (*guiServices)(nil)

// Groups searches the server's Groups: GET [base]/Group, first page.
func (g *guiServices) Groups(ctx context.Context, reg *core.Registration) ([]core.Group, error) {
	return g.engine().Groups(ctx, reg)
}

// engine is the export engine, with this app's keys and export logs.
func (g *guiServices) engine() *engine.Engine {
	return &engine.Engine{Store: g.env.DB, LoadKey: g.env.Reg.LoadKey, HTTPClient: g.env.HTTPClient, Dial: g.env.Dial, Logger: g.logger}
}

// options sends a run's events to onEvent and to the export's log.ndjson.
func (g *guiServices) options(onEvent func(core.Event)) engine.Options {
	return engine.Options{OnEvent: func(ev core.Event) {
		g.logs.Handle(ev)
		if onEvent != nil {
			onEvent(ev)
		}
	}}
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

func (g *guiServices) Start(ctx context.Context, reg *core.Registration, req core.ExportRequest, onEvent func(core.Event)) (*core.Export, error) {
	defer g.memLimit.Begin()()
	exp := &core.Export{Request: req}
	err := g.engine().Start(ctx, exp, reg, g.options(onEvent))
	return g.after(ctx, exp.ID, err)
}

// after reads the export's final state and, in the background, brings the
// search index up to date (catalog.Reindex is lazy by design and takes a
// while on a big export; searches catch up on their own).
func (g *guiServices) after(ctx context.Context, id int64, runErr error) (*core.Export, error) {
	if id == 0 {
		return nil, runErr
	}
	g.logs.Done(id) // no log file stays open between runs
	ctx = context.WithoutCancel(ctx)
	exp, err := g.env.DB.FindExport(ctx, id)
	if err != nil {
		return nil, errors.Join(runErr, err)
	}
	g.reindexLater()
	return exp, runErr
}

// reindexLater runs catalog.Reindex off the export's goroutine, one at a
// time; closeBackground stops it.
func (g *guiServices) reindexLater() {
	g.bgMu.Lock()
	defer g.bgMu.Unlock()
	if g.bgCtx == nil {
		g.bgCtx, g.bgCancel = context.WithCancel(context.Background())
	}
	if g.bgCtx.Err() != nil {
		return
	}
	g.bg.Go(func() {
		g.reindexMu.Lock()
		defer g.reindexMu.Unlock()
		if _, err := g.env.DB.Reindex(g.bgCtx); err != nil && g.bgCtx.Err() == nil {
			g.logger.Warn("index for search", "err", err)
		}
	})
}

// closeBackground cancels background work and waits for it.
func (g *guiServices) closeBackground() {
	g.bgMu.Lock()
	if g.bgCancel != nil {
		g.bgCancel()
	} else {
		g.bgCtx, g.bgCancel = context.WithCancel(context.Background())
		g.bgCancel()
	}
	g.bgMu.Unlock()
	g.bg.Wait()
}

func (g *guiServices) Resume(ctx context.Context, id int64, onEvent func(core.Event)) (*core.Export, error) {
	defer g.memLimit.Begin()()
	_, err := g.engine().Resume(ctx, id, g.options(onEvent))
	return g.after(ctx, id, err)
}

// RetryFailed downloads the files that failed again; the runner skips
// every file already loaded.
func (g *guiServices) RetryFailed(ctx context.Context, id int64, onEvent func(core.Event)) (*core.Export, error) {
	defer g.memLimit.Begin()()
	_, err := g.engine().RetryFailed(ctx, id, g.options(onEvent))
	return g.after(ctx, id, err)
}

// Cancel sends DELETE for the job and marks the export cancelled.
func (g *guiServices) Cancel(ctx context.Context, id int64) error {
	return g.engine().Cancel(ctx, id, g.options(nil))
}

// Release sends DELETE for a finished job so the server may drop its files.
func (g *guiServices) Release(ctx context.Context, id int64) error {
	return g.engine().Release(ctx, id, g.options(nil))
}

// exportLogDir is where each export's log.ndjson goes.
func exportLogDir(dataDir string) string { return filepath.Join(dataDir, "exports") }
