package catalog

import (
	"context"
	"log/slog"
	"sync"
)

// Indexer brings the full-text index up to date in the background, off
// the goroutine that asks (the desktop app after each export): Reindex is
// lazy by design and takes a while after a big export, and searches catch
// up on their own meanwhile. One pass runs at a time; Close stops them.
type Indexer struct {
	DB     *DB
	Logger *slog.Logger // nil: slog.Default()

	mu     sync.Mutex
	ctx    context.Context // cancelled by Close
	cancel context.CancelFunc
	wg     sync.WaitGroup
	pass   sync.Mutex // one Reindex at a time
}

// Later starts a pass in the background, unless Close was called.
func (ix *Indexer) Later() {
	ix.mu.Lock()
	defer ix.mu.Unlock()
	if ix.ctx == nil {
		ix.ctx, ix.cancel = context.WithCancel(context.Background())
	}
	if ix.ctx.Err() != nil {
		return
	}
	ctx := ix.ctx
	ix.wg.Go(func() {
		ix.pass.Lock()
		defer ix.pass.Unlock()
		if _, err := ix.DB.Reindex(ctx); err != nil && ctx.Err() == nil {
			log := ix.Logger
			if log == nil {
				log = slog.Default()
			}
			log.Warn("index for search", "err", err)
		}
	})
}

// Wait waits for the passes started so far.
func (ix *Indexer) Wait() { ix.wg.Wait() }

// Close cancels the passes running or waiting and waits for them; Later
// does nothing after it.
func (ix *Indexer) Close() {
	ix.mu.Lock()
	if ix.ctx == nil {
		ix.ctx, ix.cancel = context.WithCancel(context.Background())
	}
	ix.cancel()
	ix.mu.Unlock()
	ix.wg.Wait()
}
