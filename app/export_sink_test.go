package main

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"log"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"

	"tranche.dev/tranche/core"
	"tranche.dev/tranche/core/catalog"
	"tranche.dev/tranche/core/demo"
	"tranche.dev/tranche/core/s3test"
	"tranche.dev/tranche/core/sink"
	"tranche.dev/tranche/core/sink/sinktest"
)

// The moments TestExportSinkCrashResume kills the export at, each inside
// the multipart upload of a raw file: the gate holds the first request
// that matches, and every request after it.
var (
	// The upload is started but not recorded in the file's state: nothing
	// refers to it, and --resume must abort it.
	holdRecordingUpload = func(r *http.Request, answered []string) bool {
		return r.Method == http.MethodPut && strings.Contains(r.URL.Path, "/_tranche/state/") &&
			slices.ContainsFunc(answered, func(a string) bool {
				_, q, _ := strings.Cut(a, "?")
				v, err := url.ParseQuery(q)
				return err == nil && strings.HasPrefix(a, "POST ") && v.Has("uploads")
			})
	}
	// Part 1 is in the bucket and recorded; part 2 is being sent.
	holdPart2 = func(r *http.Request, answered []string) bool {
		return r.Method == http.MethodPut && r.URL.Query().Get("partNumber") == "2"
	}
	// Part 1 is in the bucket but not yet recorded in the file's state:
	// the resumed export sends it again, to the same upload.
	holdRecordingPart1 = func(r *http.Request, answered []string) bool {
		return r.Method == http.MethodPut && strings.Contains(r.URL.Path, "/_tranche/state/") &&
			slices.ContainsFunc(answered, func(a string) bool {
				_, q, _ := strings.Cut(a, "?")
				v, err := url.ParseQuery(q)
				return err == nil && strings.HasPrefix(a, "PUT ") && v.Get("partNumber") == "1"
			})
	}
)

// TestExportSinkCrashResume kills `tranche export --sink` with SIGKILL
// inside a multipart upload (an S3 gate stops the export at a chosen
// request, so the moment is certain), resumes it with --resume and no
// flags, and checks the bucket against the manifest: every file and
// Parquet row once, the views the export was started with, no object
// outside the completion manifest, no upload left open.
func TestExportSinkCrashResume(t *testing.T) {
	for _, tc := range []struct {
		name string
		hold func(*http.Request, []string) bool
	}{
		{"BeforeUploadIsRecorded", holdRecordingUpload},
		{"DuringPart2", holdPart2},
		{"BeforePart1IsRecorded", holdRecordingPart1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := openDemo(t, demo.Config{Patients: 30, FileLines: 100000})
			home := t.TempDir()
			// Parts of 5 MiB, the S3 minimum, set as the AWS CLI's are.
			lake := openLake(t, home, "[default]\ns3 =\n  multipart_chunksize = 5MB\n  max_concurrent_requests = 3\n")
			lake.gate.hold = tc.hold
			dbPath := filepath.Join(home, "tranche.db")
			view := writeDemographicsView(t, home)

			var stderr bytes.Buffer
			cmd := helperCommand(t, home, "export", "-f", padObservations(t, srv.URL()), "--open", "--db", dbPath, "--parallel", "1",
				"-t", "Patient,Observation", "--sink", "s3://lake/fhir", "--sink-view", view)
			cmd.Env = append(cmd.Env, lake.env...)
			cmd.Stderr = &stderr
			killAtGate(t, cmd, lake.gate, &stderr)

			// The kill landed inside a multipart upload.
			up, err := lake.c.ListMultipartUploads(t.Context(), "lake", "fhir/", "", "", "", 100)
			if err != nil {
				t.Fatal(err)
			}
			if len(up.Uploads) != 1 {
				t.Fatalf("%d multipart uploads open after the kill, want 1", len(up.Uploads))
			}
			if keys := sinktest.ListKeys(t, lake.c, "lake", "fhir/exports/"); len(keys) > 0 {
				t.Fatalf("completion manifest %v written before the export finished", keys)
			}

			// --resume alone: the sink and its views are the export's.
			mustResume(t, home, dbPath, lake.env)
			comp := checkLake(t, lake, dbPath, "fhir", 1)
			if got, want := comp.ViewRows["patient_demographics"], comp.Rows["Patient"]; got != want || got == 0 {
				t.Errorf("view patient_demographics has %d rows, want %d (one per Patient)", got, want)
			}
			// The file the kill interrupted was sent in several parts.
			parts := 0
			for _, k := range sinktest.ListKeys(t, lake.c, "lake", "fhir/_tranche/state/") {
				var st struct {
					Parts []struct{} `json:"parts"`
				}
				if err := json.Unmarshal(sinktest.GetObject(t, lake.c, "lake", k), &st); err != nil {
					t.Fatal(err)
				}
				parts = max(parts, len(st.Parts))
			}
			if parts < 2 {
				t.Errorf("the largest raw file was sent in %d parts, want several (the test's data is too small)", parts)
			}
		})
	}
}

