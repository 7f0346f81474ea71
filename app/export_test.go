package main

import (
	"bufio"
	"bytes"
	"context"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"tranche.dev/tranche/core"
	"tranche.dev/tranche/core/bulk"
	"tranche.dev/tranche/core/catalog"
	"tranche.dev/tranche/core/demo"
	"tranche.dev/tranche/core/demo/demotest"
	samplejwks "tranche.dev/tranche/sample-jwks"
)

// TestMain doubles as the tranche binary: with TRANCHE_EXPORT_HELPER=1 the
// test binary runs the command line after "--", so TestExportCrashResume
// has a real process to kill.
func TestMain(m *testing.M) {
	if os.Getenv("TRANCHE_EXPORT_HELPER") != "1" {
		os.Exit(m.Run())
	}
	args := os.Args
	for i, a := range args {
		if a == "--" {
			args = args[i+1:]
			break
		}
	}
	if err := run(args, os.Stdout, os.Stderr); err != nil {
		os.Stderr.WriteString("tranche: " + err.Error() + "\n")
		os.Exit(exitCode(err))
	}
	os.Exit(0)
}

func helperCommand(t *testing.T, home string, args ...string) *exec.Cmd {
	cmd := exec.Command(os.Args[0], append([]string{"--"}, args...)...)
	cmd.Env = append(os.Environ(), "TRANCHE_EXPORT_HELPER=1", "TRANCHE_HOME="+home)
	return cmd
}

// openDemo is an open (no authorization) demo server that polls fast.
// mustResume runs tranche export --resume in a child process (with env
// added to its environment) and fails the test, with its output, if it
// fails.
func mustResume(t *testing.T, home, dbPath string, env []string) {
	t.Helper()
	var out, stderr bytes.Buffer
	resume := helperCommand(t, home, "export", "--resume", "--db", dbPath)
	resume.Env = append(resume.Env, env...)
	resume.Stdout, resume.Stderr = &out, &stderr
	if err := resume.Run(); err != nil {
		t.Fatalf("export --resume: %v\nstdout:\n%s\nstderr:\n%s", err, out.String(), stderr.String())
	}
}

func openDemo(t *testing.T, cfg demo.Config) *demo.Server {
	t.Helper()
	cfg.Seed, cfg.Open, cfg.MinPoll = 1, true, -1
	cfg.RetryAfter = 50 * time.Millisecond
	return demotest.Start(t, cfg)
}

// TestExportCrashResume kills `tranche export` with SIGKILL while a file is
// half stored, resumes it with --resume, and compares the catalogue with
// the manifest: every file verified, every count equal, nothing twice.
func TestExportCrashResume(t *testing.T) {
	// Files of several batches each (the runner stores 5,000 lines a
	// transaction), served at 4 MB/s: a file stays partly stored for about
	// a second, so the kill lands mid-file on a fast, idle machine too
	// (unpaced 6,000-line files sometimes finished before the kill).
	srv := openDemo(t, demo.Config{Patients: 60, FileLines: 100000, Faults: demo.Faults{SlowFiles: 4 << 20}})
	home := t.TempDir()
	dbPath := filepath.Join(home, "tranche.db")

	var stderr bytes.Buffer
	cmd := helperCommand(t, home, "export", "-f", srv.URL(), "--open", "--db", dbPath, "--parallel", "1")
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()

	// Watch the catalogue until a file is partly stored, then kill -9.
	killed := false
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Minute)
	defer cancel()
	for !killed {
		select {
		case err := <-exited:
			t.Fatalf("export finished before it could be killed (err %v); stderr:\n%s", err, stderr.String())
		case <-ctx.Done():
			cmd.Process.Kill()
			t.Fatal("no partly stored file seen")
		case <-time.After(5 * time.Millisecond):
		}
		if partlyStored(t, dbPath) {
			if err := cmd.Process.Kill(); err != nil {
				t.Fatal(err)
			}
			killed = true
		}
	}
	<-exited

	db := catalog.NewDB(dbPath)
	db.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	if err := db.Open(); err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	unfinished, err := db.UnfinishedExports(t.Context())
	if err != nil || len(unfinished) != 1 {
		t.Fatalf("unfinished exports after kill -9 = %d (%v), want 1", len(unfinished), err)
	}
	id := unfinished[0].ID

	mustResume(t, home, dbPath, nil)

	exp, err := db.FindExport(t.Context(), id)
	if err != nil {
		t.Fatal(err)
	}
	if exp.State != core.StateComplete {
		t.Fatalf("state after resume = %s (%s), want complete", exp.State, exp.Error)
	}
	files, err := db.FindFiles(t.Context(), id)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]int{}
	for _, f := range files {
		if f.State != core.FileLoaded || f.Count < 0 || f.Lines != f.Count {
			t.Errorf("file %s: %s, %d lines, manifest count %d; want loaded with equal counts", f.URL, f.State, f.Lines, f.Count)
		}
		if f.Kind == core.KindOutput {
			want[f.Type] += int(f.Count)
		}
	}
	for _, exportID := range []int64{id, 0} { // the export's rows, and the latest view
		counts, err := db.Counts(t.Context(), exportID)
		if err != nil {
			t.Fatal(err)
		}
		got := map[string]int{}
		for _, c := range counts {
			got[c.Type] = int(c.Count)
		}
		for typ, n := range want {
			if got[typ] != n {
				t.Errorf("catalogue (export %d) has %d %s, want %d as in the manifest", exportID, got[typ], typ, n)
			}
		}
	}
	log, err := os.ReadFile(filepath.Join(home, "exports", "1", "log.ndjson"))
	if err != nil || !strings.Contains(string(log), `"eventId":"export_complete"`) {
		t.Errorf("log.ndjson beside the data: %v; want an export_complete event in it", err)
	}
}

