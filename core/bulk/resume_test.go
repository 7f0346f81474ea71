package bulk_test

import (
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"

	"tranche.dev/tranche/core"
	"tranche.dev/tranche/core/catalog"
	"tranche.dev/tranche/core/demo"
)

// wireCounter is an http.RoundTripper that records, per request, the bytes
// of the response body as they came over the wire: the runner asks for
// gzip itself, so the transport leaves the body compressed.
type wireCounter struct {
	noGzip bool // strip Accept-Encoding: the server answers uncompressed
	mu     sync.Mutex
	fetch  []*fetch
}

type fetch struct {
	url, rng, encoding string
	bytes              int64
}

func (wc *wireCounter) RoundTrip(req *http.Request) (*http.Response, error) {
	if wc.noGzip {
		req = req.Clone(req.Context())
		req.Header.Del("Accept-Encoding")
	}
	resp, err := http.DefaultTransport.RoundTrip(req)
	if err != nil {
		return nil, err
	}
	f := &fetch{url: req.URL.String(), rng: req.Header.Get("Range"), encoding: resp.Header.Get("Content-Encoding")}
	wc.mu.Lock()
	wc.fetch = append(wc.fetch, f)
	wc.mu.Unlock()
	resp.Body = &countingBody{ReadCloser: resp.Body, wc: wc, f: f}
	return resp, nil
}

func (wc *wireCounter) fetches(url string) []fetch {
	wc.mu.Lock()
	defer wc.mu.Unlock()
	var out []fetch
	for _, f := range wc.fetch {
		if f.url == url {
			out = append(out, *f)
		}
	}
	return out
}

type countingBody struct {
	io.ReadCloser
	wc *wireCounter
	f  *fetch
}

func (b *countingBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	b.wc.mu.Lock()
	b.f.bytes += int64(n)
	b.wc.mu.Unlock()
	return n, err
}

// TestResumeStaysCompressed cuts every file's first download half way (the
// demo server's DropMidFile fault, on a gzip body) and lets the runner
// resume: the resumed download is compressed and moves no more bytes than a
// fresh compressed download of the whole file, and far fewer than the
// uncompressed rest a Range resume would move; the catalogue holds every
// line once.
func TestResumeStaysCompressed(t *testing.T) {
	wc := &wireCounter{}
	db, exp, offset := exportCutOnce(t, wc)

	files, err := db.FindFiles(t.Context(), exp.ID)
	if err != nil {
		t.Fatal(err)
	}
	resumed := 0
	var moved, freshTotal, restTotal int64
	for _, f := range files {
		if f.Kind != core.KindOutput {
			continue
		}
		if offset[f.URL] == 0 {
			continue // cut before its first line ended: fetched again, not resumed
		}
		got := wc.fetches(f.URL)
		if len(got) != 2 {
			t.Errorf("%s: %d downloads, want 2 (cut, then resumed)", f.URL, len(got))
			continue
		}
		cut, resume := got[0], got[1]
		if cut.encoding != "gzip" || cut.bytes == 0 {
			t.Fatalf("%s: first download %+v, want a gzip body cut half way", f.URL, cut)
		}
		// A fresh compressed download of the whole file (the fault cuts
		// only the first attempt).
		fresh := freshCompressedSize(t, f.URL)
		if resume.encoding != "gzip" || resume.rng != "" {
			t.Errorf("%s: resumed with Range %q, Content-Encoding %q; want gzip, no Range", f.URL, resume.rng, resume.encoding)
		}
		if resume.bytes > fresh {
			t.Errorf("%s: resume moved %d bytes, more than a fresh compressed download (%d)", f.URL, resume.bytes, fresh)
		}
		// What a Range resume would have moved: the uncompressed rest.
		rest := f.Bytes - offset[f.URL]
		if resume.bytes >= rest {
			t.Errorf("%s: resume after byte %d moved %d bytes, want fewer than the uncompressed rest (%d)", f.URL, offset[f.URL], resume.bytes, rest)
		}
		moved, freshTotal, restTotal = moved+resume.bytes, freshTotal+fresh, restTotal+rest
		resumed++
	}
	if resumed < 2 {
		t.Fatalf("%d output files resumed, want several", resumed)
	}
	t.Logf("%d files resumed: %d bytes moved; fresh compressed downloads %d; uncompressed rests %d", resumed, moved, freshTotal, restTotal)
}

