package demo

import (
	"bufio"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// handleFile serves one output, deleted or error file, regenerating its
// bytes from the population (Bulk Data Access IG, Export: Bulk Data Output File Request). Identity responses have a
// Content-Length and honour a single Range; gzip is used when accepted.
func (s *Server) handleFile(w http.ResponseWriter, r *http.Request) {
	tok, ok := s.authorize(w, r)
	if !ok {
		return
	}
	j := s.lookupJob(w, r.PathValue("job"), tok)
	if j == nil {
		return
	}
	name := r.PathValue("name")
	now := s.now()
	s.mu.Lock()
	var f *outFile
	if j.files != nil && fileNameRE.MatchString(name) {
		f = j.files[name]
	}
	expired := j.done && now.After(j.doneAt.Add(s.cfg.JobTTL))
	attempt := 0
	if f != nil {
		j.attempts[name]++
		attempt = j.attempts[name]
	}
	faults := j.faults
	s.mu.Unlock()
	switch {
	case f == nil:
		writeOutcome(w, http.StatusNotFound, "not-found", "no such file in this export")
		return
	case expired || faults.ExpiredFiles:
		writeOutcome(w, http.StatusGone, "expired", "file expired; start a new export")
		return
	case f.t >= 0 && f.t != j.sel.deleted && !tok.scopes.canRead(f.typ):
		writeOutcome(w, http.StatusForbidden, "forbidden", "the access token's scopes do not allow reading "+f.typ)
		return
	case attempt <= faults.FileErrors:
		w.Header().Set("Retry-After", "1")
		writeJSON(w, http.StatusInternalServerError, ctFHIRJSON,
			newOutcome("error", "transient", "temporary failure reading the file (simulated); retry"))
		return
	}
	drop := attempt <= faults.FileErrors+faults.DropMidFile

	h := w.Header()
	h.Set("Content-Type", ctNDJSON)
	h.Set("ETag", `"`+j.id+"-"+name+`"`)
	h.Set("Vary", "Accept-Encoding")
	// A download may take as long as it keeps making progress.
	rc := http.NewResponseController(w)
	var out io.Writer = &deadlineWriter{w: w, rc: rc, stall: s.timeouts.writeStall}
	from, to := int64(0), f.size-1
	status := http.StatusOK
	rng := r.Header.Get("Range")
	if ir := r.Header.Get("If-Range"); ir != "" && ir != h.Get("ETag") {
		rng = ""
	}
	switch {
	case rng != "":
		a, b, ok := parseRange(rng, f.size)
		if !ok {
			h.Set("Content-Range", "bytes */"+strconv.FormatInt(f.size, 10))
			writeOutcome(w, http.StatusRequestedRangeNotSatisfiable, "invalid", "range not satisfiable")
			return
		}
		from, to, status = a, b, http.StatusPartialContent
		h.Set("Content-Range", fmt.Sprintf("bytes %d-%d/%d", a, b, f.size))
		fallthrough
	case !acceptsGzip(r.Header.Get("Accept-Encoding")):
		h.Set("Accept-Ranges", "bytes")
		h.Set("Content-Length", strconv.FormatInt(to-from+1, 10))
	default:
		h.Set("Content-Encoding", "gzip")
		gz, _ := gzip.NewWriterLevel(out, gzip.BestSpeed)
		defer gz.Close()
		out = gz
	}
	w.WriteHeader(status)
	if r.Method == http.MethodHead || f.size == 0 {
		return
	}
	limit := to - from + 1
	if drop {
		limit /= 2
	}
	if faults.SlowFiles > 0 {
		out = &throttle{ctx: r.Context(), w: out, rc: rc, rate: faults.SlowFiles, start: time.Now()}
	}
	bw := bufio.NewWriterSize(out, 64<<10)
	lw := &window{w: bw, skip: from, left: limit}
	err := j.sel.writeFile(r.Context(), f, lw)
	if err == nil || errors.Is(err, errFileDone) {
		err = bw.Flush()
	}
	if drop {
		if fl, ok := out.(interface{ Flush() error }); ok {
			fl.Flush()
		}
		rc.Flush()
		s.logger.Info("dropping download mid-file (simulated fault)", "job", j.id, "file", name)
		panic(http.ErrAbortHandler)
	}
	if err != nil && r.Context().Err() == nil {
		s.logger.Error("write file", "job", j.id, "file", name, "err", err)
		panic(http.ErrAbortHandler) // a short body must not look complete
	}
}

// window passes through the bytes after skip, at most left of them, then
// reports errFileDone so generation stops early.
type window struct {
	w          io.Writer
	skip, left int64
}

func (lw *window) Write(p []byte) (int, error) {
	n := len(p)
	if lw.skip > 0 {
		if int64(len(p)) <= lw.skip {
			lw.skip -= int64(len(p))
			return n, nil
		}
		p = p[lw.skip:]
		lw.skip = 0
	}
	if lw.left <= 0 {
		return n, errFileDone
	}
	if int64(len(p)) > lw.left {
		p = p[:lw.left]
	}
	if _, err := lw.w.Write(p); err != nil {
		return 0, err
	}
	lw.left -= int64(len(p))
	if lw.left == 0 {
		return n, errFileDone
	}
	return n, nil
}

// parseRange parses a single-range "bytes=" header against size.
func parseRange(h string, size int64) (from, to int64, ok bool) {
	spec, found := strings.CutPrefix(h, "bytes=")
	if !found || strings.Contains(spec, ",") {
		return 0, 0, false
	}
	a, b, found := strings.Cut(strings.TrimSpace(spec), "-")
	if !found {
		return 0, 0, false
	}
	if a == "" { // suffix: the last b bytes
		n, err := strconv.ParseInt(b, 10, 64)
		if err != nil || n <= 0 || size == 0 {
			return 0, 0, false
		}
		return max(size-n, 0), size - 1, true
	}
	from, err := strconv.ParseInt(a, 10, 64)
	if err != nil || from < 0 || from >= size {
		return 0, 0, false
	}
	to = size - 1
	if b != "" {
		to, err = strconv.ParseInt(b, 10, 64)
		if err != nil || to < from {
			return 0, 0, false
		}
		to = min(to, size-1)
	}
	return from, to, true
}

// acceptsGzip reports whether Accept-Encoding allows gzip (q > 0).
func acceptsGzip(h string) bool {
	for _, part := range strings.Split(h, ",") {
		coding, params, _ := strings.Cut(strings.TrimSpace(part), ";")
		coding = strings.ToLower(strings.TrimSpace(coding))
		if coding != "gzip" && coding != "x-gzip" && coding != "*" {
			continue
		}
		if q, found := strings.CutPrefix(strings.ReplaceAll(params, " ", ""), "q="); found {
			if v, err := strconv.ParseFloat(q, 64); err == nil && v == 0 {
				continue
			}
		}
		return true
	}
	return false
}

var newline = []byte{'\n'}

// writeFile writes the lines of f to w.
func (sel *selector) writeFile(ctx context.Context, f *outFile, w io.Writer) error {
	if f.content != nil {
		_, err := w.Write(f.content)
		return err
	}
	seen, n := 0, 0
	emit := func(t int, line []byte) error {
		if t != f.t {
			return nil
		}
		if seen < f.skip {
			seen++
			return nil
		}
		if _, err := w.Write(line); err != nil {
			return err
		}
		if _, err := w.Write(newline); err != nil {
			return err
		}
		if n++; n == f.count {
			return errFileDone
		}
		return nil
	}
	if f.start < 0 {
		return sel.shared(f.t, emit)
	}
	for pos := f.start; pos < sel.positions(); pos++ {
		if err := ctx.Err(); err != nil {
			return err
		}
		if err := sel.patient(pos, f.t, emit); err != nil {
			return err
		}
		seen = f.skip // skip applies within the first patient only
	}
	return nil
}

// throttle paces writes to rate bytes per second of wall-clock time
// (Faults.SlowFiles) and flushes each write to the client, so that it sees
// a slow, steady stream rather than one late burst.
type throttle struct {
	ctx   context.Context
	w     io.Writer
	rc    *http.ResponseController
	rate  int64
	start time.Time
	sent  int64
}

func (t *throttle) Write(p []byte) (int, error) {
	written := 0
	for written < len(p) {
		chunk := p[written:min(len(p), written+16<<10)]
		n, err := t.w.Write(chunk)
		written += n
		t.sent += int64(n)
		if err != nil {
			return written, err
		}
		if f, ok := t.w.(interface{ Flush() error }); ok {
			f.Flush()
		}
		t.rc.Flush()
		due := t.start.Add(time.Duration(float64(t.sent) / float64(t.rate) * float64(time.Second)))
		if d := time.Until(due); d > 0 {
			timer := time.NewTimer(d)
			select {
			case <-t.ctx.Done():
				timer.Stop()
				return written, t.ctx.Err()
			case <-timer.C:
			}
		}
	}
	return written, nil
}
