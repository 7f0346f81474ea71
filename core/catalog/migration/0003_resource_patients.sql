-- The patient index, apart from resources: (patient, rid) for each stored
-- resource in a patient's compartment. The resources_patient index it
-- replaces was kept row by row, and each batch of a file touched pages all
-- over it, each written whole to the WAL at commit and again by the
-- checkpoint: a fifth of ingest CPU time. This table is filled when a
-- file's rows are merged into the latest view (see mergeLatest), once per
-- file, in line order, which is mostly patient order within a file.
-- Lines stored before the migration and already merged move here; those of
-- a file still downloading join at its merge, as its latest versions do.
CREATE TABLE resource_patients (
	patient TEXT NOT NULL,
	rid     INTEGER NOT NULL,
	PRIMARY KEY (patient, rid)
) WITHOUT ROWID;
INSERT INTO resource_patients (patient, rid)
	SELECT r.patient, r.rid FROM resources r JOIN files f ON f.id = r.rid >> 32
	WHERE r.patient <> '' AND (r.rid & 4294967295) <= f.merged
	ORDER BY r.patient, r.rid;
DROP INDEX resources_patient;
