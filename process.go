package calsync

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// Process handles one notification: it skips one the ledger has seen
// (when the Store is a [Ledger]), runs what the notification asks for
// (usually an incremental sync, coalesced with any sync of that calendar
// under way), and on failure records an attempt so that it is retried
// after 2^attempt minutes, moving it to the dead letters after
// Config.MaxAttempts (when the Store is a [DeadLetters]). Run calls it;
// hosts with their own Queue consumer may call it directly. It returns the
// processing error, already recorded.
func (e *Engine) Process(ctx context.Context, n Notification) error {
	return e.track(ctx, n, false)
}

// track is Process; retry is set for a due attempt, which the ledger must
// not skip: its entry may have been left in progress or done by a failure
// to record the previous outcome, and the attempt record is the claim.
func (e *Engine) track(ctx context.Context, n Notification, retry bool) error {
	return e.handle(ctx, n, retry, func(dl DeadLetters, cause error, now time.Time) {
		e.recordFailure(ctx, dl, n, cause, now, retry)
	})
}

// handle processes n and keeps the ledger; a failure (not a shutdown) is
// handed to failed, with the Store's DeadLetters (nil if it keeps none).
// retry is set for a repeated attempt, which the ledger must not skip.
func (e *Engine) handle(ctx context.Context, n Notification, retry bool, failed func(dl DeadLetters, cause error, now time.Time)) error {
	key := n.dedupKey()
	ledger, _ := e.cfg.Store.(Ledger)
	if ledger != nil && key != "" && !retry {
		seen, err := ledger.BeginNotification(ctx, key, e.cfg.Now())
		if err != nil {
			// Without the ledger a duplicate costs one cheap sync; losing
			// the notification would cost data. Go on.
			e.log.WarnContext(ctx, "calsync: dedup ledger unavailable", "calendar", n.CalendarID, "err", err)
			ledger = nil
		} else if seen {
			e.obs.duplicate(ctx, n)
			return nil
		}
	}
	dl, _ := e.cfg.Store.(DeadLetters)
	id := n.workID()
	if retry {
		e.attempts.Store(id, struct{}{}) // the due record exists
	}
	// The bookkeeping of a successful notification (ledger entry done,
	// retry record gone) rides on the last Apply of the sync it runs, in
	// that Apply's transaction (Batch.Complete); done says whether a
	// Store honoured it.
	var done *completion
	if (ledger != nil && key != "") || dl != nil {
		done = &completion{}
		if ledger != nil && key != "" {
			done.c.Notifications = []string{key}
		}
		if dl != nil {
			done.c.ClearAttempt = id
		}
	}
	ran, err := e.perform(ctx, n, done)
	now := e.cfg.Now()
	completed := done != nil && done.written
	if completed && done.c.ClearAttempt != "" {
		e.attempts.Delete(id)
	}
	// A sync folded into one under way, or that committed no Apply of
	// its own (unknown or parked calendar), or a Store that ignores
	// Batch.Complete: mark the entry here. A failure after a completed
	// Apply (a follow-up run for folded notifications failed) marks it
	// failed again, so that a redelivery is processed.
	if ledger != nil && key != "" && (err != nil || !completed) {
		mark := ledger.CompleteNotification
		if err != nil {
			mark = ledger.FailNotification
		}
		if lerr := mark(context.WithoutCancel(ctx), key, now); lerr != nil && !errors.Is(lerr, ErrNotFound) {
			e.log.WarnContext(ctx, "calsync: dedup ledger", "calendar", n.CalendarID, "err", lerr)
		}
	}
	if dl != nil && err == nil {
		// No DELETE for a record that cannot exist: only one this Engine
		// recorded, or the due one a retry runs for. (A record another
		// instance made is cleared by the Applies of its calendar's syncs,
		// or by its retry.)
		if _, maybe := e.attempts.Load(id); maybe && !completed {
			if cerr := dl.ClearAttempt(ctx, id); cerr != nil && !errors.Is(cerr, ErrNotFound) {
				e.log.WarnContext(ctx, "calsync: clear attempt", "calendar", n.CalendarID, "err", cerr)
			} else {
				e.attempts.Delete(id)
			}
		}
	} else if err != nil && !interrupted(ctx) {
		failed(dl, err, now)
	}
	e.obs.notificationDone(ctx, n, ran, err, now)
	return err
}

// completion is a notification's bookkeeping for the sync it runs:
// syncOnce sets it on the last page's Batch until a Store reports it
// written in an Apply's transaction.
type completion struct {
	c       Completion
	written bool
}

// process does what a notification asks: renew or recreate the
// subscription for lifecycle notifications, then an incremental sync of the
// calendar, coalesced with any sync of it under way. ran is false when the
// sync was folded into one under way (which will run once more for it).
// done, if not nil, is committed with the sync's last page.
func (e *Engine) perform(ctx context.Context, n Notification, done *completion) (ran bool, err error) {
	cal, err := e.cfg.Store.Calendar(ctx, n.CalendarID)
	if err != nil {
		if errors.Is(err, ErrNotFound) {
			// Disconnected meanwhile: nothing to do, nothing to retry.
			e.log.WarnContext(ctx, "calsync: notification for unknown calendar", "calendar", n.CalendarID, "subscription", n.SubscriptionID)
			return true, nil
		}
		return true, fmt.Errorf("calsync: process: %w", err)
	}
	switch n.Kind {
	case SubscriptionRemoved, ReauthorizationRequired:
		if err := e.readParkedErr(ctx, cal); err != nil {
			if isParked(err) {
				return true, nil
			}
			return true, err
		}
		// The sync below covers the gap; a full one if the subscription
		// turned out to be gone.
		if err := e.resubscribeLeased(ctx, cal, n.SubscriptionID, n.Kind); err != nil {
			e.fail(ctx, cal, err)
			return true, err
		}
	}
	ran = e.syncs.Do(cal.ID, func() error {
		_, err = e.syncOnceWith(ctx, cal, done)
		return err
	}, func(err error) { e.fail(ctx, cal, err) })
	if isParked(err) {
		return ran, nil // nothing to do until the host or the user acts
	}
	return ran, err
}

// dedupKey is the ledger key of a notification: the provider's message
// identity, never its arrival. Only change notifications are deduplicated.
// Notifications without a message id (catch-up and safety-net syncs) are
// not, nor are lifecycle ones: Graph gives those no id, so two separate
// "missed" notifications of one subscription look alike and skipping the
// second would skip the resync it asks for; processing a redelivered one
// again costs one incremental sync or one renewal.
func (n Notification) dedupKey() string {
	if n.MessageID == "" || n.Kind != Changed {
		return ""
	}
	return n.Provider + "|" + n.MessageID
}

// workID identifies a notification in the attempts and dead-letter stores.
// Every notification that asks for a sync of a calendar shares one: a
// retry syncs the calendar, which fetches whatever any of them announced,
// so a calendar that fails in an outage has one retry schedule and at most
// one dead letter however many notifications it received (Google sends up
// to three per change).
func (n Notification) workID() string {
	if key := n.SyncKey(); key != "" {
		return key + "|sync"
	}
	return fmt.Sprintf("%s|%s|%s", n.Provider, n.CalendarID, n.Kind)
}
