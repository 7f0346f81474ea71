package bulk_test

import (
	"bytes"
	"compress/gzip"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"tranche.dev/tranche/core"
	"tranche.dev/tranche/core/bulk"
	"tranche.dev/tranche/core/catalog"
)

// patients is n NDJSON Patient lines.
func patients(n int) string {
	var b strings.Builder
	for i := range n {
		fmt.Fprintf(&b, `{"resourceType":"Patient","id":"p%d"}`+"\n", i)
	}
	return b.String()
}

func gzipped(tb testing.TB, s string) []byte {
	var buf bytes.Buffer
	zw, _ := gzip.NewWriterLevel(&buf, gzip.BestCompression)
	if _, err := zw.Write([]byte(s)); err != nil {
		tb.Fatal(err)
	}
	zw.Close()
	return buf.Bytes()
}

// hostile is a loopback Bulk Data server whose status and file answers the
// test writes. Its kick-off and DELETE always work.
type hostile struct {
	srv    *httptest.Server
	polls  atomic.Int64
	status func(w http.ResponseWriter, r *http.Request, n int64)
	files  map[string]func(w http.ResponseWriter, r *http.Request, n int64)
	mu     sync.Mutex
	gets   map[string]int64
}

func newHostile(t *testing.T) *hostile {
	h := &hostile{files: map[string]func(http.ResponseWriter, *http.Request, int64){}, gets: map[string]int64{}}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /fhir/Patient/$export", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Location", h.srv.URL+"/status")
		w.WriteHeader(http.StatusAccepted)
	})
	mux.HandleFunc("DELETE /status", func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusAccepted) })
	mux.HandleFunc("GET /status", func(w http.ResponseWriter, r *http.Request) { h.status(w, r, h.polls.Add(1)) })
	mux.HandleFunc("GET /files/{name}", func(w http.ResponseWriter, r *http.Request) {
		name := r.PathValue("name")
		h.mu.Lock()
		h.gets[name]++
		n := h.gets[name]
		h.mu.Unlock()
		h.files[name](w, r, n)
	})
	h.srv = httptest.NewServer(mux)
	t.Cleanup(h.srv.Close)
	return h
}

// manifest answers with a complete manifest of the named files, each with
// its count.
func (h *hostile) manifest(w http.ResponseWriter, counts map[string]int) {
	var items []string
	for name, n := range counts {
		items = append(items, fmt.Sprintf(`{"type":"Patient","url":"%s/files/%s","count":%d}`, h.srv.URL, name, n))
	}
	fmt.Fprintf(w, `{"transactionTime":"2024-01-01T00:00:00Z","request":"x","requiresAccessToken":false,"output":[%s],"error":[]}`,
		strings.Join(items, ","))
}

func (h *hostile) getsOf(name string) int64 {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.gets[name]
}

func (h *hostile) runner(t *testing.T) (*bulk.Runner, *events, *core.Export) {
	r, ev, _ := newRunner(t, h.srv.URL+"/fhir", http.DefaultClient, mustOpenDB(t))
	return r, ev, &core.Export{FHIRBaseURL: h.srv.URL + "/fhir", Request: core.ExportRequest{Level: core.LevelPatient}}
}

