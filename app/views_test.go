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
	t.Run("SavedViews", func(t *testing.T) {
		// A row of views list: name, resource, kind, table state.
		row := func(list, name string) string {
			for _, l := range strings.Split(list, "\n") {
				if f := strings.Fields(l); len(f) > 0 && f[0] == name {
					return strings.Join(f, " ")
				}
			}
			return ""
		}
		got, _ := cliRun(t, "views", "save", myView)
		if got != "saved view heights of Observation\n" {
			t.Errorf("views save = %q", got)
		}
		list, _ := cliRun(t, "views", "list")
		if r := row(list, "heights"); !strings.HasPrefix(r, "heights Observation saved ") || !strings.HasSuffix(r, " none") {
			t.Errorf("views list row of heights = %q, want it saved, without a table:\n%s", r, list)
		}
		if r := row(list, "observations"); !strings.HasPrefix(r, "observations Observation built-in fresh") {
			t.Errorf("views list row of observations = %q, want built-in, its table fresh", r)
		}
		// A saved view runs by its name; the same file again is a new version.
		cliRun(t, "views", "run", "heights", "--format", "table")
		if got, _ := cliRun(t, "views", "save", myView); got != "saved a new version of view heights of Observation\n" {
			t.Errorf("views save again = %q", got)
		}
		list, _ = cliRun(t, "views", "list")
		if r := row(list, "heights"); !strings.HasSuffix(r, " fresh") {
			t.Errorf("views list row of heights after a run = %q, want its table fresh", r)
		}
		if got, _ := cliRun(t, "views", "rename", "heights", "tall"); got != "renamed view heights to tall\n" {
			t.Errorf("views rename = %q", got)
		}
		show, _ := cliRun(t, "views", "show", "tall")
		if !strings.HasPrefix(show, "tall: one table of Observation") || !strings.Contains(show, `"name":"tall"`) {
			t.Errorf("views show tall =\n%s\nwant the renamed view, its JSON as saved but for the name", show)
		}
		list, _ = cliRun(t, "views", "list")
		if r := row(list, "heights"); !strings.HasPrefix(r, "heights Observation table only fresh") {
			t.Errorf("views list row of heights after the rename = %q, want its table, alone", r)
		}
		if got, _ := cliRun(t, "views", "delete", "tall"); got != "deleted view tall\n" {
			t.Errorf("views delete = %q", got)
		}
		if list, _ = cliRun(t, "views", "list"); row(list, "tall") != "" {
			t.Errorf("views list after delete =\n%s\nwant no tall", list)
		}
	})
	t.Run("Errors", func(t *testing.T) {
		for _, tt := range []struct {
			args []string
			want string
		}{
			{[]string{"views", "run", "nope"}, `"nope" is neither a built-in or saved view`},
			{[]string{"views", "save", badView}, "fooo"},
			{[]string{"views", "rename", "nope", "other"}, "there is no saved view nope"},
			{[]string{"views", "delete", "nope"}, "there is no saved view nope"},
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