// TestExportSinkRegistration runs a registration whose settings name a
// sink: `tranche export --registration` with no --sink lands there, and
// --resume after a kill -9 between two files carries on into it.
func TestExportSinkRegistration(t *testing.T) {
	mockKeyring(t, errors.New("The name org.freedesktop.secrets was not provided by any .service files"))
	t.Setenv("TRANCHE_KEY_PASSPHRASE", strongPassphrase)
	srv := demo.NewServer(demo.Config{Patients: 20, Seed: 1, MinPoll: -1, RetryAfter: 50 * time.Millisecond,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err := srv.Open(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	home := t.TempDir()
	dbPath := filepath.Join(home, "tranche.db")
	lake := openLake(t, home, "")
	// Stop at the second file's state: one file is in the bucket.
	lake.gate.hold = func(r *http.Request, answered []string) bool {
		return r.Method == http.MethodPut && strings.Contains(r.URL.Path, "/_tranche/state/") &&
			slices.ContainsFunc(answered, func(a string) bool { return strings.Contains(a, "/_tranche/state/") })
	}

	c := cli{t: t, db: dbPath}
	c.must("registrations", "add", "--name", "ehr", "--fhir-url", srv.URL(), "--alg", "ES384", "--key-file-fallback",
		"--sink", "s3://lake/ehr")
	c.must("registrations", "register", "ehr")

	var stderr bytes.Buffer
	cmd := helperCommand(t, home, "export", "--registration", "ehr", "--db", dbPath, "--parallel", "1")
	cmd.Env = append(cmd.Env, lake.env...)
	cmd.Stderr = &stderr
	killAtGate(t, cmd, lake.gate, &stderr)
	if n := len(sinktest.ListKeys(t, lake.c, "lake", "ehr/_tranche/state/")); n != 1 {
		t.Fatalf("%d files in the sink after the kill, want 1", n)
	}

	mustResume(t, home, dbPath, lake.env)
	comp := checkLake(t, lake, dbPath, "ehr", 1)
	if comp.Resources == 0 || len(comp.Files) < 2 {
		t.Errorf("completion lists %d files, %d resources; want several", len(comp.Files), comp.Resources)
	}
}

// TestExportSinkResumeViews checks that --resume keeps the views an
// export was started with: naming others is refused before anything is
// sent, naming the same ones is allowed.
func TestExportSinkResumeViews(t *testing.T) {
	home := t.TempDir()
	dbPath := filepath.Join(home, "tranche.db")
	view := writeDemographicsView(t, home)
	db := catalog.NewDB(dbPath)
	db.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	if err := db.Open(); err != nil {
		t.Fatal(err)
	}
	exp := &core.Export{FHIRBaseURL: "http://127.0.0.1:1/fhir", Request: core.ExportRequest{Level: core.LevelPatient}, State: core.StateDownloading}
	if err := db.CreateExport(t.Context(), exp); err != nil {
		t.Fatal(err)
	}
	defs, err := sink.ReadViewFiles([]string{view})
	if err != nil {
		t.Fatal(err)
	}
	if err := db.SetExportSink(t.Context(), exp.ID, "s3://lake/fhir"); err != nil {
		t.Fatal(err)
	}
	if err := db.SetExportSinkViews(t.Context(), exp.ID, defs); err != nil {
		t.Fatal(err)
	}
	db.Close()

	other := filepath.Join(home, "other.json")
	if err := os.WriteFile(other, []byte(`{"resourceType":"ViewDefinition","name":"other","resource":"Patient","status":"active",
		"select":[{"column":[{"name":"id","path":"id"}]}]}`), 0o600); err != nil {
		t.Fatal(err)
	}
	var out, errb bytes.Buffer
	err = run([]string{"export", "--resume", "--open", "--db", dbPath, "--sink-view", other, strconv.FormatInt(exp.ID, 10)}, &out, &errb)
	if exitCode(err) != 2 || !strings.Contains(err.Error(), "patient_demographics") || !strings.Contains(err.Error(), "keeps the views it was started with") {
		t.Errorf("--resume with another --sink-view: exit %d, %v; want exit 2 naming patient_demographics", exitCode(err), err)
	}
}

// writeDemographicsView writes a ViewDefinition of Patient rows into dir.
func writeDemographicsView(t *testing.T, dir string) string {
	t.Helper()
	view := filepath.Join(dir, "patient_demographics.json")
	if err := os.WriteFile(view, []byte(`{"resourceType":"ViewDefinition","name":"patient_demographics","resource":"Patient",
		"status":"active","select":[{"column":[{"name":"id","path":"id"},{"name":"gender","path":"gender"}]}]}`), 0o600); err != nil {
		t.Fatal(err)
	}
	return view
}

// lake is a versitygw with a bucket "lake" that export subprocesses reach
// through a gate.
type lake struct {
	c    *minio.Core // straight to the server, for checks
	gate *s3Gate
	env  []string // the AWS variables of a subprocess
}

// openLake starts versitygw and the gate; awsConfig is the shared config
// file the subprocesses read.
func openLake(t *testing.T, home, awsConfig string) *lake {
	t.Helper()
	s3 := s3test.Start(t)
	c, err := minio.NewCore(s3.Endpoint, &minio.Options{Creds: credentials.NewStaticV4(s3test.AccessKey, s3test.SecretKey, ""), Region: s3test.Region})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.MakeBucket(t.Context(), "lake", minio.MakeBucketOptions{Region: s3test.Region}); err != nil {
		t.Fatal(err)
	}
	gate := openGate(t, s3.URL())
	cfgFile := filepath.Join(home, "aws-config")
	if err := os.WriteFile(cfgFile, []byte(awsConfig), 0o600); err != nil {
		t.Fatal(err)
	}
	// The sink is reached as the AWS tools are: no flag carries a secret.
	env := []string{
		"AWS_ENDPOINT_URL=" + gate.URL, "AWS_REGION=" + s3test.Region,
		"AWS_ACCESS_KEY_ID=" + s3test.AccessKey, "AWS_SECRET_ACCESS_KEY=" + s3test.SecretKey,
		"AWS_CONFIG_FILE=" + cfgFile,
		"AWS_SHARED_CREDENTIALS_FILE=" + filepath.Join(home, "no-aws-credentials"),
	}
	return &lake{c: c, gate: gate, env: env}
}

// s3Gate passes requests on to an S3 server until hold picks one: that
// request and every one after it wait, unanswered, until their client is
// gone, and Held is closed. hold sees the requests answered so far
// ("METHOD path?query" of each 2xx answer).
type s3Gate struct {
	URL     string
	Held    chan struct{}
	hold    func(r *http.Request, answered []string) bool
	proxy   *httputil.ReverseProxy
	release chan struct{}

	mu       sync.Mutex
	answered []string
	holding  bool
}

func openGate(t *testing.T, server string) *s3Gate {
	t.Helper()
	target, err := url.Parse(server)
	if err != nil {
		t.Fatal(err)
	}
	g := &s3Gate{Held: make(chan struct{}), release: make(chan struct{})}
	g.proxy = &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.SetURL(target)
			pr.Out.Host = pr.In.Host // signed (AWS Signature Version 4)
		},
		ErrorLog: log.New(io.Discard, "", 0), // a held request's client is killed
		ModifyResponse: func(resp *http.Response) error {
			if resp.StatusCode/100 == 2 {
				r := resp.Request
				g.mu.Lock()
				g.answered = append(g.answered, r.Method+" "+r.URL.Path+"?"+r.URL.RawQuery)
				g.mu.Unlock()
			}
			return nil
		},
	}
	ts := httptest.NewServer(g)
	t.Cleanup(ts.Close)
	t.Cleanup(func() { close(g.release) }) // before ts.Close, which waits for handlers
	g.URL = ts.URL
	return g
}

func (g *s3Gate) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	g.mu.Lock()
	if !g.holding && g.hold != nil && g.hold(r, g.answered) {
		g.holding = true
		close(g.Held)
	}
	holding := g.holding
	g.mu.Unlock()
	if holding {
		// The body is read so that the server notices the client go.
		io.Copy(io.Discard, r.Body)
		select {
		case <-r.Context().Done():
		case <-g.release:
		}
		return
	}
	g.proxy.ServeHTTP(w, r)
}

