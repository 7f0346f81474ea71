package sink

import (
	"fmt"
	"strings"

	"github.com/parquet-go/parquet-go"

	"tranche.dev/tranche/core/views"
)

// Engines DDL knows.
var Engines = []string{"duckdb", "spark", "trino"}

// DDL returns the statements that register the layout at t with engine
// (duckdb, spark or trino): the resources table over the Parquet files,
// the exports table over the completion manifests, resources_complete
// (rows of completed exports only) and latest (each resource's newest
// version, unless that is a deletion). Nothing is rewritten: latest is a
// view.
//
// Each of vs gets a table view_NAME over its Parquet files (views/NAME/),
// of completed exports only.
func DDL(engine string, t Target, vs ...*views.View) (string, error) {
	loc := func(scheme, dir string) string {
		return scheme + t.Bucket + "/" + t.key(dir)
	}
	var b strings.Builder
	switch engine {
	case "duckdb":
		fmt.Fprintf(&b, `-- DuckDB (httpfs; aws for the credential chain). For an S3-compatible
-- endpoint add ENDPOINT 'host:port', URL_STYLE 'path' (and USE_SSL false on loopback).
-- Run it once an export has completed: a view over no files is refused.
INSTALL httpfs;
LOAD httpfs;
INSTALL aws;
LOAD aws;
CREATE SECRET IF NOT EXISTS tranche_sink (TYPE s3, PROVIDER credential_chain);

CREATE OR REPLACE VIEW fhir_exports AS
  SELECT * FROM read_json('%s/*.json', format = 'newline_delimited',
    columns = {
      %s});

CREATE OR REPLACE VIEW fhir_resources AS
  SELECT * FROM read_parquet('%s/*/*/*.parquet', hive_partitioning = true);

`, loc("s3://", exportsDir), exportColumnList("      ", func(c exportColumn) string { return c.name + ": '" + c.duckdb + "'" }),
			loc("s3://", resourcesDir))
		writeViews(&b, "fhir_")
		for _, v := range vs {
			fmt.Fprintf(&b, `
CREATE OR REPLACE VIEW fhir_view_%[1]s AS
  SELECT * FROM read_parquet('%[2]s/export=*/*.parquet', hive_partitioning = true,
    union_by_name = true)
  WHERE "export" IN (SELECT export_id FROM fhir_exports);
`, v.Name(), loc("s3://", viewsDir+"/"+v.Name()))
		}
	case "spark":
		fmt.Fprintf(&b, `-- Spark SQL (hadoop-aws: s3a://; on EMR or Databricks s3:// works too).
-- Run it once an export has completed: fhir_resources takes its columns
-- and partitions (type, export) from the files.
CREATE TABLE IF NOT EXISTS fhir_resources
  USING parquet
  LOCATION '%s';
-- Picks up the partitions of new exports; run it after each export.
MSCK REPAIR TABLE fhir_resources;

CREATE TABLE IF NOT EXISTS fhir_exports (
  %s
) USING json
  LOCATION '%s';
REFRESH TABLE fhir_exports;

`, loc("s3a://", resourcesDir), exportColumnList("  ", func(c exportColumn) string { return c.name + " " + c.spark }), loc("s3a://", exportsDir))
		writeViews(&b, "fhir_")
		for _, v := range vs {
			fmt.Fprintf(&b, `
-- The columns of the ViewDefinition given: when it changes, DROP TABLE
-- fhir_view_%[1]s_files (external: its files stay) and run this again.
CREATE TABLE IF NOT EXISTS fhir_view_%[1]s_files (
  %[2]s,
  `+"`export`"+` BIGINT
) USING parquet
  PARTITIONED BY (`+"`export`"+`)
  LOCATION '%[3]s';
MSCK REPAIR TABLE fhir_view_%[1]s_files;
CREATE OR REPLACE VIEW fhir_view_%[1]s AS
  SELECT * FROM fhir_view_%[1]s_files
  WHERE `+"`export`"+` IN (SELECT export_id FROM fhir_exports);
`, v.Name(), viewColumnList(v, "`%s` %s", "BOOLEAN", "BIGINT", "DOUBLE", "STRING"), loc("s3a://", viewsDir+"/"+v.Name()))
		}
	case "trino":
		fmt.Fprintf(&b, `-- Trino, Hive connector (catalog "hive"), S3 file system enabled.
CREATE SCHEMA IF NOT EXISTS hive.fhir;

CREATE TABLE IF NOT EXISTS hive.fhir.resources (
  resource_type varchar, id varchar, last_updated varchar, version_id varchar,
  patient varchar, export_id bigint, source_file varchar, line bigint,
  deleted boolean, problem varchar, json varchar,
  "type" varchar, "export" varchar
) WITH (
  external_location = '%s',
  format = 'PARQUET',
  partitioned_by = ARRAY['type', 'export']
);
-- Picks up the partitions of new exports; run it after each export.
CALL hive.system.sync_partition_metadata('fhir', 'resources', 'FULL');

CREATE TABLE IF NOT EXISTS hive.fhir.exports (
  %s
) WITH (
  external_location = '%s',
  format = 'JSON'
);

`, loc("s3://", resourcesDir), exportColumnList("  ", func(c exportColumn) string { return c.name + " " + c.trino }), loc("s3://", exportsDir))
		writeViews(&b, "hive.fhir.")
		for _, v := range vs {
			fmt.Fprintf(&b, `
-- The columns of the ViewDefinition given: when it changes, DROP TABLE
-- hive.fhir.view_%[1]s_files (external: its files stay) and run this again.
CREATE TABLE IF NOT EXISTS hive.fhir.view_%[1]s_files (
  %[2]s,
  "export" varchar
) WITH (
  external_location = '%[3]s',
  format = 'PARQUET',
  partitioned_by = ARRAY['export']
);
CALL hive.system.sync_partition_metadata('fhir', 'view_%[1]s_files', 'FULL');
CREATE OR REPLACE VIEW hive.fhir.view_%[1]s AS
  SELECT * FROM hive.fhir.view_%[1]s_files
  WHERE CAST("export" AS bigint) IN (SELECT export_id FROM hive.fhir.exports);
`, v.Name(), viewColumnList(v, `"%s" %s`, "boolean", "bigint", "double", "varchar"), loc("s3://", viewsDir+"/"+v.Name()))
		}
	default:
		return "", fmt.Errorf("engine %q: want one of %s", engine, strings.Join(Engines, ", "))
	}
	return b.String(), nil
}

