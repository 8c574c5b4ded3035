-- +goose Up
-- calsync store/postgres schema, version 2: the optional capabilities
-- (calsync.Ledger, calsync.DeadLetters, calsync.Accounts).

CREATE TABLE notification_ledger (
	key    text COLLATE "C" PRIMARY KEY,
	state  smallint NOT NULL, -- 1 in progress, 2 done, 3 failed
	begun  timestamptz NOT NULL,
	ended  timestamptz NOT NULL
);

CREATE INDEX notification_ledger_begun ON notification_ledger (begun);

CREATE TABLE attempts (
	id              text COLLATE "C" PRIMARY KEY,
	kind            smallint NOT NULL,
	provider        text NOT NULL,
	subscription_id text NOT NULL,
	calendar_id     text NOT NULL,
	message_id      text NOT NULL,
	received        timestamptz NOT NULL,
	attempts        integer NOT NULL,
	last_error      text NOT NULL,
	first_failed    timestamptz NOT NULL,
	last_failed     timestamptz NOT NULL,
	next_attempt    timestamptz NOT NULL
);

CREATE INDEX attempts_next ON attempts (next_attempt, id);

CREATE TABLE dead_letters (
	id              text COLLATE "C" PRIMARY KEY,
	kind            smallint NOT NULL,
	provider        text NOT NULL,
	subscription_id text NOT NULL,
	calendar_id     text NOT NULL,
	message_id      text NOT NULL,
	received        timestamptz NOT NULL,
	attempts        integer NOT NULL,
	last_error      text NOT NULL,
	first_failed    timestamptz NOT NULL,
	last_failed     timestamptz NOT NULL
);

CREATE TABLE account_tokens (
	account_id text COLLATE "C" PRIMARY KEY,
	key_id     text NOT NULL,
	ciphertext bytea NOT NULL,
	updated    timestamptz NOT NULL
);

-- The version, for postgres.New, whichever tool ran this file.
UPDATE schema_version SET version = 2;
