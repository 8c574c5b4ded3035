-- calsync store/sqlite schema, version 9: calsync.Account, the state of
-- each account's grant and its calendars as last listed (a JSON array;
-- NULL: never listed). changed is in nanoseconds, as other times.

CREATE TABLE accounts (
	id        TEXT PRIMARY KEY,
	provider  TEXT NOT NULL,
	status    TEXT NOT NULL,
	reason    TEXT NOT NULL DEFAULT '',
	changed   INTEGER NOT NULL,
	calendars TEXT
) WITHOUT ROWID;
