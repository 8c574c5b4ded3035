package calsync

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/calsync/calsync/internal/coalesce"
	"github.com/calsync/calsync/provider"
	"github.com/google/uuid"
)

// Engine keeps calendars in sync: it connects them (subscription plus full
// sync), takes notifications from the webhook handlers, runs incremental
// syncs on worker goroutines, renews subscriptions, and hands committed
// changes to the host application.
//
// An Engine is safe for concurrent use. It keeps no state that another
// instance sharing the same Store needs.
type Engine struct {
	cfg       Config
	providers map[string]Provider
	log       *slog.Logger
	syncs     coalesce.Group

	obs      *observer
	leases   localLeases
	delivery *delivery // nil: OnChange is called inline (delivery.go)

	// attempts holds the work ids (Notification.workID) this Engine
	// recorded a retry for and has not cleared: a notification whose
	// sync succeeded without clearing the record in its Apply clears it
	// separately only if it may exist (process.go).
	attempts sync.Map

	sleepFn func(ctx context.Context, d time.Duration) error // nil: real time (sweep.go)
}

// NewEngine returns an Engine for cfg, or an error if cfg is invalid.
func NewEngine(cfg Config) (*Engine, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	cfg = cfg.WithDefaults()
	if cfg.InstanceID == "" {
		cfg.InstanceID = uuid.NewString()
	}
	e := &Engine{
		cfg:       cfg,
		providers: make(map[string]Provider, len(cfg.Providers)),
		log:       cfg.Logger,
	}
	for _, p := range cfg.Providers {
		e.providers[p.Name()] = p
	}
	obs, err := newObserver(cfg, cfg.Store.ExpiringSubscriptions)
	if err != nil {
		return nil, err
	}
	e.obs = obs
	e.delivery = newDelivery(e)
	return e, nil
}

func (e *Engine) provider(name string) (Provider, error) {
	p, ok := e.providers[name]
	if !ok {
		return nil, fmt.Errorf("%w %q", ErrUnknownProvider, name)
	}
	return p, nil
}

// ConnectRequest says where a new subscription delivers.
type ConnectRequest struct {
	// Address is the HTTPS URL of the webhook handler for the calendar's
	// provider (for example the URL where webhook.Google is mounted).
	Address string
	// LifecycleAddress is the URL of the Graph lifecycle handler (Graph
	// only; default Address).
	LifecycleAddress string
	// TTL is the requested subscription lifetime; zero means the provider's
	// default.
	TTL time.Duration
}

// Connect starts keeping cal in sync: it stores the calendar, creates a push
// subscription, and runs the initial full sync (streaming each page into
// the Store). It returns the subscription.
//
// Connect is idempotent: for a calendar already connected (same provider,
// account and remote calendar) whose subscription delivers to the same
// addresses and has not expired, it keeps that subscription and only
// syncs. Otherwise a new subscription replaces the calendar's old ones:
// created first, the old ones stopped after. A calendar never has two
// live subscriptions: Connect, Disconnect, the renewal sweep and lifecycle
// notifications change a calendar's subscriptions under one lease (in
// this process, and across instances with a Store that implements
// [Leases]); Connect waits up to 30 s for it, then fails with an error
// wrapping ErrConflict.
//
// If the subscription cannot be created, Connect returns the error and a
// calendar it added is removed again. If the full sync fails after the
// subscription was created, Connect returns the subscription and the error;
// the calendar stays connected and the next sync resumes where the full
// sync stopped.
func (e *Engine) Connect(ctx context.Context, cal Calendar, req ConnectRequest) (Subscription, error) {
	if cal.ID == "" {
		return Subscription{}, errors.New("calsync: Connect: calendar ID is empty")
	}
	if req.Address == "" {
		return Subscription{}, errors.New("calsync: Connect: notification address is empty")
	}
	if _, err := e.provider(cal.Provider); err != nil {
		return Subscription{}, fmt.Errorf("calsync: Connect %s: %w", cal.ID, err)
	}
	// No provider call for an account whose grant was refused: the user
	// must complete the connect flow first (ResumeAccount).
	if err := e.accountParkedErr(ctx, cal.AccountID); err != nil {
		return Subscription{}, fmt.Errorf("calsync: Connect %s: %w", cal.ID, err)
	}
	sub, err := e.connect(ctx, cal, req)
	if err != nil {
		e.noteReauth(ctx, cal, err)
		return Subscription{}, fmt.Errorf("calsync: Connect %s: %w", cal.ID, err)
	}
	e.log.InfoContext(ctx, "calsync: calendar connected", "calendar", cal.ID, "subscription", sub)
	if _, err := e.Sync(ctx, cal.ID); err != nil {
		return sub, fmt.Errorf("calsync: Connect %s: initial sync: %w", cal.ID, err)
	}
	return sub, nil
}

