package demo

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"strconv"
	"time"
)

var (
	hexIDRE    = regexp.MustCompile(`^[0-9a-f]{32}$`)
	fhirIDRE   = regexp.MustCompile(`^[A-Za-z0-9\-\.]{1,64}$`)
	fileNameRE = regexp.MustCompile(`^[A-Za-z]+\.([0-9]+\.)?ndjson$`)
)

// handleKickoff starts an export at level l (Bulk Data Access IG, Export: Bulk Data Kick-off Request).
func (s *Server) handleKickoff(l level) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if n := len(r.URL.RequestURI()); n > maxKickoffURL {
			writeOutcome(w, http.StatusRequestURITooLong, "too-costly",
				fmt.Sprintf("kick-off URL is %d bytes; this server takes at most %d (POST a Parameters body instead)", n, maxKickoffURL))
			return
		}
		tok, ok := s.authorize(w, r)
		if !ok {
			return
		}
		if !acceptsFHIRJSON(r.Header.Get("Accept")) {
			writeOutcome(w, http.StatusBadRequest, "not-supported", "Accept must be application/fhir+json")
			return
		}
		// Prefer: respond-async is assumed when missing (v2: the server
		// MAY treat the request as async).
		prefs := readPrefer(r)
		groupID := r.PathValue("id")
		if l == levelGroup {
			if !tok.scopes.canRead("Group") {
				writeOutcome(w, http.StatusForbidden, "forbidden", "group export needs read access to Group (e.g. system/Group.rs)")
				return
			}
			if _, found := s.cat.group(groupID); !found || !fhirIDRE.MatchString(groupID) {
				writeOutcome(w, http.StatusNotFound, "not-found", "no Group with id "+strconv.Quote(groupID))
				return
			}
		}
		ep, kerr := s.parseExport(r, l, groupID, tok, prefs.lenient)
		if kerr != nil {
			writeOutcome(w, kerr.status, kerr.code, kerr.msg)
			return
		}
		now := s.now()
		j := &job{
			id:       randomID(16),
			clientID: tok.clientID,
			request:  s.requestURL(r),
			txTime:   now,
			sel:      newSelector(s.pop, ep, now),
			faults:   s.currentFaults(tok.clientID),
			separate: prefs.separate,
			attempts: make(map[string]int),
		}
		ctx, cancel := context.WithCancel(s.ctx)
		j.cancel = cancel
		s.mu.Lock()
		s.pruneJobs(now)
		active, kept := 0, 0
		for _, o := range s.jobs {
			if o.clientID == j.clientID && !(o.done && now.After(o.doneAt.Add(s.cfg.JobTTL))) {
				kept++
				if !o.ready(now) {
					active++
				}
			}
		}
		if kept >= maxKeptJobs {
			s.mu.Unlock()
			cancel()
			w.Header().Set("Retry-After", retryAfter(s.cfg.RetryAfter))
			writeOutcome(w, http.StatusTooManyRequests, "throttled", fmt.Sprintf(
				"%d exports kept for this client; DELETE finished ones (their status URL) before starting more", kept))
			return
		}
		if active >= maxActiveJobs {
			s.mu.Unlock()
			cancel()
			w.Header().Set("Retry-After", retryAfter(s.cfg.RetryAfter))
			writeOutcome(w, http.StatusTooManyRequests, "throttled",
				fmt.Sprintf("%d exports already running for this client; wait or cancel one", active))
			return
		}
		s.jobs[j.id] = j
		s.mu.Unlock()

		run := func() {
			defer cancel()
			if err := s.count(ctx, j); err != nil && ctx.Err() == nil {
				s.logger.Error("export failed", "job", j.id, "err", err)
				s.mu.Lock()
				j.failure = "export failed: " + err.Error()
				j.done, j.doneAt = true, s.now()
				s.mu.Unlock()
			}
		}
		if s.cfg.SyncJobs {
			run()
		} else {
			s.wg.Add(1)
			go func() {
				defer s.wg.Done()
				run()
			}()
		}
		s.logger.Info("export started", "job", j.id, "client", j.clientID, "level", l.String(), "types", len(ep.types))
		w.Header().Set("Content-Location", s.root+jobsPath+j.id)
		if j.separate {
			// The IG's exact value (Bulk Data Access IG, Export: Bulk Data Kick-off Request, Headers; Bulk Data Access IG, Export: Bulk Data Kick-off Request, Response - Success), whatever else
			// the client preferred.
			w.Header().Set("Preference-Applied", "respond-async,separate-export-status")
		}
		w.WriteHeader(http.StatusAccepted)
	}
}

