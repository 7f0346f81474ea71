-- Registrations: one per data holder. The private key is in the OS keychain
-- (key_ref), never here.
CREATE TABLE registrations (
	id            INTEGER PRIMARY KEY,
	name          TEXT NOT NULL UNIQUE,
	fhir_base_url TEXT NOT NULL DEFAULT '',
	token_url     TEXT NOT NULL DEFAULT '',
	client_id     TEXT NOT NULL DEFAULT '',
	scopes        TEXT NOT NULL DEFAULT '',
	alg           TEXT NOT NULL DEFAULT '',
	key_id        TEXT NOT NULL DEFAULT '',
	key_ref       TEXT NOT NULL DEFAULT '',
	public_jwks   TEXT NOT NULL DEFAULT '',
	jwks_url      TEXT NOT NULL DEFAULT '',
	headers       TEXT NOT NULL DEFAULT '{}', -- JSON object
	max_parallel  INTEGER NOT NULL DEFAULT 0,
	poll_min_ms   INTEGER NOT NULL DEFAULT 0,
	poll_max_ms   INTEGER NOT NULL DEFAULT 0,
	created_at    TEXT NOT NULL,
	updated_at    TEXT NOT NULL
);

-- Exports: one bulk job each. tt is transaction_time as Unix milliseconds
-- (0 while unknown): it orders exports for the latest view, because FHIR
-- instants with different offsets do not sort as text. scope_key groups
-- exports that asked for the same data, for _since=auto.
CREATE TABLE exports (
	id               INTEGER PRIMARY KEY,
	registration_id  INTEGER REFERENCES registrations(id) ON DELETE SET NULL,
	fhir_base_url    TEXT NOT NULL DEFAULT '',
	scope            TEXT NOT NULL DEFAULT '',
	request          TEXT NOT NULL DEFAULT '{}', -- core.ExportRequest as JSON
	scope_key        TEXT NOT NULL DEFAULT '',
	kickoff_url      TEXT NOT NULL DEFAULT '',
	status_url       TEXT NOT NULL DEFAULT '',
	state            TEXT NOT NULL,
	progress         TEXT NOT NULL DEFAULT '',
	transaction_time TEXT NOT NULL DEFAULT '',
	tt               INTEGER NOT NULL DEFAULT 0,
	manifest         BLOB,
	error            TEXT NOT NULL DEFAULT '',
	released         INTEGER NOT NULL DEFAULT 0,
	created_at       TEXT NOT NULL,
	updated_at       TEXT NOT NULL,
	finished_at      TEXT NOT NULL DEFAULT ''
);
CREATE INDEX exports_status_url ON exports(status_url);
CREATE INDEX exports_state ON exports(state);

-- Files: one per manifest entry, with progress committed together with the
-- lines it covers (see AppendRecords).
CREATE TABLE files (
	id        INTEGER PRIMARY KEY,
	export_id INTEGER NOT NULL REFERENCES exports(id) ON DELETE CASCADE,
	kind      TEXT NOT NULL,
	type      TEXT NOT NULL DEFAULT '',
	url       TEXT NOT NULL,
	count     INTEGER NOT NULL DEFAULT -1,
	merged    INTEGER NOT NULL DEFAULT 0, -- last line merged into latest
	state     TEXT NOT NULL,
	lines     INTEGER NOT NULL DEFAULT 0,
	bytes     INTEGER NOT NULL DEFAULT 0,
	problems  INTEGER NOT NULL DEFAULT 0,
	error     TEXT NOT NULL DEFAULT '',
	UNIQUE (export_id, kind, url)
);

