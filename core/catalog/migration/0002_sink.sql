-- Where an export lands besides (or instead of) the catalogue, and where a
-- registration's exports land by default: an s3://BUCKET/PREFIX URL, or ''.
ALTER TABLE exports ADD COLUMN sink TEXT NOT NULL DEFAULT '';
ALTER TABLE registrations ADD COLUMN sink TEXT NOT NULL DEFAULT '';
