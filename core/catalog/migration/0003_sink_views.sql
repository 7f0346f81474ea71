-- The SQL on FHIR ViewDefinitions an export writes to its sink as Parquet
-- tables (tranche export --sink-view), as a JSON array of the definitions,
-- so --resume writes the same views. NULL: not recorded (exports started
-- before this column), which leaves the choice to the resuming command.
ALTER TABLE exports ADD COLUMN sink_views TEXT;
