-- +goose Up
-- calsync store/postgres schema, version 3: jsonb refuses the \u0000
-- escape, which a provider may legitimately send inside a string. Such an
-- event's Raw is kept byte for byte in raw_bytes instead (raw is then NULL),
-- so that one odd event cannot make every Apply of its calendar fail.

ALTER TABLE events ADD COLUMN raw_bytes bytea;

-- The version, for postgres.New, whichever tool ran this file.
UPDATE schema_version SET version = 3;
