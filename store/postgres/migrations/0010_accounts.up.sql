-- +goose Up
-- calsync store/postgres schema, version 10: calsync.Account, the state of
-- each account's grant and its calendars as last listed (a JSON array;
-- NULL: never listed).

CREATE TABLE accounts (
	id        text COLLATE "C" PRIMARY KEY,
	provider  text NOT NULL,
	status    text NOT NULL,
	reason    text NOT NULL DEFAULT '',
	changed   timestamptz NOT NULL,
	calendars jsonb
);

-- The version, for postgres.New, whichever tool ran this file.
UPDATE schema_version SET version = 10;
