package sink_test

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/minio/minio-go/v7"

	"tranche.dev/tranche/core"
	"tranche.dev/tranche/core/catalog"
	"tranche.dev/tranche/core/sink"
	"tranche.dev/tranche/core/sink/sinktest"
)

// randomLines makes n Observation lines of about size bytes each, with
// random (incompressible) text, so a few MiB of them fill S3-sized parts.
func randomLines(n, size int) [][]byte {
	rng := rand.NewChaCha8([32]byte{1})
	buf := make([]byte, size*3/4)
	lines := make([][]byte, n)
	for i := range lines {
		rng.Read(buf)
		lines[i] = fmt.Appendf(nil, `{"resourceType":"Observation","id":"o%d","meta":{"versionId":"%d","lastUpdated":"2026-01-01T00:00:00Z"},"subject":{"reference":"Patient/p%d"},"note":[{"text":"%s"}]}`,
			i+1, i%3+1, i%7, base64.StdEncoding.EncodeToString(buf))
	}
	return lines
}

// feed gives the store lines [from, to) of f in batches as the runner
// does, the last batch with the verdict when final.
func feed(t *testing.T, st *sink.Store, f *core.ExportFile, lines [][]byte, from, to int, final bool) error {
	t.Helper()
	const batch = 200
	var bytesSoFar int64
	for _, l := range lines[:from] {
		bytesSoFar += int64(len(l)) + 1
	}
	for i := from; i < to; i += batch {
		var recs []core.Record
		for j := i; j < min(i+batch, to); j++ {
			recs = append(recs, core.Record{Line: int64(j + 1), Raw: lines[j], ResourceType: "Observation", ID: fmt.Sprintf("o%d", j+1)})
			bytesSoFar += int64(len(lines[j])) + 1
		}
		f.Lines, f.Bytes, f.State = int64(min(i+batch, to)), bytesSoFar, core.FileDownloading
		if final && i+batch >= to {
			f.State = core.FileLoaded
		}
		if err := st.AppendRecords(t.Context(), f, recs); err != nil {
			return err
		}
	}
	return nil
}

// mustOneFileExport records a downloading export of one Observation file
// of 2,000 lines, as the runner does before its first line lands.
func mustOneFileExport(t *testing.T, db *catalog.DB) (*core.Export, []*core.ExportFile) {
	t.Helper()
	exp := &core.Export{FHIRBaseURL: "http://127.0.0.1:1/fhir", Request: core.ExportRequest{Level: core.LevelSystem}, State: core.StateDownloading}
	if err := db.CreateExport(t.Context(), exp); err != nil {
		t.Fatal(err)
	}
	files := []*core.ExportFile{{Kind: core.KindOutput, Type: "Observation", URL: "http://127.0.0.1:1/f/1.ndjson", Count: 2000}}
	if err := db.AddFiles(t.Context(), exp.ID, files); err != nil {
		t.Fatal(err)
	}
	return exp, files
}

// TestSinkResumeSegments stops a store in the middle of a file of several
// S3 parts, as a kill would (open upload, spooled segment, nothing
// cleaned up), and carries on with a new store from the catalogue's
// progress: the raw object is every line once, in order, and the Parquet
// files hold every line once.
func TestSinkResumeSegments(t *testing.T) {
	c, bucket := mustOpenBucket(t)
	db := mustOpenDB(t)
	ctx := t.Context()
	exp, files := mustOneFileExport(t, db)
	lines := randomLines(2000, 4<<10) // ~6 MiB of gzip: a part of 5 MiB and a last one
	newStore := func() *sink.Store {
		return &sink.Store{Inner: db, Client: c, Target: sink.Target{Bucket: bucket, Prefix: "x"},
			PartSize: sink.MinPartSize, TempDir: t.TempDir(), Logger: quiet}
	}

	// First run: stops after 1,900 lines, with one part landed.
	first := newStore()
	f := *files[0]
	if err := feed(t, first, &f, lines, 0, 1900, false); err != nil {
		t.Fatal(err)
	}
	stored, err := db.FindFiles(ctx, exp.ID)
	if err != nil {
		t.Fatal(err)
	}
	landed := stored[0].Lines
	if landed == 0 || landed >= 1900 {
		t.Fatalf("catalogue progress after the first run = %d lines; want some landed segments and an open one", landed)
	}
	up, err := c.ListMultipartUploads(ctx, bucket, "x/", "", "", "", 100)
	if err != nil || len(up.Uploads) != 1 {
		t.Fatalf("open uploads after the first run = %v (%v), want 1", up.Uploads, err)
	}

	// An upload nothing refers to (a crash between starting and
	// recording it) is swept; the file's own is kept.
	if _, err := c.NewMultipartUpload(ctx, bucket, "x/raw/export=1/output/000099-Patient.ndjson.gz", minio.PutObjectOptions{}); err != nil {
		t.Fatal(err)
	}
	second := newStore()
	n, err := second.Sweep(ctx)
	if err != nil || n != 1 {
		t.Fatalf("Sweep aborted %d (%v), want 1", n, err)
	}

	// Second run: the runner carries on from the catalogue's progress;
	// replaying a few earlier lines too (as after a crash between the
	// bucket and the catalogue) must not double them.
	g := *stored[0]
	from := max(int(landed)-150, 0)
	g.Lines = int64(from)
	if err := feed(t, second, &g, lines, from, len(lines), true); err != nil {
		t.Fatal(err)
	}
	exp.State, exp.TransactionTime = core.StateComplete, "2026-01-01T00:00:00Z"
	if err := second.UpdateExport(ctx, exp); err != nil {
		t.Fatal(err)
	}

	stored, err = db.FindFiles(ctx, exp.ID)
	if err != nil {
		t.Fatal(err)
	}
	comp := sinktest.Check(t, c, bucket, "x", exp.ID, stored)
	if len(comp.Tables) < 2 {
		t.Errorf("%d Parquet objects, want one per segment (at least 2)", len(comp.Tables))
	}
	raw := sinktest.GetRaw(t, c, bucket, comp.Files[0].Raw)
	if want := append(bytes.Join(lines, []byte{'\n'}), '\n'); !bytes.Equal(raw, want) {
		t.Errorf("raw object: %d bytes, want the file's %d bytes exactly", len(raw), len(want))
	}
	if up, err := c.ListMultipartUploads(ctx, bucket, "x/", "", "", "", 100); err != nil || len(up.Uploads) != 0 {
		t.Errorf("uploads left = %v (%v), want none", up.Uploads, err)
	}
}

