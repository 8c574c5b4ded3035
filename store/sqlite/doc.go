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
// [calsync.DeadLetters], [vault.Accounts] and [calsync.Leases].
//
//   - The database runs in WAL mode (readers never wait for the writer) with
//     a busy timeout ([Config].BusyTimeout) and foreign keys on.
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
//   - Times are stored as integer nanoseconds: every time.Time in the
//     years 1678–2262 round-trips exactly (the time zone is not kept; times
//     come back in UTC). Event.Raw is stored and returned byte for byte.
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