// storedOnce checks that the export's catalogue holds exactly the
// manifest's resources, each once, and no problem lines.
func storedOnce(t *testing.T, r *bulk.Runner, exp *core.Export) {
	t.Helper()
	db := r.Store.(*catalog.DB)
	got, err := db.FindExport(t.Context(), exp.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.State != core.StateComplete {
		t.Fatalf("state = %s (%s), want complete", got.State, got.Error)
	}
	checkCatalogue(t, db, got)
	files, _ := db.FindFiles(t.Context(), exp.ID)
	for _, f := range files {
		if f.Problems != 0 {
			t.Errorf("file %s: %d problem lines stored, want 0", f.URL, f.Problems)
		}
	}
}

// TestCorruptionRedownloaded: a file with a corrupted line, or a line
// missing, is downloaded again and stored once, from the good download.
func TestCorruptionRedownloaded(t *testing.T) {
	good := patients(300)
	corrupt := strings.Replace(good, `"p17"}`, `"p17"`, 1)
	short := good[:strings.LastIndex(good[:len(good)-1], "\n")+1]
	h := newHostile(t)
	h.status = func(w http.ResponseWriter, r *http.Request, n int64) {
		h.manifest(w, map[string]int{"corrupt": 300, "short": 300, "bad": 300})
	}
	h.files["corrupt"] = func(w http.ResponseWriter, r *http.Request, n int64) {
		if n == 1 {
			fmt.Fprint(w, corrupt)
			return
		}
		fmt.Fprint(w, good)
	}
	h.files["short"] = func(w http.ResponseWriter, r *http.Request, n int64) {
		if n == 1 {
			fmt.Fprint(w, short)
			return
		}
		fmt.Fprint(w, good)
	}
	// Corrupt every time: reported after the bounded re-downloads.
	h.files["bad"] = func(w http.ResponseWriter, r *http.Request, n int64) { fmt.Fprint(w, corrupt) }
	r, _, exp := h.runner(t)
	err := r.Start(t.Context(), exp)
	if err == nil || !strings.Contains(err.Error(), "1 of 3 files not verified") {
		t.Fatalf("Start() = %v, want the always-corrupt file reported", err)
	}
	if got, want := h.getsOf("bad"), int64(1+bulk.DefaultMaxRedownloads); got != want {
		t.Errorf("always-corrupt file fetched %d times, want %d", got, want)
	}
	if h.getsOf("corrupt") != 2 || h.getsOf("short") != 2 {
		t.Errorf("fetches: corrupt %d, short %d; want 2 each", h.getsOf("corrupt"), h.getsOf("short"))
	}
	db := r.Store.(*catalog.DB)
	files, _ := db.FindFiles(t.Context(), exp.ID)
	for _, f := range files {
		want := "loaded lines=300 problems=0"
		if strings.HasSuffix(f.URL, "/bad") {
			want = "invalid lines=300 problems=1"
		}
		if got := fmt.Sprintf("%s lines=%d problems=%d", f.State, f.Lines, f.Problems); got != want {
			t.Errorf("%s: %s, want %s", f.URL, got, want)
		}
	}
	counts, _ := db.Counts(t.Context(), exp.ID)
	if len(counts) != 1 || counts[0].Count != 899 {
		t.Errorf("stored = %v, want 899 Patients (300 + 300 + 299 valid lines of the bad file), each once", counts)
	}
}

// TestGzipWithoutContentEncoding: gzip bytes served without the header are
// recognised and decompressed.
func TestGzipWithoutContentEncoding(t *testing.T) {
	h := newHostile(t)
	h.status = func(w http.ResponseWriter, r *http.Request, n int64) { h.manifest(w, map[string]int{"a": 500}) }
	body := gzipped(t, patients(500))
	h.files["a"] = func(w http.ResponseWriter, r *http.Request, n int64) {
		w.Header().Set("Content-Type", "application/fhir+ndjson")
		w.Write(body)
	}
	r, _, exp := h.runner(t)
	if err := r.Start(t.Context(), exp); err != nil {
		t.Fatalf("Start() = %v", err)
	}
	storedOnce(t, r, exp)
	if h.getsOf("a") != 1 {
		t.Errorf("file fetched %d times, want once", h.getsOf("a"))
	}
}

// TestStatusRedirectOtherOrigin: a status poll redirected to another
// origin is followed without the FHIR server's token or headers.
func TestStatusRedirectOtherOrigin(t *testing.T) {
	h := newHostile(t)
	var leaked atomic.Bool
	other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("X-Secret") != "" || r.Header.Get("Authorization") != "" {
			leaked.Store(true)
		}
		h.manifest(w, map[string]int{"a": 10})
	}))
	defer other.Close()
	h.status = func(w http.ResponseWriter, r *http.Request, n int64) {
		http.Redirect(w, r, other.URL+"/manifest", http.StatusFound)
	}
	h.files["a"] = func(w http.ResponseWriter, r *http.Request, n int64) { fmt.Fprint(w, patients(10)) }
	r, _, exp := h.runner(t)
	r.Client.Headers = map[string]string{"X-Secret": "for the FHIR server only"}
	if err := r.Start(t.Context(), exp); err != nil {
		t.Fatalf("Start() = %v", err)
	}
	storedOnce(t, r, exp)
	if leaked.Load() {
		t.Error("the other origin got the FHIR server's headers")
	}
}

// stall sends headers (and head, when given), then nothing until the
// client gives up.
func stall(w http.ResponseWriter, r *http.Request, head string) {
	w.Header().Set("Content-Length", "100000")
	w.WriteHeader(http.StatusOK)
	fmt.Fprint(w, head)
	w.(http.Flusher).Flush()
	<-r.Context().Done()
}

