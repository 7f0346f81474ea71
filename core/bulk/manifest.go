package bulk

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/url"
	"strconv"
	"strings"

	"tranche.dev/tranche/core"
)

// Manifest is a complete-status (or partial, or linked) manifest, read
// leniently across IG versions (Bulk Data Access IG, version history (docs/protocol.md, Versions)).
type Manifest struct {
	TransactionTime     string
	Request             string // absent in v4
	RequiresAccessToken bool
	OutputOrganizedBy   string
	Output              []ManifestFile
	Deleted             []ManifestFile
	Error               []ManifestFile // "error" (v1-v3) and "outcome" (v4) together
	Next                string         // link relation "next", absolute
}

// ManifestFile is one item of output, deleted or error/outcome.
type ManifestFile struct {
	Type            string // may be empty (v4 deleted/outcome, organised output)
	URL             string // absolute
	Count           int64  // -1 when absent
	ContinuesInFile string
}

type rawItem struct {
	Type            string          `json:"type"`
	URL             string          `json:"url"`
	Count           json.RawMessage `json:"count"`
	ContinuesInFile string          `json:"continuesInFile"`
}

type rawLink struct {
	Relation string `json:"relation"`
	URL      string `json:"url"`
}

// Bounds on what a manifest may make Tranche keep. A manifest is read as a
// stream, one value at a time, so its size alone costs nothing: what is
// kept is its file items (each becomes a catalogue row and a download) and,
// while it is small, its bytes as received.
const (
	// DefaultMaxManifest bounds the JSON bytes of the file items of one
	// manifest (status answer or page). Members Tranche does not read
	// (extension, unknown ones) are skipped as they stream past and do
	// not count.
	DefaultMaxManifest = 32 << 20
	// DefaultMaxManifestFiles bounds the file items of one manifest, and
	// of all the pages of a paged one together. Reading 100,000 items
	// takes the heap up by about 22 MiB (TestManifestStreamBounded); once
	// read, each file holds about 500 bytes of live heap while the export
	// runs (measured with 20,000 files of 65-byte URLs: its item, its
	// catalogue row, its download queue entry and key, its share of the
	// stored manifest), so about 50 MB for 100,000 files, far beyond any
	// server's file count.
	DefaultMaxManifestFiles = 100_000
	// maxManifestValue bounds one value of a manifest: a file item, a
	// link, one token of a skipped member. The decoder holds at most
	// about twice this.
	maxManifestValue = 1 << 20
	// maxManifestRaw bounds the manifest bytes stored as received; a
	// larger manifest is stored as the members Tranche reads
	// (encodeManifest).
	maxManifestRaw = 1 << 20
)

// ErrManifestTooLarge reports a manifest over one of the bounds above.
var ErrManifestTooLarge = errors.New("manifest too large")

// errValueTooLarge is a manifest value over maxManifestValue. Space
// between two tokens counts too: json.Decoder keeps it in its buffer.
var errValueTooLarge = fmt.Errorf("%w: a single value (or run of space) over the %d MiB bound", ErrManifestTooLarge, maxManifestValue>>20)

// manifestLimits are the bounds a decode applies; 0 is no bound.
type manifestLimits struct {
	files int   // file items
	bytes int64 // JSON bytes of the file items
}

// manifestReader feeds a manifest to the decoder, at most
// maxManifestValue bytes past the start of the value being read, and keeps
// its first maxManifestRaw bytes.
type manifestReader struct {
	r       io.Reader
	n       int64 // bytes read
	limit   int64 // read no further than this
	raw     []byte
	overRaw bool  // more than maxManifestRaw bytes: raw was dropped
	err     error // the first read error other than io.EOF: the transport's
}

// allow lets the decoder read one more value.
func (w *manifestReader) allow() { w.limit = w.n + maxManifestValue }

func (w *manifestReader) Read(p []byte) (int, error) {
	if w.n >= w.limit {
		return 0, errValueTooLarge
	}
	if rem := w.limit - w.n; int64(len(p)) > rem {
		p = p[:rem]
	}
	n, err := w.r.Read(p)
	w.n += int64(n)
	if !w.overRaw {
		if len(w.raw)+n <= maxManifestRaw {
			w.raw = append(w.raw, p[:n]...)
		} else {
			w.overRaw, w.raw = true, nil
		}
	}
	if err != nil && err != io.EOF && w.err == nil {
		w.err = err
	}
	return n, err
}

