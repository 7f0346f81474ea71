package tables_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"

	"tranche.dev/tranche/core/tables"
)

// fakeView gives one row (id, value) per element of a resource's "values",
// and fails on a resource with "bad": true.
type fakeView struct{}

func (fakeView) Name() string     { return "fake" }
func (fakeView) Resource() string { return "Observation" }
func (fakeView) Columns() []tables.Column {
	return []tables.Column{{Name: "id", Type: "id"}, {Name: "value", Type: "integer"}}
}
func (fakeView) Rows(raw []byte) ([][]any, error) {
	var r struct {
		ID     string
		Values []int64
		Bad    bool
	}
	if err := json.Unmarshal(raw, &r); err != nil {
		return nil, err
	}
	if r.Bad {
		return nil, errors.New("bad resource")
	}
	var rows [][]any
	for _, v := range r.Values {
		rows = append(rows, []any{r.ID, v})
	}
	return rows, nil
}

// collect is a Writer that keeps rows; failAt makes the failAt-th Write
// fail.
type collect struct {
	rows   [][]any
	failAt int
}

func (c *collect) Write(row []any) error {
	if c.failAt > 0 && len(c.rows)+1 == c.failAt {
		return errors.New("disk full")
	}
	c.rows = append(c.rows, row)
	return nil
}
func (c *collect) Close() error { return nil }

// input yields n resources; resource i has i%4 values, and every 7th is bad.
func input(n int) tables.Input {
	return func(ctx context.Context, yield func(tables.Resource) error) error {
		buf := make([]byte, 0, 128)
		for i := range n {
			vals := make([]string, i%4)
			for j := range vals {
				vals[j] = fmt.Sprint(i*10 + j)
			}
			buf = fmt.Appendf(buf[:0], `{"id":"o%d","values":[%s],"bad":%v}`, i, strings.Join(vals, ","), i%7 == 6)
			if err := yield(tables.Resource{Key: fmt.Sprintf("Observation/o%d", i), Raw: buf}); err != nil {
				return err
			}
		}
		return nil
	}
}

// serial is what any run must produce: rows resource by resource.
func serial(n int) (rows [][]any, problems int64) {
	for i := range n {
		if i%7 == 6 {
			problems++
			continue
		}
		for j := range i % 4 {
			rows = append(rows, []any{fmt.Sprintf("o%d", i), int64(i*10 + j)})
		}
	}
	return rows, problems
}

func TestRunner_Run(t *testing.T) {
	const n = 3000
	wantRows, wantProblems := serial(n)
	for _, tt := range []struct {
		name       string
		workers    int
		batchBytes int
	}{
		{"OneWorker", 1, 0},
		{"ManyWorkersSmallBatches", 8, 200},
		{"OneResourcePerBatch", 4, 1},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var progress []tables.Stats
			r := &tables.Runner{Workers: tt.workers, BatchBytes: tt.batchBytes, MaxProblems: 3,
				OnProgress: func(s tables.Stats) { progress = append(progress, s) }}
			var w collect
			st, err := r.Run(t.Context(), fakeView{}, input(n), &w)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(w.rows, wantRows) {
				t.Errorf("rows differ from a serial run: got %d rows, want %d", len(w.rows), len(wantRows))
			}
			if st.Resources != n || st.Rows != int64(len(wantRows)) || st.Problems != wantProblems {
				t.Errorf("stats = %+v, want %d resources, %d rows, %d problems", st, n, len(wantRows), wantProblems)
			}
			if len(st.Examples) != 3 || st.Examples[0].Key != "Observation/o6" || st.Examples[0].Err.Error() != "bad resource" {
				t.Errorf("examples = %v, want the first 3, starting with Observation/o6: bad resource", st.Examples)
			}
			if len(progress) == 0 || !reflect.DeepEqual(progress[len(progress)-1], st) {
				t.Errorf("last progress = %+v, want the final stats %+v", progress, st)
			}
		})
	}
}

func TestRunner_Limit(t *testing.T) {
	wantRows, _ := serial(1000)
	var w collect
	st, err := (&tables.Runner{Workers: 4, BatchBytes: 100, Limit: 25}).Run(t.Context(), fakeView{}, input(1000), &w)
	if err != nil {
		t.Fatal(err)
	}
	if st.Rows != 25 || !reflect.DeepEqual(w.rows, wantRows[:25]) {
		t.Errorf("with Limit 25: %d rows (%v), want the first 25", st.Rows, w.rows)
	}
}

func TestRunner_Errors(t *testing.T) {
	t.Run("Writer", func(t *testing.T) {
		w := collect{failAt: 10}
		_, err := (&tables.Runner{Workers: 3, BatchBytes: 50}).Run(t.Context(), fakeView{}, input(500), &w)
		if err == nil || !strings.Contains(err.Error(), "write row 10: disk full") {
			t.Errorf("Run with a failing writer = %v, want write row 10: disk full", err)
		}
	})
	t.Run("Input", func(t *testing.T) {
		in := func(ctx context.Context, yield func(tables.Resource) error) error {
			if err := input(10)(ctx, yield); err != nil {
				return err
			}
			return errors.New("database is locked")
		}
		var w collect
		_, err := (&tables.Runner{}).Run(t.Context(), fakeView{}, in, &w)
		if err == nil || !strings.Contains(err.Error(), "read resources: database is locked") {
			t.Errorf("Run with a failing input = %v, want read resources: database is locked", err)
		}
	})
	t.Run("Cancelled", func(t *testing.T) {
		ctx, cancel := context.WithCancel(t.Context())
		r := &tables.Runner{Workers: 2, BatchBytes: 10, OnProgress: func(s tables.Stats) {
			if s.Resources >= 100 {
				cancel()
			}
		}}
		var w collect
		st, err := r.Run(ctx, fakeView{}, input(100000), &w)
		if !errors.Is(err, context.Canceled) {
			t.Errorf("Run cancelled = %v, want context.Canceled", err)
		}
		if st.Resources >= 100000 {
			t.Errorf("a cancelled run read all %d resources", st.Resources)
		}
	})
}
