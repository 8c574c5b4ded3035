package calsync

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// renewExpiring renews every subscription that expires within
// Config.RenewBefore (SweepRenew; see RunSweep). The count includes only
// this Engine's renewals.
func (e *Engine) renewExpiring(ctx context.Context) (int, error) {
	due := e.cfg.Now().Add(e.cfg.RenewBefore)
	subs, err := e.cfg.Store.ExpiringSubscriptions(ctx, due)
	if err != nil {
		return 0, fmt.Errorf("calsync: renew: %w", err)
	}
	var (
		n    int
		errs []error
	)
	for _, s := range subs {
		renewed, err := e.renewSubscription(ctx, s.ID, due)
		if err != nil {
			errs = append(errs, err)
		}
		if renewed {
			n++
		}
	}
	e.alertExpiring(ctx)
	return n, errors.Join(errs...)
}

// renewSubscription renews or replaces subscription id if it still
// expires before due once its calendar's subscription lease is taken,
// then syncs the calendar if the replacement may have missed changes. It
// reports whether this call renewed it. Nothing is done for a parked
// calendar or account.
func (e *Engine) renewSubscription(ctx context.Context, id string, due time.Time) (bool, error) {
	// Another instance, or another goroutine of this one, may have
	// renewed or replaced it since the list was read: it is read
	// again under its calendar's subscription lease.
	cur, release, held, err := e.leaseSubscription(ctx, id)
	switch {
	case held:
		e.log.DebugContext(ctx, "calsync: renewal skipped: its calendar's subscriptions are being changed elsewhere", "subscription", id)
		return false, nil
	case errors.Is(err, ErrNotFound):
		e.log.DebugContext(ctx, "calsync: renewal skipped: subscription already replaced", "subscription", id)
		return false, nil
	case err != nil:
		return false, fmt.Errorf("calsync: renew %s: %w", id, err)
	case !cur.Expiration.Before(due):
		release()
		e.log.DebugContext(ctx, "calsync: renewal skipped: subscription already renewed", "subscription", id)
		return false, nil
	}
	cal, err := e.cfg.Store.Calendar(ctx, cur.CalendarID)
	if err != nil {
		release()
		return false, fmt.Errorf("calsync: renew %s: %w", id, err)
	}
	if err := e.readParkedErr(ctx, cal); err != nil {
		// No provider call for a parked calendar.
		release()
		if isParked(err) {
			return false, nil
		}
		return false, err
	}
	syncNeeded, err := e.resubscribe(ctx, cal, cur, 0)
	release()
	if err != nil {
		if errors.Is(err, ErrCalendarUnavailable) {
			e.park(ctx, cal, err)
		}
		e.fail(ctx, cal, err)
		return false, err
	}
	if syncNeeded {
		// The old subscription is stopped (or was gone): what it
		// announced last, or lost, is fetched now. If this sync
		// fails, retry it like a failed notification rather than
		// wait for the safety net.
		var last error
		e.syncs.Do(cal.ID, func() error {
			_, last = e.syncOnce(ctx, cal)
			return last
		}, func(err error) { e.fail(ctx, cal, err) })
		if last != nil {
			e.retryFolded(ctx, cal, last)
		}
	}
	return true, nil
}

// resubscribeLeased runs resubscribe for a lifecycle notification under
// the calendar's subscription lease, so that it never races a renewal
// sweep, Connect, Disconnect or a redelivery of the same notification, in
// this instance or another. If someone else holds the lease it returns an
// error wrapping ErrConflict, and the notification is retried later, when
// the subscription has been renewed or replaced. A subscription no longer
// stored (replaced by an earlier lifecycle notification or a renewal, or
// removed) is left alone: the caller's sync still runs.
func (e *Engine) resubscribeLeased(ctx context.Context, cal Calendar, id string, kind NotificationKind) error {
	old, release, held, err := e.leaseSubscription(ctx, id)
	switch {
	case held:
		return fmt.Errorf("calsync: %s for subscription %s: its calendar's subscriptions are being changed elsewhere: %w", kind, id, ErrConflict)
	case errors.Is(err, ErrNotFound):
		e.log.InfoContext(ctx, "calsync: lifecycle notification for a subscription no longer stored", "calendar", cal.ID, "subscription", id, "kind", kind.String())
		return nil
	case err != nil:
		return fmt.Errorf("calsync: %s for subscription %s: %w", kind, id, err)
	}
	defer release()
	_, err = e.resubscribe(ctx, cal, old, kind)
	return err
}

// alertExpiring raises an alert for every subscription that, after a
// renewal sweep, still expires within AlertExpiryWithin.
func (e *Engine) alertExpiring(ctx context.Context) {
	now := e.cfg.Now()
	subs, err := e.cfg.Store.ExpiringSubscriptions(ctx, now.Add(e.cfg.Alerts.ExpiryWithin))
	if err != nil {
		return
	}
	for _, s := range subs {
		if st, err := e.cfg.Store.SyncState(ctx, s.CalendarID); err == nil && st.Unavailable != "" {
			continue // parked: reported when it was parked
		}
		e.obs.raise(ctx, Alert{
			Kind: AlertSubscriptionExpiring, CalendarID: s.CalendarID, SubscriptionID: s.ID, At: now,
			Value: s.Expiration.Sub(now).Seconds(), Threshold: e.cfg.Alerts.ExpiryWithin.Seconds(),
			Message: fmt.Sprintf("subscription %s of calendar %s expires at %s and could not be renewed", s.ID, s.CalendarID, s.Expiration.UTC().Format(time.RFC3339)),
		})
	}
}
