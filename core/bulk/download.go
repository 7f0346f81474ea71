package bulk

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"syscall"
	"time"

	"tranche.dev/tranche/core"
	"tranche.dev/tranche/core/ndjson"
)

// downloads is the pool of file workers of one run.
type downloads struct {
	r     *Runner
	exp   *core.Export
	queue chan job
	wg    sync.WaitGroup
	mu    sync.Mutex
	seen  map[string]bool // kind+url already queued
	files int             // file items of the manifests added
	err   error           // first fatal error (store failure)
}

type job struct {
	f     *core.ExportFile
	token bool // requiresAccessToken
}

func (r *Runner) startDownloads(ctx context.Context, exp *core.Export) *downloads {
	d := &downloads{r: r, exp: exp, queue: make(chan job, 1<<16), seen: map[string]bool{}}
	for range orDefault(r.MaxParallel, DefaultMaxParallel) {
		d.wg.Go(func() {
			for j := range d.queue {
				if ctx.Err() != nil {
					continue // drain
				}
				if err := r.download(ctx, exp, j.f, j.token); err != nil && ctx.Err() == nil {
					d.mu.Lock()
					if d.err == nil {
						d.err = err
					}
					d.mu.Unlock()
				}
			}
		})
	}
	return d
}

// add records m's files (committing them before any download starts) and
// queues those not already loaded.
func (d *downloads) add(ctx context.Context, m *Manifest) error {
	d.files += len(m.Output) + len(m.Deleted) + len(m.Error)
	files := m.Files()
	if len(files) == 0 {
		return nil
	}
	if err := d.r.Store.AddFiles(ctx, d.exp.ID, files); err != nil {
		return fmt.Errorf("record files: %w", err)
	}
	for _, f := range files {
		key := string(f.Kind) + " " + f.URL
		if d.seen[key] || f.State == core.FileLoaded || f.State == core.FileInvalid {
			continue
		}
		d.seen[key] = true
		select {
		case d.queue <- job{f, m.RequiresAccessToken}:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return nil
}

// room refuses m, read from u, when it would take the file items of all
// the manifests of the run (partial manifests and pages) over the bound:
// each manifest is bounded alone as it is read, this bounds their sum.
func (d *downloads) room(m *Manifest, u string) error {
	n := len(m.Output) + len(m.Deleted) + len(m.Error)
	if max := orDefault(d.r.Client.MaxManifestFiles, DefaultMaxManifestFiles); d.files+n > max {
		return fmt.Errorf("manifest from %s: %w: its pages list more than %d files together", redactURL(u), ErrManifestTooLarge, max)
	}
	return nil
}

func (d *downloads) close() { close(d.queue) }

func (d *downloads) wait() error {
	d.wg.Wait()
	return d.err
}

// download fetches one file into the store, retrying transient failures and
// carrying on from the stored progress after a cut connection. A file that
// cannot be had is recorded as failed; only a store failure is returned.
func (r *Runner) download(ctx context.Context, exp *core.Export, f *core.ExportFile, token bool) error {
	lo, hi := orDefault(r.PollMin, DefaultPollMin)/2, orDefault(r.PollMax, DefaultPollMax)
	redownloads := 0
	for attempt := 0; ; attempt++ {
		offset := int64(0)
		if f.Lines > 0 {
			offset = f.Bytes
		}
		r.emit(exp, core.Event{Kind: core.EventDownloadRequest, FileURL: f.URL, FileKind: f.Kind, ResourceType: f.Type,
			Attempt: attempt + 1, Offset: offset})
		body, err := r.Client.OpenFile(ctx, f.URL, token, offset)
		var he *HTTPError
		if offset > 0 && errors.As(err, &he) && he.StatusCode == http.StatusRequestedRangeNotSatisfiable {
			// Every byte was stored before the interruption; only the
			// verdict is missing.
			body, err = &fileBody{Reader: strings.NewReader(""), closer: io.NopCloser(nil), Start: offset}, nil
		}
		if err == nil {
			err = r.load(ctx, exp, f, body, redownloads < r.maxRedownloads())
			body.Close()
			if err == nil {
				return nil
			}
			var se *storeError
			if errors.As(err, &se) {
				return err
			}
			var bad *badFileError
			if errors.As(err, &bad) {
				// Corrupted in transit, perhaps: forget what was stored and
				// fetch the file again from its first byte, so each line is
				// stored once, from the download that is kept.
				redownloads++
				r.emit(exp, core.Event{Kind: core.EventDownloadError, FileURL: f.URL, FileKind: f.Kind,
					Message: err.Error(), Lines: f.Lines, Transient: true, Attempt: redownloads})
				f.Error = bad.Error()
				if rerr := r.Store.(core.FileResetter).ResetFile(ctx, f); rerr != nil {
					return &storeError{rerr}
				}
				attempt--
				continue
			}
		}
		if ctx.Err() != nil {
			return nil
		}
		retry, wait := r.downloadError(exp, f, err)
		if !retry || attempt >= orDefault(r.MaxRetries, DefaultMaxRetries) {
			f.State = core.FileFailed
			f.Error = err.Error()
			var le *limitError
			if errors.Is(err, core.ErrInsecureURL) || errors.Is(err, ErrTooExpanded) || errors.As(err, &le) {
				// Final: no resume would fetch it either. What was stored
				// up to there stays.
				f.State = core.FileInvalid
			}
			var he *HTTPError
			if errors.As(err, &he) && (he.StatusCode == 404 || he.StatusCode == 410) {
				f.State = core.FileExpired
			}
			if uerr := r.Store.UpdateFile(ctx, f); uerr != nil {
				return &storeError{uerr}
			}
			return nil
		}
		if wait <= 0 {
			wait = backoff(attempt + 1)
		}
		if err := r.sleep(ctx, clamp(wait, lo, hi)); err != nil {
			return nil
		}
	}
}

// downloadError emits download_error and says whether err is worth a retry.
func (r *Runner) downloadError(exp *core.Export, f *core.ExportFile, err error) (bool, time.Duration) {
	ev := core.Event{Kind: core.EventDownloadError, FileURL: f.URL, Message: err.Error(), Lines: f.Lines}
	var he *HTTPError
	retry := false
	var wait time.Duration
	if errors.As(err, &he) {
		ev.Code, ev.Body, ev.Headers = he.StatusCode, he.Message, he.Headers
		// 401: the transport already re-authenticated once; the token may
		// have expired again in flight, so another attempt gets a new one.
		// Not so where no token was sent on purpose (another origin): the
		// answer will not change, and the error says why.
		retry, wait = he.Transient || (he.StatusCode == http.StatusUnauthorized && !he.TokenWithheld), he.RetryAfter
	} else {
		retry = isNetworkError(err) || errors.Is(err, io.ErrUnexpectedEOF)
	}
	ev.Transient = retry
	r.emit(exp, ev)
	return retry, wait
}

// storeError marks a failure of the Store, which no retry can fix.
type storeError struct{ err error }

func (e *storeError) Error() string { return "store: " + e.err.Error() }
func (e *storeError) Unwrap() error { return e.err }

// isNetworkError reports a failure of the connection rather than an answer.
func isNetworkError(err error) bool {
	if errors.Is(err, core.ErrInsecureURL) || errors.Is(err, ErrTooExpanded) {
		return false // a refusal of ours: no retry changes it
	}
	if errors.Is(err, ErrStalled) {
		return true // retried as a reset connection
	}
	var ne net.Error
	return errors.As(err, &ne) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) ||
		errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE)
}