-- Resources: every line of every output file, exactly as received (raw is
-- TEXT so SQLite's JSON functions read it; a BLOB would be taken for JSONB).
-- rid is file_id << 32 | line: it makes (file, line) unique without a second
-- index (ingest is idempotent through ON CONFLICT (rid)), keeps each file's
-- rows contiguous in line order, and lets one export's rows be found as the
-- rid ranges of its files. It is also the FTS rowid and the paging key.
CREATE TABLE resources (
	rid          INTEGER PRIMARY KEY,
	file_id      INTEGER NOT NULL,
	export_id    INTEGER NOT NULL,
	line         INTEGER NOT NULL,
	type         TEXT NOT NULL,
	res_id       TEXT NOT NULL,
	last_updated TEXT NOT NULL DEFAULT '',
	patient      TEXT NOT NULL DEFAULT '',
	raw          TEXT NOT NULL
);
CREATE INDEX resources_patient ON resources(patient) WHERE patient <> '';

-- How many resources of each type each file stored, kept by AppendRecords
-- per batch: counting a million raw rows would read every page of them.
CREATE TABLE file_counts (
	file_id INTEGER NOT NULL REFERENCES files(id) ON DELETE CASCADE,
	type    TEXT NOT NULL,
	n       INTEGER NOT NULL,
	PRIMARY KEY (file_id, type)
) WITHOUT ROWID;

-- Lines of deleted files (transaction Bundles), verbatim, and one tombstone
-- per DELETE entry.
CREATE TABLE deleted_lines (
	file_id INTEGER NOT NULL REFERENCES files(id) ON DELETE CASCADE,
	line    INTEGER NOT NULL,
	raw     TEXT NOT NULL,
	PRIMARY KEY (file_id, line)
) WITHOUT ROWID;

CREATE TABLE tombstones (
	id        INTEGER PRIMARY KEY,
	file_id   INTEGER NOT NULL REFERENCES files(id) ON DELETE CASCADE,
	export_id INTEGER NOT NULL,
	line      INTEGER NOT NULL,
	type      TEXT NOT NULL,
	res_id    TEXT NOT NULL
);
CREATE INDEX tombstones_export ON tombstones(export_id);

-- Lines of error/outcome files (OperationOutcomes), with the most severe
-- issue severity.
CREATE TABLE outcomes (
	file_id   INTEGER NOT NULL REFERENCES files(id) ON DELETE CASCADE,
	line      INTEGER NOT NULL,
	export_id INTEGER NOT NULL,
	severity  TEXT NOT NULL DEFAULT '',
	raw       TEXT NOT NULL,
	PRIMARY KEY (file_id, line)
) WITHOUT ROWID;
CREATE INDEX outcomes_export ON outcomes(export_id, severity);

-- Lines that failed validation, kept verbatim: nothing is lost. raw is a
-- BLOB here because such a line may not even be UTF-8.
CREATE TABLE problems (
	file_id   INTEGER NOT NULL REFERENCES files(id) ON DELETE CASCADE,
	line      INTEGER NOT NULL,
	export_id INTEGER NOT NULL,
	problem   TEXT NOT NULL,
	raw       BLOB NOT NULL,
	PRIMARY KEY (file_id, line)
) WITHOUT ROWID;
CREATE INDEX problems_export ON problems(export_id);

-- latest holds, per (type, id), the version the latest view shows. A
-- version replaces the current one when its export is at least as new,
-- ordered by (transaction time, export id); within one export the version
-- merged last wins. A tombstone replaces it only when strictly newer, so a
-- resource and a DELETE in the same export leave the resource visible.
-- deleted = 1 hides the row; rid keeps the last version seen (NULL if none).
-- Resources are merged in per file, in (type, id) order, when the file
-- leaves the downloading state (see mergeLatest): row by row, random ids
-- would rewrite most of this table's pages in every batch. Tombstones are
-- few and merged by the trigger below as they are inserted.
CREATE TABLE latest (
	type      TEXT NOT NULL,
	res_id    TEXT NOT NULL,
	rid       INTEGER,
	tt        INTEGER NOT NULL,
	export_id INTEGER NOT NULL,
	deleted   INTEGER NOT NULL DEFAULT 0,
	PRIMARY KEY (type, res_id)
) WITHOUT ROWID;

CREATE TRIGGER tombstones_latest AFTER INSERT ON tombstones BEGIN
	INSERT INTO latest (type, res_id, rid, tt, export_id, deleted)
	VALUES (new.type, new.res_id, NULL,
		coalesce((SELECT tt FROM exports WHERE id = new.export_id), 0), new.export_id, 1)
	ON CONFLICT (type, res_id) DO UPDATE SET
		tt = excluded.tt, export_id = excluded.export_id, deleted = 1
	WHERE (excluded.tt, excluded.export_id) > (latest.tt, latest.export_id);
END;

-- Full-text index over the raw JSON, external content (no second copy of
-- the text). It is filled lazily by Reindex; fts_state records, per file, the
-- last line indexed.
CREATE VIRTUAL TABLE resources_fts USING fts5(raw, content = 'resources', content_rowid = 'rid');
CREATE TABLE fts_state (
	file_id INTEGER PRIMARY KEY,
	line    INTEGER NOT NULL
);
