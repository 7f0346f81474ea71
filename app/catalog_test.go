package main

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"tranche.dev/tranche/core"
	"tranche.dev/tranche/core/catalog"
)

// mustCatalogFixture makes a catalogue with two Patients, one Observation
// and a tombstone that hides one Patient, and returns its path.
func mustCatalogFixture(t *testing.T) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "tranche.db")
	db := catalog.NewDB(path)
	if err := db.Open(); err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	ctx := t.Context()
	mk := func(tt string) *core.Export {
		e := &core.Export{Request: core.ExportRequest{Level: core.LevelSystem}, State: core.StateComplete, TransactionTime: tt}
		if err := db.CreateExport(ctx, e); err != nil {
			t.Fatal(err)
		}
		return e
	}
	appendLines := func(e *core.Export, kind core.FileKind, typ string, recs ...core.Record) {
		f := &core.ExportFile{Kind: kind, Type: typ, URL: "http://127.0.0.1/" + typ + string(kind), Count: -1}
		if err := db.AddFiles(ctx, e.ID, []*core.ExportFile{f}); err != nil {
			t.Fatal(err)
		}
		f.Lines, f.State = int64(len(recs)), core.FileLoaded
		if err := db.AppendRecords(ctx, f, recs); err != nil {
			t.Fatal(err)
		}
	}
	e1 := mk("2025-01-01T00:00:00Z")
	appendLines(e1, core.KindOutput, "Patient",
		core.Record{Line: 1, ResourceType: "Patient", ID: "p1", Patient: "Patient/p1", Raw: []byte(`{"resourceType":"Patient","id":"p1","gender":"female"}`)},
		core.Record{Line: 2, ResourceType: "Patient", ID: "p2", Patient: "Patient/p2", Raw: []byte(`{"resourceType":"Patient","id":"p2"}`)})
	appendLines(e1, core.KindOutput, "Observation",
		core.Record{Line: 1, ResourceType: "Observation", ID: "o1", Patient: "Patient/p1", Raw: []byte(`{"resourceType":"Observation","id":"o1","code":{"text":"Glucose"}}`)})
	e2 := mk("2025-02-01T00:00:00Z")
	appendLines(e2, core.KindDeleted, "",
		core.Record{Line: 1, ResourceType: "Bundle", Deletes: []string{"Patient/p2"}, Raw: []byte(`{"resourceType":"Bundle"}`)})
	return path
}

func TestRunCatalog(t *testing.T) {
	path := mustCatalogFixture(t)
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"Counts", []string{"counts", "--db", path}, "Observation\t1\nPatient\t1\n"},
		{"CountsExport", []string{"counts", "--db", path, "--export", "1"}, "Observation\t1\nPatient\t2\n"},
		{"Show", []string{"show", "Patient/p1", "--db", path}, "{\n  \"resourceType\": \"Patient\",\n  \"id\": \"p1\",\n  \"gender\": \"female\"\n}\n"},
		{"ExportNDJSON", []string{"export", "--db", path, "--patient", "p1"},
			`{"resourceType":"Patient","id":"p1","gender":"female"}` + "\n" + `{"resourceType":"Observation","id":"o1","code":{"text":"Glucose"}}` + "\n"},
		{"ExportCSV", []string{"export", "--db", path, "--type", "Observation", "--format", "csv"},
			"id,code,value,effective,patient,lastUpdated\no1,Glucose,,,Patient/p1,\n"},
		{"Search", []string{"search", "--db", path, "glucose"}, "resourceType  id  lastUpdated  patient\nObservation   o1               Patient/p1\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var stdout, stderr strings.Builder
			if err := runCatalog(tt.args, &stdout, &stderr); err != nil {
				t.Fatalf("runCatalog(%q) = %v (stderr %q)", tt.args, err, stderr.String())
			}
			if got := stdout.String(); got != tt.want {
				t.Errorf("runCatalog(%q) printed\n%q\nwant\n%q", tt.args, got, tt.want)
			}
		})
	}

	t.Run("ExportToFile", func(t *testing.T) {
		out := filepath.Join(t.TempDir(), "obs.ndjson")
		var stdout, stderr strings.Builder
		if err := runCatalog([]string{"export", "--db", path, "--type", "Observation", "-o", out}, &stdout, &stderr); err != nil {
			t.Fatal(err)
		}
		got, err := os.ReadFile(out)
		if err != nil {
			t.Fatal(err)
		}
		if want := `{"resourceType":"Observation","id":"o1","code":{"text":"Glucose"}}` + "\n"; string(got) != want {
			t.Errorf("file = %q, want %q", got, want)
		}
		if got, want := stderr.String(), "wrote 1 resources to "+out+"\n"; got != want {
			t.Errorf("stderr = %q, want %q", got, want)
		}
	})

	// A failed export to a file leaves the file there was untouched, and
	// no half-written one (before, -o truncated it first).
	t.Run("ExportToFileFails", func(t *testing.T) {
		out := filepath.Join(t.TempDir(), "obs.ndjson")
		if err := os.WriteFile(out, []byte("yesterday's\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		var stdout, stderr strings.Builder
		err := runCatalog([]string{"export", "--db", path, "--query", `"unbalanced`, "-o", out}, &stdout, &stderr)
		if err == nil {
			t.Fatal("export with a broken query = nil, want an error")
		}
		if got, _ := os.ReadFile(out); string(got) != "yesterday's\n" {
			t.Errorf("file after a failed export = %q, want it untouched", got)
		}
		if ents, _ := os.ReadDir(filepath.Dir(out)); len(ents) != 1 {
			t.Errorf("%d files beside it, want none left over", len(ents)-1)
		}
	})

	errTests := []struct {
		name string
		args []string
		want string
	}{
		{"NoDB", []string{"counts", "--db", filepath.Join(t.TempDir(), "nope.db")}, "no catalogue at"},
		{"NotFound", []string{"show", "--db", path, "Patient/zzz"}, "catalog show: Patient/zzz is not in the catalogue"},
		{"BadRef", []string{"show", "--db", path, "Patient"}, `"Patient" is not TYPE/ID`},
		{"BadFormat", []string{"export", "--db", path, "--format", "xml"}, `unknown --format "xml"`},
		{"BadQuery", []string{"search", "--db", path, `"unterminated`}, "FTS5 query syntax"},
		{"UnknownSubcommand", []string{"frob"}, `unknown subcommand "frob"`},
	}
	for _, tt := range errTests {
		t.Run(tt.name, func(t *testing.T) {
			var stdout, stderr strings.Builder
			err := runCatalog(tt.args, &stdout, &stderr)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("runCatalog(%q) = %v, want an error containing %q", tt.args, err, tt.want)
			}
		})
	}

	t.Run("Exports", func(t *testing.T) {
		var stdout, stderr strings.Builder
		if err := runCatalog([]string{"exports", "--db", path}, &stdout, &stderr); err != nil {
			t.Fatal(err)
		}
		lines := strings.Split(strings.TrimSpace(stdout.String()), "\n")
		if len(lines) != 3 || !strings.HasPrefix(lines[1], "2 ") || !strings.Contains(lines[1], "complete") {
			t.Errorf("exports printed\n%s\nwant a header and exports 2, 1 (complete)", stdout.String())
		}
	})

	t.Run("Help", func(t *testing.T) {
		var stdout, stderr strings.Builder
		if err := runCatalog(nil, &stdout, &stderr); !errors.Is(err, flag.ErrHelp) {
			t.Errorf("runCatalog() = %v, want flag.ErrHelp", err)
		}
	})
}

