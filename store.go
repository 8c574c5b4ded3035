package calsync

import (
	"context"
	"time"
)

// Store persists calendars, their events, their sync state and their
// subscriptions. calsync ships store/memory, store/sqlite and
// store/postgres; host applications may implement their own and check it
// with store/storetest.
//
// Every method must be safe for concurrent use. Methods that look up one
// thing return an error wrapping [ErrNotFound] when it does not exist.
// Returned values belong to the caller; a Store must not keep or modify
// slices or pointers it was given or has returned.
//
// Times are kept to at least microsecond precision and may come back in
// another location (compare with time.Time.Equal). Event.Raw comes back as
// equal JSON, not necessarily byte-identical. A Store sets Event.CalendarID
// to the calendar the event is stored under.
//
// A Store may also implement optional capabilities, which the Engine
// detects with a type assertion and does without when they are missing:
// [Ledger] (deduplicates redelivered notifications across instances),
// [DeadLetters] (retries that survive a restart, and the dead letters),
// [Leases] (one instance of several renews a subscription) and
// [ChangeFeed] (every committed change, durably ordered, delivered at
// least once). store/memory, store/sqlite and store/postgres implement
// all of them; store/storetest checks every capability a Store
// implements.
type Store interface {
	// PutCalendar creates a calendar, or replaces its fields; replacing keeps
	// the calendar's events, sync state and subscriptions.
	PutCalendar(ctx context.Context, cal Calendar) error
	// Calendar returns the calendar with the given id.
	Calendar(ctx context.Context, id string) (Calendar, error)
	// ListCalendars returns every calendar, ordered by id.
	ListCalendars(ctx context.Context) ([]Calendar, error)
	// DeleteCalendar removes a calendar with its events, sync state and
	// subscriptions.
	DeleteCalendar(ctx context.Context, id string) error

	// SyncState returns the calendar's sync state; the zero SyncState for a
	// calendar that was never synced. It returns ErrNotFound if the calendar
	// does not exist.
	SyncState(ctx context.Context, calendarID string) (SyncState, error)
	// Apply applies a batch of changes and writes b.State, atomically: after
	// a failure (or a crash) neither the changes nor the state are visible.
	// See [Batch] for the rules. It returns ErrNotFound if the calendar does
	// not exist, and ErrConflict if b.Expect is set and the stored
	// SyncState is not the expected one.
	Apply(ctx context.Context, calendarID string, b *Batch) (*ApplyResult, error)
	// Event returns one event.
	Event(ctx context.Context, calendarID, eventID string) (Event, error)
	// ListEvents returns up to limit events of the calendar whose id sorts
	// after afterID (byte order), ordered by id. Pass "" to start.
	ListEvents(ctx context.Context, calendarID, afterID string, limit int) ([]Event, error)

	// PutSubscription creates or replaces a subscription.
	PutSubscription(ctx context.Context, sub Subscription) error
	// Subscription returns the subscription with the given id.
	Subscription(ctx context.Context, id string) (Subscription, error)
	// ListSubscriptions returns the calendar's subscriptions, ordered by id.
	ListSubscriptions(ctx context.Context, calendarID string) ([]Subscription, error)
	// ExpiringSubscriptions returns every subscription whose expiration is
	// before t, ordered by expiration.
	ExpiringSubscriptions(ctx context.Context, before time.Time) ([]Subscription, error)
	// DeleteSubscription removes a subscription.
	DeleteSubscription(ctx context.Context, id string) error
}

// SyncState is where a calendar's sync stands.
type SyncState struct {
	// Cursor is the incremental-sync cursor (Google sync token, Graph delta
	// link); empty until a full sync has completed, and while one runs.
	Cursor string
	// PageToken is the position inside a multi-page sync that is under way,
	// so that a sync interrupted by a crash resumes where it stopped.
	PageToken string
	// Generation is non-zero while a full sync is under way: the mark
	// stamped on every event the full sync has seen (see [Batch]).
	Generation int64
	// LastSync is when a sync last completed.
	LastSync time.Time
	// Unavailable is non-empty when the provider refused the calendar for
	// good (ErrCalendarUnavailable: deleted, or access lost): it says why.
	// The Engine then makes no provider call for the calendar (no sync, no
	// renewal) until the host connects it again or disconnects it.
	// Batch.Expect does not compare it.
	Unavailable string
}

// FullSync reports whether the state is that of a full sync (not started,
// or under way).
func (s SyncState) FullSync() bool { return s.Cursor == "" }

