package bulk_test

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"runtime"
	"strings"
	"sync"
	"testing"

	"tranche.dev/tranche/core"
	"tranche.dev/tranche/core/bulk"
)

// heapPeak samples the Go heap while a test runs: the hostile server calls
// sample as it writes, so the samples span the client's whole read.
type heapPeak struct {
	mu         sync.Mutex
	base, peak uint64
}

func newHeapPeak() *heapPeak {
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return &heapPeak{base: m.HeapInuse, peak: m.HeapInuse}
}

func (h *heapPeak) sample() {
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	h.mu.Lock()
	h.peak = max(h.peak, m.HeapInuse)
	h.mu.Unlock()
}

// grown is the peak heap in use above the heap at the start, in MiB.
func (h *heapPeak) grown() uint64 {
	h.mu.Lock()
	defer h.mu.Unlock()
	return (h.peak - min(h.base, h.peak)) >> 20
}

// streamBody writes head, then chunk again and again until size bytes are
// written, then tail, sampling the heap every 8 MiB. Nothing of it is held
// in memory: the body is made as it is sent. It stops when the client
// stops reading.
func streamBody(w http.ResponseWriter, hp *heapPeak, head, chunk, tail string, size int) {
	w.Header().Set("Content-Type", "application/json")
	if _, err := io.WriteString(w, head); err != nil {
		return
	}
	next := 0
	for n := len(head); n < size; n += len(chunk) {
		if _, err := io.WriteString(w, chunk); err != nil {
			return
		}
		if n >= next {
			hp.sample()
			next += 8 << 20
		}
	}
	io.WriteString(w, tail)
	hp.sample()
}

// repeat is s repeated to about 64 KiB: one write of the stream.
func repeat(s string) string { return strings.Repeat(s, (64<<10)/len(s)+1) }

// TestManifestStreamBounded: a manifest of 200 MB and more is read as a
// stream whatever it holds, with the heap bounded by what is kept, never
// by the manifest's size (a 200 MB manifest once took 1.28 GB). Each error
// names the URL and says what was wrong.
func TestManifestStreamBounded(t *testing.T) {
	const size = 210 << 20
	item := `{"type":"Patient","url":"https://files.example/fhir/files/patient-0000001.ndjson","count":1},`
	tests := []struct {
		name              string
		head, chunk, tail string
		size              int
		want              string // in the error; "" for success
		tooLarge          bool   // errors.Is ErrManifestTooLarge
		maxHeapMiB        uint64
	}{
		// 2.2 million items: stopped at the 100,000th, the default bound.
		{"ManyFiles", `{"transactionTime":"2024-01-01T00:00:00Z","output":[`, repeat(item), `{"url":"x"}]}`, size,
			"more than 100000 files listed", true, 64},
		// A few files and 210 MB of extension: skipped as it streams past.
		{"HugeExtension", `{"transactionTime":"2024-01-01T00:00:00Z","output":[` + strings.TrimSuffix(item, ",") + `],"extension":[`,
			repeat(`{"url":"http://x.example/e","valueString":"` + strings.Repeat("padding, ", 900) + `","extension":[{"url":"y","valueInteger":7}]},`),
			`{"url":"z"}],"error":[]}`, size, "", false, 16},
		// One 210 MB string: refused after its first MiB.
		{"HugeValue", `{"output":[],"note":"`, repeat("x"), `"}`, size, "a single value (or run of space) over the 1 MiB bound", true, 16},
		{"HugeSpace", `{"output":[]`, repeat(" "), `}`, size, "a single value (or run of space) over the 1 MiB bound", true, 16},
		{"HugeHTML", `<!DOCTYPE html><html><body>`, repeat("<p>Please log in</p>"), `</body></html>`, size,
			"is HTML, not JSON", false, 16},
		// The body ends (cleanly, as HTTP goes) in the middle of the JSON.
		{"TruncatedInExtension", `{"output":[],"extension":[`, repeat(`{"url":"a","valueString":"b"},`), `{"url":"a","valueStr`, 20 << 20,
			"is cut short after", false, 16},
		{"TruncatedInItems", `{"output":[`, repeat(item), `{"type":"Patient","url":"ht`, 5 << 20,
			"is cut short after", false, 16},
		{"TrailingData", `{"output":[]}`, repeat("{}"), `{"output":[]}`, 20 << 20,
			"data after the manifest object", false, 16},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			hp := newHeapPeak()
			defer func() { t.Logf("peak heap +%d MiB", hp.grown()) }()
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				streamBody(w, hp, tt.head, tt.chunk, tt.tail, tt.size)
			}))
			defer srv.Close()
			c := &bulk.Client{BaseURL: srv.URL, HTTPClient: http.DefaultClient}
			st, err := c.Status(t.Context(), srv.URL+"/status?job=1")
			hp.sample()
			if tt.want == "" {
				if err != nil {
					t.Fatalf("Status() = %v, want a manifest", err)
				}
				if len(st.Manifest.Output) != 1 || len(st.Raw) > 4<<10 {
					t.Errorf("got %d output files and %d bytes to store, want 1 and the entries only", len(st.Manifest.Output), len(st.Raw))
				}
			} else if err == nil || !strings.Contains(err.Error(), tt.want) || !strings.Contains(err.Error(), srv.URL+"/status") ||
				errors.Is(err, bulk.ErrManifestTooLarge) != tt.tooLarge {
				t.Fatalf("Status() = %v, want %q naming the URL (ErrManifestTooLarge: %v)", err, tt.want, tt.tooLarge)
			}
			if got := hp.grown(); got > tt.maxHeapMiB {
				t.Errorf("peak heap grew by %d MiB reading a %d MiB manifest, want at most %d MiB", got, tt.size>>20, tt.maxHeapMiB)
			}
		})
	}
}

