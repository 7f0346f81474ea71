package viewlib_test

import (
	"bytes"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"path/filepath"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/parquet-go/parquet-go"

	"tranche.dev/tranche/core"
	"tranche.dev/tranche/core/bulk"
	"tranche.dev/tranche/core/catalog"
	"tranche.dev/tranche/core/demo"
	"tranche.dev/tranche/core/demo/demotest"
	"tranche.dev/tranche/core/tables"
	"tranche.dev/tranche/core/viewlib"
)

// mustDemoCatalogue exports everything from the loopback demo server into
// a new catalogue, as `tranche export --global` would.
func mustDemoCatalogue(t *testing.T, patients int) *catalog.DB {
	t.Helper()
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	srv := demotest.Start(t, demo.Config{Patients: patients, Seed: 1, Open: true, FileLines: 500,
		RetryAfter: 10 * time.Millisecond, MinPoll: -1, Logger: quiet})

	db := catalog.NewDB(filepath.Join(t.TempDir(), "tranche.db"))
	db.Logger = quiet
	if err := db.Open(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	r := &bulk.Runner{
		Client: &bulk.Client{BaseURL: srv.URL(), HTTPClient: http.DefaultClient, FileClient: http.DefaultClient, Logger: quiet},
		Store:  db, PollMin: time.Millisecond, PollMax: 20 * time.Millisecond, Logger: quiet,
	}
	exp := &core.Export{FHIRBaseURL: srv.URL(), Request: core.ExportRequest{Level: core.LevelSystem}}
	if err := r.Start(t.Context(), exp); err != nil {
		t.Fatalf("export from the demo server: %v", err)
	}
	return db
}

// countWhere counts the latest view's resources of typ for which keep
// says yes, decoding each with encoding/json: a count independent of the
// FHIRPath engine.
func countWhere(t *testing.T, db *catalog.DB, typ string, keep func(map[string]any) bool) int64 {
	t.Helper()
	var n int64
	err := db.EachResource(t.Context(), catalog.ResourceFilter{Type: typ}, func(_ string, raw []byte) error {
		var m map[string]any
		if err := json.Unmarshal(raw, &m); err != nil {
			return err
		}
		if keep(m) {
			n++
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// hasLOINC reports whether a resource's code has the LOINC code c.
func hasLOINC(m map[string]any, c string) bool {
	code, _ := m["code"].(map[string]any)
	codings, _ := code["coding"].([]any)
	for _, x := range codings {
		cd, _ := x.(map[string]any)
		if cd["system"] == "http://loinc.org" && cd["code"] == c {
			return true
		}
	}
	return false
}

// rowsTo is a Writer that keeps rows.
type rowsTo struct{ rows [][]any }

func (w *rowsTo) Write(r []any) error { w.rows = append(w.rows, r); return nil }
func (w *rowsTo) Close() error        { return nil }

// TestBuiltinViewsOnDemo runs every built-in view over a catalogue exported
// from the demo server: no resource may fail, each view's row count must
// match a count made without the view (one row per resource of its type;
// one per blood pressure panel), and its Parquet file must read back with
// the same number of rows and the same ids.
func TestBuiltinViewsOnDemo(t *testing.T) {
	db := mustDemoCatalogue(t, 12)
	counts, err := db.Counts(t.Context(), 0)
	if err != nil {
		t.Fatal(err)
	}
	perType := map[string]int64{}
	for _, c := range counts {
		perType[c.Type] = c.Count
	}
	want := map[string]int64{
		"blood_pressures": countWhere(t, db, "Observation", func(m map[string]any) bool { return hasLOINC(m, "85354-9") }),
	}
	for _, v := range viewlib.All() {
		t.Run(v.Name, func(t *testing.T) {
			cv, err := tables.Compile(v.JSON)
			if err != nil {
				t.Fatalf("Compile: %v", err)
			}
			n, ok := want[v.Name]
			if !ok {
				n = perType[v.Resource]
			}
			if n == 0 {
				t.Fatalf("the demo catalogue has no %s: nothing to test", v.Resource)
			}
			var got rowsTo
			st, err := (&tables.Runner{}).Run(t.Context(), cv, tables.CatalogInput(db, 0, cv.Resource()), &got)
			if err != nil {
				t.Fatal(err)
			}
			if st.Problems != 0 {
				t.Errorf("%d problems, e.g. %v", st.Problems, st.Examples)
			}
			if st.Rows != n || int64(len(got.rows)) != n {
				t.Errorf("%d rows, want %d (counted without the view)", st.Rows, n)
			}
			// Every column holds a value somewhere: a path the demo data
			// never fills would be a typo as far as this test can tell,
			// except where the demo data truly lacks the element.
			empty := map[string]bool{}
			for i, c := range cv.Columns() {
				filled := slices.ContainsFunc(got.rows, func(r []any) bool {
					l, isList := r[i].([]any)
					return r[i] != nil && (!isList || len(l) > 0)
				})
				if !filled {
					empty[c.Name] = true
				}
			}
			if miss := slices.Sorted(func(yield func(string) bool) {
				for c := range empty {
					if !demoLacks[v.Name+"."+c] && !yield(c) {
						return
					}
				}
			}); len(miss) > 0 {
				t.Errorf("columns never filled on the demo data: %v", miss)
			}

			// The same rows as Parquet, read back by parquet-go's generic
			// reader from the file's own schema.
			var buf bytes.Buffer
			pw, err := tables.NewParquetWriter(&buf, cv.Name(), cv.Resource(), cv.Columns())
			if err != nil {
				t.Fatal(err)
			}
			for _, r := range got.rows {
				if err := pw.Write(r); err != nil {
					t.Fatalf("parquet: %v (row %v)", err, r)
				}
			}
			if err := pw.Close(); err != nil {
				t.Fatal(err)
			}
			f, err := parquet.OpenFile(bytes.NewReader(buf.Bytes()), int64(buf.Len()))
			if err != nil {
				t.Fatal(err)
			}
			if f.NumRows() != int64(len(got.rows)) {
				t.Fatalf("parquet has %d rows, want %d", f.NumRows(), len(got.rows))
			}
			pr := parquet.NewReader(f)
			defer pr.Close()
			for i, want := range got.rows {
				r := map[string]any{}
				if err := pr.Read(&r); err != nil {
					t.Fatalf("parquet row %d: %v", i, err)
				}
				if r["id"] != want[0] {
					t.Fatalf("parquet row %d id = %v, want %v", i, r["id"], want[0])
				}
			}
		})
	}
}

// demoLacks lists the columns the demo server's data never fills (it has
// no deceased patients, string-valued observations, and so on), so an
// empty column elsewhere is a fault. TestBuiltinViewsRareElements fills
// them.
var demoLacks = map[string]bool{
	"allergies.onset":                         true,
	"encounters.reason_code":                  true,
	"encounters.reason_display":               true,
	"medication_requests.medication_id":       true,
	"medication_requests.reason_code":         true,
	"observations.effective_start":            true,
	"observations.value_code":                 true,
	"observations.value_string":               true,
	"patient_demographics.deceased":           true,
	"patient_demographics.deceased_date_time": true,
	"procedures.performed":                    true,
}

// TestBuiltinViewsRareElements covers the columns the demo data leaves
// empty (demoLacks), on hand-written resources.
func TestBuiltinViewsRareElements(t *testing.T) {
	tests := []struct {
		view, resource string
		want           map[string]any
	}{
		{"allergies", `{"resourceType":"AllergyIntolerance","id":"a","patient":{"reference":"Patient/p"},"onsetDateTime":"2001-02"}`,
			map[string]any{"onset": "2001-02", "patient_id": "p"}},
		{"encounters", `{"resourceType":"Encounter","id":"e","reasonCode":[{"coding":[{"system":"http://snomed.info/sct","code":"44054006","display":"Diabetes"}]}]}`,
			map[string]any{"reason_code": "44054006", "reason_display": "Diabetes"}},
		{"medication_requests", `{"resourceType":"MedicationRequest","id":"m","medicationReference":{"reference":"Medication/med-1"},"reasonCode":[{"coding":[{"code":"38341003"}]}]}`,
			map[string]any{"medication_id": "med-1", "reason_code": "38341003", "medication_code": nil}},
		{"observations", `{"resourceType":"Observation","id":"o","code":{"coding":[{"system":"http://loinc.org","code":"72166-2"}]},"valueCodeableConcept":{"coding":[{"code":"266919005"}]},"effectivePeriod":{"start":"2020-01-01"}}`,
			map[string]any{"value_code": "266919005", "effective_start": "2020-01-01", "effective": nil, "value": nil}},
		{"observations", `{"resourceType":"Observation","id":"o","valueString":"positive"}`,
			map[string]any{"value_string": "positive"}},
		{"patient_demographics", `{"resourceType":"Patient","id":"p","deceasedDateTime":"2020-03-04T05:06:07+01:00"}`,
			map[string]any{"deceased_date_time": "2020-03-04T05:06:07+01:00", "deceased": nil, "family_name": nil}},
		{"patient_demographics", `{"resourceType":"Patient","id":"p","deceasedBoolean":true}`,
			map[string]any{"deceased": true}},
		{"procedures", `{"resourceType":"Procedure","id":"x","performedDateTime":"2019"}`,
			map[string]any{"performed": "2019", "performed_start": nil}},
	}
	for _, tt := range tests {
		lib, _ := viewlib.Lookup(tt.view)
		v, err := tables.Compile(lib.JSON)
		if err != nil {
			t.Fatal(err)
		}
		rows, err := v.Rows([]byte(tt.resource))
		if err != nil || len(rows) != 1 {
			t.Errorf("%s over %s = %v, %v; want one row", tt.view, tt.resource, rows, err)
			continue
		}
		for i, c := range v.Columns() {
			if want, ok := tt.want[c.Name]; ok && !reflect.DeepEqual(rows[0][i], want) {
				t.Errorf("%s over %s: %s = %#v, want %#v", tt.view, tt.resource, c.Name, rows[0][i], want)
			}
		}
	}
}