// decoded is what decodeManifest learnt besides the manifest.
type decoded struct {
	sawOutput    bool   // an "output" member: a manifest, not just an object
	cut          bool   // the connection failed mid-body (set by readManifest)
	resourceType string // a top-level resourceType (an OperationOutcome?)
}

// ParseManifest reads a manifest body. Relative URLs (v1 "paths") are
// resolved against base, the URL the manifest came from. Unknown fields,
// missing request or type, and extension as object or array are all fine; a
// body that is not a JSON object, or an item without url, is an error.
func ParseManifest(body []byte, base *url.URL) (*Manifest, error) {
	w := &manifestReader{r: bytes.NewReader(body), overRaw: true}
	m, _, err := decodeManifest(w, base, manifestLimits{})
	if err != nil {
		return nil, fmt.Errorf("read manifest: %w", err)
	}
	return m, nil
}

// decodeManifest reads a manifest from w as a stream of JSON tokens (Bulk
// Data Access IG, Export: Bulk Data Status Request, Response - Complete
// Status): the members it knows are decoded one item at a time, anything
// else is skipped token by token, so memory is bounded by what is kept
// (lim) and by maxManifestValue, whatever the manifest's size.
func decodeManifest(w *manifestReader, base *url.URL, lim manifestLimits) (*Manifest, decoded, error) {
	var info decoded
	dec := json.NewDecoder(w)
	w.allow()
	t, err := dec.Token()
	if err != nil {
		return nil, info, err
	}
	if t != json.Delim('{') {
		return nil, info, errors.New("not a JSON object")
	}
	m := &Manifest{}
	var kept int64
	var files int
	keep := func(size int64) error {
		files, kept = files+1, kept+size
		switch {
		case lim.files > 0 && files > lim.files:
			return fmt.Errorf("%w: more than %d files listed", ErrManifestTooLarge, lim.files)
		case lim.bytes > 0 && kept > lim.bytes:
			return fmt.Errorf("%w: file items over %d MiB", ErrManifestTooLarge, lim.bytes>>20)
		}
		return nil
	}
	for {
		w.allow()
		t, err := dec.Token()
		if err != nil {
			return nil, info, err
		}
		if t == json.Delim('}') {
			break
		}
		key, _ := t.(string)
		w.allow()
		// encoding/json matched member names case-insensitively; so do we.
		switch field := strings.ToLower(key); field {
		case "transactiontime":
			// Kept exactly as sent: it becomes the next _since.
			var raw json.RawMessage
			if err = dec.Decode(&raw); err == nil {
				var s string
				if json.Unmarshal(raw, &s) == nil {
					m.TransactionTime = s
				}
			}
		case "request":
			err = dec.Decode(&m.Request)
		case "requiresaccesstoken":
			var raw json.RawMessage
			if err = dec.Decode(&raw); err == nil {
				m.RequiresAccessToken = lenientBool(raw)
			}
		case "outputorganizedby":
			err = dec.Decode(&m.OutputOrganizedBy)
		case "output":
			info.sawOutput = true
			err = decodeItems(dec, w, base, field, &m.Output, keep)
		case "deleted":
			err = decodeItems(dec, w, base, field, &m.Deleted, keep)
		case "error", "outcome":
			err = decodeItems(dec, w, base, "error", &m.Error, keep)
		case "link":
			m.Next, err = decodeLinks(dec, w, base)
		case "resourcetype":
			var raw json.RawMessage
			if err = dec.Decode(&raw); err == nil {
				json.Unmarshal(raw, &info.resourceType)
			}
		default:
			// extension (object in v1-v3, array in v4) and unknown members:
			// nothing here depends on them.
			err = skipValue(dec, w)
		}
		if err != nil {
			return nil, info, err
		}
	}
	// Nothing but space may follow the object.
	w.allow()
	if _, err := dec.Token(); err != io.EOF {
		if err == nil {
			err = errors.New("data after the manifest object")
		}
		return nil, info, err
	}
	return m, info, nil
}

