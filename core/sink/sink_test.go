package sink_test

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"

	"tranche.dev/tranche/core"
	"tranche.dev/tranche/core/bulk"
	"tranche.dev/tranche/core/catalog"
	"tranche.dev/tranche/core/demo"
	"tranche.dev/tranche/core/s3test"
	"tranche.dev/tranche/core/sink"
	"tranche.dev/tranche/core/sink/sinktest"
	"tranche.dev/tranche/core/views"
)

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

func mustOpenDB(tb testing.TB) *catalog.DB {
	tb.Helper()
	db := catalog.NewDB(filepath.Join(tb.TempDir(), "tranche.db"))
	db.Logger = quiet
	if err := db.Open(); err != nil {
		tb.Fatalf("open catalog: %v", err)
	}
	tb.Cleanup(func() { db.Close() })
	return db
}

func mustOpenDemo(tb testing.TB, cfg demo.Config) *demo.Server {
	tb.Helper()
	cfg.Seed, cfg.Open, cfg.MinPoll = 1, true, -1
	cfg.RetryAfter = 10 * time.Millisecond
	cfg.Logger = quiet
	s := demo.NewServer(cfg)
	if err := s.Open(); err != nil {
		tb.Fatalf("open demo server: %v", err)
	}
	tb.Cleanup(func() { s.Close() })
	return s
}

// mustOpenBucket starts versitygw and makes a bucket through the S3 API.
func mustOpenBucket(tb testing.TB) (*minio.Core, string) {
	tb.Helper()
	srv := s3test.Start(tb)
	c, err := minio.NewCore(srv.Endpoint, &minio.Options{
		Creds: credentials.NewStaticV4(s3test.AccessKey, s3test.SecretKey, ""), Region: s3test.Region,
	})
	if err != nil {
		tb.Fatal(err)
	}
	if err := c.MakeBucket(tb.Context(), "lake", minio.MakeBucketOptions{Region: s3test.Region}); err != nil {
		tb.Fatalf("make bucket: %v", err)
	}
	return c, "lake"
}

func newRunner(base string, store core.ExportStore) *bulk.Runner {
	return &bulk.Runner{
		Client:     &bulk.Client{BaseURL: base, HTTPClient: http.DefaultClient, FileClient: http.DefaultClient, Logger: quiet},
		Store:      store,
		PollMin:    time.Millisecond,
		PollMax:    50 * time.Millisecond,
		BatchLines: 500,
		Logger:     quiet,
	}
}

func checkBucket(tb testing.TB, c *minio.Core, bucket, prefix string, db *catalog.DB, exp *core.Export) sink.Completion {
	tb.Helper()
	files, err := db.FindFiles(tb.Context(), exp.ID)
	if err != nil {
		tb.Fatal(err)
	}
	return sinktest.Check(tb, c, bucket, prefix, exp.ID, files)
}

func getObject(tb testing.TB, c *minio.Core, bucket, key string) []byte {
	tb.Helper()
	return sinktest.GetObject(tb, c, bucket, key)
}

func TestSinkEndToEnd(t *testing.T) {
	srv := mustOpenDemo(t, demo.Config{Patients: 60, FileLines: 2000})
	c, bucket := mustOpenBucket(t)
	db := mustOpenDB(t)
	view, err := views.Parse([]byte(`{"resourceType":"ViewDefinition","name":"patient_demographics","resource":"Patient","status":"active",
		"select":[{"column":[{"name":"id","path":"id"},{"name":"gender","path":"gender"},{"name":"birth_date","path":"birthDate","type":"date"},
		{"name":"deceased","path":"deceased.ofType(boolean)","type":"boolean"},{"name":"names","path":"name.family","collection":true}]}]}`))
	if err != nil {
		t.Fatal(err)
	}
	st := &sink.Store{Inner: db, Client: c, Target: sink.Target{Bucket: bucket, Prefix: "fhir/demo"}, TempDir: t.TempDir(), Logger: quiet,
		Views: []*views.View{view}}
	r := newRunner(srv.URL(), st)
	exp := &core.Export{FHIRBaseURL: srv.URL(), Request: core.ExportRequest{Level: core.LevelPatient}}
	if err := r.Start(t.Context(), exp); err != nil {
		t.Fatalf("export: %v", err)
	}
	comp := checkBucket(t, c, bucket, "fhir/demo", db, exp)
	if comp.Resources == 0 {
		t.Fatal("no resources exported")
	}
	// The view has a row per Patient, with the view's columns.
	if got, want := comp.ViewRows["patient_demographics"], comp.Rows["Patient"]; got != want || got == 0 {
		t.Errorf("patient_demographics has %d rows, want %d (one per Patient)", got, want)
	}
	for _, v := range comp.Views {
		if !strings.Contains(v.Key, "fhir/demo/views/patient_demographics/export=1/") {
			t.Errorf("view object %s outside views/patient_demographics/export=1/", v.Key)
		}
		for _, r := range sinktest.ReadParquet(t, getObject(t, c, bucket, v.Key)) {
			if id, _ := r["id"].(string); id == "" {
				t.Errorf("%s: a row without id: %v", v.Key, r)
			}
			if g, _ := r["gender"].(string); g != "male" && g != "female" && g != "other" && g != "unknown" {
				t.Errorf("%s: gender %v", v.Key, r["gender"])
			}
		}
	}

	// Without KeepLocal the catalogue holds the export and its files only.
	counts, err := db.Counts(t.Context(), exp.ID)
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range counts {
		if n.Count != 0 {
			t.Errorf("catalogue holds %d %s records, want none", n.Count, n.Type)
		}
	}

	var latest sink.Latest
	if err := json.Unmarshal(getObject(t, c, bucket, "fhir/demo/latest.json"), &latest); err != nil {
		t.Fatal(err)
	}
	if latest.ExportID != exp.ID {
		t.Errorf("latest = export %d, want %d", latest.ExportID, exp.ID)
	}
	keys := sinktest.ListKeys(t, c, bucket, "fhir/demo/")
	if !contains(keys, "fhir/demo/raw/export="+itoa(exp.ID)+"/manifest.json") {
		t.Errorf("no server manifest among %d objects", len(keys))
	}

	// An incremental export adds a partition and moves latest.
	exp2 := &core.Export{FHIRBaseURL: srv.URL(), Request: core.ExportRequest{Level: core.LevelPatient, Since: "auto"}}
	if err := r.Start(t.Context(), exp2); err != nil {
		t.Fatalf("incremental export: %v", err)
	}
	if exp2.Request.Since == "" {
		t.Errorf("_since=auto was not resolved")
	}
	checkBucket(t, c, bucket, "fhir/demo", db, exp2)
	if err := json.Unmarshal(getObject(t, c, bucket, "fhir/demo/latest.json"), &latest); err != nil {
		t.Fatal(err)
	}
	if latest.ExportID != exp2.ID {
		t.Errorf("latest = export %d, want %d", latest.ExportID, exp2.ID)
	}
	uploads, err := c.ListMultipartUploads(context.Background(), bucket, "fhir/demo/", "", "", "", 1000)
	if err != nil {
		t.Fatal(err)
	}
	if len(uploads.Uploads) != 0 {
		t.Errorf("%d multipart uploads left: %v", len(uploads.Uploads), uploads.Uploads)
	}
}

func contains(s []string, v string) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }
