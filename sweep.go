package calsync

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/calsync/calsync/provider"
	"github.com/calsync/calsync/retry"
)

// Sweep names one piece of the Engine's periodic work. Run schedules every
// sweep itself unless Config.ManualSweeps is set; a host with its own
// scheduler (or a job queue that runs periodic jobs once per cluster) runs
// each one with [Engine.RunSweep] every [Engine.SweepInterval].
//
// Every sweep is safe to run concurrently with the workers, with other
// sweeps and in several instances sharing the Store: renewals take a lease
// per subscription, syncs are compare-and-swap on the sync state.
type Sweep string

// The sweeps, in the order Run first runs them.
const (
	// SweepCatchUp syncs every connected calendar once, incrementally (a
	// full sync where the cursor has expired or a full sync was
	// interrupted), to pick up whatever changed while no process was
	// listening. Run runs it once, at start, unless Config.SkipCatchUp,
	// beside the other sweeps; it starts Config.CatchUpRate calendars a
	// second at most, Config.Workers at a time.
	SweepCatchUp Sweep = "catch_up"
	// SweepRenew renews every subscription that expires within
	// Config.RenewBefore (see [Engine.RunSweep] for how), then raises an
	// alert for any that still expires within Alerts.ExpiryWithin. Every
	// Config.RenewInterval, and once at start.
	SweepRenew Sweep = "renew"
	// SweepRetry processes again the failed notifications whose next
	// attempt is due (Stores that implement [DeadLetters]), and checks the
	// alert thresholds. Every Config.RetryInterval.
	SweepRetry Sweep = "retry"
	// SweepSafetyNet syncs every calendar whose last successful sync is
	// older than Config.SafetyNetAfter, because pushes are not guaranteed.
	// Every Config.SafetyNetInterval.
	// When such a sync finds changes no push announced, it also asks a
	// provider that can tell (provider.SubscriptionChecker: Graph) whether
	// the calendar's subscription still exists, and replaces it if not.
	SweepSafetyNet Sweep = "safety_net"
	// SweepPruneLedger deletes the notification ledger's entries older than
	// Config.DedupRetention (Stores that implement [Ledger]). Every
	// Config.SafetyNetInterval.
	SweepPruneLedger Sweep = "prune_ledger"
	// SweepPruneFeed deletes the change feed's entries that every consumer
	// has acknowledged (when there is at least one consumer; a host that
	// only reads with ChangesSince keeps them) and those older than
	// Config.FeedRetention, acknowledged or not (Stores that implement
	// [ChangeFeed]). Every Config.SafetyNetInterval.
	SweepPruneFeed Sweep = "prune_feed"
	// SweepDiscover lists the calendars of every active account (a Store
	// that implements [AccountStore], providers that implement
	// provider.CalendarLister) and calls Config.OnCalendarsChanged for
	// each account whose calendars were added or removed since they were
	// last listed. Every Config.DiscoverInterval.
	SweepDiscover Sweep = "discover"
)

// Sweeps lists every sweep, in the order Run first runs them.
func Sweeps() []Sweep {
	return []Sweep{SweepCatchUp, SweepRenew, SweepRetry, SweepSafetyNet, SweepPruneLedger, SweepPruneFeed, SweepDiscover}
}

// SweepInterval returns how often Run runs s: zero for SweepCatchUp, which
// runs once at start. It returns zero for an unknown sweep too.
func (e *Engine) SweepInterval(s Sweep) time.Duration {
	switch s {
	case SweepRenew:
		return e.cfg.RenewInterval
	case SweepRetry:
		return e.cfg.RetryInterval
	case SweepSafetyNet, SweepPruneLedger, SweepPruneFeed:
		return e.cfg.SafetyNetInterval
	case SweepDiscover:
		return e.cfg.DiscoverInterval
	}
	return 0
}

// RunSweep runs sweep s once and returns how many items it handled
// (calendars synced, subscriptions renewed by this Engine, notifications
// retried, ledger or feed entries pruned). Failures of single items are
// reported to Config.OnError and joined into the error; the sweep goes on
// past them.
//
// SweepRenew extends subscriptions in place where the provider can
// (provider.Renewer: Graph); if the provider no longer has one, a new one
// is created and the calendar fully resynced. Other subscriptions are
// replaced: the new one is created first and the old one stopped
// afterwards, so there is no gap (both are accepted during the overlap).
// With a Store that implements [Leases], each subscription is renewed under
// a lease (see [RenewLeaseTTL]) and read again once the lease is taken, so
// that of several instances sweeping at the same time exactly one renews it.
func (e *Engine) RunSweep(ctx context.Context, s Sweep) (int, error) {
	switch s {
	case SweepCatchUp:
		return e.catchUp(ctx)
	case SweepRenew:
		return e.renewExpiring(ctx)
	case SweepRetry:
		n, err := e.retryDue(ctx)
		e.obs.checkAlerts(ctx, e.cfg.Now())
		return n, err
	case SweepSafetyNet:
		return e.safetyNet(ctx)
	case SweepPruneLedger:
		return e.pruneLedger(ctx)
	case SweepPruneFeed:
		return e.pruneFeed(ctx)
	case SweepDiscover:
		return e.discover(ctx)
	}
	return 0, fmt.Errorf("calsync: unknown sweep %q", string(s))
}

// runSweep runs s for Run, logging its failure.
func (e *Engine) runSweep(ctx context.Context, s Sweep) {
	if _, err := e.RunSweep(ctx, s); err != nil && ctx.Err() == nil {
		e.log.ErrorContext(ctx, "calsync: sweep failed", "sweep", string(s), "err", err)
	}
}

// schedule runs the sweeps of Run until ctx is done. The catch-up runs on
// a goroutine of its own, paced (Config.CatchUpRate), so that the first
// renewal sweep, which may find subscriptions about to expire after a
// long stop, does not wait for every calendar to be synced.
func (e *Engine) schedule(ctx context.Context) {
	if !e.cfg.SkipCatchUp {
		done := make(chan struct{})
		defer func() { <-done }()
		go func() {
			defer close(done)
			e.runSweep(ctx, SweepCatchUp)
		}()
	}
	renew := time.NewTicker(e.cfg.RenewInterval)
	defer renew.Stop()
	retry := time.NewTicker(e.cfg.RetryInterval)
	defer retry.Stop()
	safety := time.NewTicker(e.cfg.SafetyNetInterval)
	defer safety.Stop()
	discover := time.NewTicker(e.cfg.DiscoverInterval)
	defer discover.Stop()
	e.runSweep(ctx, SweepRenew)
	for {
		select {
		case <-ctx.Done():
			return
		case <-renew.C:
			e.runSweep(ctx, SweepRenew)
		case <-retry.C:
			e.runSweep(ctx, SweepRetry)
		case <-discover.C:
			e.runSweep(ctx, SweepDiscover)
		case <-safety.C:
			e.runSweep(ctx, SweepSafetyNet)
			e.runSweep(ctx, SweepPruneLedger)
			e.runSweep(ctx, SweepPruneFeed)
		}
	}
}

// pruneLedger forgets ledger entries older than DedupRetention
// (SweepPruneLedger).
func (e *Engine) pruneLedger(ctx context.Context) (int, error) {
	l, ok := e.cfg.Store.(Ledger)
	if !ok {
		return 0, nil
	}
	n, err := l.PruneNotifications(ctx, e.cfg.Now().Add(-e.cfg.DedupRetention))
	if err != nil {
		return n, fmt.Errorf("calsync: prune ledger: %w", err)
	}
	return n, nil
}

// DefaultCatchUpRate is the default Config.CatchUpRate: 50 calendars
// started per second. A catch-up sync of a calendar is about one provider
// call (an incremental list; more for a calendar with pages of changes or
// whose cursor expired), so 50/s is about 3,000 calls a minute: under a
// third of Google's per-project quota of 10,000 requests a minute
// (PROTOCOLS.md A.10, the binding one: a host's calendars share its
// project), leaving the rest for notification syncs and renewals, and far
// under Graph's 10,000 requests per 10 minutes per mailbox. The per-user
// and per-mailbox limits (600 a minute per Google user, 4 concurrent per
// mailbox) are kept by the providers' clients (retry.LimitTransport). At
// 50/s, 10,000 calendars catch up in 200 s.
const DefaultCatchUpRate = 50

// catchUp syncs every connected calendar once (SweepCatchUp): up to
// Workers at a time, started no faster than Config.CatchUpRate per
// second, so that a restart with thousands of calendars does not spend
// the provider quotas in a burst.
func (e *Engine) catchUp(ctx context.Context) (int, error) {
	cals, err := e.cfg.Store.ListCalendars(ctx)
	if err != nil {
		return 0, fmt.Errorf("calsync: catch-up: %w", err)
	}
	var (
		mu   sync.Mutex
		errs []error
		wg   sync.WaitGroup
	)
	slots := make(chan struct{}, e.cfg.Workers)
	interval := time.Duration(float64(time.Second) / e.cfg.CatchUpRate)
	var last time.Time
	started := 0
	for i, c := range cals {
		// A calendar starts at least one interval after the one before
		// it: never more than CatchUpRate in any second, and no burst to
		// make up for a wait that overran.
		if i > 0 {
			if wait := last.Add(interval).Sub(e.cfg.Now()); wait > 0 {
				if err := e.sleep(ctx, wait); err != nil {
					break
				}
			}
		}
		last = e.cfg.Now()
		select {
		case slots <- struct{}{}:
		case <-ctx.Done():
		}
		if ctx.Err() != nil {
			break
		}
		started++
		wg.Go(func() {
			defer func() { <-slots }()
			if err := e.Process(ctx, Notification{Kind: Resync, Provider: c.Provider, CalendarID: c.ID}); err != nil {
				mu.Lock()
				errs = append(errs, err)
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if err := ctx.Err(); err != nil && started < len(cals) {
		errs = append(errs, fmt.Errorf("calsync: catch-up stopped after %d of %d calendars: %w", started, len(cals), err))
	}
	return started, errors.Join(errs...)
}

// sleep waits for d or until ctx ends (then it returns ctx's error). The
// catch-up paces itself with it; tests replace it with a fake clock's.
func (e *Engine) sleep(ctx context.Context, d time.Duration) error {
	if e.sleepFn != nil {
		return e.sleepFn(ctx, d)
	}
	return retry.SystemClock.Sleep(ctx, d)
}

// safetyNet syncs every calendar silent for SafetyNetAfter
// (SweepSafetyNet).
func (e *Engine) safetyNet(ctx context.Context) (int, error) {
	cals, err := e.cfg.Store.ListCalendars(ctx)
	if err != nil {
		return 0, fmt.Errorf("calsync: safety net: %w", err)
	}
	now := e.cfg.Now()
	var (
		n    int
		errs []error
	)
	for _, c := range cals {
		st, err := e.cfg.Store.SyncState(ctx, c.ID)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if !st.LastSync.IsZero() && now.Sub(st.LastSync) < e.cfg.SafetyNetAfter {
			continue
		}
		n++
		before, _ := e.obs.calendarHealth(c.ID)
		if err := e.Process(ctx, Notification{Kind: Resync, Provider: c.Provider, CalendarID: c.ID}); err != nil {
			errs = append(errs, err)
			continue
		}
		if after, _ := e.obs.calendarHealth(c.ID); after.Changes > before.Changes {
			// Changes no push announced: the subscription may be gone
			// without the provider having said so (a lost lifecycle
			// notification).
			if err := e.checkSubscriptions(ctx, c); err != nil {
				errs = append(errs, err)
			}
		}
	}
	return n, errors.Join(errs...)
}

// checkSubscriptions asks the provider (a provider.SubscriptionChecker)
// whether it still has cal's subscriptions, and replaces those it no
// longer has as a subscriptionRemoved lifecycle notification would.
func (e *Engine) checkSubscriptions(ctx context.Context, cal Calendar) error {
	p, err := e.provider(cal.Provider)
	if err != nil {
		return err
	}
	checker, ok := p.(provider.SubscriptionChecker)
	if !ok {
		return nil
	}
	subs, err := e.cfg.Store.ListSubscriptions(ctx, cal.ID)
	if err != nil {
		return fmt.Errorf("calsync: safety net: %w", err)
	}
	var errs []error
	for i := range subs {
		callCtx, end := e.startProviderCall(ctx, opCheckSubscription, cal)
		err := checker.CheckSubscription(callCtx, cal, &subs[i])
		end(err)
		if !errors.Is(err, ErrSubscriptionGone) {
			if err != nil {
				e.log.WarnContext(ctx, "calsync: cannot check subscription", "calendar", cal.ID, "subscription", subs[i].ID, "err", err)
			}
			continue
		}
		e.log.WarnContext(ctx, "calsync: subscription gone without notice, replacing it", "calendar", cal.ID, "subscription", subs[i].ID)
		if err := e.Process(ctx, Notification{Kind: SubscriptionRemoved, Provider: cal.Provider, CalendarID: cal.ID, SubscriptionID: subs[i].ID}); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}