// decodeItems reads an array of file items into list, one at a time; each
// item's size in bytes goes to keep, which may refuse it. null is no items.
func decodeItems(dec *json.Decoder, w *manifestReader, base *url.URL, field string, list *[]ManifestFile, keep func(int64) error) error {
	t, err := dec.Token()
	if err != nil || t == nil {
		return err
	}
	if t != json.Delim('[') {
		return fmt.Errorf("%s is not an array", field)
	}
	for i := len(*list); ; i++ {
		w.allow()
		if !dec.More() {
			break
		}
		start := dec.InputOffset()
		var it rawItem
		if err := dec.Decode(&it); err != nil {
			return fmt.Errorf("%s[%d]: %w", field, i, err)
		}
		if err := keep(dec.InputOffset() - start); err != nil {
			return err
		}
		f, err := item(it, base)
		if err != nil {
			return fmt.Errorf("%s[%d]: %w", field, i, err)
		}
		*list = append(*list, f)
	}
	_, err = dec.Token() // ]
	return err
}

// decodeLinks finds relation "next" in link, given as an object or an
// array, and returns its URL, absolute.
func decodeLinks(dec *json.Decoder, w *manifestReader, base *url.URL) (string, error) {
	t, err := dec.Token()
	if err != nil || t == nil {
		return "", err
	}
	var next string
	switch t {
	case json.Delim('{'):
		l, err := decodeLinkMembers(dec, w)
		if err != nil {
			return "", err
		}
		if l.Relation == "next" && l.URL != "" {
			next = l.URL
		}
	case json.Delim('['):
		for {
			w.allow()
			if !dec.More() {
				break
			}
			var l rawLink
			if err := dec.Decode(&l); err != nil {
				return "", fmt.Errorf("link: %w", err)
			}
			if next == "" && l.Relation == "next" && l.URL != "" {
				next = l.URL
			}
		}
		if _, err := dec.Token(); err != nil {
			return "", err
		}
	default:
		return "", errors.New("link is neither an object nor an array")
	}
	if next == "" {
		return "", nil
	}
	u, err := resolve(base, next)
	if err != nil {
		return "", fmt.Errorf("link: %w", err)
	}
	return u, nil
}

// decodeLinkMembers reads the members of a link object whose { is read.
func decodeLinkMembers(dec *json.Decoder, w *manifestReader) (rawLink, error) {
	var l rawLink
	for {
		w.allow()
		t, err := dec.Token()
		if err != nil {
			return l, err
		}
		if t == json.Delim('}') {
			return l, nil
		}
		w.allow()
		switch k, _ := t.(string); strings.ToLower(k) {
		case "relation":
			err = dec.Decode(&l.Relation)
		case "url":
			err = dec.Decode(&l.URL)
		default:
			err = skipValue(dec, w)
		}
		if err != nil {
			return l, fmt.Errorf("link: %w", err)
		}
	}
}

// skipValue reads past one value, keeping nothing: an object member by
// member, an array element by element (each decoded whole, within
// maxManifestValue: far faster than token by token), anything else as one
// token.
func skipValue(dec *json.Decoder, w *manifestReader) error {
	var raw json.RawMessage // reused: Decode appends to raw[:0]
	return skip(dec, w, &raw)
}

func skip(dec *json.Decoder, w *manifestReader, raw *json.RawMessage) error {
	w.allow()
	t, err := dec.Token()
	if err != nil {
		return err
	}
	switch t {
	case json.Delim('{'):
		for {
			w.allow()
			if t, err = dec.Token(); err != nil || t == json.Delim('}') {
				return err
			}
			if err := skip(dec, w, raw); err != nil {
				return err
			}
		}
	case json.Delim('['):
		for {
			w.allow()
			if !dec.More() {
				break
			}
			if err := dec.Decode(raw); err != nil {
				return err
			}
		}
		_, err = dec.Token()
		return err
	}
	return nil
}