// The first search of a catalogue with more than a batch to index says so
// and shows its progress; the next search has nothing to index and is
// silent.
func TestCatalogSearchIndexProgress(t *testing.T) {
	path := filepath.Join(t.TempDir(), "tranche.db")
	db := catalog.NewDB(path)
	if err := db.Open(); err != nil {
		t.Fatal(err)
	}
	ctx := t.Context()
	e := &core.Export{Request: core.ExportRequest{Level: core.LevelSystem}, State: core.StateComplete, TransactionTime: "2025-01-01T00:00:00Z"}
	if err := db.CreateExport(ctx, e); err != nil {
		t.Fatal(err)
	}
	f := &core.ExportFile{Kind: core.KindOutput, Type: "Observation", URL: "http://127.0.0.1/obs", Count: -1}
	if err := db.AddFiles(ctx, e.ID, []*core.ExportFile{f}); err != nil {
		t.Fatal(err)
	}
	n := catalog.ReindexBatch + 1
	recs := make([]core.Record, n)
	for i := range recs {
		id := fmt.Sprintf("o%d", i)
		recs[i] = core.Record{Line: int64(i + 1), ResourceType: "Observation", ID: id,
			Raw: []byte(`{"resourceType":"Observation","id":"` + id + `","code":{"text":"Glucose"}}`)}
	}
	f.Lines, f.State = int64(n), core.FileLoaded
	if err := db.AppendRecords(ctx, f, recs); err != nil {
		t.Fatal(err)
	}
	db.Close()

	search := func() string {
		t.Helper()
		var stdout, stderr strings.Builder
		if err := runCatalog([]string{"search", "--db", path, "--limit", "1", "glucose"}, &stdout, &stderr); err != nil {
			t.Fatalf("search = %v (stderr %q)", err, stderr.String())
		}
		if !strings.Contains(stdout.String(), "Observation") {
			t.Errorf("search printed %q, want a match", stdout.String())
		}
		return strings.TrimSuffix(stderr.String(), "(first 1 results; use --limit for more)\n")
	}
	want := fmt.Sprintf("indexing %d resources for search (once; later exports index only their own)\n"+
		"indexed %d of %d (99%%)\nindexed %d of %d (100%%)\n", n, catalog.ReindexBatch, n, n, n)
	if got := search(); got != want {
		t.Errorf("first search: stderr\n%q\nwant\n%q", got, want)
	}
	if got := search(); got != "" {
		t.Errorf("second search: stderr %q, want nothing (all indexed)", got)
	}
}
