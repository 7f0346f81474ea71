package tables

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"sync"
)

// Defaults for zero Runner fields.
const (
	DefaultBatchBytes  = 1 << 20 // raw JSON per batch handed to a worker
	DefaultMaxProblems = 10      // problems kept in Stats (all are counted)
)

// Runner runs a view over an Input with a pool of workers. The zero value
// is ready to use.
type Runner struct {
	// Workers computing rows; 0 means runtime.GOMAXPROCS(0).
	Workers int
	// BatchBytes is how much raw JSON one batch carries to a worker; at
	// most 2×Workers batches and their rows are in memory at once, so
	// memory is bounded by Workers, BatchBytes and the view's fan-out,
	// whatever the size of the input.
	BatchBytes int
	// Limit stops the run after this many rows; 0 means no limit.
	Limit int64
	// MaxProblems is how many problems Stats keeps; 0 means
	// DefaultMaxProblems.
	MaxProblems int
	// OnProgress, when set, is called from the run's goroutine after each
	// batch is written.
	OnProgress func(Stats)
}

// Stats says what a run did.
type Stats struct {
	Resources int64 // resources read
	Bytes     int64 // their JSON, in bytes
	Rows      int64 // rows written
	// Problems counts resources that made an expression fail: they gave no
	// rows. The first MaxProblems are in Examples.
	Problems int64
	Examples []Problem
}

// Problem is a resource the view could not evaluate.
type Problem struct {
	Key string // "Type/id"
	Err error
}

func (p Problem) Error() string { return p.Key + ": " + p.Err.Error() }

// batch is a run of consecutive resources and, once a worker is done, their
// rows.
type batch struct {
	keys []string
	raw  []byte
	ends []int // raw[ends[i-1]:ends[i]] is resource i
	rows [][]any
	errs []Problem
	done chan struct{}
}

var errLimit = errors.New("row limit reached")

// Run reads in, computes v's rows for each resource on r.Workers
// goroutines and writes them to w in input order: resource by resource,
// each resource's rows in the view's order. It does not close w. It stops
// at the first error of in or w, or when ctx is done; a resource whose
// expressions fail is counted in Stats.Problems and skipped.
func (r *Runner) Run(ctx context.Context, v View, in Input, w Writer) (Stats, error) {
	workers := r.Workers
	if workers <= 0 {
		workers = runtime.GOMAXPROCS(0)
	}
	batchBytes := r.BatchBytes
	if batchBytes <= 0 {
		batchBytes = DefaultBatchBytes
	}
	maxProblems := r.MaxProblems
	if maxProblems <= 0 {
		maxProblems = DefaultMaxProblems
	}

	parent := ctx
	ctx, cancel := context.WithCancel(parent)
	defer cancel()

	// Batches go to the workers through work and, in the same order, to
	// the writer through order; order's capacity bounds how many are in
	// flight.
	work := make(chan *batch)
	order := make(chan *batch, 2*workers)
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for b := range work {
				compute(v, b)
				close(b.done)
			}
		}()
	}

	var readErr error
	readDone := make(chan struct{})
	go func() {
		defer close(readDone)
		defer close(order)
		defer close(work)
		var cur *batch
		send := func() error {
			if cur == nil {
				return nil
			}
			b := cur
			cur = nil
			select {
			case order <- b:
			case <-ctx.Done():
				return ctx.Err()
			}
			select {
			case work <- b:
			case <-ctx.Done():
				return ctx.Err()
			}
			return nil
		}
		readErr = in(ctx, func(res Resource) error {
			if cur == nil {
				cur = &batch{raw: make([]byte, 0, batchBytes+len(res.Raw)), done: make(chan struct{})}
			}
			cur.keys = append(cur.keys, res.Key)
			cur.raw = append(cur.raw, res.Raw...)
			cur.ends = append(cur.ends, len(cur.raw))
			if len(cur.raw) >= batchBytes {
				return send()
			}
			return ctx.Err()
		})
		if readErr == nil {
			readErr = send()
		}
	}()

	var st Stats
	var writeErr error
	for b := range order {
		select {
		case <-b.done:
		case <-ctx.Done():
		}
		if ctx.Err() != nil {
			break
		}
		st.Resources += int64(len(b.ends))
		st.Bytes += int64(len(b.raw))
		st.Problems += int64(len(b.errs))
		for _, p := range b.errs {
			if len(st.Examples) < maxProblems {
				st.Examples = append(st.Examples, p)
			}
		}
		for _, row := range b.rows {
			if err := w.Write(row); err != nil {
				writeErr = fmt.Errorf("write row %d: %w", st.Rows+1, err)
				break
			}
			st.Rows++
			if r.Limit > 0 && st.Rows >= r.Limit {
				writeErr = errLimit
				break
			}
		}
		if writeErr != nil {
			break
		}
		if r.OnProgress != nil {
			r.OnProgress(st)
		}
	}
	cancel()
	// Drain what the reader still sends, then wait for it and the workers.
	for range order {
	}
	<-readDone
	wg.Wait()

	if errors.Is(writeErr, errLimit) {
		if r.OnProgress != nil {
			r.OnProgress(st)
		}
		return st, nil
	}
	if writeErr != nil {
		return st, writeErr
	}
	if err := parent.Err(); err != nil {
		return st, err
	}
	if readErr != nil {
		return st, fmt.Errorf("read resources: %w", readErr)
	}
	return st, nil
}

// compute fills b.rows and b.errs.
func compute(v View, b *batch) {
	start := 0
	for i, end := range b.ends {
		rows, err := v.Rows(b.raw[start:end])
		start = end
		if err != nil {
			b.errs = append(b.errs, Problem{Key: b.keys[i], Err: err})
			continue
		}
		b.rows = append(b.rows, rows...)
	}
}