// Batch is one page of changes for one calendar, applied by [Store.Apply] in
// one transaction together with the calendar's new SyncState.
//
// The rules every Store follows:
//
//   - A batch is invalid, and Apply returns an error and changes nothing,
//     if a change has an empty EventID, an Op other than Upsert or Delete,
//     an Upsert has a nil Event or an Event whose ID is not EventID, or
//     Sweep is set with a zero Generation.
//   - Changes are applied in order.
//   - Last write wins by Event.Updated: an Upsert, or a Delete whose Event
//     has a non-zero Updated, strictly older than the stored event's
//     Updated is skipped and counted in ApplyResult.Stale, never applied.
//     An equal Updated with a different ETag applies.
//   - An Upsert whose Updated and ETag equal the stored event's changes
//     nothing and is not reported.
//   - An applied Upsert sets the event's Version: 1 when the event is
//     created, one more than the stored Version when it is replaced. A
//     Delete of an event that is not stored is still reported (deletions
//     are idempotent).
//   - If Generation is non-zero, every event the batch upserts, or finds
//     unchanged or stale, is stamped with Generation.
//   - After the changes, every stored event whose RecurringEventID is the
//     id of an event the batch leaves deleted (its last applied change is
//     a Delete) is deleted too, and reported as a Delete after the
//     changes: the exceptions of a deleted series (a cancelled exception
//     is kept as an event for the life of its series; the provider does
//     not list it again when the series goes).
//   - If Sweep is set, after the changes every event of the calendar whose
//     stamp is not Generation is deleted and reported as a Delete. This is
//     how a full sync removes events the provider no longer has.
//   - If Expect is non-nil, Apply first compares the stored SyncState's
//     Cursor, PageToken and Generation with Expect's (LastSync is not
//     compared); if any differs it returns an error wrapping [ErrConflict]
//     and changes nothing. The comparison and the writes are one
//     transaction: of concurrent Applies expecting the same state, from
//     any number of processes, at most one succeeds. A nil Expect applies
//     whatever the stored state.
//   - State replaces the calendar's SyncState.
type Batch struct {
	// Changes to apply, in order.
	Changes []Change
	// State is the calendar's new sync state.
	State SyncState
	// Generation is the full-sync mark; zero outside full syncs.
	Generation int64
	// Sweep deletes events not stamped with Generation.
	Sweep bool
	// Expect, when non-nil, is the SyncState the batch was computed from:
	// the Engine sets it to the state its sync read or last wrote, so that
	// two instances of the host app syncing one calendar at once cannot
	// overwrite each other's cursors or sweep each other's full syncs. The
	// one whose state is stale gets ErrConflict and re-reads the state.
	//
	// A Store written before Expect existed ignores it; such a Store is
	// only safe when a single instance (one Engine) uses the database.
	Expect *SyncState
	// Complete, when non-nil, is notification bookkeeping to commit in
	// the same transaction as the changes and the state: the Engine sets
	// it on the last page of a sync that a notification asked for, so that
	// the notification is marked done exactly when what it announced is
	// committed (a crash cannot separate the two) and one notification
	// costs one write transaction fewer. A Store that honours it sets
	// ApplyResult.Completed; one that ignores it (written before Complete
	// existed, or not a Ledger and DeadLetters) leaves Completed false and
	// the Engine does the bookkeeping itself after the Apply.
	Complete *Completion
}

// Completion is the notification bookkeeping an Apply commits with its
// changes (see Batch.Complete). A Store that implements [Ledger] marks
// every key of Notifications done at At, as CompleteNotification does,
// ignoring keys it does not hold (never begun, or pruned); one that
// implements [DeadLetters] deletes the retry record ClearAttempt names,
// if there is one. Neither makes Apply fail when there is nothing to
// mark or delete.
type Completion struct {
	// Notifications are ledger keys to mark done.
	Notifications []string
	// ClearAttempt is the work id whose retry record ([Attempt]) to
	// delete; empty deletes none.
	ClearAttempt string
	// At is when the notifications are done.
	At time.Time
}

// ApplyResult is what [Store.Apply] did.
type ApplyResult struct {
	// Applied are the changes that took effect, in order, followed by the
	// deletions of a sweep. Upserts carry the stored Event (with its new
	// Version).
	Applied []Change
	// Stale counts the changes skipped because the store held a newer
	// version of the event.
	Stale int
	// Seq is the [ChangeFeed] sequence number of the entry the Apply wrote
	// for the last of Applied, for a Store that implements ChangeFeed;
	// zero when Applied is empty or the Store keeps no feed.
	Seq int64
	// Completed reports that the Store committed Batch.Complete in the
	// Apply's transaction. It is false when Complete was nil.
	Completed bool
}
