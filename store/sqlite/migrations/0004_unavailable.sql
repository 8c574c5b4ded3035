-- calsync store/sqlite schema, version 4: SyncState.Unavailable, why the
-- provider refused a calendar for good (empty while it is available).

ALTER TABLE calendars ADD COLUMN unavailable TEXT NOT NULL DEFAULT '';