// connect stores cal and gives it one live subscription, under the
// calendar's subscription lease.
func (e *Engine) connect(ctx context.Context, cal Calendar, req ConnectRequest) (Subscription, error) {
	release, err := e.waitLease(ctx, subscriptionsLease(cal.ID))
	if err != nil {
		return Subscription{}, err
	}
	defer release()
	stored, err := e.cfg.Store.Calendar(ctx, cal.ID)
	isNew := errors.Is(err, ErrNotFound)
	if err != nil && !isNew {
		return Subscription{}, err
	}
	var old []Subscription
	if !isNew {
		if old, err = e.cfg.Store.ListSubscriptions(ctx, cal.ID); err != nil {
			return Subscription{}, err
		}
	}
	lifecycle := req.LifecycleAddress
	// The host acts on a calendar the provider had refused: try again,
	// with a new subscription (the old one is likely dead).
	wasParked := false
	if !isNew {
		if wasParked, err = e.unpark(ctx, cal.ID); err != nil {
			return Subscription{}, err
		}
	}
	if stored == cal && !wasParked {
		now := e.cfg.Now()
		for _, s := range old {
			// A record without a resource id is a placeholder a crash left
			// behind, not a live subscription.
			if s.ResourceID != "" && s.Address == req.Address && s.LifecycleAddress == lifecycle && s.Expiration.After(now) {
				return s, nil
			}
		}
	}
	if err := e.cfg.Store.PutCalendar(ctx, cal); err != nil {
		return Subscription{}, fmt.Errorf("store calendar: %w", err)
	}
	sub, err := e.subscribe(ctx, cal, provider.WatchRequest{Address: req.Address, LifecycleAddress: req.LifecycleAddress, TTL: req.TTL})
	if err != nil {
		// A calendar with no subscription would look connected but never
		// hear of a change; forget it if this call created it.
		if isNew {
			if derr := e.cfg.Store.DeleteCalendar(context.WithoutCancel(ctx), cal.ID); derr != nil && !errors.Is(derr, ErrNotFound) {
				e.log.WarnContext(ctx, "calsync: cannot remove calendar after failed Connect", "calendar", cal.ID, "err", derr)
			}
		}
		return Subscription{}, err
	}
	// The replaced subscriptions: of the calendar as it was stored, which
	// may have been another remote calendar or account.
	was := cal
	if !isNew {
		was = stored
	}
	p, err := e.provider(was.Provider)
	for i := range old {
		if err == nil {
			callCtx, end := e.startProviderCall(ctx, opStop, was)
			serr := p.Stop(callCtx, was, &old[i])
			end(serr)
			if serr != nil && !errors.Is(serr, ErrNotFound) {
				// The new subscription works; the old one expires on its own.
				e.log.WarnContext(ctx, "calsync: cannot stop replaced subscription", "subscription", old[i].ID, "err", serr)
			}
		}
		if derr := e.cfg.Store.DeleteSubscription(ctx, old[i].ID); derr != nil && !errors.Is(derr, ErrNotFound) {
			return sub, fmt.Errorf("forget replaced subscription %s: %w", old[i].ID, derr)
		}
	}
	return sub, nil
}

