-- calsync store/postgres schema, version 9: the time index of
-- calsync.TimeIndex. span_start and span_end hold calsync.IndexSpan of
-- each event, computed in Go when the event is written; NULL marks rows
-- written before this version, which Open fills in.

ALTER TABLE events ADD COLUMN span_start timestamptz;
ALTER TABLE events ADD COLUMN span_end timestamptz;

-- A range [from, to) reads the rows whose span ends after from: the
-- calendar's future, usually much less than its past.
CREATE INDEX events_span ON events (calendar_id, span_end, span_start);