// pruneJobs forgets jobs long past their expiry. Callers hold s.mu.
func (s *Server) pruneJobs(now time.Time) {
	for id, j := range s.jobs {
		if j.done && now.After(j.doneAt.Add(2*s.cfg.JobTTL)) {
			delete(s.jobs, id)
		}
	}
}

// lookupJob finds the caller's job, answering 404 (unknown, deleted,
// expired, or another client's: a job is visible only to the client that
// started it) when there is none.
func (s *Server) lookupJob(w http.ResponseWriter, id string, tok *accessToken) *job {
	s.mu.Lock()
	j := s.jobs[id]
	s.mu.Unlock()
	if !hexIDRE.MatchString(id) || j == nil || j.clientID != tok.clientID {
		writeOutcome(w, http.StatusNotFound, "not-found", "no such export (it may have been deleted or expired)")
		return nil
	}
	return j
}

func retryAfter(d time.Duration) string {
	secs := int((d + time.Second - 1) / time.Second)
	return strconv.Itoa(max(secs, 1))
}

// handleJob is the status endpoint: GET polls, DELETE cancels or
// releases (Bulk Data Access IG, Export: Bulk Data Status Request; Bulk Data Access IG, Export: Bulk Data Delete Request).
func (s *Server) handleJob(w http.ResponseWriter, r *http.Request) {
	tok, ok := s.authorize(w, r)
	if !ok {
		return
	}
	j := s.lookupJob(w, r.PathValue("id"), tok)
	if j == nil {
		return
	}
	if r.Method == http.MethodDelete {
		s.mu.Lock()
		delete(s.jobs, j.id)
		s.mu.Unlock()
		j.cancel()
		s.logger.Info("export deleted", "job", j.id, "client", j.clientID)
		writeJSON(w, http.StatusAccepted, ctFHIRJSON, newOutcome("information", "informational", "export deleted"))
		return
	}

	now := s.now()
	s.mu.Lock()
	if j.done && now.After(j.doneAt.Add(s.cfg.JobTTL)) {
		s.mu.Unlock()
		writeOutcome(w, http.StatusNotFound, "not-found", "export expired")
		return
	}
	j.polls++
	f := j.faults
	switch {
	case j.polls <= f.StatusErrors:
		// The simulated glitch is the job's (the back end could not
		// report on it), so with separate-export-status it goes in
		// X-Export-Status. 429s below are about the poll itself and keep
		// their HTTP status (Bulk Data Access IG, Export: Bulk Data Status Request, Response, "throttled answers keep their status").
		s.mu.Unlock()
		w.Header().Set("Retry-After", retryAfter(s.cfg.RetryAfter))
		writeJobStatus(w, j, http.StatusInternalServerError, ctFHIRJSON,
			newOutcome("error", "transient", "temporary failure (simulated); retry later"))
		return
	case j.polls <= f.StatusErrors+f.Burst429:
		s.mu.Unlock()
		w.Header().Set("Retry-After", retryAfter(s.cfg.RetryAfter))
		writeJSON(w, http.StatusTooManyRequests, ctFHIRJSON,
			newOutcome("error", "throttled", "too many requests (simulated burst); retry after the Retry-After delay"))
		return
	case s.cfg.MinPoll > 0 && !j.lastPoll.IsZero() && now.Sub(j.lastPoll) < s.cfg.MinPoll:
		// One rate rule for every poll, whether the job runs, failed or
		// is done: a finished job must not become a free echo service
		// (Bulk Data Access IG v2, Export Request Flow: Status Request
		// lets a server answer 429 to a client that polls too often).
		s.mu.Unlock()
		w.Header().Set("Retry-After", retryAfter(s.cfg.RetryAfter))
		writeJSON(w, http.StatusTooManyRequests, ctFHIRJSON,
			newOutcome("error", "throttled", "polling too fast: wait for Retry-After between status requests"))
		return
	}
	j.lastPoll = now
	switch {
	case j.failure != "":
		msg := j.failure
		s.mu.Unlock()
		// "processing", not "exception": the job is over, and a client
		// treats "exception" as worth retrying (Bulk Data Access IG, Export: Bulk Data Status Request, Response - Error Status).
		writeJobStatus(w, j, http.StatusInternalServerError, ctFHIRJSON, newOutcome("error", "processing", msg))
		return
	case !j.ready(now):
		progress := j.progress(now)
		s.mu.Unlock()
		w.Header().Set("Retry-After", retryAfter(s.cfg.RetryAfter))
		w.Header().Set("X-Progress", progress)
		writeJobStatus(w, j, http.StatusAccepted, "", nil)
		return
	}
	m := s.manifest(j)
	expires := j.doneAt.Add(s.cfg.JobTTL)
	s.mu.Unlock()
	w.Header().Set("Expires", expires.UTC().Format(http.TimeFormat))
	writeJobStatus(w, j, http.StatusOK, ctJSON, m)
}

