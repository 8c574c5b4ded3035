-- +goose Up
-- calsync store/postgres schema, version 1: calendars, events, subscriptions.
-- Ids use the "C" collation so that ORDER BY id is byte order, as the
-- calsync.Store contract asks. The zero time.Time is stored as
-- 0001-01-01 00:00:00+00, so it sorts first.

CREATE TABLE calendars (
	id          text COLLATE "C" PRIMARY KEY,
	provider    text NOT NULL,
	account_id  text NOT NULL,
	remote_id   text NOT NULL,
	cursor      text NOT NULL DEFAULT '',
	page_token  text NOT NULL DEFAULT '',
	generation  bigint NOT NULL DEFAULT 0,
	last_sync   timestamptz NOT NULL DEFAULT '0001-01-01 00:00:00+00'
);

CREATE TABLE events (
	calendar_id         text COLLATE "C" NOT NULL REFERENCES calendars (id) ON DELETE CASCADE,
	id                  text COLLATE "C" NOT NULL,
	status              text NOT NULL,
	summary             text NOT NULL,
	start_date          text NOT NULL,
	start_time          timestamptz NOT NULL,
	start_tz            text NOT NULL,
	end_date            text NOT NULL,
	end_time            timestamptz NOT NULL,
	end_tz              text NOT NULL,
	recurring_event_id  text NOT NULL,
	original_start_date text,        -- NULL when the event has no OriginalStart
	original_start_time timestamptz,
	original_start_tz   text,
	recurrence          text[],
	ical_uid            text NOT NULL,
	etag                text NOT NULL,
	updated             timestamptz NOT NULL,
	version             bigint NOT NULL,
	generation          bigint NOT NULL,
	raw                 jsonb,
	PRIMARY KEY (calendar_id, id)
);

CREATE TABLE subscriptions (
	id                text COLLATE "C" PRIMARY KEY,
	calendar_id       text COLLATE "C" NOT NULL,
	provider          text NOT NULL,
	resource_id       text NOT NULL,
	resource_uri      text NOT NULL,
	address           text NOT NULL,
	lifecycle_address text NOT NULL,
	secret            text NOT NULL,
	expiration        timestamptz NOT NULL,
	created           timestamptz NOT NULL
);

CREATE INDEX subscriptions_calendar ON subscriptions (calendar_id, id);
CREATE INDEX subscriptions_expiration ON subscriptions (expiration, id);

-- The version, for postgres.New, whichever tool ran this file.
CREATE TABLE IF NOT EXISTS schema_version (version integer NOT NULL);
INSERT INTO schema_version (version) VALUES (1);
