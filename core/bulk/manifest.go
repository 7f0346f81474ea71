package bulk

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"strconv"

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

type rawManifest struct {
	TransactionTime     json.RawMessage `json:"transactionTime"`
	Request             string          `json:"request"`
	RequiresAccessToken json.RawMessage `json:"requiresAccessToken"`
	OutputOrganizedBy   string          `json:"outputOrganizedBy"`
	Output              []rawItem       `json:"output"`
	Deleted             []rawItem       `json:"deleted"`
	Error               []rawItem       `json:"error"`
	Outcome             []rawItem       `json:"outcome"`
	Link                json.RawMessage `json:"link"`
	// extension (object in v1-v3, array in v4) and unknown fields are
	// ignored: nothing here depends on them.
}

// ParseManifest reads a manifest body. Relative URLs (v1 "paths") are
// resolved against base, the URL the manifest came from. Unknown fields,
// missing request or type, and extension as object or array are all fine; a
// body that is not a JSON object, or an item without url, is an error.
func ParseManifest(body []byte, base *url.URL) (*Manifest, error) {
	var raw rawManifest
	if err := json.Unmarshal(body, &raw); err != nil {
		return nil, fmt.Errorf("read manifest: %w", err)
	}
	m := &Manifest{
		Request:           raw.Request,
		OutputOrganizedBy: raw.OutputOrganizedBy,
	}
	// transactionTime is kept exactly as sent: it becomes the next _since.
	if len(raw.TransactionTime) > 0 {
		var s string
		if json.Unmarshal(raw.TransactionTime, &s) == nil {
			m.TransactionTime = s
		}
	}
	m.RequiresAccessToken = lenientBool(raw.RequiresAccessToken)
	var err error
	if m.Output, err = items(raw.Output, base, "output"); err != nil {
		return nil, err
	}
	if m.Deleted, err = items(raw.Deleted, base, "deleted"); err != nil {
		return nil, err
	}
	if m.Error, err = items(append(raw.Error, raw.Outcome...), base, "error"); err != nil {
		return nil, err
	}
	if m.Next, err = nextLink(raw.Link, base); err != nil {
		return nil, err
	}
	return m, nil
}

// lenientBool accepts true, "true" (seen in the wild) and treats anything
// else as false.
func lenientBool(raw json.RawMessage) bool {
	raw = bytes.TrimSpace(raw)
	return bytes.Equal(raw, []byte("true")) || bytes.Equal(raw, []byte(`"true"`))
}

func items(in []rawItem, base *url.URL, field string) ([]ManifestFile, error) {
	var out []ManifestFile
	for i, it := range in {
		if it.URL == "" {
			return nil, fmt.Errorf("manifest %s[%d]: no url", field, i)
		}
		u, err := resolve(base, it.URL)
		if err != nil {
			return nil, fmt.Errorf("manifest %s[%d]: %w", field, i, err)
		}
		f := ManifestFile{Type: it.Type, URL: u, Count: -1}
		if it.ContinuesInFile != "" {
			if f.ContinuesInFile, err = resolve(base, it.ContinuesInFile); err != nil {
				return nil, fmt.Errorf("manifest %s[%d]: %w", field, i, err)
			}
		}
		if c := bytes.Trim(bytes.TrimSpace(it.Count), `"`); len(c) > 0 {
			if n, err := strconv.ParseInt(string(c), 10, 64); err == nil && n >= 0 {
				f.Count = n
			}
		}
		out = append(out, f)
	}
	return out, nil
}

// nextLink finds relation "next" in link, given as an object or an array.
func nextLink(raw json.RawMessage, base *url.URL) (string, error) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || bytes.Equal(raw, []byte("null")) {
		return "", nil
	}
	var links []rawLink
	if raw[0] == '{' {
		var l rawLink
		if err := json.Unmarshal(raw, &l); err != nil {
			return "", fmt.Errorf("manifest link: %w", err)
		}
		links = []rawLink{l}
	} else if err := json.Unmarshal(raw, &links); err != nil {
		return "", fmt.Errorf("manifest link: %w", err)
	}
	for _, l := range links {
		if l.Relation == "next" && l.URL != "" {
			return resolve(base, l.URL)
		}
	}
	return "", nil
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
// deleted, then error/outcome (the order they are applied in, §4.2).
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