// Disconnect stops every subscription of the calendar and deletes the
// calendar with its events from the Store. Stopping is attempted, not
// required: when the provider refuses (a revoked grant answers 401) or
// cannot be reached, the local state is removed all the same, the failure
// is logged and reported to OnError, and the subscription expires at the
// provider on its own (its notifications are refused meanwhile, as of any
// unknown subscription). A subscription the provider no longer knows is
// not an error. Like Connect, it waits up to 30 s for the calendar's
// subscription lease.
func (e *Engine) Disconnect(ctx context.Context, calendarID string) error {
	cal, err := e.cfg.Store.Calendar(ctx, calendarID)
	if err != nil {
		return fmt.Errorf("calsync: Disconnect %s: %w", calendarID, err)
	}
	p, err := e.provider(cal.Provider)
	if err != nil {
		return fmt.Errorf("calsync: Disconnect %s: %w", calendarID, err)
	}
	// Under the calendar's subscription lease, so that no renewal or
	// lifecycle notification creates a subscription meanwhile.
	release, err := e.waitLease(ctx, subscriptionsLease(calendarID))
	if err != nil {
		return fmt.Errorf("calsync: Disconnect %s: %w", calendarID, err)
	}
	defer release()
	subs, err := e.cfg.Store.ListSubscriptions(ctx, calendarID)
	if err != nil {
		return fmt.Errorf("calsync: Disconnect %s: %w", calendarID, err)
	}
	for i := range subs {
		callCtx, end := e.startProviderCall(ctx, opStop, cal)
		err := p.Stop(callCtx, cal, &subs[i])
		end(err)
		if err != nil && !errors.Is(err, ErrNotFound) {
			if ctx.Err() != nil {
				return fmt.Errorf("calsync: Disconnect %s: %w", calendarID, ctx.Err())
			}
			err = fmt.Errorf("calsync: Disconnect %s: cannot stop subscription %s (removed locally; it expires at the provider on %s): %w",
				calendarID, subs[i].ID, subs[i].Expiration.UTC().Format(time.RFC3339), err)
			e.log.WarnContext(ctx, "calsync: provider refused to stop subscription; disconnecting anyway", "calendar", calendarID, "subscription", subs[i].ID, "err", err)
			if e.cfg.OnError != nil {
				e.cfg.OnError(ctx, cal, err)
			}
		}
	}
	if err := e.cfg.Store.DeleteCalendar(ctx, calendarID); err != nil {
		return fmt.Errorf("calsync: Disconnect %s: %w", calendarID, err)
	}
	e.obs.forget(calendarID)
	return nil
}

// Subscription returns the stored subscription with the given id. Webhook
// handlers use it to authenticate notifications.
func (e *Engine) Subscription(ctx context.Context, id string) (Subscription, error) {
	return e.cfg.Store.Subscription(ctx, id)
}

// Enqueue queues a notification for the workers. It never calls a provider.
func (e *Engine) Enqueue(ctx context.Context, n Notification) error {
	if n.Received.IsZero() {
		n.Received = e.cfg.Now()
	}
	if err := e.cfg.Queue.Enqueue(ctx, n); err != nil {
		if errors.Is(err, ErrAlreadyQueued) {
			e.obs.alreadyQueued(ctx, n)
			return nil
		}
		return fmt.Errorf("calsync: enqueue: %w", err)
	}
	e.obs.enqueued(ctx, n)
	return nil
}

// Run processes queued notifications with Config.Workers goroutines until
// ctx is done, and meanwhile: syncs every calendar once at start (catch-up,
// unless Config.SkipCatchUp), renews expiring subscriptions every
// RenewInterval, retries failed notifications every RetryInterval, syncs
// calendars silent for SafetyNetAfter every SafetyNetInterval, prunes the
// dedup ledger and the change feed, and checks the alert thresholds. With
// a Store that implements [ChangeFeed] and an OnChange, it also runs the
// feed consumer that delivers to OnChange (see Config.OnChange), starting
// with whatever an earlier process committed but did not deliver.
//
// When ctx ends, the workers take no more notifications and Run waits for
// those they are processing to finish, for up to Config.DrainTimeout
// (they are cut at that deadline); the periodic sweeps stop at once. What
// a shutdown cuts short is not a failure: it is not reported to OnError
// nor recorded as an attempt. Run returns ctx's error once everything it
// started has ended.
//
// When Config.Queue is a [QueueRunner], the queue runs the workers and the
// sweeps instead (RunQueue, which drains as it documents), and Run
// returns its error if it fails.
func (e *Engine) Run(ctx context.Context) error {
	// The feed consumer starts before any work: commits from then on
	// wake it, and WaitIdle waits for it once anything was handled.
	feedCtx, stopFeed := context.WithCancel(ctx)
	defer stopFeed()
	var wg sync.WaitGroup
	if d := e.delivery; d != nil {
		d.start()
		wg.Go(func() { d.run(feedCtx) })
	}
	var err error
	if r, ok := e.cfg.Queue.(QueueRunner); ok {
		// The queue works the notifications and runs the sweeps.
		if err = r.RunQueue(ctx, e); err != nil && ctx.Err() == nil {
			err = fmt.Errorf("calsync: run queue: %w", err)
		} else {
			err = nil
		}
	} else {
		e.runWorkers(ctx)
	}
	stopFeed() // ctx has ended, or the queue failed
	wg.Wait()
	if err != nil {
		return err
	}
	return ctx.Err()
}

