// Package memory is an in-memory [calsync.Store], for tests and for trying
// calsync out. Nothing survives the process.
//
// # Use
//
//	st := memory.New()
//	eng, err := calsync.NewEngine(calsync.Config{Store: st, Providers: ...})
//
// # Behaviour
//
// A [Store] follows every rule of [calsync.Store] and [calsync.Batch] and
// passes store/storetest. It is safe for concurrent use: one mutex guards
// everything, so writers of different calendars wait for each other. Values
// are deep-copied on the way in and on the way out, so callers may keep and
// modify whatever they pass or receive.
//
// [calsync.Store.Apply] validates the whole batch before changing anything,
// so a batch with an invalid change (an Upsert without an Event, an Event
// whose ID is not the Change's EventID, an empty EventID, an unknown
// operation) returns an error and leaves the store as it was.
//
// It implements every optional capability, the [calsync.ChangeFeed]
// included: Apply appends its entries under the lock it applies under, so
// Seqs follow commit order. FeedEntry.Committed and PruneFeed's age use
// time.Now.
//
// # Cost
//
// Event lookups and writes are map operations. [Store.ListEvents] keeps a
// sorted slice of each calendar's event ids, rebuilt lazily after inserts or
// deletions, so paging through a calendar after a sync costs one sort plus
// O(log n + limit) per page. A sweep visits every event of the calendar.
package memory