// killAtGate starts cmd and kills it with SIGKILL once gate holds a
// request: the export stands still at that request when it dies. Then the
// gate lets everything through.
func killAtGate(t *testing.T, cmd *exec.Cmd, gate *s3Gate, stderr *bytes.Buffer) {
	t.Helper()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	select {
	case err := <-exited:
		t.Fatalf("export ended before the gate held it (err %v); stderr:\n%s", err, stderr.String())
	case <-gate.Held:
	}
	if err := cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	<-exited
	gate.open()
}

// open lets every request through from now on.
func (g *s3Gate) open() {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.hold, g.holding = nil, false
}

// checkLake checks the export in the catalogue at dbPath against the
// bucket: complete, every file and row once (sinktest.Check), no object
// the completion manifest does not name but the resume state, no upload
// left open, and no records in the catalogue.
func checkLake(t *testing.T, lake *lake, dbPath, prefix string, id int64) sink.Completion {
	t.Helper()
	db := catalog.NewDB(dbPath)
	db.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	if err := db.Open(); err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	exp, err := db.FindExport(t.Context(), id)
	if err != nil {
		t.Fatal(err)
	}
	if exp.State != core.StateComplete {
		t.Fatalf("state after resume = %s (%s), want complete", exp.State, exp.Error)
	}
	files, err := db.FindFiles(t.Context(), exp.ID)
	if err != nil {
		t.Fatal(err)
	}
	comp := sinktest.Check(t, lake.c, "lake", prefix, exp.ID, files)

	// Every object is one the completion manifest names, or the manifest,
	// the pointer, or resume state: nothing doubled under another name.
	known := []string{prefix + "/latest.json", prefix + "/exports/export=" + strconv.FormatInt(id, 10) + ".json", comp.Manifest}
	for _, f := range comp.Files {
		known = append(known, f.Raw)
	}
	for _, tb := range comp.Tables {
		known = append(known, tb.Key)
	}
	for _, v := range comp.Views {
		known = append(known, v.Key)
	}
	for _, k := range sinktest.ListKeys(t, lake.c, "lake", prefix+"/") {
		if !slices.Contains(known, k) && !strings.HasPrefix(k, prefix+"/_tranche/state/") {
			t.Errorf("object %s is not in the completion manifest", k)
		}
	}
	up, err := lake.c.ListMultipartUploads(t.Context(), "lake", prefix+"/", "", "", "", 100)
	if err != nil || len(up.Uploads) != 0 {
		t.Errorf("uploads left open: %v (%v)", up.Uploads, err)
	}
	// Only the export's progress is local: no records in the catalogue.
	counts, err := db.Counts(t.Context(), exp.ID)
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range counts {
		if n.Count != 0 {
			t.Errorf("catalogue holds %d %s records, want none (--sink without --sink-keep-local)", n.Count, n.Type)
		}
	}
	return comp
}