// viewColumnList declares the columns of a view's Parquet files (see
// viewSchema) as format writes a name and a type, one to a line: a
// declared schema reads files written before a column was added to or
// dropped from the ViewDefinition by name, missing columns as NULL.
func viewColumnList(v *views.View, format, boolean, int64, double, str string) string {
	var cols []string
	for _, c := range v.Columns() {
		typ := str
		switch columnKind(c) {
		case parquet.Boolean:
			typ = boolean
		case parquet.Int64:
			typ = int64
		case parquet.Double:
			typ = double
		}
		cols = append(cols, fmt.Sprintf(format, c.Name, typ))
	}
	return strings.Join(cols, ",\n  ")
}

// exportColumn is a field of the completion manifest (Completion) that the
// exports table declares, with its type in each engine. The schema is
// declared, not inferred from the manifests: DuckDB infers it from the
// first files only and Spark once, when the table is created, so the
// rows_by_type of a type first seen later would be dropped without a word.
// The lists of files, tables and views stay in the JSON.
type exportColumn struct{ name, duckdb, spark, trino string }

var exportColumns = []exportColumn{
	{"layout", "INTEGER", "INT", "integer"},
	{"export_id", "BIGINT", "BIGINT", "bigint"},
	{"transaction_time", "VARCHAR", "STRING", "varchar"},
	{"fhir_base_url", "VARCHAR", "STRING", "varchar"},
	{"since", "VARCHAR", "STRING", "varchar"},
	{"completed_at", "VARCHAR", "STRING", "varchar"},
	{"resources", "BIGINT", "BIGINT", "bigint"},
	{"rows_by_type", "MAP(VARCHAR, BIGINT)", "MAP<STRING, BIGINT>", "map(varchar, bigint)"},
	{"manifest", "VARCHAR", "STRING", "varchar"},
	{"rows_by_view", "MAP(VARCHAR, BIGINT)", "MAP<STRING, BIGINT>", "map(varchar, bigint)"},
}

// exportColumnList is the exports table's columns, each as decl writes it,
// two to a line.
func exportColumnList(indent string, decl func(exportColumn) string) string {
	var b strings.Builder
	for i, c := range exportColumns {
		switch {
		case i == 0:
		case i%2 == 0:
			b.WriteString(",\n" + indent)
		default:
			b.WriteString(", ")
		}
		b.WriteString(decl(c))
	}
	return b.String()
}

// writeViews writes the two views every engine shares, in SQL all three
// accept.
func writeViews(b *strings.Builder, prefix string) {
	res, exps := prefix+"resources", prefix+"exports"
	fmt.Fprintf(b, `-- Rows of completed exports only: an export being written has no
-- completion manifest yet.
CREATE OR REPLACE VIEW %[1]sresources_complete AS
  SELECT r.* FROM %[2]s r
  WHERE r.export_id IN (SELECT export_id FROM %[3]s);

-- The newest version of each resource, unless that is a deletion:
-- the row of the latest completed export; within one export a deletion
-- wins (deletions apply after the output: Bulk Data Access IG v2, Export:
-- Bulk Data Status Request, Response - Complete Status, deleted), then
-- the latest lastUpdated. Lines that failed validation (problem) are
-- left out, as in the local catalogue's latest view: they are kept, in
-- resources, but never shadow a valid version.
CREATE OR REPLACE VIEW %[1]slatest AS
  SELECT resource_type, id, last_updated, version_id, patient, export_id,
         source_file, line, json
  FROM (
    SELECT r.*, row_number() OVER (
      PARTITION BY r.resource_type, r.id
      ORDER BY r.export_id DESC, r.deleted DESC, r.last_updated DESC) AS rn
    FROM %[1]sresources_complete r
    WHERE r.problem = ''
  ) t
  WHERE t.rn = 1 AND NOT t.deleted;
`, prefix, res, exps)
}
