-- +goose Up
-- calsync store/postgres schema, version 4: calsync.Leases, the named,
-- time-limited locks that make a subscription's renewal run in one
-- instance only.

CREATE TABLE leases (
	name    text COLLATE "C" PRIMARY KEY,
	owner   text NOT NULL,
	expires timestamptz NOT NULL
);

-- The version, for postgres.New, whichever tool ran this file.
UPDATE schema_version SET version = 4;