// partlyStored reports whether some file of the export in dbPath has lines
// stored but is not finished yet.
func partlyStored(t *testing.T, dbPath string) bool {
	if _, err := os.Stat(dbPath); err != nil {
		return false
	}
	db := catalog.NewDB(dbPath)
	db.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	if err := db.Open(); err != nil {
		return false
	}
	defer db.Close()
	exps, err := db.UnfinishedExports(t.Context())
	if err != nil || len(exps) == 0 {
		return false
	}
	files, err := db.FindFiles(t.Context(), exps[0].ID)
	if err != nil {
		return false
	}
	for _, f := range files {
		if f.State == core.FileDownloading && f.Lines > 0 {
			return true
		}
	}
	return false
}

func TestExportFlagErrors(t *testing.T) {
	home := t.TempDir()
	t.Setenv("TRANCHE_HOME", home)
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"--open"}, "no FHIR server"},
		{[]string{"-f", "http://127.0.0.1:1/fhir"}, "no authorization"},
		{[]string{"-f", "http://127.0.0.1:1/fhir", "--open", "--global", "-g", "x"}, "exclude each other"},
	}
	for _, tt := range tests {
		err := run(append([]string{"export", "--db", filepath.Join(home, "t.db")}, tt.args...), io.Discard, io.Discard)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("export %v = %v, want an error containing %q", tt.args, err, tt.want)
		}
	}
}

func TestExportOpenCLI(t *testing.T) {
	srv := openDemo(t, demo.Config{Patients: 10, FileLines: 200})
	home := t.TempDir()
	t.Setenv("TRANCHE_HOME", home)
	var out, errb bytes.Buffer
	err := run([]string{"export", "-f", srv.URL(), "--open", "--global", "-t", "Patient,Observation", "--_since", "2000-01-01T00:00:00Z"}, &out, &errb)
	if err != nil {
		t.Fatalf("export: %v\n%s", err, errb.String())
	}
	if !strings.Contains(out.String(), "Export 1 complete") {
		t.Errorf("stdout = %q, want a completion summary", out.String())
	}
	err = run([]string{"export", "-f", srv.URL(), "--open", "-t", "Observaton"}, &out, &errb)
	if err == nil || !strings.Contains(err.Error(), "Observaton") {
		t.Errorf("export with an unknown type = %v, want a validation error naming it", err)
	}
}

// TestExportOpenMeetsSecuredServer: --open against a server that wants a
// token says how to authorize, not to resume (which would meet the same
// 401); the hint was unreachable behind the resumable error.
func TestExportOpenMeetsSecuredServer(t *testing.T) {
	srv := demotest.Start(t, demo.Config{Patients: 2, Seed: 1, MinPoll: -1})
	t.Setenv("TRANCHE_HOME", t.TempDir())
	var out, errb bytes.Buffer
	err := run([]string{"export", "-f", srv.URL(), "--open", "-t", "Patient"}, &out, &errb)
	if err == nil || !strings.Contains(err.Error(), "The server requires authorization: use --registration NAME") ||
		strings.Contains(err.Error(), "--resume") {
		t.Errorf("export --open from a secured server = %v, want how to authorize and no --resume advice", err)
	}
}