// runWorkers runs Config.Workers goroutines taking notifications from the
// Queue, and the sweeps unless ManualSweeps, until ctx ends and the work
// under way has drained (Config.DrainTimeout).
func (e *Engine) runWorkers(ctx context.Context) {
	// The workers process on work, which outlives ctx: when ctx ends they
	// take nothing more from the queue, and what they hold runs on until
	// it is done or DrainTimeout has passed.
	work, cut := context.WithCancel(context.WithoutCancel(ctx))
	defer cut()
	workersDone := make(chan struct{})
	go func() {
		select {
		case <-workersDone:
			return
		case <-ctx.Done():
		}
		if e.cfg.DrainTimeout < 0 {
			cut()
			return
		}
		t := time.NewTimer(e.cfg.DrainTimeout)
		defer t.Stop()
		select {
		case <-workersDone:
		case <-t.C:
			e.log.WarnContext(work, "calsync: shutdown: drain deadline passed, cutting the syncs under way", "drain_timeout", e.cfg.DrainTimeout)
			cut()
		}
	}()
	var workers, wg sync.WaitGroup
	for range e.cfg.Workers {
		workers.Go(func() {
			var pause time.Duration // after consecutive Dequeue errors
			for {
				n, err := e.cfg.Queue.Dequeue(ctx)
				if err != nil {
					if ctx.Err() != nil {
						return
					}
					// A failing Queue (its database down) must not spin
					// the worker: wait 100 ms, doubling up to 30 s.
					pause = min(max(2*pause, 100*time.Millisecond), 30*time.Second)
					e.log.ErrorContext(ctx, "calsync: dequeue", "err", err, "retry_in", pause)
					t := time.NewTimer(pause)
					select {
					case <-ctx.Done():
						t.Stop()
						return
					case <-t.C:
					}
					continue
				}
				pause = 0
				e.obs.dequeued()
				e.Process(work, n)
				e.obs.handled()
			}
		})
	}
	wg.Go(func() {
		workers.Wait()
		close(workersDone)
	})
	if !e.cfg.ManualSweeps {
		wg.Go(func() { e.schedule(ctx) })
	}
	wg.Wait()
}

func (e *Engine) fail(ctx context.Context, cal Calendar, err error) {
	if isParked(err) {
		return // reported once, when it was parked
	}
	if interrupted(ctx) {
		// Cut short by Run's shutdown (or the caller's cancellation), not
		// a failure: the next sync does the work.
		e.log.InfoContext(context.WithoutCancel(ctx), "calsync: sync interrupted", "calendar", cal.ID, "provider", cal.Provider, "err", err)
		return
	}
	if errors.Is(err, ErrReauthRequired) && !e.reauthRequired(ctx, cal, err) {
		return // the account was parked already: reported then
	}
	e.obs.failed()
	e.log.ErrorContext(ctx, "calsync: sync failed", "calendar", cal.ID, "provider", cal.Provider, "err", err)
	if e.cfg.OnError != nil {
		e.cfg.OnError(ctx, cal, err)
	}
}

// interrupted reports whether ctx was cancelled: Run's shutdown (its
// context, or the drain deadline) or a caller that gave up. Work cut short
// that way is not a failure. A deadline that passed is one (a host's own
// timeout on a slow provider) and is reported.
func interrupted(ctx context.Context) bool {
	return errors.Is(ctx.Err(), context.Canceled)
}