// padObservations serves the demo server at base through a loopback proxy
// that gives every Observation a narrative of about 2 KB of random text,
// the same for the same line on every download: a few thousand lines then
// fill several 5 MiB S3 parts, where the demo's own lines compress 18 to
// 1. URLs of the server in headers and JSON answers become the proxy's.
func padObservations(t *testing.T, base string) string {
	t.Helper()
	target, err := url.Parse(base)
	if err != nil {
		t.Fatal(err)
	}
	var self string
	rp := &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.SetURL(target)
			// Whole, identity-encoded bodies: the runner skips the lines
			// it has when a server ignores Range.
			pr.Out.Header.Del("Range")
			pr.Out.Header.Del("If-Range")
			pr.Out.Header.Del("Accept-Encoding")
		},
		ErrorLog: log.New(io.Discard, "", 0), // the killed export's downloads
		ModifyResponse: func(resp *http.Response) error {
			for _, vs := range resp.Header {
				for i, v := range vs {
					vs[i] = strings.ReplaceAll(v, base, self)
				}
			}
			ct := resp.Header.Get("Content-Type")
			switch {
			case strings.Contains(ct, "ndjson"):
				resp.Header.Del("Content-Length")
				resp.Header.Del("ETag")
				resp.ContentLength = -1
				if strings.Contains(resp.Request.URL.Path, "Observation") {
					resp.Body = padLines(resp.Body)
				}
			case strings.Contains(ct, "json"):
				b, err := io.ReadAll(resp.Body)
				resp.Body.Close()
				if err != nil {
					return err
				}
				b = bytes.ReplaceAll(b, []byte(base), []byte(self))
				resp.Body = io.NopCloser(bytes.NewReader(b))
				resp.ContentLength = int64(len(b))
				resp.Header.Set("Content-Length", strconv.Itoa(len(b)))
			}
			return nil
		},
	}
	ts := httptest.NewUnstartedServer(rp)
	self = "http://" + ts.Listener.Addr().String() // before any request reads it
	ts.Start()
	t.Cleanup(ts.Close)
	return self
}

