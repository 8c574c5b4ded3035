package calsync

import (
	"context"
	"time"
)

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
