-- +goose Up
-- calsync store/postgres schema, version 5: SyncState.Unavailable (why the
-- provider refused a calendar for good), and the index that finds the
-- exceptions of a deleted series.

ALTER TABLE calendars ADD COLUMN unavailable text NOT NULL DEFAULT '';

-- The exceptions of a series, which Apply deletes with it.
CREATE INDEX events_series ON events (calendar_id, recurring_event_id) WHERE recurring_event_id <> '';

-- The version, for postgres.New, whichever tool ran this file.
UPDATE schema_version SET version = 5;
