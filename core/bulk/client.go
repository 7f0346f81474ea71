// Package bulk is a FHIR Bulk Data export client: kick-off, status polling,
// lenient manifest reading, validated streaming downloads and a resumable
// Runner that commits every step to a Store (the SQLite catalogue).
package bulk

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"tranche.dev/tranche/core"
)

// UserAgent is sent with every request.
const UserAgent = core.UserAgent

// correlationHeaders are response headers worth keeping for a support
// ticket (bulk-data-client #21). Nothing else is copied from responses.
var correlationHeaders = []string{
	"X-Request-Id", "X-Correlation-Id", "Cerner-Correlation-Id", "X-Amzn-Requestid",
	"X-Amz-Request-Id", "X-Ms-Request-Id", "X-B3-Traceid", "Traceparent", "Epic-Request-Id",
}

// Client talks to one FHIR server's Bulk Data endpoints.
type Client struct {
	// BaseURL is the FHIR base, e.g. https://ehr.example/fhir.
	BaseURL string
	// HTTPClient carries authorization for the FHIR server's origin (the
	// core/smart client). It is used only for URLs on that origin.
	HTTPClient *http.Client
	// FileClient is a plain client for file URLs on any other origin
	// (pre-signed storage URLs): it never carries our token.
	FileClient *http.Client
	// Headers are sent with every request to the FHIR origin.
	Headers map[string]string
	// StallTimeout bounds the time a response may send nothing once its
	// headers arrived; 0 = DefaultStallTimeout.
	StallTimeout time.Duration
	// MaxExpansion bounds how many times its compressed size a file may
	// expand to; 0 = DefaultMaxExpansion.
	MaxExpansion int
	// MaxManifest bounds the JSON bytes of the file items of a manifest
	// (status answer or page), which is read as a stream whatever its
	// size; 0 = DefaultMaxManifest.
	MaxManifest int64
	// MaxManifestFiles bounds the file items of a manifest, all its pages
	// together; 0 = DefaultMaxManifestFiles.
	MaxManifestFiles int
	Logger           *slog.Logger
	Now              func() time.Time
}

// HTTPError is a response with an unexpected status.
type HTTPError struct {
	Op         string // "kick-off", "status", "download", "delete"
	URL        string
	StatusCode int
	Message    string            // the OperationOutcome's text, or the start of the body
	Transient  bool              // worth retrying: 408, 429, 5xx, or a transient issue code
	RetryAfter time.Duration     // from Retry-After, when given
	Headers    map[string]string // correlation headers only
	// ExportStatus: StatusCode is the job's, from the X-Export-Status
	// header of a 200 (separate-export-status), not the response's.
	ExportStatus bool
	// TokenWithheld: the request went to another origin than the FHIR
	// server's, on purpose without the access token.
	TokenWithheld bool
}

func (e *HTTPError) Error() string {
	from := "HTTP"
	if e.ExportStatus {
		from = "X-Export-Status"
	}
	s := fmt.Sprintf("%s %s: %s %d", e.Op, e.URL, from, e.StatusCode)
	if e.TokenWithheld && (e.StatusCode == http.StatusUnauthorized || e.StatusCode == http.StatusForbidden) {
		s += ": the server at " + originText(e.URL) + " refused a request without an access token; " +
			"Tranche sends its token only to the FHIR server's own origin (Bulk Data Access IG, " +
			"Bulk Data Output File Request), so this file cannot be had unless that server serves it without one"
	}
	if e.Message != "" {
		s += ": " + e.Message
	}
	return s
}

// originText is scheme://host of u, for a sentence.
func originText(u string) string {
	p, err := url.Parse(u)
	if err != nil {
		return "another origin"
	}
	return p.Scheme + "://" + p.Host
}

func (c *Client) now() time.Time {
	if c.Now != nil {
		return c.Now()
	}
	return time.Now()
}

func (c *Client) logger() *slog.Logger {
	if c.Logger != nil {
		return c.Logger
	}
	return slog.Default().With("system", "bulk")
}

// sameOrigin reports whether u is on the FHIR server's origin (core.Origin:
// the default port written out or not is the same origin).
func (c *Client) sameOrigin(u string) bool {
	return core.SameOrigin(u, c.BaseURL)
}