// padLines adds a generated narrative (FHIR R4, Resource: DomainResource.text)
// of random text, seeded by the line, to each resource line of body.
func padLines(body io.ReadCloser) io.ReadCloser {
	pr, pw := io.Pipe()
	go func() {
		defer body.Close()
		br := bufio.NewReaderSize(body, 64<<10)
		bw := bufio.NewWriterSize(pw, 64<<10)
		noise := make([]byte, 1536)
		for {
			line, err := br.ReadBytes('\n')
			if trimmed := bytes.TrimRight(line, "\n"); len(trimmed) > 0 && trimmed[len(trimmed)-1] == '}' {
				rand.NewChaCha8(sha256.Sum256(trimmed)).Read(noise)
				bw.Write(trimmed[:len(trimmed)-1])
				bw.WriteString(`,"text":{"status":"generated","div":"<div xmlns=\"http://www.w3.org/1999/xhtml\">`)
				bw.WriteString(base64.StdEncoding.EncodeToString(noise))
				newline := len(trimmed) < len(line)
				line = append(line[:0], `</div>"}}`...)
				if newline {
					line = append(line, '\n')
				}
			}
			if _, werr := bw.Write(line); werr != nil {
				pw.CloseWithError(werr) // the client went away
				return
			}
			if err != nil {
				if err == io.EOF {
					err = bw.Flush()
				}
				pw.CloseWithError(err)
				return
			}
		}
	}()
	return pr
}
