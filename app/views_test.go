package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"tranche.dev/tranche/core/demo"
)

// TestViewsCLI exports the demo server's data with the CLI, then runs the
// views commands over it.
func TestViewsCLI(t *testing.T) {
	srv := openDemo(t, demo.Config{Patients: 5, FileLines: 200})
	home := t.TempDir()
	t.Setenv("TRANCHE_HOME", home)
	var out, errb bytes.Buffer
	if err := run([]string{"export", "-f", srv.URL(), "--open", "--global", "-t", "Patient,Observation"}, &out, &errb); err != nil {
		t.Fatalf("export: %v\n%s", err, errb.String())
	}
	counts := map[string]string{}
	out.Reset()
	if err := run([]string{"catalog", "counts"}, &out, &errb); err != nil {
		t.Fatal(err)
	}
	for _, l := range strings.Split(strings.TrimSpace(out.String()), "\n") {
		typ, n, _ := strings.Cut(l, "\t")
		counts[typ] = n
	}
	dir := t.TempDir()
	myView := filepath.Join(dir, "heights.json")
	if err := os.WriteFile(myView, []byte(`{"resourceType":"ViewDefinition","name":"heights","status":"active",
		"resource":"Observation","where":[{"path":"code.coding.exists(code = '8302-2')"}],
		"select":[{"column":[{"name":"id","path":"getResourceKey()","type":"string"},
		{"name":"cm","path":"value.ofType(Quantity).value","type":"decimal"}]}]}`), 0o600); err != nil {
		t.Fatal(err)
	}
	badView := filepath.Join(dir, "bad.json")
	if err := os.WriteFile(badView, []byte(`{"resourceType":"ViewDefinition","name":"bad","status":"active",
		"resource":"Patient","select":[{"column":[{"name":"x","path":"name.fooo()"}]}]}`), 0o600); err != nil {
		t.Fatal(err)
	}

	cliRun := func(t *testing.T, args ...string) (string, string) {
		t.Helper()
		var stdout, stderr bytes.Buffer
		if err := run(args, &stdout, &stderr); err != nil {
			t.Fatalf("tranche %s = %v\n%s", strings.Join(args, " "), err, stderr.String())
		}
		return stdout.String(), stderr.String()
	}
	lines := func(s string) int { return strings.Count(s, "\n") }

	t.Run("List", func(t *testing.T) {
		got, _ := cliRun(t, "views", "list")
		for _, name := range []string{"patient_demographics", "observations", "diagnostic_reports"} {
			if !strings.Contains(got, name) {
				t.Errorf("views list =\n%s\nwant %s in it", got, name)
			}
		}
	})
	t.Run("Show", func(t *testing.T) {
		got, _ := cliRun(t, "views", "show", "observations")
		if !strings.Contains(got, "loinc_code") || !strings.Contains(got, `"resourceType": "ViewDefinition"`) {
			t.Errorf("views show observations =\n%s\nwant its columns and JSON", got)
		}
	})
	t.Run("Validate", func(t *testing.T) {
		got, _ := cliRun(t, "views", "validate", myView)
		if want := myView + " is valid: view heights of Observation, 2 columns\n"; got != want {
			t.Errorf("validate = %q, want %q", got, want)
		}
		var stdout, stderr bytes.Buffer
		err := run([]string{"views", "validate", badView}, &stdout, &stderr)
		if err == nil || !strings.Contains(err.Error(), "select[0].column[0].path") || !strings.Contains(err.Error(), "fooo") {
			t.Errorf("validate bad.json = %v, want the path of the fault and the unknown function", err)
		}
	})
	t.Run("RunCSV", func(t *testing.T) {
		got, stderr := cliRun(t, "views", "run", "patient_demographics")
		if want := counts["Patient"]; lines(got)-1 != atoi(t, want) || !strings.HasPrefix(got, "id,active,gender,birth_date") {
			t.Errorf("patient_demographics CSV has %d rows (header %q), want %s rows and the view's columns", lines(got)-1, strings.SplitN(got, "\n", 2)[0], want)
		}
		if !strings.Contains(stderr, "wrote "+counts["Patient"]+" rows from "+counts["Patient"]+" Patient resources") {
			t.Errorf("stderr = %q, want a summary", stderr)
		}
	})
	t.Run("RunFileNDJSONLimit", func(t *testing.T) {
		got, _ := cliRun(t, "views", "run", myView, "--format", "ndjson", "--limit", "3")
		if lines(got) != 3 || !strings.HasPrefix(got, `{"id":"`) {
			t.Errorf("heights NDJSON --limit 3 =\n%s\nwant 3 objects", got)
		}
	})
	t.Run("RunParquet", func(t *testing.T) {
		out := filepath.Join(dir, "obs.parquet")
		cliRun(t, "views", "run", "observations", "-o", out)
		b, err := os.ReadFile(out)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.HasPrefix(b, []byte("PAR1")) || !bytes.HasSuffix(b, []byte("PAR1")) {
			t.Errorf("%s is not a Parquet file", out)
		}
	})
	t.Run("RunTable", func(t *testing.T) {
		_, stderr := cliRun(t, "views", "run", "observations", "--format", "table")
		if !strings.Contains(stderr, "stored "+counts["Observation"]+" rows") {
			t.Errorf("stderr = %q, want stored %s rows", stderr, counts["Observation"])
		}
		got, _ := cliRun(t, "catalog", "tables")
		if !strings.Contains(got, "observations") || !strings.Contains(got, counts["Observation"]) {
			t.Errorf("catalog tables =\n%s\nwant the observations table with %s rows", got, counts["Observation"])
		}
		out := filepath.Join(dir, "obs.csv")
		cliRun(t, "catalog", "export", "--table", "observations", "-o", out)
		b, err := os.ReadFile(out)
		if err != nil {
			t.Fatal(err)
		}
		csv := string(b)
		if lines(csv)-1 != atoi(t, counts["Observation"]) || !strings.HasPrefix(csv, "id,patient_id,encounter_id") {
			t.Errorf("catalog export --table observations: %d rows, want %s", lines(csv)-1, counts["Observation"])
		}
	})
	t.Run("Errors", func(t *testing.T) {
		for _, tt := range []struct {
			args []string
			want string
		}{
			{[]string{"views", "run", "nope"}, `"nope" is neither a built-in view`},
			{[]string{"views", "run", "observations", "--format", "xml"}, `unknown --format "xml"`},
			{[]string{"views", "run", "observations", "--format", "parquet"}, "give one with -o FILE"},
			{[]string{"views", "run", badView}, "fooo"},
			{[]string{"views", "frob"}, `unknown subcommand "frob"`},
			{[]string{"views", "run", "observations", "--export", "99"}, "there is no export 99"},
			{[]string{"catalog", "export", "--table", "nope"}, "no view table nope"},
		} {
			var stdout, stderr bytes.Buffer
			if err := run(tt.args, &stdout, &stderr); err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("tranche %s = %v, want an error containing %q", strings.Join(tt.args, " "), err, tt.want)
			}
		}
	})
}

func atoi(t *testing.T, s string) int {
	t.Helper()
	n := 0
	for _, c := range s {
		if c < '0' || c > '9' {
			t.Fatalf("%q is not a count", s)
		}
		n = n*10 + int(c-'0')
	}
	return n
}
