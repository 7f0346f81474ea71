package sink

import (
	"path"
	"reflect"
	"regexp"
	"slices"
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

// TestDDLExportsSchema checks that each engine declares the exports
// table's columns instead of inferring them from the manifests: DuckDB
// read rows_by_type from the first 32 manifests only (a type first seen
// in the 40th was dropped, measured with DuckDB 1.5.6), Spark once, when
// the table is created. Every field of Completion that is not a list is a
// column, and rows_by_type and rows_by_view are maps.
func TestDDLExportsSchema(t *testing.T) {
	tg := Target{Bucket: "lake", Prefix: "fhir"}
	decl := map[string]*regexp.Regexp{
		"duckdb": regexp.MustCompile(`(?s)CREATE OR REPLACE VIEW fhir_exports AS\s+SELECT \* FROM read_json\('[^']*', format = 'newline_delimited',\s+columns = \{(.*?)\}\);`),
		"spark":  regexp.MustCompile(`(?s)CREATE TABLE IF NOT EXISTS fhir_exports \((.*?)\) USING json`),
		"trino":  regexp.MustCompile(`(?s)CREATE TABLE IF NOT EXISTS hive\.fhir\.exports \((.*?)\) WITH`),
	}
	column := map[string]func(name, typ string) string{
		"duckdb": func(name, typ string) string { return name + ": '" + typ + "'" },
		"spark":  func(name, typ string) string { return name + " " + typ },
		"trino":  func(name, typ string) string { return name + " " + typ },
	}
	mapType := map[string]string{"duckdb": "MAP(VARCHAR, BIGINT)", "spark": "MAP<STRING, BIGINT>", "trino": "map(varchar, bigint)"}
	ct := reflect.TypeFor[Completion]()
	for _, engine := range Engines {
		ddl, err := DDL(engine, tg)
		if err != nil {
			t.Fatal(err)
		}
		m := decl[engine].FindStringSubmatch(ddl)
		if m == nil {
			t.Errorf("%s: no exports table with declared columns in:\n%s", engine, ddl)
			continue
		}
		cols := map[string]bool{}
		for _, c := range strings.Split(m[1], ",") {
			c = strings.TrimSpace(c)
			if name, _, ok := strings.Cut(c, " "); ok {
				cols[strings.TrimSuffix(name, ":")] = true
			}
		}
		for i := range ct.NumField() {
			f := ct.Field(i)
			name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
			if f.Type.Kind() == reflect.Slice {
				if cols[name] {
					t.Errorf("%s: exports declares the list %s", engine, name)
				}
				continue
			}
			if !cols[name] {
				t.Errorf("%s: exports does not declare %s (Completion.%s) in %q", engine, name, f.Name, m[1])
			}
		}
		for _, name := range []string{"rows_by_type", "rows_by_view"} {
			if want := column[engine](name, mapType[engine]); !strings.Contains(m[1], want) {
				t.Errorf("%s: no %q in %q", engine, want, m[1])
			}
		}
	}
}

// TestDDLDuckDBSecret checks that the DuckDB statements load the aws
// extension before the secret that names its credential chain: the
// credential_chain provider is the aws extension's (DuckDB 1.5.6 asked
// for it: "required extension 'aws'"), so loaded explicitly, as httpfs
// is, the statements work where extension autoloading is off too.
func TestDDLDuckDBSecret(t *testing.T) {
	ddl, err := DDL("duckdb", Target{Bucket: "lake"})
	if err != nil {
		t.Fatal(err)
	}
	load, secret := strings.Index(ddl, "\nLOAD aws;\n"), strings.Index(ddl, "PROVIDER credential_chain")
	if load < 0 || secret < 0 || load > secret {
		t.Errorf("LOAD aws at %d, the credential_chain secret at %d; want the load first:\n%s", load, secret, ddl)
	}
}

// TestDDLLatestOrder checks the order latest picks a resource's row in:
// the latest export first, then a deletion before an output row of the
// same export, then the latest lastUpdated; that a deletion picked is
// dropped; and that lines that failed validation never take part.
func TestDDLLatestOrder(t *testing.T) {
	for _, engine := range Engines {
		ddl, err := DDL(engine, Target{Bucket: "lake"})
		if err != nil {
			t.Fatal(err)
		}
		for _, want := range []string{
			"PARTITION BY r.resource_type, r.id\n      ORDER BY r.export_id DESC, r.deleted DESC, r.last_updated DESC) AS rn",
			"resources_complete r\n    WHERE r.problem = ''\n  ) t",
			"WHERE t.rn = 1 AND NOT t.deleted;",
		} {
			if !strings.Contains(ddl, want) {
				t.Errorf("%s: no %q in:\n%s", engine, want, ddl)
			}
		}
	}
}

// TestDDLViewColumns checks that a view's table reads the Parquet files of
// every export when the ViewDefinition's columns changed between them
// (a column added or dropped before a later export): DuckDB 1.5.6 refused
// the whole glob ("schema mismatch in glob") and did not see the new
// column without union_by_name; Spark took the columns of whichever file
// it read when the table was created. Spark and Trino now declare the
// ViewDefinition's columns with their types, as the Parquet files have
// them, and the export partition last.
func TestDDLViewColumns(t *testing.T) {
	v, err := views.Parse([]byte(`{"resourceType":"ViewDefinition","name":"obs","resource":"Observation","status":"active",
		"select":[{"column":[{"name":"id","path":"id"},{"name":"final","path":"status = 'final'","type":"boolean"},
		{"name":"value","path":"value.ofType(Quantity).value","type":"decimal"},{"name":"rank","path":"id.length()","type":"integer"},
		{"name":"codes","path":"code.coding.code","collection":true}]}]}`))
	if err != nil {
		t.Fatal(err)
	}
	tg := Target{Bucket: "lake", Prefix: "fhir"}
	for _, tc := range []struct {
		engine string
		want   []string
	}{
		{"duckdb", []string{"read_parquet('s3://lake/fhir/views/obs/export=*/*.parquet', hive_partitioning = true,\n    union_by_name = true)"}},
		{"spark", []string{"CREATE TABLE IF NOT EXISTS fhir_view_obs_files (\n  `id` STRING,\n  `final` BOOLEAN,\n  `value` DOUBLE,\n  `rank` BIGINT,\n  `codes` STRING,\n  `export` BIGINT\n) USING parquet\n  PARTITIONED BY (`export`)\n  LOCATION 's3a://lake/fhir/views/obs';"}},
		{"trino", []string{"CREATE TABLE IF NOT EXISTS hive.fhir.view_obs_files (\n  \"id\" varchar,\n  \"final\" boolean,\n  \"value\" double,\n  \"rank\" bigint,\n  \"codes\" varchar,\n  \"export\" varchar\n) WITH (", "partitioned_by = ARRAY['export']"}},
	} {
		ddl, err := DDL(tc.engine, tg, v)
		if err != nil {
			t.Fatal(err)
		}
		for _, want := range tc.want {
			if !strings.Contains(ddl, want) {
				t.Errorf("%s: no\n%s\nin:\n%s", tc.engine, want, ddl)
			}
		}
	}
}

// TestDDLTrinoResources checks that Trino's resources table declares the
// columns Row writes, in Row's order with Trino's types for them, and the
// partition columns last in partitioned_by's order, as the Hive connector
// requires.
func TestDDLTrinoResources(t *testing.T) {
	ddl, err := DDL("trino", Target{Bucket: "lake"})
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`(?s)CREATE TABLE IF NOT EXISTS hive\.fhir\.resources \((.*?)\) WITH \((.*?)\);`).FindStringSubmatch(ddl)
	if m == nil {
		t.Fatalf("no resources table in:\n%s", ddl)
	}
	var got []string
	for _, c := range strings.Split(m[1], ",") {
		got = append(got, strings.Join(strings.Fields(c), " "))
	}
	trino := map[reflect.Kind]string{reflect.String: "varchar", reflect.Int64: "bigint", reflect.Bool: "boolean"}
	var want []string
	rt := reflect.TypeFor[Row]()
	for i := range rt.NumField() {
		f := rt.Field(i)
		want = append(want, f.Tag.Get("parquet")+" "+trino[f.Type.Kind()])
	}
	want = append(want, `"type" varchar`, `"export" varchar`)
	if !slices.Equal(got, want) {
		t.Errorf("columns\n%q\nwant\n%q", got, want)
	}
	if !strings.Contains(m[2], "partitioned_by = ARRAY['type', 'export']") {
		t.Errorf("no partitioned_by type, export in %q", m[2])
	}
}
