-- The patient index as runs of lines: (patient, first rid, last rid) for
-- each run of a file's consecutive lines in one patient's compartment,
-- where resource_patients held one row per resource. A server that writes
-- a file patient by patient (the demo server does) makes runs of tens of
-- lines, and filling resource_patients at the merge cost one b-tree
-- insert per resource (about 2 cpu-µs, 40% of the merge).
--
-- AppendRecords finds a batch's runs in the lines it is given and appends
-- one row to pending_runs: runs, a JSON array [[patient, first, n], ...],
-- or, when the batch has more than one run for every two lines (a Patient
-- file, a server that interleaves patients), NULL, for one run per line
-- between first and last, taken from the resources rows themselves: one
-- run parsed from JSON costs about twice a line read back. mergeLatest
-- moves a file's pending runs into patient_runs when its rows join the
-- latest view, so the index still holds merged lines only.
CREATE TABLE patient_runs (
	patient TEXT NOT NULL,
	first   INTEGER NOT NULL, -- the run's first rid
	n       INTEGER NOT NULL, -- its last rid - first: 0 (no bytes) for one line
	PRIMARY KEY (patient, first)
) WITHOUT ROWID;
CREATE TABLE pending_runs (
	file_id INTEGER NOT NULL,
	first   INTEGER NOT NULL,
	last    INTEGER NOT NULL,
	runs    TEXT
);
CREATE INDEX pending_runs_file ON pending_runs(file_id);
-- Merged lines: consecutive rids of one patient make one run.
INSERT INTO patient_runs (patient, first, n)
	SELECT patient, min(rid), max(rid) - min(rid) FROM (
		SELECT patient, rid, rid - row_number() OVER (PARTITION BY patient ORDER BY rid) AS run
		FROM resource_patients)
	GROUP BY patient, run;
-- Lines stored and not merged yet (files still downloading): one run
-- each, from the resources rows.
INSERT INTO pending_runs (file_id, first, last, runs)
	SELECT id, id << 32 | (merged + 1), id << 32 | lines, NULL FROM files
	WHERE kind = 'output' AND lines > merged;
DROP TABLE resource_patients;