// TestManifestStoredBounded: an export whose manifest is 24 MB of
// extension around one file (over the 1 MiB stored as received, which is
// what matters here; TestManifestStreamBounded reads 210 MB) completes, and what is stored of the manifest
// is its entries, not its bytes; a resume reads them back.
func TestManifestStoredBounded(t *testing.T) {
	hp := newHeapPeak()
	h := newHostile(t)
	h.status = func(w http.ResponseWriter, r *http.Request, n int64) {
		streamBody(w, hp, fmt.Sprintf(`{"transactionTime":"2024-01-01T00:00:00Z","requiresAccessToken":false,"output":[{"type":"Patient","url":"%s/files/a","count":3}],"extension":[`, h.srv.URL),
			repeat(`{"url":"http://x.example/e","valueString":"padding, padding"},`), `{"url":"z"}],"error":[]}`, 24<<20)
	}
	h.files["a"] = func(w http.ResponseWriter, r *http.Request, n int64) { fmt.Fprint(w, patients(3)) }
	r, _, exp := h.runner(t)
	if err := r.Start(t.Context(), exp); err != nil {
		t.Fatalf("Start() = %v", err)
	}
	storedOnce(t, r, exp)
	got, _ := r.Store.FindExport(t.Context(), exp.ID)
	base, _ := url.Parse(exp.StatusURL)
	m, err := bulk.ParseManifest(got.Manifest, base)
	if err != nil || len(got.Manifest) > 4<<10 || len(m.Output) != 1 || m.Output[0].URL != h.srv.URL+"/files/a" || m.Output[0].Count != 3 ||
		m.TransactionTime != "2024-01-01T00:00:00Z" {
		t.Errorf("stored manifest %q (%v), want the one file of the manifest and its transactionTime, in under 4 KiB", got.Manifest, err)
	}
	if g := hp.grown(); g > 32 {
		t.Errorf("peak heap grew by %d MiB in an export with a 24 MiB manifest, want at most 32", g)
	}
	if got.State != core.StateComplete {
		t.Errorf("state %s, want complete", got.State)
	}
}