// TestSinkResetFile: a file the runner downloads again (its first copy
// was corrupted in transit) lands once: the first copy's parts, upload
// and Parquet objects are gone, and the second copy is the file exactly.
func TestSinkResetFile(t *testing.T) {
	c, bucket := mustOpenBucket(t)
	db := mustOpenDB(t)
	ctx := t.Context()
	exp, files := mustOneFileExport(t, db)
	st := &sink.Store{Inner: db, Client: c, Target: sink.Target{Bucket: bucket, Prefix: "x"},
		PartSize: sink.MinPartSize, TempDir: t.TempDir(), Logger: quiet}

	// The corrupted copy: longer lines, so its segments end elsewhere
	// and its objects would not be overwritten by the good copy's.
	bad := randomLines(2000, 8<<10) // two parts land before the stop
	f := *files[0]
	if err := feed(t, st, &f, bad, 0, 1900, false); err != nil {
		t.Fatal(err)
	}
	if err := st.ResetFile(ctx, &f); err != nil {
		t.Fatalf("ResetFile() = %v", err)
	}
	if up, err := c.ListMultipartUploads(ctx, bucket, "x/", "", "", "", 100); err != nil || len(up.Uploads) != 0 {
		t.Errorf("uploads after ResetFile = %v (%v), want none", up.Uploads, err)
	}
	stored, err := db.FindFiles(ctx, exp.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got := stored[0].Lines; got != 0 {
		t.Errorf("catalogue progress after ResetFile = %d lines, want 0", got)
	}

	good := randomLines(2000, 4<<10)
	g := *stored[0]
	if err := feed(t, st, &g, good, 0, len(good), true); err != nil {
		t.Fatal(err)
	}
	exp.State, exp.TransactionTime = core.StateComplete, "2026-01-01T00:00:00Z"
	if err := st.UpdateExport(ctx, exp); err != nil {
		t.Fatal(err)
	}
	if stored, err = db.FindFiles(ctx, exp.ID); err != nil {
		t.Fatal(err)
	}
	comp := sinktest.Check(t, c, bucket, "x", exp.ID, stored)
	listed := map[string]bool{}
	for _, tb := range comp.Tables {
		listed[tb.Key] = true
	}
	for o := range c.Client.ListObjects(ctx, bucket, minio.ListObjectsOptions{Prefix: "x/", Recursive: true}) {
		if o.Err != nil {
			t.Fatal(o.Err)
		}
		if strings.HasSuffix(o.Key, ".parquet") && !listed[o.Key] {
			t.Errorf("Parquet object %s is not in the completion manifest: left from the reset copy", o.Key)
		}
	}
	raw := sinktest.GetRaw(t, c, bucket, comp.Files[0].Raw)
	if want := append(bytes.Join(good, []byte{'\n'}), '\n'); !bytes.Equal(raw, want) {
		t.Errorf("raw object: %d bytes, want the good copy's %d bytes exactly", len(raw), len(want))
	}
}
