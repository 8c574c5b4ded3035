-- calsync store/sqlite schema, version 1: calendars, events, subscriptions.
-- Times are INTEGER nanoseconds since the Unix epoch (UTC); the zero
-- time.Time is stored as the smallest int64.

CREATE TABLE calendars (
	id          TEXT PRIMARY KEY,
	provider    TEXT NOT NULL,
	account_id  TEXT NOT NULL,
	remote_id   TEXT NOT NULL,
	cursor      TEXT NOT NULL DEFAULT '',
	page_token  TEXT NOT NULL DEFAULT '',
	generation  INTEGER NOT NULL DEFAULT 0,
	last_sync   INTEGER NOT NULL DEFAULT -9223372036854775808
) WITHOUT ROWID;

CREATE TABLE events (
	calendar_id         TEXT NOT NULL REFERENCES calendars (id) ON DELETE CASCADE,
	id                  TEXT NOT NULL,
	status              TEXT NOT NULL,
	summary             TEXT NOT NULL,
	start_date          TEXT NOT NULL,
	start_time          INTEGER NOT NULL,
	start_tz            TEXT NOT NULL,
	end_date            TEXT NOT NULL,
	end_time            INTEGER NOT NULL,
	end_tz              TEXT NOT NULL,
	recurring_event_id  TEXT NOT NULL,
	original_start_date TEXT,    -- NULL when the event has no OriginalStart
	original_start_time INTEGER,
	original_start_tz   TEXT,
	recurrence          TEXT,    -- JSON array of strings, NULL when empty
	ical_uid            TEXT NOT NULL,
	etag                TEXT NOT NULL,
	updated             INTEGER NOT NULL,
	version             INTEGER NOT NULL,
	generation          INTEGER NOT NULL,
	raw                 BLOB,    -- the provider's JSON, byte for byte
	PRIMARY KEY (calendar_id, id)
) WITHOUT ROWID;

CREATE TABLE subscriptions (
	id                TEXT PRIMARY KEY,
	calendar_id       TEXT NOT NULL,
	provider          TEXT NOT NULL,
	resource_id       TEXT NOT NULL,
	resource_uri      TEXT NOT NULL,
	address           TEXT NOT NULL,
	lifecycle_address TEXT NOT NULL,
	secret            TEXT NOT NULL,
	expiration        INTEGER NOT NULL,
	created           INTEGER NOT NULL
) WITHOUT ROWID;

CREATE INDEX subscriptions_calendar ON subscriptions (calendar_id, id);
CREATE INDEX subscriptions_expiration ON subscriptions (expiration, id);
