// Package storetest is the conformance suite for [calsync.Store]
// implementations. It is an ordinary package, not a _test.go file, so that
// host applications can check their own Store with it, the way calsync
// checks store/memory, store/sqlite and store/postgres:
//
//	func TestStore(t *testing.T) {
//		storetest.Run(t, func(t *testing.T) calsync.Store {
//			return mystore.Open(t, ...)
//		}, storetest.Features{})
//	}
//
//	func BenchmarkStore(b *testing.B) {
//		storetest.Bench(b, func(b *testing.B) calsync.Store { return mystore.Open(b, ...) })
//	}
//
// # What it checks
//
// [Run] runs one subtest per rule written in the [calsync.Store] and
// [calsync.Batch] documentation: calendars, sync state, upserts and deletes
// with every Event field, versions, last-write-wins, atomicity of Apply,
// full-sync generations and sweeps, keyset pagination of events,
// subscriptions, ownership of values (copies in and out), concurrent
// writers, cancelled contexts, and optimistic concurrency on the sync
// state (Batch.Expect: a stale Expect fails with calsync.ErrConflict and
// changes nothing; of concurrent Applies expecting one state exactly one
// wins). Errors that mean "does not exist" are
// checked with errors.Is(err, calsync.ErrNotFound).
//
// The optional capabilities ([calsync.Ledger], [calsync.DeadLetters],
// [vault.Accounts], [calsync.AccountStore], [calsync.Leases],
// [calsync.ChangeFeed]) are found by
// type assertion, as the Engine finds them: a Store that implements one is
// checked as one, and the subtests of those it does not implement are
// skipped. They check the notification ledger's claims (exactly one of
// concurrent claimers wins, failed entries can be claimed again) and
// pruning by age; retry attempts, due attempts, dead letters (add, list,
// replay, delete); encrypted account tokens kept byte for byte; leases
// (acquire, extension by the owner, takeover at expiry, release by the
// owner only, exactly one winner among concurrent owners); the change
// feed (one entry per applied change, sweep deletions included, with the
// Seq Apply reports; none for a failed Apply; never a page's events
// without its entries or the reverse; a reader following the feed from
// its last Seq while many goroutines apply never misses an entry;
// consumer positions that only move forward; pruning by position and by
// age, with Seqs never reused). FeedPrune prunes the whole feed, so it
// runs alone even with [Features.Parallel]. The suite also checks that a full sync interrupted
// by a crash resumes from its stored SyncState, and that readers never see
// a cursor without its events or events without their cursor.
//
// Event.Raw is compared as JSON values, not bytes: a Store may normalise it
// (store/postgres keeps it as jsonb, which drops insignificant whitespace
// and reorders keys), and calsync promises host applications only the same
// JSON value back. store/memory and store/sqlite happen to return the
// exact bytes.
//
// Each subtest gets a fresh Store from newStore and namespaces its data
// (calendar and subscription ids carry a per-run, per-subtest prefix), so a
// newStore that hands out the same database to every subtest works too,
// even with [Features.Parallel]. Register cleanup with t.Cleanup in
// newStore.
//
// The suite never sleeps. Run it with -race: the concurrency subtest is
// meant to expose data races.
//
// # Benchmarks
//
// [Bench] measures applying 10,000 changes in 40 batches of 250 (inserts,
// updates, a full resync with sweep) and paging through 10,000 events, and
// reports changes/s, so stores can be compared in one run.
package storetest
