package views_test

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"tranche.dev/tranche/core/views"
)

// A small suite in the official format: passing, failing, expectError and
// ordering cases, to test the runner itself.
const suiteA = `{
  "title": "a", "resources": [
    {"resourceType": "Patient", "id": "p1", "active": true},
    {"resourceType": "Patient", "id": "p2", "active": false, "name": [{"family": "F"}]}
  ],
  "tests": [
    {"title": "rows as a set", "tags": ["shareable"],
     "view": {"resource": "Patient", "select": [{"column": [{"name": "id", "path": "id"}, {"name": "n", "path": "1.50"}]}]},
     "expect": [{"id": "p2", "n": 1.5}, {"id": "p1", "n": 1.5}]},
    {"title": "wrong value", "tags": ["shareable"],
     "view": {"resource": "Patient", "select": [{"column": [{"name": "id", "path": "id"}]}]},
     "expect": [{"id": "p1"}, {"id": "p3"}]},
    {"title": "invalid view", "tags": ["shareable"], "view": {"select": []}, "expectError": true},
    {"title": "runtime error", "tags": ["experimental"],
     "view": {"resource": "Patient", "select": [{"column": [{"name": "n", "path": "name"}]}]}, "expectError": true},
    {"title": "missing error", "tags": ["experimental"],
     "view": {"resource": "Patient", "select": [{"column": [{"name": "id", "path": "id"}]}]}, "expectError": true}
  ]
}`

const suiteB = `{
  "title": "b", "resources": [{"resourceType": "Patient", "id": "p1", "name": [{"given": ["a", "b"]}]}],
  "tests": [
    {"title": "columns in order", "tags": ["shareable"],
     "view": {"resource": "Patient", "select": [{"column": [{"name": "b", "path": "id"}, {"name": "a", "path": "name.given", "collection": true}]}]},
     "expectColumns": ["b", "a"], "expect": [{"a": ["a", "b"], "b": "p1"}]},
    {"title": "wrong column order", "tags": ["shareable"],
     "view": {"resource": "Patient", "select": [{"column": [{"name": "b", "path": "id"}, {"name": "a", "path": "id"}]}]},
     "expectColumns": ["a", "b"], "expect": [{"a": "p1", "b": "p1"}]},
    {"title": "count", "tags": ["shareable"],
     "view": {"resource": "Patient", "select": [{"forEach": "name.given", "column": [{"name": "g", "path": "$this"}]}]},
     "expectCount": 2}
  ]
}`

func TestRunConformance(t *testing.T) {
	dir := t.TempDir()
	for name, body := range map[string]string{"a.json": suiteA, "b.json": suiteB, "notes.txt": "not a test"} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	var out bytes.Buffer
	rep, err := views.RunConformance(dir, &out)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := rep.Shareable, (views.Score{Passed: 4, Total: 6}); got != want {
		t.Errorf("Shareable = %+v, want %+v", got, want)
	}
	if got, want := rep.Experimental, (views.Score{Passed: 1, Total: 2}); got != want {
		t.Errorf("Experimental = %+v, want %+v", got, want)
	}
	if !rep.Failed() {
		t.Error("Failed() = false with failing shareable tests")
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	if len(lines) != 3 {
		t.Fatalf("output has %d lines, want 3:\n%s", len(lines), out.String())
	}
	if !strings.HasPrefix(lines[0], "a.json") || !strings.Contains(lines[0], "3/5 passed") ||
		!strings.Contains(lines[0], `"wrong value"`) || !strings.Contains(lines[0], `"missing error" (expected an error, got 2 rows)`) {
		t.Errorf("line 1 = %q", lines[0])
	}
	if !strings.HasPrefix(lines[1], "b.json") || !strings.Contains(lines[1], "2/3 passed") || !strings.Contains(lines[1], "columns [b a], want [a b]") {
		t.Errorf("line 2 = %q", lines[1])
	}
	if got, want := lines[2], "shareable: 4/6 passed; experimental: 1/2 passed"; got != want {
		t.Errorf("last line = %q, want %q", got, want)
	}

	var buf bytes.Buffer
	if err := rep.WriteJSON(&buf); err != nil {
		t.Fatal(err)
	}
	var report map[string]struct {
		Tests []struct {
			Name   string `json:"name"`
			Result struct {
				Passed bool   `json:"passed"`
				Error  string `json:"error"`
			} `json:"result"`
		} `json:"tests"`
	}
	if err := json.Unmarshal(buf.Bytes(), &report); err != nil {
		t.Fatal(err)
	}
	if len(report) != 2 || len(report["a.json"].Tests) != 5 || len(report["b.json"].Tests) != 3 {
		t.Fatalf("report = %s", buf.String())
	}
	first, second := report["a.json"].Tests[0], report["a.json"].Tests[1]
	if first.Name != "rows as a set" || !first.Result.Passed || first.Result.Error != "" {
		t.Errorf("first test = %+v", first)
	}
	if second.Result.Passed || second.Result.Error == "" {
		t.Errorf("second test = %+v, want a failure with an error", second)
	}
}

func TestRunConformanceEmptyDir(t *testing.T) {
	_, err := views.RunConformance(t.TempDir(), new(bytes.Buffer))
	if err == nil || !strings.Contains(err.Error(), "no test files") {
		t.Errorf("error = %v, want no test files", err)
	}
}
