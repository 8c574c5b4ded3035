package calsync

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// Health is what the Engine knows of one calendar's recent syncs in this
// process, with counts that tests and dashboards use to see what one
// calendar costs.
type Health struct {
	// LastAttempt is when the last sync started.
	LastAttempt time.Time
	// LastSuccess is when a sync last completed without error.
	LastSuccess time.Time
	// LastError is the error of the last sync, nil if it succeeded.
	LastError error
	// ConsecutiveFailures counts failed syncs since the last success.
	ConsecutiveFailures int
	// Syncs counts the syncs this Engine ran of the calendar, and
	// FullSyncs the successful ones that listed it whole.
	Syncs, FullSyncs int64
	// Changes counts the changes this Engine committed for the calendar.
	Changes int64
	// ProviderCalls counts the provider calls this Engine made about the
	// calendar (Fetch pages, Watch, Renew, Reauthorize, Stop), each once
	// however often the HTTP transport retried it. A calendar that costs
	// many calls per change is in a loop worth looking at.
	ProviderCalls int64
}

// WaitIdle returns when every notification this Engine has enqueued has
// been handled by Run's workers (processed, folded or failed and recorded
// for retry) and no sync runs in this Engine, or with ctx's error. While
// Run's change-feed consumer delivers to OnChange (Stores that implement
// [ChangeFeed]), it also waits until OnChange has received what the feed
// held when the consumer started and every change this Engine committed
// (to wait for a backlog right after starting Run, enqueue a notification
// first: once a worker has handled it, the consumer has started).
// It is meant for tests (the host's too): after driving the providers,
// wait for calsync to settle instead of sleeping or polling. It knows only
// this Engine's work: notifications queued by another instance, or
// processed by a host's own consumer calling Process, are not waited for,
// nor are deliveries another instance sharing the FeedConsumer makes;
// retries scheduled for later are not either (run SweepRetry once they
// are due).
//
// With a [QueueRunner], it waits instead until the queue holds no job that
// is waiting or running in any instance (QueueRunner.Unfinished; retries
// scheduled for later excluded), no sync runs in this Engine and the feed
// consumer has delivered, looking at the queue every 20 ms.
func (e *Engine) WaitIdle(ctx context.Context) error {
	if r, ok := e.cfg.Queue.(QueueRunner); ok {
		return e.waitQueueIdle(ctx, r)
	}
	for {
		idle, changed := e.obs.idle()
		if idle {
			return nil
		}
		select {
		case <-changed:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// Health returns the calendar's health as seen by this Engine; ok is false
// if this Engine has not synced the calendar.
func (e *Engine) Health(calendarID string) (h Health, ok bool) {
	return e.obs.calendarHealth(calendarID)
}

// Stats are counters of what an Engine has done since it was created.
type Stats struct {
	// Enqueued counts notifications accepted by Enqueue.
	Enqueued int64
	// Handled counts queued notifications Run's workers have finished
	// with (processed, recognised as duplicates, or failed). When it equals
	// Enqueued, the queue is drained and nothing is being processed.
	Handled int64
	// Processed counts notifications processed (duplicates excluded).
	Processed int64
	// Duplicates counts notifications the dedup ledger recognised.
	Duplicates int64
	// Syncs counts syncs run (incremental and full).
	Syncs int64
	// FullSyncs counts syncs that listed the whole calendar.
	FullSyncs int64
	// Changes counts changes committed to the Store.
	Changes int64
	// Stale counts changes skipped by last-write-wins.
	Stale int64
	// Failures counts failed syncs and renewals.
	Failures int64
	// DeadLetters counts notifications moved to the dead letters.
	DeadLetters int64
}

// Stats returns the Engine's counters.
func (e *Engine) Stats() Stats {
	return e.obs.stats()
}

// CalendarHealth is the health of one calendar as read from the Store
// (shared by every instance) and this Engine's own observations.
type CalendarHealth struct {
	// Calendar is the calendar.
	Calendar Calendar
	// LastSync is when a sync of the calendar last completed, by any
	// instance sharing the Store.
	LastSync time.Time
	// CursorAge is how long ago that was: how stale the local copy may be
	// if pushes have stopped. Zero when the calendar never synced.
	CursorAge time.Duration
	// FullSyncInProgress is true while a full sync is under way (or was
	// interrupted and will resume).
	FullSyncInProgress bool
	// Unavailable is non-empty when the provider refused the calendar for
	// good (deleted, or access lost): why. Nothing is synced or renewed
	// until the host connects it again (Connect) or disconnects it.
	Unavailable string
	// AccountStatus is the status of the calendar's account (a Store that
	// implements [AccountStore]; AccountActive otherwise, and for an
	// account the Store keeps no record of). With AccountNeedsReauth
	// nothing is synced or renewed until the user reconnects.
	AccountStatus AccountStatus
	// SubscriptionExpiry is the latest expiration among the calendar's
	// subscriptions; zero if it has none.
	SubscriptionExpiry time.Time
	// Local is this Engine's view: last attempt, last success, last error.
	// Zero if this Engine has not synced the calendar.
	Local Health
}

// CalendarHealth returns the health of a calendar.
func (e *Engine) CalendarHealth(ctx context.Context, calendarID string) (CalendarHealth, error) {
	cal, err := e.cfg.Store.Calendar(ctx, calendarID)
	if err != nil {
		return CalendarHealth{}, fmt.Errorf("calsync: health %s: %w", calendarID, err)
	}
	st, err := e.cfg.Store.SyncState(ctx, calendarID)
	if err != nil {
		return CalendarHealth{}, fmt.Errorf("calsync: health %s: %w", calendarID, err)
	}
	subs, err := e.cfg.Store.ListSubscriptions(ctx, calendarID)
	if err != nil {
		return CalendarHealth{}, fmt.Errorf("calsync: health %s: %w", calendarID, err)
	}
	h := CalendarHealth{Calendar: cal, LastSync: st.LastSync, FullSyncInProgress: st.FullSync() && st.Generation != 0, Unavailable: st.Unavailable,
		AccountStatus: AccountActive}
	if as, ok := e.accountStore(); ok && cal.AccountID != "" {
		a, err := as.Account(ctx, cal.AccountID)
		if err != nil && !errors.Is(err, ErrNotFound) {
			return CalendarHealth{}, fmt.Errorf("calsync: health %s: %w", calendarID, err)
		}
		if err == nil {
			h.AccountStatus = a.Status
		}
	}
	if !st.LastSync.IsZero() {
		h.CursorAge = e.cfg.Now().Sub(st.LastSync)
	}
	for _, s := range subs {
		if s.Expiration.After(h.SubscriptionExpiry) {
			h.SubscriptionExpiry = s.Expiration
		}
	}
	h.Local, _ = e.Health(calendarID)
	return h, nil
}

// waitQueueIdle is WaitIdle with a QueueRunner, whose jobs any instance
// may work: the queue is asked, at intervals.
func (e *Engine) waitQueueIdle(ctx context.Context, r QueueRunner) error {
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		_, changed := e.obs.idle()
		if e.obs.active.Load() == 0 && e.obs.feedIdle() {
			n, err := r.Unfinished(ctx)
			if err != nil {
				return fmt.Errorf("calsync: WaitIdle: %w", err)
			}
			if n == 0 {
				return nil
			}
		}
		select {
		case <-changed:
		case <-tick.C:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}