// TestStalledBodiesRetried: a status, manifest or file body that stalls
// after its headers is cut after the stall timeout and retried as a reset;
// the file carries on from its stored lines.
func TestStalledBodiesRetried(t *testing.T) {
	all := patients(400)
	h := newHostile(t)
	h.status = func(w http.ResponseWriter, r *http.Request, n int64) {
		if n == 1 {
			stall(w, r, `{"transactionTime":`)
			return
		}
		h.manifest(w, map[string]int{"a": 400})
	}
	h.files["a"] = func(w http.ResponseWriter, r *http.Request, n int64) {
		if n == 1 {
			stall(w, r, all[:len(all)/2])
			return
		}
		http.ServeContent(w, r, "a.ndjson", time.Time{}, strings.NewReader(all))
	}
	r, ev, exp := h.runner(t)
	r.Client.StallTimeout = 200 * time.Millisecond
	if err := r.Start(t.Context(), exp); err != nil {
		t.Fatalf("Start() = %v", err)
	}
	storedOnce(t, r, exp)
	var stalls int
	for _, k := range []core.EventKind{core.EventStatusError, core.EventDownloadError} {
		for _, e := range ev.kinds(k) {
			if strings.Contains(e.Message, "stalled") && e.Transient {
				stalls++
			}
		}
	}
	if stalls != 2 {
		t.Errorf("%d transient 'stalled' errors, want 2 (status and file)", stalls)
	}
}

// TestGivingUpStaysResumable: retries exhausted leave the export
// resumable, and one Resume finishes it.
func TestGivingUpStaysResumable(t *testing.T) {
	h := newHostile(t)
	var down atomic.Bool
	down.Store(true)
	h.status = func(w http.ResponseWriter, r *http.Request, n int64) {
		if down.Load() {
			w.WriteHeader(http.StatusBadGateway)
			return
		}
		h.manifest(w, map[string]int{"a": 20})
	}
	h.files["a"] = func(w http.ResponseWriter, r *http.Request, n int64) { fmt.Fprint(w, patients(20)) }
	r, _, exp := h.runner(t)
	r.MaxTransient = 2
	err := r.Start(t.Context(), exp)
	var re *bulk.ResumableError
	if !errors.As(err, &re) || re.ExportID != exp.ID || !strings.Contains(err.Error(), "can be resumed") {
		t.Fatalf("Start() = %v, want a ResumableError for export %d that says it can be resumed", err, exp.ID)
	}
	db := r.Store.(*catalog.DB)
	got, _ := db.FindExport(t.Context(), exp.ID)
	if got.State.Final() || got.StatusURL == "" {
		t.Fatalf("state %s, status URL %q: want resumable with its job", got.State, got.StatusURL)
	}
	if un, _ := db.UnfinishedExports(t.Context()); len(un) != 1 {
		t.Fatalf("%d unfinished exports, want 1 for --resume to find", len(un))
	}
	down.Store(false)
	if _, err := r.Resume(t.Context(), exp.ID); err != nil {
		t.Fatalf("Resume() = %v", err)
	}
	storedOnce(t, r, exp)
}

// TestWithheldToken401: a file server on another origin answering 401 to
// a request sent without the token on purpose gets one sentence and no
// retries.
func TestWithheldToken401(t *testing.T) {
	other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusUnauthorized)
	}))
	defer other.Close()
	h := newHostile(t)
	h.status = func(w http.ResponseWriter, r *http.Request, n int64) {
		fmt.Fprintf(w, `{"transactionTime":"2024-01-01T00:00:00Z","request":"x","requiresAccessToken":true,"output":[{"type":"Patient","url":"%s/f","count":1}],"error":[]}`, other.URL)
	}
	r, ev, exp := h.runner(t)
	if err := r.Start(t.Context(), exp); err == nil {
		t.Fatal("Start() = nil, want the file not verified")
	}
	files, _ := r.Store.FindFiles(t.Context(), exp.ID)
	if len(files) != 1 || !strings.Contains(files[0].Error, "refused a request without an access token") {
		t.Fatalf("files = %v, want the withheld token explained", files)
	}
	if n := len(ev.kinds(core.EventDownloadRequest)); n != 1 {
		t.Errorf("%d download requests, want 1: no retries", n)
	}
}

