package bulk

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"

	"tranche.dev/tranche/core"
	"tranche.dev/tranche/core/smart"
)

// Runner defaults.
const (
	DefaultMaxParallel  = 4
	DefaultPollMin      = 1 * time.Second
	DefaultPollMax      = 5 * time.Minute
	DefaultPollStart    = 2 * time.Second // first delay when the server sends no Retry-After
	DefaultPollBackoff  = time.Minute     // the growing default delay stops here
	DefaultDeadline     = 7 * 24 * time.Hour
	DefaultMaxTransient = 10 // consecutive transient status errors
	DefaultMaxRetries   = 6  // attempts per file after the first
	DefaultBatchLines   = 5000
	// DefaultBatchBytes bounds the line arena of each parallel download
	// (see load): MaxParallel of them are live at once, so 4 MiB batches
	// held about 18 MB of the export's heap, and twice that with the Go
	// heap's headroom.
	DefaultBatchBytes = 2 << 20
)

// Runner runs exports end to end and resumes them: every step is committed
// to Store the moment it is known (status URL, manifest, each file's
// progress with the records it covers).
type Runner struct {
	Client *Client
	Store  core.ExportStore

	MaxParallel  int           // parallel downloads; 0 = DefaultMaxParallel
	PollMin      time.Duration // lower clamp on status delays; 0 = DefaultPollMin
	PollMax      time.Duration // upper clamp on status and retry delays; 0 = DefaultPollMax
	Deadline     time.Duration // give up waiting for the manifest after this; 0 = DefaultDeadline
	MaxTransient int           // consecutive transient status errors tolerated
	MaxRetries   int           // download retries per file
	// MaxRedownloads: downloads again of a file that failed its checks;
	// 0 = DefaultMaxRedownloads, -1 = none.
	MaxRedownloads int
	MaxLine        int  // longest NDJSON line; 0 = ndjson.DefaultMaxLine
	BatchLines     int  // records per AppendRecords
	BatchBytes     int  // bytes per AppendRecords
	KeepJob        bool // do not DELETE the job after a verified download

	// OnEvent receives every event, from the runner's goroutines (status
	// polling and each download worker), possibly at the same time: it must
	// be safe for concurrent use and must not block.
	OnEvent func(core.Event)
	Logger  *slog.Logger
	Now     func() time.Time
	// Sleep waits d or until ctx is done; tests replace it.
	Sleep func(ctx context.Context, d time.Duration) error
}

func (r *Runner) now() time.Time {
	if r.Now != nil {
		return r.Now()
	}
	return time.Now()
}

func (r *Runner) logger() *slog.Logger {
	if r.Logger != nil {
		return r.Logger
	}
	return slog.Default().With("system", "bulk")
}

