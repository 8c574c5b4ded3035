-- calsync store/postgres schema, version 5: SyncState.Unavailable, why the
-- provider refused a calendar for good (empty while it is available).

ALTER TABLE calendars ADD COLUMN unavailable text NOT NULL DEFAULT '';