// TestExportServerErrorsCLI: when the server moves data into error files,
// the files verify but the CLI shows what the server said and exits 3, so
// a script never mistakes incomplete data for a complete export.
func TestExportServerErrorsCLI(t *testing.T) {
	srv := openDemo(t, demo.Config{Patients: 10, FileLines: 200, Faults: demo.Faults{ErrorFiles: 2}})
	t.Setenv("TRANCHE_HOME", t.TempDir())
	var out, errb bytes.Buffer
	err := run([]string{"export", "-f", srv.URL(), "--open", "--global", "-t", "Patient,Observation"}, &out, &errb)
	if got, want := exitCode(err), 3; got != want {
		t.Fatalf("export with error files: exit %d (%v), want %d\n%s", got, err, want, out.String())
	}
	if !strings.Contains(out.String(), "The server's error files hold") || !strings.Contains(out.String(), "  error: ") {
		t.Errorf("stdout = %q, want the outcome summary and messages", out.String())
	}
	// The server's error lines are not counted as resources.
	if !regexp.MustCompile(`files verified, \d+ resources, \d+ server error lines,`).MatchString(out.String()) {
		t.Errorf("stdout = %q, want the resources and the server's error lines counted apart", out.String())
	}
	// The export list says so too, not an empty error column.
	var list bytes.Buffer
	if err := run([]string{"catalog", "exports"}, &list, &errb); err != nil {
		t.Fatal(err)
	}
	if !regexp.MustCompile(`complete .*the server reported \d+ errors: the data is incomplete`).MatchString(list.String()) {
		t.Errorf("catalog exports = %q, want the complete export's error lines in its error column", list.String())
	}
}