// apiClient is HTTPClient with redirects limited to the FHIR origin, so the
// authorizing transport never signs a request to another host.
func (c *Client) apiClient() *http.Client {
	hc := http.DefaultClient
	if c.HTTPClient != nil {
		hc = c.HTTPClient
	}
	cp := *hc
	cp.CheckRedirect = func(req *http.Request, via []*http.Request) error {
		if err := core.CheckParsedURL(req.URL); err != nil {
			return err
		}
		if !c.sameOrigin(req.URL.String()) {
			return http.ErrUseLastResponse
		}
		if len(via) >= 10 {
			return errors.New("stopped after 10 redirects")
		}
		return nil
	}
	return c.withStall(&cp)
}

// fileClient is FileClient with every redirect held to the transport rule
// (core.CheckURL).
func (c *Client) fileClient() *http.Client {
	hc := http.DefaultClient
	if c.FileClient != nil {
		hc = c.FileClient
	}
	cp := *hc
	next := hc.CheckRedirect
	cp.CheckRedirect = func(req *http.Request, via []*http.Request) error {
		if err := core.CheckParsedURL(req.URL); err != nil {
			return err
		}
		if next != nil {
			return next(req, via)
		}
		if len(via) >= 10 {
			return errors.New("stopped after 10 redirects")
		}
		return nil
	}
	return c.withStall(&cp)
}

// newRequest builds a request to u after checking u against the transport
// rule (core.CheckURL), so nothing is sent, and nothing looked up, for an
// insecure URL.
func (c *Client) newRequest(ctx context.Context, method, u string, body []byte) (*http.Request, error) {
	if err := core.CheckURL(u); err != nil {
		return nil, err
	}
	var r io.Reader
	if body != nil {
		r = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, u, r)
	if err != nil {
		return nil, err
	}
	req.Header.Set("User-Agent", UserAgent)
	if c.sameOrigin(u) {
		for k, v := range c.Headers {
			req.Header.Set(k, v)
		}
	}
	return req, nil
}

// responseError builds an HTTPError from resp, reading at most 64 KiB of
// its body.
func (c *Client) responseError(op string, resp *http.Response) *HTTPError {
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	e := &HTTPError{Op: op, URL: resp.Request.URL.String(), StatusCode: resp.StatusCode, Headers: correlation(resp.Header),
		TokenWithheld: !c.sameOrigin(resp.Request.URL.String())}
	msg, transient, isOutcome := outcomeText(body)
	if msg == "" {
		msg = strings.TrimSpace(string(body))
		if len(msg) > 300 {
			msg = msg[:300] + "…"
		}
	}
	e.Message = msg
	// A 5xx is retried unless the server explains it with an
	// OperationOutcome none of whose issues is transient (Bulk Data Access IG, Export: Bulk Data Status Request, Response - Error Status):
	// "processing" means the job failed, and retrying only delays the news.
	// A bare 5xx (a proxy, a crash) is worth another try.
	e.Transient = transient || resp.StatusCode == http.StatusRequestTimeout ||
		resp.StatusCode == http.StatusTooManyRequests || (resp.StatusCode >= 500 && !isOutcome)
	if d, ok := ParseRetryAfter(resp.Header.Get("Retry-After"), c.now()); ok {
		e.RetryAfter = d
	}
	return e
}

func correlation(h http.Header) map[string]string {
	var m map[string]string
	for _, k := range correlationHeaders {
		if v := h.Get(k); v != "" {
			if m == nil {
				m = map[string]string{}
			}
			m[k] = v
		}
	}
	return m
}

// outcomeText summarises an OperationOutcome body (core.Outcome): every
// issue's message, whether every issue is transient, and whether body was
// an OperationOutcome at all.
func outcomeText(body []byte) (msg string, transient, ok bool) {
	o, err := core.ParseOutcome(body)
	if err != nil || !o.Valid() {
		return "", false, false
	}
	return o.Summary(), o.Transient(), true
}

// Kickoff starts an export and returns the status URL (Content-Location,
// resolved to absolute) and the URL the kick-off went to. The request must
// have passed Validate.
func (c *Client) Kickoff(ctx context.Context, req core.ExportRequest) (statusURL, kickoffURL string, err error) {
	base := strings.TrimRight(c.BaseURL, "/") + "/"
	kickoffURL = base + kickoffPath(req)
	var hreq *http.Request
	if usePOST(req) {
		body, err := parameters(req, c.associatedAsCoding(ctx, req))
		if err != nil {
			return "", kickoffURL, err
		}
		if hreq, err = c.newRequest(ctx, http.MethodPost, kickoffURL, body); err != nil {
			return "", kickoffURL, err
		}
		hreq.Header.Set("Content-Type", "application/fhir+json")
	} else {
		if q := query(req).Encode(); q != "" {
			kickoffURL += "?" + q
		}
		if hreq, err = c.newRequest(ctx, http.MethodGet, kickoffURL, nil); err != nil {
			return "", kickoffURL, err
		}
	}
	hreq.Header.Set("Accept", "application/fhir+json")
	prefer := "respond-async"
	if req.SeparateExportStatus {
		// Spelled as in the IG (Bulk Data Access IG, Export: Bulk Data Kick-off Request, Headers), for servers that compare
		// the header whole.
		prefer += ",separate-export-status"
	}
	if req.Lenient {
		prefer += ", handling=lenient"
	}
	hreq.Header.Set("Prefer", prefer)
	resp, err := c.apiClient().Do(hreq)
	if err != nil {
		return "", kickoffURL, fmt.Errorf("kick-off: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusAccepted {
		return "", kickoffURL, c.responseError("kick-off", resp)
	}
	if req.SeparateExportStatus && !preferenceApplied(resp.Header, "separate-export-status") {
		// Nothing to do: Status reads X-Export-Status when a 200 carries
		// it and HTTP status codes otherwise.
		c.logger().Info("the server did not apply separate-export-status; status codes describe the job", "url", kickoffURL)
	}
	loc := resp.Header.Get("Content-Location")
	if loc == "" {
		return "", kickoffURL, fmt.Errorf("kick-off %s: 202 without Content-Location", kickoffURL)
	}
	statusURL, err = resolve(resp.Request.URL, loc)
	if err != nil {
		return "", kickoffURL, fmt.Errorf("kick-off Content-Location: %w", err)
	}
	return statusURL, kickoffURL, nil
}

// preferenceApplied reports whether Preference-Applied names pref. The
// header may be comma-joined or repeated (Bulk Data Access IG, Export: Bulk Data Kick-off Request, Headers).
func preferenceApplied(h http.Header, pref string) bool {
	for _, v := range h.Values("Preference-Applied") {
		for _, tok := range strings.Split(v, ",") {
			name, _, _ := strings.Cut(tok, "=")
			if strings.EqualFold(strings.TrimSpace(name), pref) {
				return true
			}
		}
	}
	return false
}

// associatedAsCoding reports whether a POST kick-off sends
// includeAssociatedData as valueCoding (v4) rather than valueCode (v2/v3):
// as req.AssociatedDataAs says, else as the CapabilityStatement says
// (Capabilities.BulkDataVersion). A server that says nothing gets codes,
// the published versions' form.
func (c *Client) associatedAsCoding(ctx context.Context, req core.ExportRequest) bool {
	switch {
	case len(req.IncludeAssociatedData) == 0:
		return false
	case req.AssociatedDataAs == core.AssociatedDataCoding:
		return true
	case req.AssociatedDataAs == core.AssociatedDataCode:
		return false
	}
	// Read again rather than cached: this costs one request, and only for
	// the few exports that ask for associated data by POST.
	caps, err := c.Capabilities(ctx)
	if err != nil {
		c.logger().Warn("no CapabilityStatement; includeAssociatedData sent as valueCode (v2/v3)", "err", err)
		return false
	}
	v := caps.BulkDataVersion(req.Level)
	c.logger().Debug("includeAssociatedData encoding", "bulkDataVersion", v, "coding", majorVersion(v) >= 4)
	return majorVersion(v) >= 4
}

// Status is one answer to a status request.
type Status struct {
	Done       bool          // 200: the manifest is complete
	Progress   string        // X-Progress
	RetryAfter time.Duration // from Retry-After; 0 when absent
	HasRetry   bool
	Manifest   *Manifest // on 200, or a partial manifest on 202
	Raw        []byte    // the manifest body as received
}

// Status polls statusURL once. A 404 or 410 returns an error wrapping
// core.ErrExpired; other failures return *HTTPError (check Transient).
//
// A 200 with X-Export-Status (separate-export-status: Bulk Data Access
// IG v4, Export: Bulk Data Status Request) is read as if X-Export-Status were the HTTP status: "202 Accepted"
// is in progress, "200 OK" complete, 4XX/5XX a failed job whose body is
// the OperationOutcome, transient or not as usual. This holds whether or
// not the kick-off asked for it, so an export resumed from nothing but its
// stored status URL polls correctly, and a server that ignored the
// preference is read by its status codes.
func (c *Client) Status(ctx context.Context, statusURL string) (*Status, error) {
	req, err := c.newRequest(ctx, http.MethodGet, statusURL, nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Accept", "application/json")
	resp, err := c.apiClient().Do(req)
	if err == nil {
		resp, err = c.followAcross(ctx, resp, "application/json")
	}
	if err != nil {
		return nil, fmt.Errorf("status: %w", err)
	}
	defer resp.Body.Close()
	fromHeader := false // the status code below is X-Export-Status's
	st := &Status{Progress: resp.Header.Get("X-Progress")}
	st.RetryAfter, st.HasRetry = ParseRetryAfter(resp.Header.Get("Retry-After"), c.now())
	if resp.StatusCode == http.StatusOK && resp.Header.Get("X-Export-Status") != "" {
		// Only a 200 carries the job's status: any other HTTP status
		// describes the poll itself (a 429, a proxy's 502).
		if code, ok := exportStatus(resp.Header); ok {
			resp.StatusCode, fromHeader = code, true // responseError and the switch below read it
		} else {
			// Let the body speak: a manifest completes the job, anything
			// else fails as it would without the header.
			c.logger().Warn("unreadable X-Export-Status; reading the 200 as is", "value", resp.Header.Get("X-Export-Status"))
		}
	}
	switch resp.StatusCode {
	case http.StatusOK, http.StatusAccepted:
		u := resp.Request.URL.String()
		m, raw, info, err := c.readManifest(resp)
		if resp.StatusCode == http.StatusAccepted {
			// A 202 may carry a partial manifest (Bulk Data Access IG v3, Export: Bulk Data Status Request, Response - In-Progress Status) or an
			// OperationOutcome; only the former matters. One too large,
			// or cut off, is reported as a complete manifest would be.
			if err != nil && (info.cut || errors.Is(err, ErrManifestTooLarge)) {
				return nil, err
			}
			if err == nil && info.sawOutput {
				st.Manifest, st.Raw = m, raw
			}
			return st, nil
		}
		if info.resourceType == "OperationOutcome" || err != nil {
			// An OperationOutcome is not a manifest, whatever the status.
			if msg, transient, _ := outcomeText(raw); msg != "" {
				return nil, &HTTPError{Op: "status", URL: u, StatusCode: resp.StatusCode,
					ExportStatus: fromHeader, Message: msg, Transient: transient, Headers: correlation(resp.Header)}
			}
		}
		if err != nil {
			return nil, err
		}
		st.Done, st.Manifest, st.Raw = true, m, raw
		return st, nil
	}
	e := c.responseError("status", resp)
	e.ExportStatus = fromHeader
	if resp.StatusCode == http.StatusNotFound || resp.StatusCode == http.StatusGone {
		return nil, fmt.Errorf("%w: %w", core.ErrExpired, e)
	}
	return nil, e
}

// readManifest decodes a status or page body as it streams in
// (decodeManifest), within MaxManifest and MaxManifestFiles. It returns the
// manifest, what to store of it (the body as received when it is at most
// maxManifestRaw bytes, else encodeManifest's form) and what was learnt of
// the body. Every error names the URL; one from the connection wraps it
// (worth a retry), one from the body says what was wrong with it. When the
// body is not a manifest, raw holds it if it was small, for outcomeText.
func (c *Client) readManifest(resp *http.Response) (m *Manifest, raw []byte, info decoded, err error) {
	u := redactURL(resp.Request.URL.String())
	w := &manifestReader{r: resp.Body}
	m, info, err = decodeManifest(w, resp.Request.URL, manifestLimits{
		files: orDefault(c.MaxManifestFiles, DefaultMaxManifestFiles),
		bytes: orDefault64(c.MaxManifest, DefaultMaxManifest),
	})
	if err != nil {
		// Read the rest (a little) so the connection may be reused.
		io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
		info.cut = w.err != nil
		return nil, w.raw, info, manifestError(u, w, err)
	}
	if w.overRaw {
		if info.resourceType == "OperationOutcome" {
			return nil, nil, info, fmt.Errorf("manifest from %s is an OperationOutcome of over %d MiB, not a manifest", u, maxManifestRaw>>20)
		}
		return m, encodeManifest(m), info, nil
	}
	return m, w.raw, info, nil
}

func orDefault64(v, def int64) int64 {
	if v <= 0 {
		return def
	}
	return v
}

// manifestError names the manifest's URL and, where it can, what the body
// was instead of a manifest.
func manifestError(u string, w *manifestReader, err error) error {
	if w.err != nil {
		// The connection failed, or stalled: not the body's fault.
		return fmt.Errorf("status: read manifest from %s after %d bytes: %w", u, w.n, w.err)
	}
	if errors.Is(err, ErrManifestTooLarge) {
		return fmt.Errorf("manifest from %s: %w (at byte %d)", u, err, w.n)
	}
	var first byte
	if b := bytes.TrimSpace(w.raw); len(b) > 0 {
		first = b[0]
	}
	switch {
	case w.n == 0 || (first == 0 && errors.Is(err, io.EOF)):
		return fmt.Errorf("manifest from %s is empty", u)
	case first == '<':
		return fmt.Errorf("manifest from %s is HTML, not JSON (a login or error page?)", u)
	case errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF):
		// The body ended cleanly, the JSON did not. %v: this is no
		// transport error to retry.
		return fmt.Errorf("manifest from %s is cut short after %d bytes: %v", u, w.n, err)
	}
	return fmt.Errorf("manifest from %s: %w", u, err)
}

// followAcross follows a redirect that the API client would not (one to
// another origin) with the plain client, the way file downloads are
// followed: without the token and without the registration's headers.
// Any other response is returned as is.
func (c *Client) followAcross(ctx context.Context, resp *http.Response, accept string) (*http.Response, error) {
	if resp.StatusCode/100 != 3 || resp.Header.Get("Location") == "" {
		return resp, nil
	}
	loc, err := resolve(resp.Request.URL, resp.Header.Get("Location"))
	io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	resp.Body.Close()
	if err != nil {
		return nil, fmt.Errorf("redirect: %w", err)
	}
	if c.sameOrigin(loc) {
		return nil, fmt.Errorf("redirect to %s not followed", originText(loc))
	}
	req, err := c.newRequest(ctx, http.MethodGet, loc, nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Accept", accept)
	return c.fileClient().Do(req)
}

// exportStatus reads X-Export-Status, e.g. "202 Accepted" or "500
// Internal Server Error": the status code, and whether there was one.
func exportStatus(h http.Header) (int, bool) {
	code, _, _ := strings.Cut(strings.TrimSpace(h.Get("X-Export-Status")), " ")
	n, err := strconv.Atoi(code)
	if err != nil || len(code) != 3 || n < 100 {
		return 0, false
	}
	return n, true
}

// Page fetches a linked manifest page (link relation "next").
func (c *Client) Page(ctx context.Context, pageURL string) (*Status, error) {
	return c.Status(ctx, pageURL)
}

// Cancel sends DELETE to the status URL: it cancels a running export, or
// tells the server a finished one may be purged (Bulk Data Access IG, Export: Delete Request). A 404 counts as done.
func (c *Client) Cancel(ctx context.Context, statusURL string) error {
	req, err := c.newRequest(ctx, http.MethodDelete, statusURL, nil)
	if err != nil {
		return err
	}
	req.Header.Set("Accept", "application/fhir+json")
	resp, err := c.apiClient().Do(req)
	if err != nil {
		return fmt.Errorf("delete: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode/100 == 2 || resp.StatusCode == http.StatusNotFound {
		return nil
	}
	return c.responseError("delete", resp)
}

// Capabilities is what Tranche reads from the CapabilityStatement.
type Capabilities struct {
	Types           []string // rest.resource.type; nil when none listed
	SoftwareName    string
	SoftwareVersion string
	ReleaseDate     string
	FHIRVersion     string
	// Instantiates are the CapabilityStatement's instantiates canonicals,
	// e.g. "http://hl7.org/fhir/uv/bulkdata/CapabilityStatement/bulk-data|4.0.0".
	Instantiates []string
	// ExportDefinitions maps each level (core.LevelSystem, …) to the IG
	// OperationDefinition canonical of the operation named "export" there,
	// version included when the server gives one
	// ("http://hl7.org/fhir/uv/bulkdata/OperationDefinition/group-export|4.0.0").
	ExportDefinitions map[string]string
}

// Canonical URLs of the Bulk Data IG (Bulk Data Access IG, Export: Bulk Data Kick-off Request (endpoints); Bulk Data Access IG, CapabilityStatement (docs/protocol.md, Capabilities)).
const (
	igCapabilityStatement = "http://hl7.org/fhir/uv/bulkdata/CapabilityStatement/bulk-data"
	igOperationDefinition = "http://hl7.org/fhir/uv/bulkdata/OperationDefinition/"
)

// exportLevels maps the IG's export OperationDefinitions to levels.
var exportLevels = map[string]string{
	"export": core.LevelSystem, "patient-export": core.LevelPatient, "group-export": core.LevelGroup,
}

// BulkDataVersion is the Bulk Data IG version the server's $export at
// level follows, as far as its CapabilityStatement says: the version of
// that operation's definition canonical, else the version of the IG
// CapabilityStatement it instantiates (X9), else "". Only operations
// named "export" count: a server may offer v4 beside v3 under another
// name (export-v4 → …|4.0.0, docs/protocol.md, Capabilities), invoked as $export-v4, which
// Tranche does not call.
func (c *Capabilities) BulkDataVersion(level string) string {
	if _, v, ok := strings.Cut(c.ExportDefinitions[level], "|"); ok && v != "" {
		return v
	}
	for _, u := range c.Instantiates {
		if base, v, ok := strings.Cut(u, "|"); ok && base == igCapabilityStatement && v != "" {
			return v
		}
	}
	return ""
}

// majorVersion is the leading number of a version such as "4.0.0-ballot";
// 0 when there is none.
func majorVersion(v string) int {
	end := strings.IndexFunc(v, func(r rune) bool { return r < '0' || r > '9' })
	if end < 0 {
		end = len(v)
	}
	n, _ := strconv.Atoi(v[:end])
	return n
}

// getFHIR GETs [base]/path as FHIR JSON with the authorizing client and
// returns the response if it is a 200; op names the request in errors.
func (c *Client) getFHIR(ctx context.Context, path, op string) (*http.Response, error) {
	req, err := c.newRequest(ctx, http.MethodGet, strings.TrimRight(c.BaseURL, "/")+path, nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Accept", "application/fhir+json")
	resp, err := c.apiClient().Do(req)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", op, err)
	}
	if resp.StatusCode != http.StatusOK {
		defer resp.Body.Close()
		return nil, c.responseError(op, resp)
	}
	return resp, nil
}

// Capabilities reads [base]/metadata.
func (c *Client) Capabilities(ctx context.Context) (*Capabilities, error) {
	resp, err := c.getFHIR(ctx, "/metadata", "metadata")
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	type operation struct {
		Name       string `json:"name"`
		Definition string `json:"definition"`
	}
	var cs struct {
		FHIRVersion  string   `json:"fhirVersion"`
		Instantiates []string `json:"instantiates"`
		Software     struct {
			Name        string `json:"name"`
			Version     string `json:"version"`
			ReleaseDate string `json:"releaseDate"`
		} `json:"software"`
		Rest []struct {
			Resource []struct {
				Type      string      `json:"type"`
				Operation []operation `json:"operation"`
			} `json:"resource"`
			Operation []operation `json:"operation"`
		} `json:"rest"`
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, 32<<20)).Decode(&cs); err != nil {
		return nil, fmt.Errorf("metadata: %w", err)
	}
	caps := &Capabilities{SoftwareName: cs.Software.Name, SoftwareVersion: cs.Software.Version,
		ReleaseDate: cs.Software.ReleaseDate, FHIRVersion: cs.FHIRVersion, Instantiates: cs.Instantiates}
	// The definition names the level wherever the operation is listed
	// (v1 servers put all three under rest.operation; Bulk Data Access IG, CapabilityStatement (docs/protocol.md, Capabilities)).
	addOps := func(ops []operation) {
		for _, op := range ops {
			rest, isIG := strings.CutPrefix(op.Definition, igOperationDefinition)
			name, _, _ := strings.Cut(rest, "|")
			if l, ok := exportLevels[name]; ok && isIG && op.Name == "export" {
				if caps.ExportDefinitions == nil {
					caps.ExportDefinitions = map[string]string{}
				}
				caps.ExportDefinitions[l] = op.Definition
			}
		}
	}
	for _, r := range cs.Rest {
		addOps(r.Operation)
		for _, res := range r.Resource {
			if res.Type != "" {
				caps.Types = append(caps.Types, res.Type)
			}
			addOps(res.Operation)
		}
	}
	return caps, nil
}
