package sink

import (
	"path"
	"regexp"
	"strings"
	"testing"

	"tranche.dev/tranche/core"
	"tranche.dev/tranche/core/views"
)

// TestDDL checks that each engine's statements point at the layout's
// directories and that the globs match the keys the store writes.
func TestDDL(t *testing.T) {
	tg := Target{Bucket: "lake", Prefix: "fhir/prod"}
	table := tg.tableKey(7, "Observation", 3, 1)
	export := tg.exportKey(7)
	quoted := regexp.MustCompile(`'(s3a?://[^']*)'`)
	for _, engine := range Engines {
		t.Run(engine, func(t *testing.T) {
			ddl, err := DDL(engine, tg)
			if err != nil {
				t.Fatal(err)
			}
			for _, view := range []string{"resources_complete AS", "latest AS", "NOT t.deleted"} {
				if !strings.Contains(ddl, view) {
					t.Errorf("no %q in:\n%s", view, ddl)
				}
			}
			var locs []string
			for _, m := range quoted.FindAllStringSubmatch(ddl, -1) {
				locs = append(locs, m[1])
			}
			if len(locs) != 2 {
				t.Fatalf("locations %v, want two (resources, exports)", locs)
			}
			covered := map[string]bool{}
			for _, l := range locs {
				_, loc, _ := strings.Cut(l, "://")
				loc = strings.TrimPrefix(loc, "lake/")
				for _, key := range []string{table, export} {
					if ok, _ := path.Match(loc, key); ok || strings.HasPrefix(key, loc+"/") {
						covered[key] = true
					}
				}
			}
			for _, key := range []string{table, export} {
				if !covered[key] {
					t.Errorf("no location of %v covers %s", locs, key)
				}
			}
		})
	}
	if _, err := DDL("oracle", tg); err == nil || !strings.Contains(err.Error(), "duckdb") {
		t.Errorf("DDL(oracle) error = %v, want one naming the engines", err)
	}
}

func TestPartitionValue(t *testing.T) {
	for in, want := range map[string]string{
		"Patient": "Patient", "": "_unknown", "../x": "_unknown", "Pa tient": "_unknown",
		"Observation/1": "_unknown", strings.Repeat("A", 65): "_unknown",
	} {
		if got := partitionValue(in); got != want {
			t.Errorf("partitionValue(%q) = %q, want %q", in, got, want)
		}
	}
	f := &core.ExportFile{ID: 12, Kind: core.KindDeleted, Type: "../../etc"}
	if got, want := (Target{Bucket: "b"}).rawKey(3, f), "raw/export=3/deleted/000012-_unknown.ndjson.gz"; got != want {
		t.Errorf("rawKey = %q, want %q", got, want)
	}
}

func TestDDLViews(t *testing.T) {
	v, err := views.Parse([]byte(`{"resourceType":"ViewDefinition","name":"patient_demographics","resource":"Patient","status":"active",
		"select":[{"column":[{"name":"id","path":"id"},{"name":"deceased","path":"deceased.ofType(boolean)","type":"boolean"}]}]}`))
	if err != nil {
		t.Fatal(err)
	}
	tg := Target{Bucket: "lake", Prefix: "fhir"}
	key := tg.viewKey(v.Name(), 7, 3, 1)
	for _, engine := range Engines {
		ddl, err := DDL(engine, tg, v)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(ddl, "view_patient_demographics AS") {
			t.Errorf("%s: no view_patient_demographics in:\n%s", engine, ddl)
		}
		found := false
		for _, m := range regexp.MustCompile(`'s3a?://lake/([^']*)'`).FindAllStringSubmatch(ddl, -1) {
			if ok, _ := path.Match(m[1], key); ok || strings.HasPrefix(key, m[1]+"/") {
				found = true
			}
		}
		if !found {
			t.Errorf("%s: no location covers %s", engine, key)
		}
	}
	if ddl, _ := DDL("trino", tg, v); !strings.Contains(ddl, `"deceased" boolean`) {
		t.Errorf("trino: the boolean column is not declared boolean:\n%s", ddl)
	}
}