// freshCompressedSize downloads u compressed and returns the bytes moved.
func freshCompressedSize(t *testing.T, u string) int64 {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, u, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Accept-Encoding", "gzip")
	resp, err := http.DefaultTransport.RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	n, err := io.Copy(io.Discard, resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK || !strings.EqualFold(resp.Header.Get("Content-Encoding"), "gzip") {
		t.Fatalf("GET %s compressed: status %d, Content-Encoding %q, err %v", u, resp.StatusCode, resp.Header.Get("Content-Encoding"), err)
	}
	return n
}

// TestResumeUncompressedWithRange: from a server that does not compress, a
// resume drops the uncompressed answer unread and asks for the rest with
// Range.
func TestResumeUncompressedWithRange(t *testing.T) {
	wc := &wireCounter{noGzip: true}
	db, exp, offset := exportCutOnce(t, wc)

	files, err := db.FindFiles(t.Context(), exp.ID)
	if err != nil {
		t.Fatal(err)
	}
	resumed := 0
	for _, f := range files {
		if f.Kind != core.KindOutput || offset[f.URL] == 0 {
			continue // not resumed: cut before its first line ended
		}
		got := wc.fetches(f.URL)
		if len(got) != 3 {
			t.Errorf("%s: %d downloads, want 3 (cut, whole dropped, rest by Range): %+v", f.URL, len(got), got)
			continue
		}
		whole, rest := got[1], got[2]
		// Two bytes are read of it: the sniff for gzip sent without
		// Content-Encoding.
		if whole.encoding != "" || whole.rng != "" || whole.bytes > 2 {
			t.Errorf("%s: second download %+v, want an uncompressed whole file, dropped after the 2-byte gzip sniff", f.URL, whole)
		}
		if rest.rng == "" || rest.bytes == 0 || rest.bytes >= f.Bytes {
			t.Errorf("%s: third download %+v, want the rest of the %d bytes by Range", f.URL, rest, f.Bytes)
		}
		resumed++
	}
	if resumed < 2 {
		t.Fatalf("%d output files resumed, want several", resumed)
	}
}

// exportCutOnce exports the demo server's data through wc, each file cut
// once half way and resumed, keeping the job for a fresh download; it
// checks the catalogue and returns where each resumed file was resumed
// (the bytes stored before the cut).
func exportCutOnce(t *testing.T, wc *wireCounter) (*catalog.DB, *core.Export, map[string]int64) {
	t.Helper()
	srv := mustOpenDemo(t, demo.Config{Open: true, Patients: 4, FileLines: 300, Faults: demo.Faults{DropMidFile: 1}})
	db := mustOpenDB(t)
	r, ev, _ := newRunner(t, srv.URL(), http.DefaultClient, db)
	r.Client.FileClient = &http.Client{Transport: wc}
	r.BatchLines, r.KeepJob = 100, true // the files stay for the fresh download
	exp := &core.Export{FHIRBaseURL: srv.URL(), Request: core.ExportRequest{Level: core.LevelPatient}}
	if err := r.Start(t.Context(), exp); err != nil {
		t.Fatalf("Start() = %v", err)
	}
	checkCatalogue(t, db, exp)
	offset := map[string]int64{}
	for _, e := range ev.kinds(core.EventDownloadRequest) {
		if e.Offset > 0 {
			offset[e.FileURL] = e.Offset
		}
	}
	return db, exp, offset
}
