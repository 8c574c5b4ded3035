package calsync

import (
	"context"
	"time"
)

// Optional Store capabilities.
//
// A Store may implement any of the interfaces below in addition to [Store].
// Callers detect them with a type assertion and fall back to doing without:
//
//	if l, ok := store.(calsync.Ledger); ok { ... }
//
// store/memory, store/sqlite and store/postgres implement all of them;
// store/storetest checks each one a Store declares in its Features. Every
// method must be safe for concurrent use, and lookups of one thing return an
// error wrapping [ErrNotFound] when it does not exist.

// Ledger is the notification deduplication ledger. The Engine records a
// notification's key (built from the provider's message identity, never
// from its arrival time) before processing it, so that a redelivered or
// duplicated notification is recognised, even by another instance sharing
// the Store.
//
// An entry is in progress after BeginNotification, done after
// CompleteNotification, and failed after FailNotification. A failed entry
// can be begun again (the retry claims it); an in-progress or done one
// cannot. An entry left in progress by a process that died stays "seen"
// until pruned: that is safe, because a notification carries no event data
// and the Engine's catch-up sync after a restart fetches whatever it
// announced.
type Ledger interface {
	// BeginNotification claims key at now. It reports seen = true, and
	// changes nothing, when key is already in progress or done; otherwise
	// (new, or failed) it records key as in progress at now and reports
	// false. Exactly one of several concurrent callers with the same key
	// gets false.
	BeginNotification(ctx context.Context, key string, now time.Time) (seen bool, err error)
	// CompleteNotification marks key done. It returns ErrNotFound if key
	// was never begun (or has been pruned).
	CompleteNotification(ctx context.Context, key string, now time.Time) error
	// FailNotification marks key failed, so that the next
	// BeginNotification claims it again. It returns ErrNotFound if key was
	// never begun (or has been pruned).
	FailNotification(ctx context.Context, key string, now time.Time) error
	// PruneNotifications deletes the entries last begun before olderThan,
	// whatever their state, and returns how many it deleted.
	PruneNotifications(ctx context.Context, olderThan time.Time) (int, error)
}

// Attempt is the retry record of a notification whose processing failed.
type Attempt struct {
	// ID identifies the work item (usually the notification's ledger key).
	ID string
	// Notification is what to process again.
	Notification Notification
	// Attempts counts the failed attempts so far.
	Attempts int
	// LastError is the message of the last failure. It must not contain
	// secrets; Stores keep it as given.
	LastError string
	// FirstFailed and LastFailed are when the first and the last attempt
	// failed.
	FirstFailed, LastFailed time.Time
	// NextAttempt is when the next attempt is due.
	NextAttempt time.Time
}

// DeadLetter is a notification that failed too often and is kept, with its
// last error, until someone replays or deletes it.
type DeadLetter struct {
	// ID identifies the work item, as in [Attempt].
	ID string
	// Notification is what to replay.
	Notification Notification
	// Attempts counts the failed attempts.
	Attempts int
	// LastError is the message of the last failure.
	LastError string
	// FirstFailed and LastFailed are when the first and the last attempt
	// failed.
	FirstFailed, LastFailed time.Time
}

// DeadLetters keeps retry attempts and the dead-letter store.
//
// A failed notification is recorded with RecordAttempt (which counts
// attempts and schedules the next one); a success clears it with
// ClearAttempt; after too many attempts AddDeadLetter moves it to the dead
// letters. To replay a dead letter, enqueue its Notification again and
// DeleteDeadLetter it.
type DeadLetters interface {
	// RecordAttempt records one more failed attempt of the work item id:
	// it creates the record (Attempts 1, FirstFailed at) or increments
	// Attempts, and sets Notification, LastError, LastFailed = at and
	// NextAttempt = next. It returns the updated record.
	RecordAttempt(ctx context.Context, id string, n Notification, lastErr string, at, next time.Time) (Attempt, error)
	// Attempt returns the retry record of id.
	Attempt(ctx context.Context, id string) (Attempt, error)
	// DueAttempts returns up to limit records whose NextAttempt is not
	// after t, ordered by NextAttempt then ID, so that retries survive a
	// restart.
	DueAttempts(ctx context.Context, t time.Time, limit int) ([]Attempt, error)
	// ClearAttempt deletes the retry record of id; clearing one that does
	// not exist is not an error.
	ClearAttempt(ctx context.Context, id string) error
	// AddDeadLetter stores d, replacing a dead letter with the same ID, and
	// deletes the retry record with that ID, in one transaction.
	AddDeadLetter(ctx context.Context, d DeadLetter) error
	// DeadLetter returns one dead letter.
	DeadLetter(ctx context.Context, id string) (DeadLetter, error)
	// ListDeadLetters returns up to limit dead letters whose ID sorts after
	// afterID (byte order), ordered by ID. Pass "" to start.
	ListDeadLetters(ctx context.Context, afterID string, limit int) ([]DeadLetter, error)
	// DeleteDeadLetter deletes one dead letter (after a replay, or to
	// discard it).
	DeleteDeadLetter(ctx context.Context, id string) error
}

// Leases are named, time-limited locks that instances sharing the Store
// take so that a piece of work runs in exactly one of them. The Engine
// takes the lease "renew/"+subscription id before renewing a subscription
// (see [RenewLeaseTTL]), so that two instances sweeping at the same time do
// not both renew it.
//
// A lease is held by one owner until it expires or its owner releases it;
// an owner that dies simply lets it expire. Expiry is decided with the
// callers' clocks (the now they pass), so the instances' clocks must agree
// to well within the lease lengths they use.
type Leases interface {
	// AcquireLease takes the lease name for owner until now+ttl and
	// reports whether it did. It succeeds when nobody holds name, when the
	// lease has expired (its expiry is not after now), or when owner
	// already holds it (the lease is then extended to now+ttl). Otherwise
	// another owner holds it: it reports false and changes nothing. Of
	// several concurrent callers with different owners for a lease that is
	// free, exactly one gets true. An empty name or owner is an error.
	AcquireLease(ctx context.Context, name, owner string, now time.Time, ttl time.Duration) (acquired bool, err error)
	// ReleaseLease gives up the lease name if owner holds it (expired or
	// not), so that another owner can take it at once. Releasing a lease
	// that owner does not hold (never taken, released already, or taken
	// over by another owner after it expired) is not an error and changes
	// nothing.
	ReleaseLease(ctx context.Context, name, owner string) error
}
