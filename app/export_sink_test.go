package main

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"

	"tranche.dev/tranche/core"
	"tranche.dev/tranche/core/catalog"
	"tranche.dev/tranche/core/demo"
	"tranche.dev/tranche/core/s3test"
	"tranche.dev/tranche/core/sink/sinktest"
)

// TestExportSinkCrashResume kills `tranche export --sink` with SIGKILL
// once part of the export is in the bucket, resumes it with --resume, and
// checks the bucket against the manifest: every file and Parquet row once,
// no object outside the completion manifest, no upload left open.
func TestExportSinkCrashResume(t *testing.T) {
	srv := openDemo(t, demo.Config{Patients: 60, FileLines: 100000, Faults: demo.Faults{SlowFiles: 4 << 20}})
	s3 := s3test.Start(t)
	c, err := minio.NewCore(s3.Endpoint, &minio.Options{Creds: credentials.NewStaticV4(s3test.AccessKey, s3test.SecretKey, ""), Region: s3test.Region})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.MakeBucket(t.Context(), "lake", minio.MakeBucketOptions{Region: s3test.Region}); err != nil {
		t.Fatal(err)
	}
	home := t.TempDir()
	dbPath := filepath.Join(home, "tranche.db")
	// The sink is reached as the AWS tools are: no flag carries a secret.
	env := []string{
		"AWS_ENDPOINT_URL=" + s3.URL(), "AWS_REGION=" + s3test.Region,
		"AWS_ACCESS_KEY_ID=" + s3test.AccessKey, "AWS_SECRET_ACCESS_KEY=" + s3test.SecretKey,
		"AWS_CONFIG_FILE=" + filepath.Join(home, "no-aws-config"),
		"AWS_SHARED_CREDENTIALS_FILE=" + filepath.Join(home, "no-aws-credentials"),
	}

	view := filepath.Join(home, "patient_demographics.json")
	if err := os.WriteFile(view, []byte(`{"resourceType":"ViewDefinition","name":"patient_demographics","resource":"Patient",
		"status":"active","select":[{"column":[{"name":"id","path":"id"},{"name":"gender","path":"gender"}]}]}`), 0o600); err != nil {
		t.Fatal(err)
	}

	var stderr bytes.Buffer
	cmd := helperCommand(t, home, "export", "-f", srv.URL(), "--open", "--db", dbPath, "--parallel", "1", "--sink", "s3://lake/fhir", "--sink-view", view)
	cmd.Env = append(cmd.Env, env...)
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()

	// Watch the bucket until a file has landed, then kill -9.
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Minute)
	defer cancel()
	for killed := false; !killed; {
		select {
		case err := <-exited:
			t.Fatalf("export finished before it could be killed (err %v); stderr:\n%s", err, stderr.String())
		case <-ctx.Done():
			cmd.Process.Kill()
			t.Fatal("no landed file seen")
		case <-time.After(5 * time.Millisecond):
		}
		if len(sinktest.ListKeys(t, c, "lake", "fhir/_tranche/state/")) > 0 {
			if err := cmd.Process.Kill(); err != nil {
				t.Fatal(err)
			}
			killed = true
		}
	}
	<-exited
	if keys := sinktest.ListKeys(t, c, "lake", "fhir/exports/"); len(keys) > 0 {
		t.Fatalf("completion manifest %v written before the export finished", keys)
	}

	var out bytes.Buffer
	stderr.Reset()
	resume := helperCommand(t, home, "export", "--resume", "--db", dbPath, "--sink-view", view)
	resume.Env = append(resume.Env, env...)
	resume.Stdout, resume.Stderr = &out, &stderr
	if err := resume.Run(); err != nil {
		t.Fatalf("export --resume: %v\nstdout:\n%s\nstderr:\n%s", err, out.String(), stderr.String())
	}

	db := catalog.NewDB(dbPath)
	db.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	if err := db.Open(); err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	exp, err := db.FindExport(t.Context(), 1)
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
	comp := sinktest.Check(t, c, "lake", "fhir", exp.ID, files)

	// Every object is one the completion manifest names, or the manifest,
	// the pointer, or resume state: nothing doubled under another name.
	known := []string{"fhir/latest.json", "fhir/exports/export=1.json", comp.Manifest}
	for _, f := range comp.Files {
		known = append(known, f.Raw)
	}
	for _, tb := range comp.Tables {
		known = append(known, tb.Key)
	}
	for _, v := range comp.Views {
		known = append(known, v.Key)
	}
	if got, want := comp.ViewRows["patient_demographics"], comp.Rows["Patient"]; got != want || got == 0 {
		t.Errorf("view patient_demographics has %d rows, want %d (one per Patient)", got, want)
	}
	for _, k := range sinktest.ListKeys(t, c, "lake", "fhir/") {
		if !slices.Contains(known, k) && !strings.HasPrefix(k, "fhir/_tranche/state/") {
			t.Errorf("object %s is not in the completion manifest", k)
		}
	}
	up, err := c.ListMultipartUploads(t.Context(), "lake", "fhir/", "", "", "", 100)
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
}
