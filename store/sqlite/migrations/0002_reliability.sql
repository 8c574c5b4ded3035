-- calsync store/sqlite schema, version 2: the optional capabilities
-- (calsync.Ledger, calsync.DeadLetters, calsync.Accounts).

CREATE TABLE notification_ledger (
	key    TEXT PRIMARY KEY,
	state  INTEGER NOT NULL, -- 1 in progress, 2 done, 3 failed
	begun  INTEGER NOT NULL,
	ended  INTEGER NOT NULL
) WITHOUT ROWID;

CREATE INDEX notification_ledger_begun ON notification_ledger (begun);

CREATE TABLE attempts (
	id              TEXT PRIMARY KEY,
	kind            INTEGER NOT NULL,
	provider        TEXT NOT NULL,
	subscription_id TEXT NOT NULL,
	calendar_id     TEXT NOT NULL,
	message_id      TEXT NOT NULL,
	received        INTEGER NOT NULL,
	attempts        INTEGER NOT NULL,
	last_error      TEXT NOT NULL,
	first_failed    INTEGER NOT NULL,
	last_failed     INTEGER NOT NULL,
	next_attempt    INTEGER NOT NULL
) WITHOUT ROWID;

CREATE INDEX attempts_next ON attempts (next_attempt, id);

CREATE TABLE dead_letters (
	id              TEXT PRIMARY KEY,
	kind            INTEGER NOT NULL,
	provider        TEXT NOT NULL,
	subscription_id TEXT NOT NULL,
	calendar_id     TEXT NOT NULL,
	message_id      TEXT NOT NULL,
	received        INTEGER NOT NULL,
	attempts        INTEGER NOT NULL,
	last_error      TEXT NOT NULL,
	first_failed    INTEGER NOT NULL,
	last_failed     INTEGER NOT NULL
) WITHOUT ROWID;

CREATE TABLE account_tokens (
	account_id TEXT PRIMARY KEY,
	key_id     TEXT NOT NULL,
	ciphertext BLOB NOT NULL,
	updated    INTEGER NOT NULL
) WITHOUT ROWID;
