-- ViewDefinitions the user saved without (or before) running them: one row
-- per view, keyed by its name element (which names its table, so names are
-- unique regardless of case, as SQLite's table names are). view_json is
-- the JSON exactly as saved, byte for byte, so another runner's view comes
-- back as it went in.
CREATE TABLE view_defs (
	name       TEXT NOT NULL PRIMARY KEY COLLATE NOCASE,
	resource   TEXT NOT NULL,
	view_json  TEXT NOT NULL,
	created_at TEXT NOT NULL,
	updated_at TEXT NOT NULL
);
