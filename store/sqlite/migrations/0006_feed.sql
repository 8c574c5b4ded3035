-- calsync store/sqlite schema, version 6: the change feed
-- (calsync.ChangeFeed). Apply writes one row per applied change in its
-- transaction; SQLite's single writer makes seq follow commit order, and
-- AUTOINCREMENT keeps seq from being reused once the newest rows have been
-- pruned.

CREATE TABLE feed (
	seq         INTEGER PRIMARY KEY AUTOINCREMENT,
	calendar_id TEXT NOT NULL,    -- no foreign key: entries outlive their calendar
	op          INTEGER NOT NULL, -- calsync.ChangeOp
	event_id    TEXT NOT NULL,
	event       BLOB,             -- store/internal/outbox JSON, NULL when the change has no Event
	committed   INTEGER NOT NULL  -- nanoseconds since the Unix epoch
);

CREATE INDEX feed_committed ON feed (committed);

CREATE TABLE feed_consumers (
	name     TEXT PRIMARY KEY,
	position INTEGER NOT NULL,
	updated  INTEGER NOT NULL
) WITHOUT ROWID;