// lenientBool accepts true, "true" (seen in the wild) and treats anything
// else as false.
func lenientBool(raw json.RawMessage) bool {
	raw = bytes.TrimSpace(raw)
	return bytes.Equal(raw, []byte("true")) || bytes.Equal(raw, []byte(`"true"`))
}

// item checks one file item and resolves its URLs against base.
func item(it rawItem, base *url.URL) (ManifestFile, error) {
	if it.URL == "" {
		return ManifestFile{}, errors.New("no url")
	}
	u, err := resolve(base, it.URL)
	if err != nil {
		return ManifestFile{}, err
	}
	f := ManifestFile{Type: it.Type, URL: u, Count: -1}
	if it.ContinuesInFile != "" {
		if f.ContinuesInFile, err = resolve(base, it.ContinuesInFile); err != nil {
			return ManifestFile{}, err
		}
	}
	if c := bytes.Trim(bytes.TrimSpace(it.Count), `"`); len(c) > 0 {
		if n, err := strconv.ParseInt(string(c), 10, 64); err == nil && n >= 0 {
			f.Count = n
		}
	}
	return f, nil
}

func resolve(base *url.URL, ref string) (string, error) {
	u, err := url.Parse(ref)
	if err != nil {
		return "", fmt.Errorf("bad url %q: %w", ref, err)
	}
	if base != nil {
		u = base.ResolveReference(u)
	}
	if !u.IsAbs() {
		return "", errors.New("relative url " + strconv.Quote(ref) + " and no base to resolve it against")
	}
	return u.String(), nil
}

// Files returns the manifest's files as catalogue rows, outputs first, then
// deleted, then error/outcome (the order they are applied in, Bulk Data Access IG, Export: Bulk Data Status Request, Response - Complete Status: deleted).
func (m *Manifest) Files() []*core.ExportFile {
	var out []*core.ExportFile
	add := func(kind core.FileKind, fs []ManifestFile) {
		for _, f := range fs {
			out = append(out, &core.ExportFile{Kind: kind, Type: f.Type, URL: f.URL, Count: f.Count, State: core.FilePending})
		}
	}
	add(core.KindOutput, m.Output)
	add(core.KindDeleted, m.Deleted)
	add(core.KindError, m.Error)
	return out
}

// storedItem and storedManifest are the members of a manifest Tranche
// reads, as encodeManifest writes them.
type storedItem struct {
	Type            string `json:"type,omitempty"`
	URL             string `json:"url"`
	Count           *int64 `json:"count,omitempty"`
	ContinuesInFile string `json:"continuesInFile,omitempty"`
}

type storedManifest struct {
	TransactionTime     string       `json:"transactionTime,omitempty"`
	Request             string       `json:"request,omitempty"`
	RequiresAccessToken bool         `json:"requiresAccessToken"`
	OutputOrganizedBy   string       `json:"outputOrganizedBy,omitempty"`
	Output              []storedItem `json:"output"`
	Deleted             []storedItem `json:"deleted,omitempty"`
	Error               []storedItem `json:"error"`
	Link                []rawLink    `json:"link,omitempty"`
}

// encodeManifest writes m as a manifest that ParseManifest reads back as
// m: what is stored for a manifest too large to store as received. Its
// size is bounded by the bounds on file items; members Tranche does not
// read are not kept.
func encodeManifest(m *Manifest) []byte {
	items := func(fs []ManifestFile) []storedItem {
		out := make([]storedItem, len(fs))
		for i, f := range fs {
			out[i] = storedItem{Type: f.Type, URL: f.URL, ContinuesInFile: f.ContinuesInFile}
			if f.Count >= 0 {
				out[i].Count = &fs[i].Count
			}
		}
		return out
	}
	s := storedManifest{
		TransactionTime: m.TransactionTime, Request: m.Request, RequiresAccessToken: m.RequiresAccessToken,
		OutputOrganizedBy: m.OutputOrganizedBy, Output: items(m.Output), Deleted: items(m.Deleted), Error: items(m.Error),
	}
	if m.Next != "" {
		s.Link = []rawLink{{Relation: "next", URL: m.Next}}
	}
	b, err := json.Marshal(s)
	if err != nil {
		panic(err) // strings, bools and integers always encode
	}
	return b
}
