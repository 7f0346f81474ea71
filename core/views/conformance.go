package views

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"math/big"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"sort"
	"strings"
)

// Report is the outcome of a conformance run over the SQL on FHIR v2 test
// suite: the score per tag and the result of every test, per file.
type Report struct {
	Shareable    Score
	Experimental Score
	Files        []FileResult
}

// Score counts passed tests out of a total.
type Score struct{ Passed, Total int }

// FileResult holds the results of one test file, in file order.
type FileResult struct {
	Name  string // base name, e.g. basic.json
	Tests []TestResult
}

// TestResult is one test's outcome.
type TestResult struct {
	Name   string
	Tags   []string
	Passed bool
	Error  string // why it failed; "" when it passed
}

// Failed reports whether any shareable test failed.
func (r Report) Failed() bool { return r.Shareable.Passed < r.Shareable.Total }

// suiteFile is one file of the suite (tests.schema.json).
type suiteFile struct {
	Title     string            `json:"title"`
	Resources []json.RawMessage `json:"resources"`
	Tests     []suiteTest       `json:"tests"`
}

type suiteTest struct {
	Title         string          `json:"title"`
	Tags          []string        `json:"tags"`
	View          json.RawMessage `json:"view"`
	Expect        []any           `json:"expect"`
	ExpectCount   *int            `json:"expectCount"`
	ExpectError   bool            `json:"expectError"`
	ExpectColumns []string        `json:"expectColumns"`
}

// RunConformance runs every test file (*.json) in dir, the SQL on FHIR v2
// test suite's tests folder. It prints one line per file to w and last
// `shareable: P/T passed; experimental: P/T passed`. Tests tagged
// experimental count as experimental; all others as shareable.
func RunConformance(dir string, w io.Writer) (Report, error) {
	var rep Report
	paths, err := filepath.Glob(filepath.Join(dir, "*.json"))
	if err != nil {
		return rep, fmt.Errorf("conformance: %w", err)
	}
	if len(paths) == 0 {
		return rep, fmt.Errorf("conformance: no test files in %s", dir)
	}
	sort.Strings(paths)
	for _, path := range paths {
		fr, err := runFile(path)
		if err != nil {
			return rep, fmt.Errorf("conformance: %w", err)
		}
		passed := 0
		var failed []string
		for _, t := range fr.Tests {
			sc := &rep.Shareable
			if slices.Contains(t.Tags, "experimental") {
				sc = &rep.Experimental
			}
			sc.Total++
			if t.Passed {
				sc.Passed++
				passed++
			} else {
				failed = append(failed, fmt.Sprintf("%q (%s)", t.Name, t.Error))
			}
		}
		line := fmt.Sprintf("%-24s %d/%d passed", fr.Name, passed, len(fr.Tests))
		if len(failed) > 0 {
			line += "; failed: " + strings.Join(failed, "; ")
		}
		fmt.Fprintln(w, line)
		rep.Files = append(rep.Files, fr)
	}
	fmt.Fprintf(w, "shareable: %d/%d passed; experimental: %d/%d passed\n",
		rep.Shareable.Passed, rep.Shareable.Total, rep.Experimental.Passed, rep.Experimental.Total)
	return rep, nil
}

func runFile(path string) (FileResult, error) {
	fr := FileResult{Name: filepath.Base(path)}
	data, err := os.ReadFile(path)
	if err != nil {
		return fr, err
	}
	var f suiteFile
	d := json.NewDecoder(bytes.NewReader(data))
	d.UseNumber()
	if err := d.Decode(&f); err != nil {
		return fr, fmt.Errorf("%s: %w", fr.Name, err)
	}
	for _, t := range f.Tests {
		res := TestResult{Name: t.Title, Tags: t.Tags}
		if err := runTest(t, f.Resources); err != nil {
			res.Error = err.Error()
		} else {
			res.Passed = true
		}
		fr.Tests = append(fr.Tests, res)
	}
	return fr, nil
}

