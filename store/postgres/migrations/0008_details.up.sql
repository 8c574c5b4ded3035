-- +goose Up
-- calsync store/postgres schema, version 8: Event.Details, the normalized
-- descriptive fields (description, location, availability, visibility,
-- organizer, attendees, meeting URL, web link, created), as one JSON
-- document (store/internal/details); NULL when the event has none. The type
-- is json, not jsonb: jsonb refuses the \u0000 escape a description may
-- legitimately hold (https://www.postgresql.org/docs/current/datatype-json.html).

ALTER TABLE events ADD COLUMN details json;

-- The version, for postgres.New, whichever tool ran this file.
UPDATE schema_version SET version = 8;