// TestExportClientKeyCLI runs a secured export with an ad hoc client id and
// private key file (the demo's pre-registered ES384 client).
func TestExportClientKeyCLI(t *testing.T) {
	srv := demotest.Start(t, demo.Config{Patients: 5, Seed: 1, FileLines: 100, MinPoll: -1, RetryAfter: 20 * time.Millisecond,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	home := t.TempDir()
	t.Setenv("TRANCHE_HOME", home)
	key, err := samplejwks.File("ES384.private.json")
	if err != nil {
		t.Fatal(err)
	}
	keyFile := filepath.Join(home, "key.json")
	if err := os.WriteFile(keyFile, key, 0o600); err != nil {
		t.Fatal(err)
	}
	var out, errb bytes.Buffer
	args := []string{"export", "-f", srv.URL(), "--client-id", demo.DemoClientES384, "--private-key", keyFile, "-g", "pilot"}
	if err := run(args, &out, &errb); err != nil {
		t.Fatalf("export: %v\n%s", err, errb.String())
	}
	if !strings.Contains(out.String(), "complete") {
		t.Errorf("stdout = %q, want a completion summary", out.String())
	}
	// Without credentials the same server refuses: a clear error, exit != 0.
	err = run([]string{"export", "-f", srv.URL(), "--open"}, &out, &errb)
	if err == nil || !strings.Contains(err.Error(), "401") {
		t.Errorf("export --open against a secured server = %v, want an HTTP 401 error", err)
	}
}

// TestExportStatusURL picks up a job kicked off elsewhere, as with the
// bulk-data-client's --status.
func TestExportStatusURL(t *testing.T) {
	srv := openDemo(t, demo.Config{Patients: 5, FileLines: 100})
	home := t.TempDir()
	t.Setenv("TRANCHE_HOME", home)
	c := &bulk.Client{BaseURL: srv.URL()}
	statusURL, _, err := c.Kickoff(t.Context(), core.ExportRequest{Level: core.LevelSystem})
	if err != nil {
		t.Fatal(err)
	}
	var out, errb bytes.Buffer
	if err := run([]string{"export", "-f", srv.URL(), "--open", "--status", statusURL, "--keep-job"}, &out, &errb); err != nil {
		t.Fatalf("export --status: %v\n%s", err, errb.String())
	}
	if !strings.Contains(out.String(), "Export 1 complete") || strings.Contains(out.String(), "released") {
		t.Errorf("stdout = %q, want completion without releasing the job (--keep-job)", out.String())
	}
	// --keep-job: no DELETE was sent, so the server still has the job.
	if _, err := c.Status(t.Context(), statusURL); err != nil {
		t.Errorf("status after --keep-job = %v, want the job kept", err)
	}
}

// TestExportRequestFlags: the protocol flags reach the export request.
func TestExportRequestFlags(t *testing.T) {
	tests := []struct {
		name string
		args []string
		want core.ExportRequest
	}{
		{"Defaults", nil, core.ExportRequest{Level: core.LevelPatient}},
		{"SeparateExportStatus", []string{"--separate-export-status"}, core.ExportRequest{Level: core.LevelPatient, SeparateExportStatus: true}},
		{"AssociatedDataAsCoding", []string{"--post", "-i", "LatestProvenanceResources", "--associated-data-as", "coding"},
			core.ExportRequest{Level: core.LevelPatient, POST: true, IncludeAssociatedData: []string{"LatestProvenanceResources"}, AssociatedDataAs: core.AssociatedDataCoding}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, _, err := parseExportFlags(tt.args, io.Discard)
			if err != nil {
				t.Fatalf("parseExportFlags(%q) = %v", tt.args, err)
			}
			if diff := cmp.Diff(tt.want, f.request()); diff != "" {
				t.Errorf("request (-want +got):\n%s", diff)
			}
		})
	}
}

// TestExportSeparateExportStatusCLI exports with --separate-export-status:
// the demo server answers its polls with 200 and X-Export-Status, and the
// export completes as usual. A coding for includeAssociatedData over GET
// is refused before anything is sent.
func TestExportSeparateExportStatusCLI(t *testing.T) {
	srv := openDemo(t, demo.Config{Patients: 10, FileLines: 200, Faults: demo.Faults{JobDelay: 200 * time.Millisecond}})
	t.Setenv("TRANCHE_HOME", t.TempDir())
	var out, errb bytes.Buffer
	err := run([]string{"export", "-f", srv.URL(), "--open", "--global", "-t", "Patient", "--separate-export-status"}, &out, &errb)
	if err != nil {
		t.Fatalf("export --separate-export-status: %v\n%s", err, errb.String())
	}
	if !strings.Contains(out.String(), "Export 1 complete") {
		t.Errorf("stdout = %q, want a completion summary", out.String())
	}
	err = run([]string{"export", "-f", srv.URL(), "--open", "-i", "LatestProvenanceResources", "--associated-data-as", "coding"}, &out, &errb)
	if err == nil || !strings.Contains(err.Error(), "needs a POST") {
		t.Errorf("export --associated-data-as coding over GET = %v, want a validation error", err)
	}
}

// TestServeFailJobsCLI runs `tranche serve --fail-jobs` and exports from
// it: the export fails with the server's message, read from the HTTP
// status or, with --separate-export-status, from X-Export-Status.
func TestServeFailJobsCLI(t *testing.T) {
	cmd := helperCommand(t, t.TempDir(), "serve", "--open", "--fail-jobs", "--addr", "127.0.0.1:0",
		"--patients", "3", "--retry-after", "50ms")
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	var base string
	sc := bufio.NewScanner(stdout)
	for sc.Scan() {
		if u, ok := strings.CutPrefix(sc.Text(), "FHIR base URL: "); ok {
			base = u
			break
		}
	}
	if base == "" {
		t.Fatalf("tranche serve printed no FHIR base URL (scan error %v)", sc.Err())
	}
	go io.Copy(io.Discard, stdout)

	t.Setenv("TRANCHE_HOME", t.TempDir())
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"HTTPStatus", nil, "HTTP 500: export failed (simulated fault)"},
		{"SeparateExportStatus", []string{"--separate-export-status"}, "X-Export-Status 500: export failed (simulated fault)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out, errb bytes.Buffer
			err := run(append([]string{"export", "-f", base, "--open"}, tt.args...), &out, &errb)
			if err == nil || exitCode(err) == 0 {
				t.Fatalf("export from a failing server: err %v (exit %d), want a failure\n%s", err, exitCode(err), out.String())
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("export error = %q, want one containing %q", err, tt.want)
			}
		})
	}
}
