-- +goose Up
-- calsync store/postgres schema, version 7: the change feed
-- (calsync.ChangeFeed). Apply writes one row per applied change in its
-- transaction, numbered from feed_counter.
--
-- Why a one-row counter and not a sequence: nextval() hands numbers out
-- when it is called, not when the transaction commits, so a reader could
-- see seq 11 committed while seq 10 is still in flight, move its position
-- past 10 and never see it. Apply takes the counter's row lock as its last
-- statement and holds it to its commit, so the next Apply reads the
-- counter only after this one is visible: seqs are in commit order, and
-- dense. The cost is that the end of every Apply (that one statement and
-- the commit) is serialised across calendars; BENCHMARKS.md measures it.

CREATE TABLE feed_counter (
	id  boolean PRIMARY KEY DEFAULT true CHECK (id),
	seq bigint NOT NULL
) WITH (fillfactor = 10); -- room for HOT updates of its one row

INSERT INTO feed_counter (id, seq) VALUES (true, 0);

CREATE TABLE feed (
	seq         bigint PRIMARY KEY,
	calendar_id text COLLATE "C" NOT NULL, -- no foreign key: entries outlive their calendar
	op          smallint NOT NULL,         -- calsync.ChangeOp
	event_id    text COLLATE "C" NOT NULL,
	event       bytea,                     -- store/internal/outbox JSON, NULL when the change has no Event
	committed   timestamptz NOT NULL
);

CREATE INDEX feed_committed ON feed (committed);

CREATE TABLE feed_consumers (
	name     text COLLATE "C" PRIMARY KEY,
	position bigint NOT NULL,
	updated  timestamptz NOT NULL
);

-- The version, for postgres.New, whichever tool ran this file.
UPDATE schema_version SET version = 7;
