// Package sqlite is the embedded default [calsync.Store]: one SQLite
// database file, through the pure-Go driver modernc.org/sqlite (no cgo).
//
// # Use
//
//	st, err := sqlite.Open(ctx, "calsync.db", nil)
//	if err != nil { ... }
//	defer st.Close()
//	eng, err := calsync.NewEngine(calsync.Config{Store: st, ...})
//
// # Behaviour
//
// A [Store] follows every rule of [calsync.Store] and [calsync.Batch], passes
// store/storetest, and implements the optional [calsync.Ledger],
// [calsync.DeadLetters], [vault.Accounts], [calsync.Leases] and
// [calsync.ChangeFeed].
//
//   - The database runs in WAL mode (readers never wait for the writer) with
//     a busy timeout ([Config].BusyTimeout), foreign keys and secure_delete
//     on: the bytes of deleted rows (subscriptions, account tokens) are
//     overwritten rather than left in the file's free space.
//   - Every write transaction starts with BEGIN IMMEDIATE, so two writers
//     never deadlock upgrading a read lock; within one process writes go
//     through one connection and queue in Go rather than in SQLite's busy
//     handler. Several processes may share the file.
//   - [Store.Apply] runs in one transaction: it reads the stored version of
//     every event the batch names, decides in Go what last-write-wins
//     requires (the same code as store/postgres), and writes each event with
//     INSERT … ON CONFLICT … DO UPDATE … WHERE, the WHERE checking the
//     version and Updated it planned against. The cursor (SyncState) is
//     written in the same transaction: a crash leaves both or neither.
//   - The change feed is a table Apply appends to in that transaction, one
//     row per applied change. SQLite has one writer at a time, across
//     processes too, so its AUTOINCREMENT key is handed out in commit
//     order and serves as FeedEntry.Seq; AUTOINCREMENT (not a plain rowid)
//     keeps Seqs from being reused after the newest rows were pruned.
//     FeedEntry.Committed and PruneFeed's age use the process's clock.
//   - Times are stored as integer nanoseconds: every time.Time in the
//     years 1678–2262 round-trips exactly (the time zone is not kept; times
//     come back in UTC). Event.Raw is stored and returned byte for byte.
//   - Subscriptions keep their secret's SHA-256 (SecretHash), never the
//     secret itself. Migration 5 hashes the secrets older versions kept in
//     clear, and secure_delete wipes their old bytes from the file.
//   - Event.Details is one JSON document in the details column (NULL when
//     the event has none); Details.Created keeps nanoseconds.
//   - Event ids are compared as bytes (SQLite's BINARY collation), so
//     [Store.ListEvents] pages in the byte order the contract asks for.
//
// # Schema
//
// The schema is created and upgraded by numbered migrations embedded in the
// binary and recorded in the schema_version table. [Open] migrates an older
// database in one transaction; a database written by a newer calsync fails
// with [ErrSchemaTooNew] rather than being modified.
package sqlite