// runTest returns nil when the test passes, or why it failed.
func runTest(t suiteTest, resources []json.RawMessage) error {
	v, err := Parse(t.View)
	if err != nil {
		if t.ExpectError {
			return nil
		}
		return fmt.Errorf("view: %v", err)
	}
	var rows [][]any
	for _, r := range resources {
		rs, err := v.Rows(r)
		if err != nil {
			if t.ExpectError {
				return nil
			}
			return err
		}
		rows = append(rows, rs...)
	}
	if t.ExpectError {
		return fmt.Errorf("expected an error, got %d rows", len(rows))
	}
	cols := v.Columns()
	if len(t.ExpectColumns) > 0 {
		var names []string
		for _, c := range cols {
			names = append(names, c.Name)
		}
		if !slices.Equal(names, t.ExpectColumns) {
			return fmt.Errorf("columns %v, want %v", names, t.ExpectColumns)
		}
	}
	if t.ExpectCount != nil {
		if len(rows) != *t.ExpectCount {
			return fmt.Errorf("%d rows, want %d", len(rows), *t.ExpectCount)
		}
		return nil
	}
	return compareRows(cols, rows, t.Expect)
}

// compareRows compares rows with the expected objects as multisets (the
// suite compares rows as sets unless a test says otherwise).
func compareRows(cols []Column, rows [][]any, expect []any) error {
	if len(rows) != len(expect) {
		return fmt.Errorf("%d rows, want %d: got %s", len(rows), len(expect), rowsText(cols, rows))
	}
	used := make([]bool, len(expect))
	for _, row := range rows {
		found := false
		for j, e := range expect {
			if used[j] {
				continue
			}
			obj, ok := e.(map[string]any)
			if ok && rowMatches(cols, row, obj) {
				used[j], found = true, true
				break
			}
		}
		if !found {
			return fmt.Errorf("unexpected row %s", rowsText(cols, [][]any{row}))
		}
	}
	return nil
}

func rowMatches(cols []Column, row []any, want map[string]any) bool {
	if len(want) != len(cols) {
		return false
	}
	for i, c := range cols {
		w, ok := want[c.Name]
		if !ok || !sameValue(row[i], w) {
			return false
		}
	}
	return true
}

// sameValue compares a cell with an expected JSON value; numbers compare by
// value (1.50 equals 1.5).
func sameValue(got, want any) bool {
	switch w := want.(type) {
	case json.Number:
		var g string
		switch v := got.(type) {
		case int64:
			g = fmt.Sprint(v)
		case json.Number:
			g = string(v)
		default:
			return false
		}
		x, ok1 := new(big.Rat).SetString(g)
		y, ok2 := new(big.Rat).SetString(string(w))
		return ok1 && ok2 && x.Cmp(y) == 0
	case []any:
		g, ok := got.([]any)
		if !ok || len(g) != len(w) {
			return false
		}
		for i := range w {
			if !sameValue(g[i], w[i]) {
				return false
			}
		}
		return true
	}
	return reflect.DeepEqual(got, want)
}

func rowsText(cols []Column, rows [][]any) string {
	var objs []map[string]any
	for _, r := range rows {
		o := map[string]any{}
		for i, c := range cols {
			o[c.Name] = r[i]
		}
		objs = append(objs, o)
	}
	b, _ := json.Marshal(objs)
	return string(b)
}

// WriteJSON writes the report in the suite's test report format
// (test-report.schema.json): {"basic.json": {"tests": [{"name", "result": {"passed", "error"}}]}}.
func (r Report) WriteJSON(w io.Writer) error {
	type result struct {
		Passed bool   `json:"passed"`
		Error  string `json:"error,omitempty"`
	}
	type test struct {
		Name   string `json:"name"`
		Result result `json:"result"`
	}
	type file struct {
		Tests []test `json:"tests"`
	}
	out := map[string]file{}
	for _, f := range r.Files {
		var tf file
		for _, t := range f.Tests {
			tf.Tests = append(tf.Tests, test{Name: t.Name, Result: result{Passed: t.Passed, Error: t.Error}})
		}
		out[f.Name] = tf
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(out)
}