// load streams body into the store in batches. Lines already stored (up to
// f.Lines) are skipped when body starts at the start of the file. Each batch
// commits its records together with f's progress; the last one also the
// verdict. A read error returns after committing every complete line.
// With mayRedownload, a file that fails its checks at the end returns a
// *badFileError instead of being recorded as invalid; a file that runs far
// past its manifest count stops with a *limitError after storing the lines
// up to there.
func (r *Runner) load(ctx context.Context, exp *core.Export, f *core.ExportFile, body *fileBody, mayRedownload bool) error {
	rd := ndjson.NewReader(body)
	rd.MaxLine = r.MaxLine
	// A body from the start of the file (a resume fetched compressed and
	// whole, or a server that ignored Range) skips the lines stored before:
	// they are stored by file and line, so nothing is stored twice.
	skip, end := f.Lines, f.Bytes
	if body.Start > 0 {
		rd.SetStart(f.Lines, f.Bytes)
		skip = 0
	} else if skip > 0 {
		end = 0 // recounted from the start of the stream
	}
	maxLines, maxBytes := orDefault(r.BatchLines, DefaultBatchLines), orDefault(r.BatchBytes, DefaultBatchBytes)
	var (
		batch      []core.Record
		batchBytes int
		arena      []byte // the bytes of batch's lines
		lines      = f.Lines
		problems   = f.Problems
		severities = map[string]int64{}
		blank      int64
	)
	flush := func(final bool) error {
		f.Lines, f.Bytes, f.Problems = lines, end, problems
		f.State = core.FileDownloading
		if final {
			f.State, f.Error = core.FileLoaded, ""
			if why := verdict(f, lines, problems); why != "" {
				f.State, f.Error = core.FileInvalid, why
			}
		}
		if err := r.Store.AppendRecords(ctx, f, batch); err != nil {
			return &storeError{err}
		}
		if len(batch) > 0 || final {
			r.emit(exp, core.Event{Kind: core.EventDownloadProgress, FileURL: f.URL, Lines: f.Lines, Bytes: f.Bytes,
				BatchLines: len(batch), BatchBytes: batchBytes})
		}
		batch, batchBytes = batch[:0], 0
		arena = arena[:0]
		return nil
	}
	stopAt := int64(-1)
	if f.Count >= 0 && f.Kind != core.KindError {
		stopAt = countLimit(f.Count)
	}
	for {
		l, err := rd.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			if len(batch) > 0 {
				if ferr := flush(false); ferr != nil {
					return ferr
				}
			}
			return fmt.Errorf("download %s after line %d: %w", f.URL, lines, err)
		}
		if l.Num <= skip {
			end = l.End
			continue
		}
		var rec core.Record
		if l.Oversized {
			rec = ndjson.Oversized(l, r.MaxLine)
		} else {
			rec = ndjson.Parse(l.Raw, f.Kind, f.Type)
		}
		rec.Line = l.Num
		// Lines are copied out of the reader's buffer into one arena per
		// batch: one allocation per batch instead of one per line (a tenth
		// of ingest CPU time went to cloning lines and collecting them).
		// The arena is reused after each flush; AppendRecords keeps no
		// reference to Raw. A line that does not fit starts a new arena,
		// and the slices already taken keep the old one alive.
		// A line bigger than a whole batch is stored on its own, straight
		// from the reader's buffer (valid until the next Next): a copy of a
		// 50 MB line would double what it costs in memory.
		big := len(rec.Raw) > maxBytes
		if big && len(batch) > 0 {
			if err := flush(false); err != nil {
				return err
			}
		}
		if !big {
			if cap(arena)-len(arena) < len(rec.Raw) {
				arena = make([]byte, 0, maxBytes+maxBytes/8)
			}
			n := len(arena)
			arena = append(arena, rec.Raw...)
			rec.Raw = arena[n:len(arena):len(arena)]
		}
		if rec.Problem != "" {
			problems++
		}
		if rec.Severity != "" {
			severities[rec.Severity]++
		}
		lines, end = l.Num, l.End
		batch = append(batch, rec)
		batchBytes += len(rec.Raw)
		if big || len(batch) >= maxLines || batchBytes >= maxBytes {
			if err := flush(false); err != nil {
				return err
			}
		}
		if stopAt >= 0 && lines >= stopAt {
			if err := flush(false); err != nil {
				return err
			}
			return fmt.Errorf("download %s: %w", f.URL, &limitError{fmt.Sprintf(
				"stopped at line %d: the manifest count is %d and the file goes on; the lines up to here are kept", lines, f.Count)})
		}
	}
	if mayRedownload {
		if why := verdict(f, lines, problems); why != "" {
			return &badFileError{why}
		}
	}
	blank = rd.Blank
	if err := flush(true); err != nil {
		return err
	}
	ev := core.Event{Kind: core.EventDownloadComplete, FileURL: f.URL, FileKind: f.Kind, ResourceType: f.Type,
		Lines: f.Lines, Bytes: f.Bytes, Problems: f.Problems, BlankLines: blank, Verified: f.State == core.FileLoaded,
		FileError: f.Error}
	if len(severities) > 0 {
		ev.Severities = severities
	}
	r.emit(exp, ev)
	return nil
}