// TestFileFarPastCount: a file that goes on far past its manifest count is
// stopped, its lines up to there kept, with a clear error.
func TestFileFarPastCount(t *testing.T) {
	h := newHostile(t)
	h.status = func(w http.ResponseWriter, r *http.Request, n int64) { h.manifest(w, map[string]int{"a": 1}) }
	body := gzipped(t, patients(100_000))
	h.files["a"] = func(w http.ResponseWriter, r *http.Request, n int64) {
		w.Header().Set("Content-Encoding", "gzip")
		w.Write(body)
	}
	r, _, exp := h.runner(t)
	if err := r.Start(t.Context(), exp); err == nil {
		t.Fatal("Start() = nil, want the file not verified")
	}
	files, _ := r.Store.FindFiles(t.Context(), exp.ID)
	if len(files) != 1 || files[0].State != core.FileInvalid || files[0].Lines != 1002 ||
		!strings.Contains(files[0].Error, "stopped at line 1002: the manifest count is 1") {
		t.Fatalf("file = %+v, want invalid with 1002 lines kept and the reason", files[0])
	}
	got, _ := r.Store.FindExport(t.Context(), exp.ID)
	if got.State != core.StateFailed {
		t.Errorf("state = %s, want failed: the bound is final", got.State)
	}
}

// TestDecompressionBomb: a small gzip that expands far past the ratio is
// cut with ErrTooExpanded, the lines up to there kept.
func TestDecompressionBomb(t *testing.T) {
	line := `{"resourceType":"Patient","id":"same","text":"` + strings.Repeat("a", 4000) + `"}` + "\n"
	body := gzipped(t, strings.Repeat(line, (40<<20)/len(line))) // 40 MiB in about 100 KiB
	h := newHostile(t)
	h.status = func(w http.ResponseWriter, r *http.Request, n int64) {
		fmt.Fprintf(w, `{"transactionTime":"2024-01-01T00:00:00Z","request":"x","requiresAccessToken":false,"output":[{"type":"Patient","url":"%s/files/a"}],"error":[]}`, h.srv.URL)
	}
	h.files["a"] = func(w http.ResponseWriter, r *http.Request, n int64) {
		w.Header().Set("Content-Encoding", "gzip")
		w.Write(body)
	}
	r, _, exp := h.runner(t)
	r.Client.MaxExpansion = 20
	r.BatchLines = 1000
	if err := r.Start(t.Context(), exp); err == nil {
		t.Fatal("Start() = nil, want the file not verified")
	}
	files, _ := r.Store.FindFiles(t.Context(), exp.ID)
	if f := files[0]; f.State != core.FileInvalid || f.Bytes > 20<<20 || f.Lines == 0 || !strings.Contains(f.Error, "expands to far more") {
		t.Errorf("file %s, %d lines, %d bytes; want invalid, stopped near 16 MiB with its lines kept", f.State, f.Lines, f.Bytes)
	}
	if h.getsOf("a") != 1 {
		t.Errorf("bomb fetched %d times, want once", h.getsOf("a"))
	}
}

// TestOneProcessPerExport: a Resume beside a running export (here, its
// lock held) is refused with a sentence, before any request.
func TestOneProcessPerExport(t *testing.T) {
	h := newHostile(t)
	var down atomic.Bool
	down.Store(true)
	h.status = func(w http.ResponseWriter, r *http.Request, n int64) {
		if down.Load() {
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		h.manifest(w, map[string]int{"a": 5})
	}
	h.files["a"] = func(w http.ResponseWriter, r *http.Request, n int64) { fmt.Fprint(w, patients(5)) }
	r, _, exp := h.runner(t)
	r.MaxTransient = 1
	if err := r.Start(t.Context(), exp); err == nil {
		t.Fatal("Start() = nil, want it to stop resumable")
	}
	down.Store(false)
	db := r.Store.(*catalog.DB)
	release, err := db.LockExport(t.Context(), exp.ID)
	if err != nil {
		t.Fatal(err)
	}
	polls := h.polls.Load()
	_, err = r.Resume(t.Context(), exp.ID)
	if !errors.Is(err, core.ErrInUse) || !strings.Contains(err.Error(), "already running in another Tranche") {
		t.Fatalf("Resume beside a running export = %v, want core.ErrInUse said as a sentence", err)
	}
	if h.polls.Load() != polls {
		t.Error("the refused Resume polled the server")
	}
	release()
	if _, err := r.Resume(t.Context(), exp.ID); err != nil {
		t.Fatalf("Resume after release = %v", err)
	}
	storedOnce(t, r, exp)
}
