// Package postgres is the production [calsync.Store]: PostgreSQL through
// github.com/jackc/pgx/v5 and a pgxpool.Pool, safe for any number of
// processes (host app instances) sharing one database.
//
// # Use
//
//	st, err := postgres.Open(ctx, "postgres://app@db/app", nil)
//	if err != nil { ... }
//	defer st.Close()
//	eng, err := calsync.NewEngine(calsync.Config{Store: st, ...})
//
// or, with a pool the host already has, [New](ctx, pool, nil). Every
// table lives in a PostgreSQL schema of calsync's own, [Config].Schema
// (default [DefaultSchema], "calsync"), created if it is missing, beside
// the host's tables: a database that already has tables named events,
// subscriptions, calendars or schema_version is fine. The pool's
// search_path is neither used nor changed; every statement names the
// schema.
//
// # Behaviour
//
// A [Store] follows every rule of [calsync.Store] and [calsync.Batch], passes
// store/storetest, and implements the optional [calsync.Ledger],
// [calsync.DeadLetters], [vault.Accounts], [calsync.Leases] and
// [calsync.ChangeFeed].
//
//   - [Store.Apply] is one READ COMMITTED transaction. It first writes the
//     calendar's new SyncState, which takes the calendar row's lock: Applies
//     of one calendar, from any process, run one after the other, while
//     different calendars proceed in parallel. It then reads the stored
//     version of every event the batch names (one primary-key lookup each),
//     decides in Go what last-write-wins requires (the same code as
//     store/sqlite), and sends every write as one pgx.Batch: INSERT … ON
//     CONFLICT … DO UPDATE … WHERE the version and Updated it planned
//     against still hold, RETURNING the new version. A write the WHERE
//     skipped (a row changed outside Apply) fails the batch rather than
//     being lost. The cursor is committed with the events or not at all.
//   - The change feed is a table Apply appends to as its last statement,
//     one row per applied change, numbered from a one-row counter whose
//     lock the statement takes and the commit releases. A sequence would
//     not do: nextval() numbers rows when it is called, not when they
//     commit, so a reader could see seq 11 while seq 10 is still in flight
//     and move past it for good (storetest's FeedConcurrentAppliers sees
//     that happen). With the counter the next Apply numbers its rows only
//     once this one is visible, so Seqs follow commit order (and have no
//     gaps). The price: the ends of Applies (that statement and the
//     commit) run one at a time across calendars; BENCHMARKS.md measures
//     it. Tracking in-flight transactions instead (xid8 and
//     pg_snapshot_xmin) keeps Applies parallel, but lets any long
//     transaction in the database, calsync's or not, hold every reader
//     back for as long as it runs. FeedEntry.Committed is the statement's
//     start (the server's clock), which PruneFeed's age also uses.
//   - Times are timestamptz: microsecond precision (storetest's default
//     Features.TimePrecision); they come back in UTC.
//   - Event.Raw is jsonb: it comes back as the same JSON value, not
//     necessarily the same bytes (whitespace and key order are
//     normalised). jsonb refuses the \u0000 escape: an event whose Raw
//     contains one is kept byte for byte in a bytea column instead.
//   - Subscriptions keep their secret's SHA-256 (SecretHash), never the
//     secret itself. Migration 6 hashes the secrets older versions kept in
//     clear (with sha256(), PostgreSQL 11 or later); their old row
//     versions stay on disk until VACUUM reclaims them, so run VACUUM FULL
//     subscriptions after that upgrade.
//   - Event.Details is one JSON document in a json (not jsonb) column, so
//     that a description holding \u0000 is kept; NULL when the event has
//     none.
//   - Ids use the "C" collation, so [Store.ListEvents] pages in byte order.
//   - Indexes serve the lookups the Engine makes: events by (calendar,
//     id), subscriptions by id, by (calendar, id) and by expiration, the
//     notification ledger by the time it was begun, retry attempts by
//     when they are due.
//
// # Schema
//
// Numbered migrations are embedded in the binary and recorded in the
// schema_version table of the schema. [New] (or [Migrate]) applies the
// missing ones in one transaction holding a transaction-scoped advisory
// lock keyed by the schema's name, so instances starting together migrate
// once; a schema migrated by a newer calsync fails with [ErrSchemaTooNew]
// and is left alone. Set [Config].SkipMigrations when migrations run as a
// separate deploy step: New then only checks the version.
//
// That step can be [Migrate], or a migration tool running the files of
// [Migrations] (golang-migrate, goose or atlas; its documentation says
// how) on a connection whose search_path is the schema, so that the
// tables land there. Each file records its version in schema_version,
// which is what SkipMigrations checks.
//
// # Upgrading from tables in public
//
// Versions before [Config].Schema created their tables in the first
// schema of the search_path, usually public. With the default Config, New
// finds them there and refuses to start afresh beside them
// ([ErrLegacyLayout]); it moves nothing. Set Config.Schema to "public" to
// keep them where they are, or stop every instance and move each of
// calsync's tables with ALTER TABLE public.name SET SCHEMA calsync (after
// CREATE SCHEMA calsync), in one transaction; CHANGELOG.md lists them.
//
// # Tests
//
// The tests need a PostgreSQL server: set CALSYNC_TEST_POSTGRES_URL (for
// example postgres://postgres@127.0.0.1:5432/test?sslmode=disable); without
// it they skip. Each test works in a schema of its own ([Config].Schema),
// dropped afterwards, so parallel runs do not collide; the tests of the
// default schema and of the old layout in public each create a scratch
// database and drop it.
package postgres
