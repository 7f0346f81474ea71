package bulk

import (
	"context"
	"errors"
	"fmt"
	"time"

	"tranche.dev/tranche/core"
)

// ErrDeadline reports that the server did not finish within
// Runner.Deadline. The export stays resumable.
var ErrDeadline = errors.New("deadline passed; the export stays resumable")

// errGaveUp marks retries exhausted: worth another try later.
var errGaveUp = errors.New("giving up for now")

// poll asks for the status until the manifest is complete, then follows its
// link pages. Files of partial manifests (a 202 with a body: Bulk Data Access IG v3, Export: Bulk Data Status Request, Response - In-Progress Status) and of
// each page are handed to dl at once, so downloads start while the server
// still works. It honours Retry-After clamped to [PollMin, PollMax], backs
// off from DefaultPollStart by 1.5× when the server gives no hint, retries
// transient errors and gives up after Deadline.
func (r *Runner) poll(ctx context.Context, exp *core.Export, dl *downloads) ([]page, error) {
	lo, hi := orDefault(r.PollMin, DefaultPollMin), orDefault(r.PollMax, DefaultPollMax)
	deadline := r.now().Add(orDefault(r.Deadline, DefaultDeadline))
	delay := DefaultPollStart
	transient := 0
	var pages []page
	seen := map[string]bool{} // partial manifests already handled, by body
	for {
		st, err := r.Client.Status(ctx, exp.StatusURL)
		if err != nil {
			if ctx.Err() != nil {
				return nil, ctx.Err()
			}
			wait, retry := r.statusError(exp, err, transient, lo, hi)
			if !retry {
				return nil, err
			}
			transient++
			if transient > orDefault(r.MaxTransient, DefaultMaxTransient) {
				return nil, fmt.Errorf("status: %w after %d transient errors: %w", errGaveUp, transient, err)
			}
			if err := r.sleep(ctx, wait); err != nil {
				return nil, err
			}
			continue
		}
		transient = 0
		if st.Manifest != nil && !seen[string(st.Raw)] {
			seen[string(st.Raw)] = true
			if err := dl.room(st.Manifest, exp.StatusURL); err != nil {
				return nil, err
			}
			if err := dl.add(ctx, st.Manifest); err != nil {
				return nil, err
			}
		}
		if st.Done {
			// The final manifest is a page even when its body repeats a
			// partial manifest already seen with a 202 (the SMART reference
			// server does that with allowPartialManifests): its files are
			// queued once, above, but the page must be kept.
			pages = append(pages, page{st.Manifest, st.Raw})
			r.emit(exp, core.Event{Kind: core.EventStatusComplete, TransactionTime: st.Manifest.TransactionTime,
				OutputFiles: len(st.Manifest.Output), DeletedFiles: len(st.Manifest.Deleted), ErrorFiles: len(st.Manifest.Error)})
			return r.followLinks(ctx, exp, dl, pages)
		}
		if st.Progress != exp.Progress {
			exp.Progress = st.Progress
			if err := r.Store.UpdateExport(ctx, exp); err != nil {
				return nil, fmt.Errorf("record progress: %w", err)
			}
		}
		wait := delay
		if st.HasRetry {
			// A little over the server's figure: the reference server
			// rate-limits clients that poll exactly on time.
			wait = st.RetryAfter + st.RetryAfter/20
		} else {
			delay = min(delay*3/2, DefaultPollBackoff)
		}
		wait = clamp(wait, lo, hi)
		r.emit(exp, core.Event{Kind: core.EventStatusProgress, Progress: st.Progress, RetryAfter: wait})
		if r.now().Add(wait).After(deadline) {
			return nil, fmt.Errorf("status: no manifest after %s: %w", orDefault(r.Deadline, DefaultDeadline), ErrDeadline)
		}
		if err := r.sleep(ctx, wait); err != nil {
			return nil, err
		}
	}
}

// statusError emits status_error for err and says whether to retry, and
// after how long: the server's Retry-After, else the backoff for attempt
// transient+1, clamped to [lo, hi]. The event carries that wait
// (RetryAfter), so a front end can say when the next try is, or 0 when
// this was the last try.
func (r *Runner) statusError(exp *core.Export, err error, transient int, lo, hi time.Duration) (time.Duration, bool) {
	ev := core.Event{Kind: core.EventStatusError, Message: err.Error(), Attempt: transient + 1}
	var he *HTTPError
	retry := false
	var wait time.Duration
	switch {
	case errors.As(err, &he):
		ev.Code, ev.Body, ev.Headers = he.StatusCode, he.Message, he.Headers
		retry, wait = he.Transient && !errors.Is(err, core.ErrExpired), he.RetryAfter
	case errors.Is(err, core.ErrExpired):
	default:
		retry = isNetworkError(err)
	}
	if wait <= 0 {
		wait = backoff(transient + 1)
	}
	wait = clamp(wait, lo, hi)
	ev.Transient = retry
	if retry && transient+1 <= orDefault(r.MaxTransient, DefaultMaxTransient) {
		ev.RetryAfter = wait
	}
	r.emit(exp, ev)
	return wait, retry
}

// followLinks fetches the next pages of a paged manifest (Bulk Data Access IG v3, Export: Bulk Data Status Request, Response - Complete Status: link).
func (r *Runner) followLinks(ctx context.Context, exp *core.Export, dl *downloads, pages []page) ([]page, error) {
	lo, hi := orDefault(r.PollMin, DefaultPollMin), orDefault(r.PollMax, DefaultPollMax)
	next := pages[len(pages)-1].m.Next
	seen := map[string]bool{}
	transient := 0
	for next != "" {
		if seen[next] {
			return nil, fmt.Errorf("manifest link loop at %s", next)
		}
		st, err := r.Client.Page(ctx, next)
		if err == nil && !st.Done {
			err = &HTTPError{Op: "manifest page", URL: next, StatusCode: 202, Transient: true, RetryAfter: st.RetryAfter}
		}
		if err != nil {
			if ctx.Err() != nil {
				return nil, ctx.Err()
			}
			wait, retry := r.statusError(exp, err, transient, lo, hi)
			transient++
			if !retry {
				return nil, fmt.Errorf("manifest page: %w", err)
			}
			if transient > orDefault(r.MaxTransient, DefaultMaxTransient) {
				return nil, fmt.Errorf("manifest page: %w after %d transient errors: %w", errGaveUp, transient, err)
			}
			if err := r.sleep(ctx, wait); err != nil {
				return nil, err
			}
			continue
		}
		transient = 0
		seen[next] = true
		if err := dl.room(st.Manifest, next); err != nil {
			return nil, err
		}
		if err := dl.add(ctx, st.Manifest); err != nil {
			return nil, err
		}
		pages = append(pages, page{st.Manifest, st.Raw})
		next = st.Manifest.Next
	}
	return pages, nil
}
