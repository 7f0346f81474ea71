package demo

import (
	"context"
	"fmt"
	"strconv"
	"sync/atomic"
	"time"

	"golang.org/x/sync/errgroup"
)

// job is one export. Its output is counted in the background; the files
// are descriptors whose bytes are regenerated on each download.
type job struct {
	id       string
	clientID string
	request  string
	txTime   time.Time
	sel      *selector
	faults   Faults
	separate bool // Prefer: separate-export-status was applied
	cancel   context.CancelFunc
	counted  atomic.Int64 // patient positions counted, for X-Progress

	// Guarded by Server.mu.
	done     bool
	failure  string // why the job failed, if it did
	doneAt   time.Time
	output   []*outFile
	deleted  []*outFile
	errors   []*outFile
	files    map[string]*outFile
	polls    int
	lastPoll time.Time
	attempts map[string]int // download attempts per file name
}

// outFile describes one output file: the lines of type number t starting
// at patient position start (-1 = the shared resources), after skipping
// skip of that type's lines there, count lines in all. Error files carry
// their (small) content instead.
type outFile struct {
	name    string
	typ     string
	t       int
	start   int
	skip    int
	count   int
	size    int64
	content []byte
}

// chunkSize is how many patients one counting task covers.
const chunkSize = 16

// chunkCount is the per-type line sizes of one chunk of patients.
type chunkCount struct {
	sizes  [][]int32 // per type, every line in order
	perPos [][]int32 // per type, lines per patient position
}

// count runs the background pass that sizes a job's files, in parallel
// across patients and merged in patient order.
func (s *Server) count(ctx context.Context, j *job) error {
	sel := j.sel
	nt := len(sel.types)
	open := make([]*outFile, nt)
	var files []*outFile
	add := func(t, pos, skip int, size int32) {
		f := open[t]
		if f == nil || f.count == s.cfg.FileLines {
			f = &outFile{typ: sel.types[t], t: t, start: pos, skip: skip}
			open[t] = f
			files = append(files, f)
		}
		f.count++
		f.size += int64(size) + 1
	}
	perType := make([]int, nt)
	err := sel.shared(-1, func(t int, line []byte) error {
		add(t, -1, perType[t], int32(len(line)))
		perType[t]++
		return nil
	})
	if err != nil {
		return err
	}
	for t := range open {
		open[t] = nil // patient lines never continue a shared file
	}

	n := sel.positions()
	chunks := (n + chunkSize - 1) / chunkSize
	results := make([]chan chunkCount, chunks)
	for i := range results {
		results[i] = make(chan chunkCount, 1)
	}
	g, gctx := errgroup.WithContext(ctx)
	sem := make(chan struct{}, 4*s.cfg.Workers)
	var next atomic.Int64
	for range s.cfg.Workers {
		g.Go(func() error {
			for {
				// Take a slot before claiming a chunk so that the
				// lowest unmerged chunk always holds one.
				select {
				case sem <- struct{}{}:
				case <-gctx.Done():
					return gctx.Err()
				}
				c := int(next.Add(1) - 1)
				if c >= chunks {
					return nil
				}
				cc, err := s.countChunk(gctx, sel, c*chunkSize, min(n, (c+1)*chunkSize))
				if err != nil {
					return err
				}
				results[c] <- cc
			}
		})
	}
	mergeErr := func() error {
		for c := range chunks {
			var cc chunkCount
			select {
			case cc = <-results[c]:
			case <-gctx.Done():
				return gctx.Err()
			}
			<-sem
			first := c * chunkSize
			for t := range nt {
				k := 0
				for off, cnt := range cc.perPos[t] {
					for skip := range int(cnt) {
						add(t, first+off, skip, cc.sizes[t][k])
						k++
					}
				}
			}
			j.counted.Store(int64(min(n, first+chunkSize)))
		}
		return nil
	}()
	if err := g.Wait(); err != nil {
		return err
	}
	if mergeErr != nil {
		return mergeErr
	}
	s.finish(j, files)
	return nil
}

func (s *Server) countChunk(ctx context.Context, sel *selector, from, to int) (chunkCount, error) {
	nt := len(sel.types)
	cc := chunkCount{sizes: make([][]int32, nt), perPos: make([][]int32, nt)}
	for t := range nt {
		cc.perPos[t] = make([]int32, to-from)
	}
	for pos := from; pos < to; pos++ {
		if err := ctx.Err(); err != nil {
			return cc, err
		}
		err := sel.patient(pos, -1, func(t int, line []byte) error {
			cc.sizes[t] = append(cc.sizes[t], int32(len(line)))
			cc.perPos[t][pos-from]++
			return nil
		})
		if err != nil {
			return cc, fmt.Errorf("patient position %d: %w", pos, err)
		}
	}
	return cc, nil
}

// finish names the counted files, applies the ErrorFiles fault and the
// lenient notes, and marks the job done.
func (s *Server) finish(j *job, files []*outFile) {
	// Files in type order, then in sequence within a type.
	byType := make([][]*outFile, len(j.sel.types))
	for _, f := range files {
		byType[f.t] = append(byType[f.t], f)
	}
	// Lenient notes are warnings; simulated file failures are errors.
	var notes []issue
	for _, n := range j.sel.ep.notes {
		notes = append(notes, issue{Severity: "warning", Code: "not-supported", Diagnostics: n})
	}
	out, del := []*outFile{}, []*outFile{}
	nth := 0
	for t, fs := range byType {
		for k, f := range fs {
			if t == j.sel.deleted {
				f.name = "deleted." + strconv.Itoa(k+1) + ".ndjson"
				del = append(del, f)
				continue
			}
			f.name = f.typ + "." + strconv.Itoa(k+1) + ".ndjson"
			nth++
			if every := j.faults.ErrorFiles; every > 0 && nth%every == 0 {
				notes = append(notes, issue{Severity: "error", Code: "exception", Diagnostics: fmt.Sprintf(
					"%d %s resources could not be exported (simulated fault: file %s failed)", f.count, f.typ, f.name)})
				continue
			}
			out = append(out, f)
		}
	}
	var errs []*outFile
	if len(notes) > 0 {
		var content []byte
		for _, n := range notes {
			line := mustJSON(outcome{ResourceType: "OperationOutcome", Issue: []issue{n}})
			content = append(append(content, line...), '\n')
		}
		errs = append(errs, &outFile{name: "errors.ndjson", typ: "OperationOutcome", t: -1, count: len(notes),
			size: int64(len(content)), content: content})
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	j.output, j.deleted, j.errors = out, del, errs
	j.files = make(map[string]*outFile)
	for _, list := range [][]*outFile{out, del, errs} {
		for _, f := range list {
			j.files[f.name] = f
		}
	}
	if j.faults.FailJobs {
		j.failure = "export failed (simulated fault)"
	}
	j.done = true
	j.doneAt = s.now()
}

// ready reports whether a counted job may show its manifest: the
// JobDelay fault holds it back.
func (j *job) ready(now time.Time) bool {
	return j.done && !now.Before(j.txTime.Add(j.faults.JobDelay))
}

// progress is the X-Progress text of a running job (under 100 chars).
func (j *job) progress(now time.Time) string {
	n := j.sel.positions()
	pct := 100
	if n > 0 {
		pct = int(j.counted.Load() * 100 / int64(n))
	}
	if j.done || pct == 100 {
		if d := j.faults.JobDelay; d > 0 {
			left := j.txTime.Add(d).Sub(now).Round(time.Second)
			return fmt.Sprintf("counted; finishing in %s (simulated slow job)", left)
		}
		return "100% complete"
	}
	return fmt.Sprintf("%d%% complete", pct)
}