func (r *Runner) sleep(ctx context.Context, d time.Duration) error {
	if r.Sleep != nil {
		return r.Sleep(ctx, d)
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func orDefault[T int | time.Duration](v, def T) T {
	if v <= 0 {
		return def
	}
	return v
}

// emit stamps ev with exp and the time and hands it to OnEvent.
func (r *Runner) emit(exp *core.Export, ev core.Event) {
	if r.OnEvent == nil {
		return
	}
	ev.ExportID, ev.StatusURL, ev.Time = exp.ID, exp.StatusURL, r.now()
	r.OnEvent(ev)
}

// Start validates exp.Request, records the export, kicks it off and runs it
// to the end. exp needs Request and FHIRBaseURL (and RegistrationID and
// Scope for _since=auto). Since "auto" becomes the transactionTime of the
// last complete export with the same registration and scope; with none it
// is dropped and the export is a full one. The request is settled by the
// server's Bulk Data version (adaptToServer) and stored as settled.
// Validation errors come before anything is stored or sent.
func (r *Runner) Start(ctx context.Context, exp *core.Export) error {
	// The transport rule (core.CheckURL), before anything is stored, sent
	// or looked up.
	if err := core.CheckURL(r.Client.BaseURL); err != nil {
		return err
	}
	if strings.EqualFold(exp.Request.Since, "auto") {
		exp.Request.Since = ""
		tt, err := r.Store.LastTransactionTime(ctx, exp)
		switch {
		case err == nil:
			exp.Request.Since = tt
		case errors.Is(err, core.ErrNotFound):
			r.logger().Info("_since=auto: no earlier complete export; exporting everything")
		default:
			return fmt.Errorf("_since=auto: %w", err)
		}
	}
	caps, capErr := r.Client.Capabilities(ctx)
	var known []string
	var refused *smart.TokenError
	switch {
	case capErr == nil:
		known = caps.Types
	case errors.As(capErr, &refused):
		// The first authorized request: a wrong key or client id shows here,
		// and is what the user must hear first (not a missing
		// CapabilityStatement, then a failed kick-off).
		return fmt.Errorf("the token request was refused: %w", refused)
	default:
		r.logger().Warn("no CapabilityStatement; resource types not checked", "err", capErr)
		caps = &Capabilities{}
	}
	adaptToServer(&exp.Request, caps, r.logger())
	if err := exp.Request.Validate(core.Checks{KnownTypes: known, Now: r.now()}); err != nil {
		return err
	}
	exp.State = core.StateKickoff
	if err := r.Store.CreateExport(ctx, exp); err != nil {
		return fmt.Errorf("record export: %w", err)
	}
	release, err := r.lock(ctx, exp.ID)
	if err != nil {
		return err
	}
	defer release()
	if err := r.kickoff(ctx, exp, caps); err != nil {
		return err
	}
	return r.run(ctx, exp)
}

func (r *Runner) kickoff(ctx context.Context, exp *core.Export, caps *Capabilities) error {
	var statusURL, kickoffURL string
	var err error
	for attempt := 0; ; attempt++ {
		statusURL, kickoffURL, err = r.Client.Kickoff(ctx, exp.Request)
		var he *HTTPError
		if err == nil || !errors.As(err, &he) || !he.Transient || attempt >= 3 {
			break
		}
		wait := he.RetryAfter
		if wait <= 0 {
			wait = backoff(attempt + 1)
		}
		wait = clamp(wait, orDefault(r.PollMin, DefaultPollMin), orDefault(r.PollMax, DefaultPollMax))
		// Say why nothing happens: a busy server's Retry-After can be
		// minutes (the SMART reference server blocks for five).
		r.emit(exp, core.Event{Kind: core.EventStatusProgress, RetryAfter: wait,
			Progress: fmt.Sprintf("kick-off refused (HTTP %d), trying again at %s", he.StatusCode, r.now().Add(wait).Format("15:04:05"))})
		if serr := r.sleep(ctx, wait); serr != nil {
			return serr
		}
	}
	req := exp.Request
	ev := core.Event{Kind: core.EventKickoff, KickoffURL: kickoffURL, Request: &req, Server: core.Software{
		Name: caps.SoftwareName, Version: caps.SoftwareVersion, ReleaseDate: caps.ReleaseDate, FHIRVersion: caps.FHIRVersion,
	}}
	exp.KickoffURL = kickoffURL
	if err != nil {
		ev.Message = err.Error()
		var he *HTTPError
		if errors.As(err, &he) {
			ev.Code, ev.Body, ev.Headers = he.StatusCode, he.Message, he.Headers
		}
		r.emit(exp, ev)
		// Kickoff's errors already name the operation and the URL.
		if ctx.Err() == nil && !finalError(err) {
			// Unreachable, or still refusing after the retries: a resume
			// kicks off again.
			return r.suspend(ctx, exp, err)
		}
		return r.fail(ctx, exp, core.StateFailed, err)
	}
	exp.StatusURL = statusURL
	exp.State = core.StatePolling
	if err := r.Store.UpdateExport(ctx, exp); err != nil {
		return fmt.Errorf("record status url: %w", err)
	}
	r.emit(exp, ev)
	return nil
}

// lock takes the export's lock when the Store has one: one process per
// export, or the same files would be downloaded twice.
func (r *Runner) lock(ctx context.Context, id int64) (func(), error) {
	l, ok := r.Store.(core.ExportLocker)
	if !ok {
		return func() {}, nil
	}
	release, err := l.LockExport(ctx, id)
	if errors.Is(err, core.ErrInUse) {
		return nil, fmt.Errorf("export %d is already running in another Tranche window or command; "+
			"let that one finish, or stop it before resuming here: %w", id, err)
	}
	if err != nil {
		return nil, err
	}
	return release, nil
}

// lockFresh takes exp's lock (one process per export) and reads exp again
// under it: a process that held the lock may have moved it on, retried its
// files or finished it. release is nil when err is not.
func (r *Runner) lockFresh(ctx context.Context, exp *core.Export) (*core.Export, func(), error) {
	release, err := r.lock(ctx, exp.ID)
	if err != nil {
		return exp, nil, err
	}
	fresh, err := r.Store.FindExport(ctx, exp.ID)
	if err != nil {
		release()
		return nil, nil, fmt.Errorf("export %d: %w", exp.ID, err)
	}
	return fresh, release, nil
}

// suspend records why exp stopped, leaving it resumable, and returns err
// with the way to carry on.
func (r *Runner) suspend(ctx context.Context, exp *core.Export, err error) error {
	err = &ResumableError{ExportID: exp.ID, Err: err}
	exp.Error = err.Error()
	if uerr := r.Store.UpdateExport(context.WithoutCancel(ctx), exp); uerr != nil {
		return errors.Join(err, fmt.Errorf("record progress: %w", uerr))
	}
	return err
}

// ResumableError is an export that stopped but may carry on where it
// stopped (core.Export.CanResume): each front end says how.
type ResumableError struct {
	ExportID int64
	Err      error
}

func (e *ResumableError) Error() string {
	return fmt.Sprintf("%v (export %d can be resumed)", e.Err, e.ExportID)
}

func (e *ResumableError) Unwrap() error { return e.Err }

// finalError reports whether err ends an export for good: the server said
// the job failed (a status error it does not call transient, other than
// an authorization refusal), the server no longer has the job, its
// manifest is over the bound, or the store failed. A status URL refused by
// the transport rule (a redirect to plain http, say) is not final: the
// export stays resumable, with that reason, should the server be fixed.
func finalError(err error) bool {
	var he *HTTPError
	var se *storeError
	switch {
	case errors.Is(err, core.ErrExpired), errors.As(err, &se),
		errors.Is(err, ErrManifestTooLarge):
		return true
	case errors.Is(err, ErrDeadline), errors.Is(err, errGaveUp):
		return false
	case errors.As(err, &he):
		return !he.Transient && he.StatusCode != http.StatusUnauthorized && he.StatusCode != http.StatusForbidden
	}
	return false
}

// fail records exp as ended in state with err and returns err.
func (r *Runner) fail(ctx context.Context, exp *core.Export, state core.ExportState, err error) error {
	exp.State = state
	exp.Error = err.Error()
	exp.FinishedAt = r.now()
	if uerr := r.Store.UpdateExport(context.WithoutCancel(ctx), exp); uerr != nil {
		return errors.Join(err, fmt.Errorf("record failure: %w", uerr))
	}
	return err
}

// Resume carries on with an unfinished export (core.Export.CanResume):
// polling the same job if no manifest is known yet, then downloading only
// what is not stored. A finished export is refused with core.ErrFinished.
// If the server no longer has the job, the export is marked expired and
// the error wraps core.ErrExpired.
func (r *Runner) Resume(ctx context.Context, id int64) (*core.Export, error) {
	exp, err := r.Store.FindExport(ctx, id)
	if err != nil {
		return nil, fmt.Errorf("export %d: %w", id, err)
	}
	if !exp.CanResume() {
		return exp, fmt.Errorf("export %d is %s: %w", id, exp.State, core.ErrFinished)
	}
	if err := core.CheckURL(r.Client.BaseURL); err != nil {
		return exp, fmt.Errorf("export %d: %w", id, err)
	}
	exp, release, err := r.lockFresh(ctx, exp)
	if err != nil {
		return exp, err
	}
	defer release()
	if !exp.CanResume() {
		return exp, fmt.Errorf("export %d is %s: %w", id, exp.State, core.ErrFinished)
	}
	exp.Error = ""
	if exp.StatusURL == "" {
		// The kick-off never answered: nothing was started we know of.
		if err := exp.Request.Validate(core.Checks{}); err != nil {
			return exp, r.fail(ctx, exp, core.StateFailed, err)
		}
		if err := r.kickoff(ctx, exp, &Capabilities{}); err != nil {
			return exp, err
		}
	}
	return exp, r.run(ctx, exp)
}

// ErrNothingToRetry reports a RetryFailed on an export none of whose files
// failed to download.
var ErrNothingToRetry = errors.New("no failed files to download again")

// RetryFailed downloads again the files whose download gave up
// (core.Export.CanRetryFailed); loaded and invalid files stay as they are.
func (r *Runner) RetryFailed(ctx context.Context, id int64) (*core.Export, error) {
	exp, err := r.Store.FindExport(ctx, id)
	if err != nil {
		return nil, fmt.Errorf("export %d: %w", id, err)
	}
	files, err := r.Store.FindFiles(ctx, id)
	if err != nil {
		return exp, fmt.Errorf("export %d: list files: %w", id, err)
	}
	if !exp.CanRetryFailed(files) {
		return exp, retryRefusal(exp)
	}
	exp, release, err := r.lockFresh(ctx, exp)
	if err != nil {
		return exp, err
	}
	defer release()
	if files, err = r.Store.FindFiles(ctx, id); err != nil {
		return exp, fmt.Errorf("export %d: list files: %w", id, err)
	}
	if !exp.CanRetryFailed(files) {
		return exp, retryRefusal(exp)
	}
	if exp.State.Final() {
		exp.State, exp.FinishedAt = core.StatePolling, time.Time{}
		if len(exp.Manifest) > 0 {
			exp.State = core.StateDownloading
		}
	}
	exp.Error = ""
	if err := r.Store.UpdateExport(ctx, exp); err != nil {
		return exp, fmt.Errorf("record export: %w", err)
	}
	return exp, r.run(ctx, exp)
}

// retryRefusal says why exp's files cannot be downloaded again.
func retryRefusal(exp *core.Export) error {
	if exp.State == core.StateCancelled || exp.State == core.StateExpired {
		return fmt.Errorf("export %d is %s: %w", exp.ID, exp.State, core.ErrFinished)
	}
	return fmt.Errorf("export %d: %w", exp.ID, ErrNothingToRetry)
}

// page is one manifest (status answer or linked page) as received.
type page struct {
	m   *Manifest
	raw []byte
}

func (r *Runner) run(ctx context.Context, exp *core.Export) error {
	started := r.now()
	dl := r.startDownloads(ctx, exp)
	var pages []page
	var err error
	if exp.State == core.StateDownloading && len(exp.Manifest) > 0 {
		pages, err = storedPages(exp)
		if err == nil {
			for _, p := range pages {
				if err = dl.add(ctx, p.m); err != nil {
					break
				}
			}
		}
	} else {
		pages, err = r.poll(ctx, exp, dl)
	}
	if err == nil {
		err = r.recordManifest(ctx, exp, pages)
	}
	dl.close()
	if werr := dl.wait(); err == nil {
		err = werr
	}
	if err != nil {
		switch {
		case errors.Is(err, core.ErrExpired):
			return r.fail(ctx, exp, core.StateExpired, fmt.Errorf("the server no longer has this export: %w", err))
		case ctx.Err() != nil:
			// Interrupted: leave the export resumable as it is.
			return err
		case !finalError(err):
			// Giving up for now (retries exhausted, a deadline, the token
			// endpoint down): the export stays resumable from where it
			// stopped. Only the server saying the job failed, or a Cancel,
			// is final.
			return r.suspend(ctx, exp, err)
		}
		return r.fail(ctx, exp, core.StateFailed, err)
	}
	return r.finish(ctx, exp, started)
}

// storedPages re-reads the manifest(s) recorded for exp: one object, or an
// array of them when the manifest was paged.
func storedPages(exp *core.Export) ([]page, error) {
	base, _ := url.Parse(exp.StatusURL)
	var raws []json.RawMessage
	if b := bytes.TrimSpace(exp.Manifest); len(b) > 0 && b[0] == '[' {
		if err := json.Unmarshal(b, &raws); err != nil {
			return nil, fmt.Errorf("stored manifest: %w", err)
		}
	} else {
		raws = []json.RawMessage{exp.Manifest}
	}
	var pages []page
	for _, raw := range raws {
		m, err := ParseManifest(raw, base)
		if err != nil {
			return nil, fmt.Errorf("stored manifest: %w", err)
		}
		pages = append(pages, page{m, raw})
	}
	return pages, nil
}

func (r *Runner) recordManifest(ctx context.Context, exp *core.Export, pages []page) error {
	if len(pages) == 0 {
		return errors.New("no manifest")
	}
	exp.TransactionTime = pages[0].m.TransactionTime
	if len(pages) == 1 {
		exp.Manifest = pages[0].raw
	} else {
		raws := make([]json.RawMessage, len(pages))
		for i, p := range pages {
			raws[i] = p.raw
		}
		exp.Manifest, _ = json.Marshal(raws)
	}
	exp.State = core.StateDownloading
	if err := r.Store.UpdateExport(ctx, exp); err != nil {
		return fmt.Errorf("record manifest: %w", err)
	}
	var out, del, errs int
	for _, p := range pages {
		out, del, errs = out+len(p.m.Output), del+len(p.m.Deleted), errs+len(p.m.Error)
	}
	r.emit(exp, core.Event{Kind: core.EventManifestComplete, TransactionTime: exp.TransactionTime,
		OutputFiles: out, DeletedFiles: del, ErrorFiles: errs, Manifests: len(pages)})
	return nil
}

// finish checks every file, releases the job when all are verified, and
// records the outcome. Files not verified end it with a *FilesError: expired
// (core.ErrExpired) when the server no longer has one of them, resumable
// (core.ErrIncomplete) while one may still be had, failed otherwise.
func (r *Runner) finish(ctx context.Context, exp *core.Export, started time.Time) error {
	files, err := r.Store.FindFiles(ctx, exp.ID)
	if err != nil {
		return fmt.Errorf("list files: %w", err)
	}
	ev := core.Event{Kind: core.EventExportComplete, Files: len(files), Duration: r.now().Sub(started)}
	fe := &FilesError{Total: len(files)}
	for _, f := range files {
		ev.Bytes += f.Bytes
		if f.Kind == core.KindOutput {
			// Resources: output lines that passed validation; error and
			// deleted lines, and lines that failed, are not resources.
			ev.Resources += f.Lines - f.Problems
		}
		if f.State != core.FileLoaded {
			fe.Files = append(fe.Files, f)
		}
	}
	ev.FilesNotVerified = len(fe.Files)
	r.emit(exp, ev)
	if len(fe.Files) > 0 {
		switch {
		case fe.count(core.FileExpired) > 0:
			return r.fail(ctx, exp, core.StateExpired, fe)
		case fe.resumable():
			// Worth another try: keep the export resumable.
			exp.Error = fe.Error()
			if err := r.Store.UpdateExport(ctx, exp); err != nil {
				return fmt.Errorf("record progress: %w", err)
			}
			return fe
		}
		return r.fail(ctx, exp, core.StateFailed, fe)
	}
	if !r.KeepJob {
		if err := r.Client.Cancel(ctx, exp.StatusURL); err != nil {
			r.logger().Warn("release job", "status_url", exp.StatusURL, "err", err)
		} else {
			exp.Released = true
		}
	}
	exp.State = core.StateComplete
	exp.Error = ""
	exp.FinishedAt = r.now()
	if err := r.Store.UpdateExport(ctx, exp); err != nil {
		return fmt.Errorf("record completion: %w", err)
	}
	return nil
}

// FilesError reports the files of a finished run that were not verified.
// Its text is one sentence; Files lists them for whoever shows the detail.
// It wraps core.ErrExpired when one of them is gone from the server, and
// core.ErrIncomplete when another run may still get them.
type FilesError struct {
	Total int                // files in the manifest
	Files []*core.ExportFile // not verified
}

func (e *FilesError) count(s core.FileState) int {
	n := 0
	for _, f := range e.Files {
		if f.State == s {
			n++
		}
	}
	return n
}

// resumable reports whether a file may still be had by another run.
func (e *FilesError) resumable() bool {
	for _, f := range e.Files {
		switch f.State {
		case core.FileFailed, core.FilePending, core.FileDownloading:
			return true
		}
	}
	return false
}

func (e *FilesError) Error() string {
	var parts []string
	for _, s := range []struct {
		state core.FileState
		what  string
	}{
		{core.FileExpired, "gone from the server"},
		{core.FileFailed, "failed to download"},
		{core.FileInvalid, "failed validation"},
		{core.FilePending, "not started"},
		{core.FileDownloading, "cut off"},
	} {
		if n := e.count(s.state); n > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", n, s.what))
		}
	}
	return fmt.Sprintf("%d of %d files not verified (%s)", len(e.Files), e.Total, strings.Join(parts, ", "))
}

// Unwrap returns the sentinels the files' states stand for.
func (e *FilesError) Unwrap() []error {
	var errs []error
	if e.count(core.FileExpired) > 0 {
		errs = append(errs, core.ErrExpired)
	} else if e.resumable() {
		errs = append(errs, core.ErrIncomplete)
	}
	return errs
}

// backoff is the delay before retry attempt n (1-based): 1 s, 2 s, 4 s, …
func backoff(n int) time.Duration {
	d := time.Second << min(n-1, 10)
	return d
}

// Cancel sends DELETE for an unfinished export's job and records it as
// cancelled (core.Export.CanCancel). What was stored stays in the
// catalogue.
func (r *Runner) Cancel(ctx context.Context, id int64) error {
	exp, err := r.Store.FindExport(ctx, id)
	if err != nil {
		return fmt.Errorf("export %d: %w", id, err)
	}
	if !exp.CanCancel() {
		return fmt.Errorf("export %d is %s: %w", id, exp.State, core.ErrFinished)
	}
	if exp.StatusURL != "" {
		if err := r.Client.Cancel(ctx, exp.StatusURL); err != nil {
			return fmt.Errorf("cancel export %d: %w", id, err)
		}
		exp.Released = true
	}
	exp.State, exp.FinishedAt = core.StateCancelled, r.now()
	return r.Store.UpdateExport(ctx, exp)
}

// ErrNothingToRelease reports a Release of an export that is not complete
// or was released already.
var ErrNothingToRelease = errors.New("nothing to release")

// Release tells the server that a complete export's files may go (DELETE
// on the status URL; core.Export.CanRelease) and records that.
func (r *Runner) Release(ctx context.Context, id int64) error {
	exp, err := r.Store.FindExport(ctx, id)
	if err != nil {
		return fmt.Errorf("export %d: %w", id, err)
	}
	if !exp.CanRelease() {
		return fmt.Errorf("export %d (%s, released %v): %w", id, exp.State, exp.Released, ErrNothingToRelease)
	}
	if err := r.Client.Cancel(ctx, exp.StatusURL); err != nil {
		return fmt.Errorf("release export %d: %w", id, err)
	}
	exp.Released = true
	return r.Store.UpdateExport(ctx, exp)
}