// TestManifestConnectionCut: a manifest whose connection ends before its
// Content-Length is a transport error, retried as a reset is, naming the
// URL; not a verdict on the manifest.
func TestManifestConnectionCut(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", "100000")
		io.WriteString(w, `{"transactionTime":"2024-01-01T00:00:00Z","output":[{"url":"a"}`)
	}))
	defer srv.Close()
	c := &bulk.Client{BaseURL: srv.URL, HTTPClient: http.DefaultClient}
	_, err := c.Status(t.Context(), srv.URL+"/status?job=1")
	if err == nil || !errors.Is(err, io.ErrUnexpectedEOF) || !strings.Contains(err.Error(), "read manifest from "+srv.URL+"/status") {
		t.Fatalf("Status() = %v, want io.ErrUnexpectedEOF naming the URL", err)
	}
}

// TestManifestPagesBounded: the bound on file items holds for all the pages
// of a paged manifest together, each page within it alone.
func TestManifestPagesBounded(t *testing.T) {
	h := newHostile(t)
	h.status = func(w http.ResponseWriter, r *http.Request, n int64) {
		page := r.URL.Query().Get("page")
		next := ""
		if page == "" {
			next = `,"link":[{"relation":"next","url":"` + h.srv.URL + `/status?page=2"}]`
		}
		fmt.Fprintf(w, `{"transactionTime":"2024-01-01T00:00:00Z","output":[{"type":"Patient","url":"%s/files/a%s"},{"type":"Patient","url":"%s/files/b%s"}]%s}`,
			h.srv.URL, page, h.srv.URL, page, next)
	}
	for _, name := range []string{"a", "b", "a2", "b2"} {
		h.files[name] = func(w http.ResponseWriter, r *http.Request, n int64) { fmt.Fprint(w, patients(1)) }
	}
	r, _, exp := h.runner(t)
	r.Client.MaxManifestFiles = 3
	err := r.Start(t.Context(), exp)
	// The query is left out of URLs in errors (it may hold a signature).
	if !errors.Is(err, bulk.ErrManifestTooLarge) || !strings.Contains(err.Error(), h.srv.URL+"/status") ||
		!strings.Contains(err.Error(), "more than 3 files together") {
		t.Fatalf("Start() = %v, want ErrManifestTooLarge naming the page", err)
	}
	if got, _ := r.Store.FindExport(t.Context(), exp.ID); got.State != core.StateFailed {
		t.Errorf("state %s, want failed", got.State)
	}
}

// TestPartialManifestBounded: a partial manifest (a 202 with a body) over
// the bound is refused as a complete one is, not passed over; one that is
// not a manifest (an OperationOutcome) is still ignored.
func TestPartialManifestBounded(t *testing.T) {
	tests := []struct {
		name, body string
		tooLarge   bool
	}{
		{"TooManyFiles", `{"output":[{"url":"a"},{"url":"b"},{"url":"c"}]}`, true},
		{"Outcome", `{"resourceType":"OperationOutcome","issue":[{"severity":"information","code":"informational","diagnostics":"working"}]}`, false},
		{"NotJSON", `working on it`, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.WriteHeader(http.StatusAccepted)
				io.WriteString(w, tt.body)
			}))
			defer srv.Close()
			c := &bulk.Client{BaseURL: srv.URL, HTTPClient: http.DefaultClient, MaxManifestFiles: 2}
			st, err := c.Status(t.Context(), srv.URL+"/status")
			if tt.tooLarge {
				if !errors.Is(err, bulk.ErrManifestTooLarge) || !strings.Contains(err.Error(), srv.URL+"/status") {
					t.Fatalf("Status() = %v, want ErrManifestTooLarge naming the URL", err)
				}
				return
			}
			if err != nil || st.Done || st.Manifest != nil {
				t.Fatalf("Status() = %+v, %v; want in progress with no manifest", st, err)
			}
		})
	}
}