// writeJobStatus answers a status request with the job's state: status
// and, unless nil, a JSON body. With separate-export-status (Bulk Data
// Access IG v4, Export: Bulk Data Status Request) the HTTP status says only that the poll worked, 200, and
// X-Export-Status carries the job's ("202 Accepted", "500 Internal Server
// Error").
func writeJobStatus(w http.ResponseWriter, j *job, status int, contentType string, body any) {
	if j.separate {
		w.Header().Set("X-Export-Status", strconv.Itoa(status)+" "+http.StatusText(status))
		status = http.StatusOK
	}
	if body == nil {
		w.WriteHeader(status)
		return
	}
	writeJSON(w, status, contentType, body)
}

// manifestItem is one output, deleted or error entry.
type manifestItem struct {
	Type  string `json:"type"`
	URL   string `json:"url"`
	Count int    `json:"count"`
}

type manifest struct {
	TransactionTime     string         `json:"transactionTime"`
	Request             string         `json:"request"`
	RequiresAccessToken bool           `json:"requiresAccessToken"`
	Output              []manifestItem `json:"output"`
	Deleted             []manifestItem `json:"deleted,omitzero"` // present, maybe [], when _since was given
	Error               []manifestItem `json:"error"`
}

// manifest builds a finished job's manifest. Callers hold s.mu.
func (s *Server) manifest(j *job) manifest {
	items := func(fs []*outFile) []manifestItem {
		out := []manifestItem{}
		for _, f := range fs {
			out = append(out, manifestItem{Type: f.typ, URL: s.root + filesPath + j.id + "/" + f.name, Count: f.count})
		}
		return out
	}
	m := manifest{
		TransactionTime:     fhirInstant(j.txTime),
		Request:             j.request,
		RequiresAccessToken: !s.cfg.Open,
		Output:              items(j.output),
		Error:               items(j.errors),
	}
	if j.sel.deleted >= 0 {
		m.Deleted = items(j.deleted)
	}
	return m
}

func fhirInstant(t time.Time) string {
	return t.UTC().Format("2006-01-02T15:04:05.000Z07:00")
}

var errFileDone = errors.New("file complete")
