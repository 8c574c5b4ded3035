-- +goose Up
-- calsync store/postgres schema, version 9: the time index of
-- calsync.TimeIndex. span_start and span_end hold calsync.IndexSpan of
-- each event, computed in Go when the event is written.
--
-- Rows written before this version get an unbounded span here, so that
-- EventsBetween (which checks every candidate in Go) still finds them
-- whatever tool runs this file; postgres.Migrate then replaces it with
-- the real span, computed in Go. Rows left unbounded (a migration tool
-- other than Migrate) stay correct, only read by every EventsBetween of
-- their calendar, until the event is next written.

ALTER TABLE events ADD COLUMN span_start timestamptz;
ALTER TABLE events ADD COLUMN span_end timestamptz;
UPDATE events SET span_start = '-infinity', span_end = 'infinity';

-- A range [from, to) reads the rows whose span ends after from: the
-- calendar's future, usually much less than its past.
CREATE INDEX events_span ON events (calendar_id, span_end, span_start);

-- The version, for postgres.New, whichever tool ran this file.
UPDATE schema_version SET version = 9;