// DefaultMaxRedownloads is how many times a file whose lines fail
// validation, or whose line count disagrees with the manifest, is
// downloaded again before it is reported invalid.
const DefaultMaxRedownloads = 2

func (r *Runner) maxRedownloads() int {
	if _, ok := r.Store.(core.FileResetter); !ok {
		return 0
	}
	switch {
	case r.MaxRedownloads < 0:
		return 0
	case r.MaxRedownloads == 0:
		return DefaultMaxRedownloads
	}
	return r.MaxRedownloads
}

// verdict says why a completely read file fails its checks, or "".
func verdict(f *core.ExportFile, lines, problems int64) string {
	var why []string
	if problems > 0 {
		why = append(why, fmt.Sprintf("%d of %d lines failed validation", problems, lines))
	}
	// Only output and deleted counts are checked: servers put the count of
	// the resources that failed on an error item (the SMART reference
	// server does), not the OperationOutcome lines.
	if f.Count >= 0 && lines != f.Count && f.Kind != core.KindError {
		why = append(why, fmt.Sprintf("the manifest count is %d but the file has %d lines", f.Count, lines))
	}
	return strings.Join(why, "; ")
}

// countLimit is the line at which a file with manifest count n is stopped:
// well past n, so an off-by-a-few server still gets its verdict, but
// bounded (a 919 KB gzip once expanded to 8 million lines against a count
// of 1).
func countLimit(n int64) int64 { return 2*n + 1000 }

// badFileError is a file that failed its checks and may be downloaded
// again.
type badFileError struct{ why string }

func (e *badFileError) Error() string { return e.why + "; downloading it again" }

// limitError is a file stopped at a bound. It is final.
type limitError struct{ why string }

func (e *limitError) Error() string { return e.why }
