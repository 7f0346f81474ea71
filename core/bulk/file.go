package bulk

import (
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
)

// fileBody is an open file download.
type fileBody struct {
	io.Reader
	closer  io.Closer
	resp    *http.Response
	Start   int64 // offset the body starts at (Range honoured), else 0
	Encoded bool  // the server compressed the body
}

func (b *fileBody) Close() error { return b.closer.Close() }

// OpenFile GETs a file URL from a manifest. The FHIR origin's authorizing
// client is used only when requiresToken is true AND the URL is on the FHIR
// server's origin; every other URL goes through the plain FileClient (Bulk Data Access IG, Export: File Request:
// capability URLs SHALL NOT get the token). A redirect from the FHIR origin
// to another origin is followed with the plain client, so the token never
// leaves its origin.
//
// With offset > 0 the caller has the file's bytes up to offset and wants the
// rest. The file is asked for compressed and whole first (Start is then 0,
// and the caller skips the lines it has): a Range applies to the encoded
// bytes (RFC 9110, Range Requests), so only an uncompressed file can be
// resumed mid-way, and NDJSON compresses about tenfold, so the whole file
// compressed is fewer bytes than any uncompressed rest but its last tenth.
// Only when the server answers uncompressed is that answer dropped and the
// rest asked for with Range; Start says whether the server honoured it.
func (c *Client) OpenFile(ctx context.Context, u string, requiresToken bool, offset int64) (*fileBody, error) {
	if offset > 0 {
		b, err := c.openFile(ctx, u, requiresToken, 0)
		if err != nil || b.Encoded {
			return b, err
		}
		b.Close() // uncompressed: ask for the rest only
	}
	return c.openFile(ctx, u, requiresToken, offset)
}

// openFile GETs u: compressed and whole with offset 0, else uncompressed
// from offset with Range.
func (c *Client) openFile(ctx context.Context, u string, requiresToken bool, offset int64) (*fileBody, error) {
	get := func(hc *http.Client, u string) (*http.Response, error) {
		req, err := c.newRequest(ctx, http.MethodGet, u, nil)
		if err != nil {
			return nil, err
		}
		req.Header.Set("Accept", "application/fhir+ndjson")
		if offset > 0 {
			req.Header.Set("Accept-Encoding", "identity")
			req.Header.Set("Range", "bytes="+strconv.FormatInt(offset, 10)+"-")
		} else {
			// Set by hand, so the transport leaves the body compressed and
			// we decompress it ourselves (any server, any file size).
			req.Header.Set("Accept-Encoding", "gzip")
		}
		return hc.Do(req)
	}
	var resp *http.Response
	var err error
	if requiresToken && c.sameOrigin(u) {
		resp, err = get(c.apiClient(), u)
		if err == nil && resp.StatusCode/100 == 3 && resp.Header.Get("Location") != "" {
			// A cross-origin redirect the API client refused to follow.
			loc, rerr := resolve(resp.Request.URL, resp.Header.Get("Location"))
			resp.Body.Close()
			if rerr != nil {
				return nil, fmt.Errorf("download redirect: %w", rerr)
			}
			resp, err = get(c.fileClient(), loc)
		}
	} else {
		resp, err = get(c.fileClient(), u)
	}
	if err != nil {
		return nil, fmt.Errorf("download: %w", err)
	}
	switch resp.StatusCode {
	case http.StatusOK, http.StatusPartialContent:
	default:
		defer resp.Body.Close()
		return nil, c.responseError("download", resp)
	}
	b := &fileBody{Reader: resp.Body, closer: resp.Body, resp: resp}
	if resp.StatusCode == http.StatusPartialContent {
		start, ok := contentRangeStart(resp.Header.Get("Content-Range"))
		if !ok || start != offset {
			resp.Body.Close()
			return nil, fmt.Errorf("download %s: asked for bytes from %d, got Content-Range %q", u, offset, resp.Header.Get("Content-Range"))
		}
		b.Start = start
	}
	compressed := &countingReader{r: resp.Body}
	enc := strings.ToLower(strings.TrimSpace(resp.Header.Get("Content-Encoding")))
	var raw io.Reader = compressed
	if (enc == "" || enc == "identity") && b.Start == 0 {
		// gzip bytes served without Content-Encoding (a proxy dropped the
		// header, or a storage bucket serves .ndjson.gz as is) would be
		// read as text and stored as garbage lines. The gzip magic
		// number (RFC 1952 §2.3.1) cannot begin an NDJSON line. Exactly
		// two bytes are read for it, so an answer dropped after this
		// (a resume that asks for the rest by Range) costs no more.
		magic := make([]byte, 2)
		n, _ := io.ReadFull(compressed, magic)
		if n == 2 && magic[0] == 0x1f && magic[1] == 0x8b {
			enc = "gzip"
			c.logger().Warn("gzip data without Content-Encoding; decompressing", "url", redactURL(u))
		}
		raw = io.MultiReader(bytes.NewReader(magic[:n]), compressed)
	}
	b.Reader = raw
	switch enc {
	case "", "identity":
	case "gzip", "x-gzip":
		zr, err := gzip.NewReader(raw)
		if err != nil {
			resp.Body.Close()
			return nil, fmt.Errorf("download %s: gzip: %w", u, err)
		}
		b.Reader, b.Encoded = &expansionLimit{r: zr, in: compressed, ratio: c.maxExpansion()}, true
	default:
		resp.Body.Close()
		return nil, fmt.Errorf("download %s: unsupported Content-Encoding %q", u, enc)
	}
	return b, nil
}

// contentRangeStart reads the first byte position of "bytes a-b/n".
func contentRangeStart(v string) (int64, bool) {
	v, ok := strings.CutPrefix(strings.TrimSpace(v), "bytes ")
	if !ok {
		return 0, false
	}
	a, _, ok := strings.Cut(v, "-")
	if !ok {
		return 0, false
	}
	n, err := strconv.ParseInt(strings.TrimSpace(a), 10, 64)
	return n, err == nil
}

// Decompression bounds: a file may expand to MaxExpansion times its
// compressed size, plus expansionFloor, before the download stops.
// NDJSON compresses about 10:1 and the most repetitive synthetic data
// under 100:1; a gzip bomb reaches 1000:1.
const (
	DefaultMaxExpansion = 200
	expansionFloor      = 16 << 20
)

// ErrTooExpanded reports a compressed file that expands past the bound.
var ErrTooExpanded = errors.New("the file expands to far more than its compressed size (a decompression bomb?)")

func (c *Client) maxExpansion() int64 {
	if c.MaxExpansion > 0 {
		return int64(c.MaxExpansion)
	}
	return DefaultMaxExpansion
}

// countingReader counts the bytes read through it.
type countingReader struct {
	r io.Reader
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

// expansionLimit stops a decompressing reader once its output exceeds
// ratio times the compressed input plus expansionFloor.
type expansionLimit struct {
	r     io.Reader
	in    *countingReader
	out   int64
	ratio int64
}

func (e *expansionLimit) Read(p []byte) (int, error) {
	n, err := e.r.Read(p)
	e.out += int64(n)
	if e.out > expansionFloor+e.ratio*e.in.n {
		return n, fmt.Errorf("%w: %d bytes from %d compressed", ErrTooExpanded, e.out, e.in.n)
	}
	return n, err
}

// redactURL is u without its query, which may hold a capability.
func redactURL(u string) string {
	p, err := url.Parse(u)
	if err != nil {
		return "(unreadable URL)"
	}
	p.RawQuery, p.Fragment = "", ""
	return p.String()
}
