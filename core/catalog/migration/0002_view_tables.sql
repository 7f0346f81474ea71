-- Views materialised as tables (tranche views run --format table): one row
-- per table, which is a plain SQLite table named after the view. It records
-- what the table was built from: the view (its version and a hash of its
-- definition), the input (the latest view, export_id 0, or one export),
-- the exports whose resources it read, and the newest export the catalogue
-- held then, so a newer one can be reported as making the table stale.
CREATE TABLE view_tables (
	name           TEXT PRIMARY KEY,
	resource       TEXT NOT NULL,
	view_version   TEXT NOT NULL DEFAULT '',
	view_sha256    TEXT NOT NULL,
	view_json      TEXT NOT NULL,
	columns        TEXT NOT NULL, -- JSON array of {name, type, collection}
	export_id      INTEGER NOT NULL DEFAULT 0,
	exports        TEXT NOT NULL DEFAULT '[]', -- JSON array of export ids read
	through_export INTEGER NOT NULL DEFAULT 0,
	rows           INTEGER NOT NULL DEFAULT 0,
	problems       INTEGER NOT NULL DEFAULT 0,
	built_at       TEXT NOT NULL
);
