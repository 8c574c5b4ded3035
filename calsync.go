package calsync

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/uuid"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"

	"github.com/calsync/calsync/internal/alert"
	"github.com/calsync/calsync/internal/coalesce"
	"github.com/calsync/calsync/provider"
)

// Defaults for Config fields left zero.
const (
	// DefaultWorkers is the number of goroutines Run uses to process
	// notifications.
	DefaultWorkers = 4
	// DefaultRenewBefore is how long before expiry a subscription is renewed.
	DefaultRenewBefore = 24 * time.Hour
	// DefaultRenewInterval is how often Run looks for subscriptions to renew.
	DefaultRenewInterval = time.Hour
	// DefaultMaxResyncs is how many times one sync restarts from scratch after
	// ErrFullSyncRequired before giving up.
	DefaultMaxResyncs = 2
	// DefaultMaxAttempts is how many times a notification is attempted
	// before it moves to the dead letters.
	DefaultMaxAttempts = 5
	// DefaultRetryUnit scales retry delays: 2^attempt minutes.
	DefaultRetryUnit = time.Minute
	// DefaultRetryInterval is how often Run retries due notifications.
	DefaultRetryInterval = 30 * time.Second
	// DefaultDedupRetention is how long the ledger remembers a message.
	DefaultDedupRetention = 7 * 24 * time.Hour
	// DefaultSafetyNetAfter is how long a calendar may go without a sync.
	DefaultSafetyNetAfter = 6 * time.Hour
	// DefaultSafetyNetInterval is how often Run looks for such calendars.
	DefaultSafetyNetInterval = 10 * time.Minute
	// DefaultAlertWindow is the alerting window.
	DefaultAlertWindow = 10 * time.Minute
	// DefaultAlertFailureRate is the failure share that raises an alert.
	DefaultAlertFailureRate = 0.10
	// DefaultAlertLatencyP95 is the P95 latency that raises an alert.
	DefaultAlertLatencyP95 = 10 * time.Second
	// DefaultAlertVolumeDrop is the volume ratio below which an alert fires.
	DefaultAlertVolumeDrop = 0.2
	// DefaultAlertMinSamples is the minimum sample count of a window.
	DefaultAlertMinSamples = 20
	// DefaultAlertExpiryWithin is how close to expiry a subscription may be
	// after a renewal sweep before an alert fires.
	DefaultAlertExpiryWithin = 2 * time.Hour
)

// RenewLeaseTTL is how long the lease an Engine takes before renewing a
// subscription lasts (Stores that implement [Leases]). The lease makes one
// instance of several sharing the Store renew the subscription; it is
// released as soon as the renewal is done, so the length only matters when
// an instance dies mid-renewal (the others wait this long before taking
// over) or a renewal outlasts it (another instance might then renew the
// subscription again). Five minutes is well above a renewal's provider
// calls with all their retries.
const RenewLeaseTTL = 5 * time.Minute

// Config configures an Engine. Store and Providers are required.
type Config struct {
	// Store persists calendars, events, cursors and subscriptions.
	Store Store
	// Providers serve the calendars, keyed by their Name.
	Providers []Provider
	// Queue carries notifications from the webhook handlers to the workers.
	// Default: NewMemoryQueue(DefaultQueueCapacity).
	Queue Queue
	// OnChange is called with the changes each Store transaction committed,
	// after the commit, from the goroutine that ran the sync. It should
	// return quickly. If the process dies between the commit and the call,
	// the changes are in the Store but OnChange is not called for them.
	// Default: none.
	OnChange func(ctx context.Context, cal Calendar, changes []Change)
	// OnError is called when a background sync or renewal fails, so that
	// failures (a revoked token above all: errors.Is(err,
	// ErrReauthRequired)) never go unnoticed. Default: none (they are
	// logged).
	OnError func(ctx context.Context, cal Calendar, err error)
	// Workers is the number of goroutines processing notifications in Run.
	// Default: DefaultWorkers.
	Workers int
	// RenewBefore: subscriptions expiring within this duration are renewed.
	// Keep it well below the subscriptions' lifetime (ConnectRequest.TTL):
	// a subscription that lives shorter than RenewBefore is due again at
	// every sweep. Default: DefaultRenewBefore.
	RenewBefore time.Duration
	// RenewInterval is how often Run renews expiring subscriptions.
	// Default: DefaultRenewInterval.
	RenewInterval time.Duration
	// MaxResyncs bounds the full-sync restarts of one sync.
	// Default: DefaultMaxResyncs.
	MaxResyncs int
	// MaxAttempts is how many times a failed notification is attempted
	// before it moves to the dead letters (Stores that implement
	// DeadLetters). Default: DefaultMaxAttempts.
	MaxAttempts int
	// RetryUnit scales the wait before retrying a failed notification:
	// 2^attempt × RetryUnit. Default: DefaultRetryUnit (one minute).
	RetryUnit time.Duration
	// RetryInterval is how often Run looks for failed notifications due
	// for another attempt. Default: DefaultRetryInterval.
	RetryInterval time.Duration
	// OnDeadLetter is called when a notification moves to the dead
	// letters. Default: none (it is logged and counted).
	OnDeadLetter func(ctx context.Context, d DeadLetter)
	// DedupRetention is how long the notification ledger remembers a
	// message (Stores that implement Ledger). Default:
	// DefaultDedupRetention (7 days).
	DedupRetention time.Duration
	// SafetyNetAfter: a calendar that has not synced for this long is
	// synced anyway, because pushes are not guaranteed. Default:
	// DefaultSafetyNetAfter (6 hours).
	SafetyNetAfter time.Duration
	// SafetyNetInterval is how often Run looks for such calendars.
	// Default: DefaultSafetyNetInterval.
	SafetyNetInterval time.Duration
	// SkipCatchUp stops Run from syncing every calendar when it starts.
	// Default: false (catch up).
	SkipCatchUp bool
	// OnAlert receives alerts: failure rate, P95 latency, dead letters,
	// notification volume drop, subscriptions about to expire. Default:
	// none (alerts are logged at Warn and counted).
	OnAlert func(ctx context.Context, a Alert)
	// AlertWindow is the sliding window the alert rates are computed over.
	// Default: DefaultAlertWindow.
	AlertWindow time.Duration
	// AlertFailureRate is the share of failed notifications in the window
	// above which an alert fires. Default: DefaultAlertFailureRate (10 %).
	AlertFailureRate float64
	// AlertLatencyP95 is the P95 processing latency above which an alert
	// fires. Default: DefaultAlertLatencyP95 (10 s).
	AlertLatencyP95 time.Duration
	// AlertVolumeDrop: an alert fires when a window receives fewer than
	// this fraction of the notifications of the window before. Default:
	// DefaultAlertVolumeDrop.
	AlertVolumeDrop float64
	// AlertMinSamples is how many notifications a window needs before its
	// rates count. Default: DefaultAlertMinSamples.
	AlertMinSamples int
	// AlertExpiryWithin: a subscription this close to expiry after a
	// renewal sweep raises an alert. Default: DefaultAlertExpiryWithin.
	AlertExpiryWithin time.Duration
	// MeterProvider receives the Engine's OpenTelemetry metrics. Default:
	// none (no-op).
	MeterProvider metric.MeterProvider
	// InstanceID identifies this Engine among the instances sharing the
	// Store: it owns the leases the Engine takes (Stores that implement
	// [Leases]). Two Engines must never share one. Default: a random id,
	// new for every NewEngine.
	InstanceID string
	// Logger receives structured logs (ids, never secrets). Default: none.
	Logger *slog.Logger
	// Now returns the current time. Default: time.Now. Tests set a fake clock.
	Now func() time.Time
}

// WithDefaults returns a copy of c with zero fields set to their defaults.
func (c Config) WithDefaults() Config {
	if c.Queue == nil {
		c.Queue = NewMemoryQueue(DefaultQueueCapacity)
	}
	if c.Workers <= 0 {
		c.Workers = DefaultWorkers
	}
	if c.RenewBefore <= 0 {
		c.RenewBefore = DefaultRenewBefore
	}
	if c.RenewInterval <= 0 {
		c.RenewInterval = DefaultRenewInterval
	}
	if c.MaxResyncs <= 0 {
		c.MaxResyncs = DefaultMaxResyncs
	}
	if c.MaxAttempts <= 0 {
		c.MaxAttempts = DefaultMaxAttempts
	}
	if c.RetryUnit <= 0 {
		c.RetryUnit = DefaultRetryUnit
	}
	if c.RetryInterval <= 0 {
		c.RetryInterval = DefaultRetryInterval
	}
	if c.DedupRetention <= 0 {
		c.DedupRetention = DefaultDedupRetention
	}
	if c.SafetyNetAfter <= 0 {
		c.SafetyNetAfter = DefaultSafetyNetAfter
	}
	if c.SafetyNetInterval <= 0 {
		c.SafetyNetInterval = DefaultSafetyNetInterval
	}
	if c.AlertWindow <= 0 {
		c.AlertWindow = DefaultAlertWindow
	}
	if c.AlertFailureRate <= 0 {
		c.AlertFailureRate = DefaultAlertFailureRate
	}
	if c.AlertLatencyP95 <= 0 {
		c.AlertLatencyP95 = DefaultAlertLatencyP95
	}
	if c.AlertVolumeDrop <= 0 {
		c.AlertVolumeDrop = DefaultAlertVolumeDrop
	}
	if c.AlertMinSamples <= 0 {
		c.AlertMinSamples = DefaultAlertMinSamples
	}
	if c.AlertExpiryWithin <= 0 {
		c.AlertExpiryWithin = DefaultAlertExpiryWithin
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	return c
}

func (c Config) validate() error {
	if c.Store == nil {
		return errors.New("calsync: Config.Store is required")
	}
	if len(c.Providers) == 0 {
		return errors.New("calsync: Config.Providers needs at least one provider")
	}
	seen := make(map[string]bool)
	for i, p := range c.Providers {
		if p == nil {
			return fmt.Errorf("calsync: Config.Providers[%d] is nil", i)
		}
		if seen[p.Name()] {
			return fmt.Errorf("calsync: two providers named %q", p.Name())
		}
		seen[p.Name()] = true
	}
	return nil
}

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

	metrics *instruments
	monitor *alert.Monitor
	// lastAlertCheck is when checkAlerts last ran (Unix ns of Config.Now).
	lastAlertCheck atomic.Int64

	mu     sync.Mutex
	health map[string]*Health

	stats struct {
		enqueued, handled, processed, duplicates, syncs, fullSyncs, changes, stale, failures, deadLetters atomic.Int64
	}
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
		health:    make(map[string]*Health),
	}
	for _, p := range cfg.Providers {
		e.providers[p.Name()] = p
	}
	var (
		meter metric.Meter
		err   error
	)
	if e.metrics, meter, err = newInstruments(cfg.MeterProvider); err != nil {
		return nil, fmt.Errorf("calsync: metrics: %w", err)
	}
	if err := e.registerGauges(meter); err != nil {
		return nil, fmt.Errorf("calsync: metrics: %w", err)
	}
	e.monitor = alert.New(alert.Config{
		Window: cfg.AlertWindow, FailureRate: cfg.AlertFailureRate, MinSamples: cfg.AlertMinSamples,
		P95: cfg.AlertLatencyP95, DeadLetters: 1, VolumeDrop: cfg.AlertVolumeDrop,
	})
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
	_, err := e.cfg.Store.Calendar(ctx, cal.ID)
	isNew := errors.Is(err, ErrNotFound)
	if err != nil && !isNew {
		return Subscription{}, fmt.Errorf("calsync: Connect %s: %w", cal.ID, err)
	}
	if err := e.cfg.Store.PutCalendar(ctx, cal); err != nil {
		return Subscription{}, fmt.Errorf("calsync: Connect %s: store calendar: %w", cal.ID, err)
	}
	sub, err := e.subscribe(ctx, cal, WatchRequest{Address: req.Address, LifecycleAddress: req.LifecycleAddress, TTL: req.TTL})
	if err != nil {
		// A calendar with no subscription would look connected but never
		// hear of a change; forget it if this call created it.
		if isNew {
			if derr := e.cfg.Store.DeleteCalendar(context.WithoutCancel(ctx), cal.ID); derr != nil && !errors.Is(derr, ErrNotFound) {
				e.log.WarnContext(ctx, "calsync: cannot remove calendar after failed Connect", "calendar", cal.ID, "err", derr)
			}
		}
		return Subscription{}, fmt.Errorf("calsync: Connect %s: %w", cal.ID, err)
	}
	e.log.InfoContext(ctx, "calsync: calendar connected", "calendar", cal.ID, "subscription", sub)
	if _, err := e.Sync(ctx, cal.ID); err != nil {
		return sub, fmt.Errorf("calsync: Connect %s: initial sync: %w", cal.ID, err)
	}
	return sub, nil
}

// subscribe creates a subscription. The subscription is stored before the
// provider is asked, under the id the Engine chose, because Google may
// deliver the channel's first ("sync") message before it answers the watch
// call; providers that assign their own ids replace it afterwards.
func (e *Engine) subscribe(ctx context.Context, cal Calendar, req WatchRequest) (Subscription, error) {
	p, err := e.provider(cal.Provider)
	if err != nil {
		return Subscription{}, err
	}
	secret, err := randomSecret()
	if err != nil {
		return Subscription{}, err
	}
	req.ID = uuid.NewString()
	req.Secret = secret
	now := e.cfg.Now()
	if l, ok := e.cfg.Store.(Leases); ok {
		// Hold the new subscription's renewal lease until it is recorded,
		// so that no renewal sweep (here or in another instance) mistakes
		// the placeholder stored below for one a crash left behind and
		// replaces it while the provider is creating it.
		name := renewLease(req.ID)
		if _, err := l.AcquireLease(ctx, name, e.cfg.InstanceID, now, RenewLeaseTTL); err != nil {
			return Subscription{}, fmt.Errorf("lease: %w", err)
		}
		defer e.releaseLease(ctx, l, name)
	}
	pending := Subscription{
		ID: req.ID, CalendarID: cal.ID, Provider: cal.Provider, Secret: secret,
		Address: req.Address, LifecycleAddress: req.LifecycleAddress,
		Created: now, Expiration: now.Add(time.Hour),
	}
	if err := e.cfg.Store.PutSubscription(ctx, pending); err != nil {
		return Subscription{}, fmt.Errorf("store subscription: %w", err)
	}
	sub, err := p.Watch(ctx, cal, req)
	if err != nil {
		if derr := e.cfg.Store.DeleteSubscription(context.WithoutCancel(ctx), pending.ID); derr != nil && !errors.Is(derr, ErrNotFound) {
			e.log.WarnContext(ctx, "calsync: cannot remove pending subscription", "subscription", pending.ID, "err", derr)
		}
		return Subscription{}, fmt.Errorf("watch: %w", err)
	}
	s := *sub
	s.CalendarID, s.Provider, s.Secret = cal.ID, cal.Provider, secret
	s.Address, s.LifecycleAddress = req.Address, req.LifecycleAddress
	if s.Created.IsZero() {
		s.Created = now
	}
	if err := e.cfg.Store.PutSubscription(ctx, s); err != nil {
		// The provider now delivers to a subscription we could not record:
		// stop it rather than leave it orphaned.
		if serr := p.Stop(context.WithoutCancel(ctx), cal, &s); serr != nil {
			e.log.WarnContext(ctx, "calsync: cannot stop unrecorded subscription", "subscription", s.ID, "err", serr)
		}
		return Subscription{}, fmt.Errorf("store subscription: %w", err)
	}
	if s.ID != pending.ID {
		if err := e.cfg.Store.DeleteSubscription(ctx, pending.ID); err != nil && !errors.Is(err, ErrNotFound) {
			e.log.WarnContext(ctx, "calsync: cannot remove pending subscription", "subscription", pending.ID, "err", err)
		}
	}
	return s, nil
}

// Disconnect stops every subscription of the calendar and deletes the
// calendar with its events from the Store. A subscription the provider no
// longer knows is not an error.
func (e *Engine) Disconnect(ctx context.Context, calendarID string) error {
	cal, err := e.cfg.Store.Calendar(ctx, calendarID)
	if err != nil {
		return fmt.Errorf("calsync: Disconnect %s: %w", calendarID, err)
	}
	p, err := e.provider(cal.Provider)
	if err != nil {
		return fmt.Errorf("calsync: Disconnect %s: %w", calendarID, err)
	}
	subs, err := e.cfg.Store.ListSubscriptions(ctx, calendarID)
	if err != nil {
		return fmt.Errorf("calsync: Disconnect %s: %w", calendarID, err)
	}
	for i := range subs {
		if err := p.Stop(ctx, cal, &subs[i]); err != nil && !errors.Is(err, ErrNotFound) {
			return fmt.Errorf("calsync: Disconnect %s: stop %s: %w", calendarID, subs[i].ID, err)
		}
	}
	if err := e.cfg.Store.DeleteCalendar(ctx, calendarID); err != nil {
		return fmt.Errorf("calsync: Disconnect %s: %w", calendarID, err)
	}
	e.mu.Lock()
	delete(e.health, calendarID)
	e.mu.Unlock()
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
		return fmt.Errorf("calsync: enqueue: %w", err)
	}
	e.stats.enqueued.Add(1)
	e.metrics.received.Add(ctx, 1, providerAttr(n.Provider))
	e.monitor.Received(n.Received)
	return nil
}

// Run processes queued notifications with Config.Workers goroutines until
// ctx is done, and meanwhile: syncs every calendar once at start (catch-up,
// unless Config.SkipCatchUp), renews expiring subscriptions every
// RenewInterval, retries failed notifications every RetryInterval, syncs
// calendars silent for SafetyNetAfter every SafetyNetInterval, prunes the
// dedup ledger, and checks the alert thresholds. It returns ctx's error.
func (e *Engine) Run(ctx context.Context) error {
	var wg sync.WaitGroup
	for range e.cfg.Workers {
		wg.Go(func() {
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
				e.Process(ctx, n)
				e.stats.handled.Add(1)
			}
		})
	}
	wg.Go(func() { e.maintain(ctx) })
	wg.Wait()
	return ctx.Err()
}

// maintain runs the periodic work of Run.
func (e *Engine) maintain(ctx context.Context) {
	if !e.cfg.SkipCatchUp {
		if _, err := e.CatchUp(ctx); err != nil && ctx.Err() == nil {
			e.log.ErrorContext(ctx, "calsync: catch-up", "err", err)
		}
	}
	renew := time.NewTicker(e.cfg.RenewInterval)
	defer renew.Stop()
	retry := time.NewTicker(e.cfg.RetryInterval)
	defer retry.Stop()
	safety := time.NewTicker(e.cfg.SafetyNetInterval)
	defer safety.Stop()
	for first := true; ; first = false {
		if first {
			e.renewSweep(ctx)
		}
		select {
		case <-ctx.Done():
			return
		case <-renew.C:
			e.renewSweep(ctx)
		case <-retry.C:
			if _, err := e.RetryDue(ctx); err != nil && ctx.Err() == nil {
				e.log.ErrorContext(ctx, "calsync: retry", "err", err)
			}
			e.checkAlerts(ctx, e.cfg.Now())
		case <-safety.C:
			if _, err := e.SafetyNet(ctx); err != nil && ctx.Err() == nil {
				e.log.ErrorContext(ctx, "calsync: safety net", "err", err)
			}
			if l, ok := e.cfg.Store.(Ledger); ok {
				if _, err := l.PruneNotifications(ctx, e.cfg.Now().Add(-e.cfg.DedupRetention)); err != nil && ctx.Err() == nil {
					e.log.ErrorContext(ctx, "calsync: prune ledger", "err", err)
				}
			}
		}
	}
}

func (e *Engine) renewSweep(ctx context.Context) {
	if _, err := e.RenewExpiring(ctx); err != nil && ctx.Err() == nil {
		e.log.ErrorContext(ctx, "calsync: renewal sweep", "err", err)
	}
}

// process does what a notification asks: renew or recreate the
// subscription for lifecycle notifications, then an incremental sync of the
// calendar, coalesced with any sync of it under way. ran is false when the
// sync was folded into one under way (which will run once more for it).
func (e *Engine) process(ctx context.Context, n Notification) (ran bool, err error) {
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
		// The sync below covers the gap; a full one if the subscription
		// turned out to be gone.
		if err := e.resubscribeLeased(ctx, cal, n.SubscriptionID, n.Kind); err != nil {
			e.fail(ctx, cal, err)
			return true, err
		}
	}
	ran = e.syncs.Do(cal.ID, func() error {
		_, err = e.syncOnce(ctx, cal)
		return err
	}, func(err error) { e.fail(ctx, cal, err) })
	return ran, err
}

func (e *Engine) fail(ctx context.Context, cal Calendar, err error) {
	e.stats.failures.Add(1)
	e.log.ErrorContext(ctx, "calsync: sync failed", "calendar", cal.ID, "provider", cal.Provider, "err", err)
	if e.cfg.OnError != nil {
		e.cfg.OnError(ctx, cal, err)
	}
}

// SyncResult summarises one sync.
type SyncResult struct {
	// Full is true if the sync listed the whole calendar.
	Full bool
	// Resyncs counts restarts from scratch after ErrFullSyncRequired.
	Resyncs int
	// Pages is the number of pages fetched and committed.
	Pages int
	// Applied counts the changes committed, sweep deletions included.
	Applied int
	// Stale counts changes skipped by last-write-wins.
	Stale int
}

// Sync brings the calendar up to date now and returns what it did. If a
// sync of the calendar is under way it waits for that one to finish first,
// so that Sync never runs two syncs of one calendar at once and always
// reflects changes made before it was called.
func (e *Engine) Sync(ctx context.Context, calendarID string) (SyncResult, error) {
	cal, err := e.cfg.Store.Calendar(ctx, calendarID)
	if err != nil {
		return SyncResult{}, fmt.Errorf("calsync: Sync %s: %w", calendarID, err)
	}
	for {
		var (
			res    SyncResult
			resErr error
			runs   int
		)
		ran := e.syncs.Do(cal.ID, func() error {
			runs++
			res, resErr = e.syncOnce(ctx, cal)
			return resErr
		}, nil)
		if ran {
			if resErr != nil && runs > 1 {
				// The failed run was a follow-up for notifications folded
				// into this sync, already acknowledged: retry them.
				e.retryFolded(ctx, cal, resErr)
			}
			return res, resErr
		}
		select {
		case <-e.syncs.Wait(cal.ID):
		case <-ctx.Done():
			return SyncResult{}, ctx.Err()
		}
	}
}

// retryFolded schedules a retry (a Resync of cal) for the notifications
// that were folded into a sync whose last run failed with err (they were
// counted as done when they were folded), or for a resync that a renewal
// found necessary.
func (e *Engine) retryFolded(ctx context.Context, cal Calendar, err error) {
	dl, ok := e.cfg.Store.(DeadLetters)
	if !ok || ctx.Err() != nil {
		return
	}
	e.recordFailure(ctx, dl, Notification{Kind: Resync, Provider: cal.Provider, CalendarID: cal.ID}, err, e.cfg.Now())
}

// maxConflicts is how many times one sync continues from a sync state
// another instance changed under it (ErrConflict) before it gives up with
// an error wrapping ErrConflict, to be retried later.
const maxConflicts = 3

// syncOnce runs one sync of cal: incremental from its cursor, full if it has
// none (resuming an interrupted full sync from its page token), and a fresh
// full sync whenever the provider says the cursor expired. Every page is
// committed with the position it reached, expecting the position it started
// from (Batch.Expect).
func (e *Engine) syncOnce(ctx context.Context, cal Calendar) (res SyncResult, err error) {
	start := e.cfg.Now()
	defer func() {
		e.record(cal.ID, start, err)
		kind := "incremental"
		if res.Full {
			kind = "full"
		}
		e.metrics.syncDuration.Record(ctx, e.cfg.Now().Sub(start).Seconds(),
			metric.WithAttributes(attribute.String("provider", cal.Provider), attribute.String("kind", kind)))
	}()
	p, err := e.provider(cal.Provider)
	if err != nil {
		return res, err
	}
	st, err := e.cfg.Store.SyncState(ctx, cal.ID)
	if err != nil {
		return res, fmt.Errorf("calsync: sync %s: %w", cal.ID, err)
	}
	// expect is the stored state this sync read or last wrote. Every Apply
	// carries it, so that another instance of the host app syncing the
	// calendar from the same database is noticed (ErrConflict), never
	// overwritten or swept.
	expect := st
	if st.FullSync() && st.Generation == 0 {
		st = SyncState{Generation: e.newGeneration(st)}
	}
	res.Full = st.FullSync()
	e.stats.syncs.Add(1)
	conflicts := 0
	for {
		page, err := p.Fetch(ctx, cal, Position{Cursor: st.Cursor, PageToken: st.PageToken})
		if errors.Is(err, ErrFullSyncRequired) && res.Resyncs < e.cfg.MaxResyncs {
			e.log.InfoContext(ctx, "calsync: cursor expired, full resync", "calendar", cal.ID, "err", err)
			res.Resyncs++
			res.Full = true
			st = SyncState{Generation: e.newGeneration(st), LastSync: st.LastSync}
			continue
		}
		if err != nil {
			return res, fmt.Errorf("calsync: sync %s: %w", cal.ID, err)
		}
		b := Batch{Changes: page.Changes, State: st, Expect: &expect}
		if st.FullSync() {
			b.Generation = st.Generation
			b.Sweep = page.Last()
		}
		if page.Last() {
			if page.NextCursor == "" {
				return res, fmt.Errorf("calsync: sync %s: provider %s returned a last page without a cursor", cal.ID, p.Name())
			}
			b.State = SyncState{Cursor: page.NextCursor, LastSync: e.cfg.Now()}
		} else {
			b.State.PageToken = page.NextPageToken
		}
		ar, err := e.cfg.Store.Apply(ctx, cal.ID, &b)
		if errors.Is(err, ErrConflict) && conflicts < maxConflicts {
			// Another instance moved the calendar on: continue from where
			// it stands (resuming its full sync, generation and page
			// token, rather than starting another), never from ours.
			conflicts++
			if st, err = e.cfg.Store.SyncState(ctx, cal.ID); err != nil {
				return res, fmt.Errorf("calsync: sync %s: %w", cal.ID, err)
			}
			e.log.InfoContext(ctx, "calsync: sync state changed concurrently, continuing from it", "calendar", cal.ID, "conflicts", conflicts)
			expect = st
			if st.FullSync() && st.Generation == 0 {
				st = SyncState{Generation: e.newGeneration(st)}
			}
			res.Full = res.Full || st.FullSync()
			continue
		}
		if err != nil {
			return res, fmt.Errorf("calsync: sync %s: apply: %w", cal.ID, err)
		}
		res.Pages++
		res.Applied += len(ar.Applied)
		res.Stale += ar.Stale
		e.stats.changes.Add(int64(len(ar.Applied)))
		e.stats.stale.Add(int64(ar.Stale))
		if len(ar.Applied) > 0 && e.cfg.OnChange != nil {
			e.cfg.OnChange(ctx, cal, ar.Applied)
		}
		st, expect = b.State, b.State
		if page.Last() {
			break
		}
	}
	if res.Full {
		e.stats.fullSyncs.Add(1)
	}
	e.log.DebugContext(ctx, "calsync: synced", "calendar", cal.ID, "full", res.Full, "pages", res.Pages, "applied", res.Applied, "stale", res.Stale)
	return res, nil
}

// newGeneration returns a full-sync mark different from the previous one
// and from the stamps earlier full syncs left on the calendar's events
// (prev.Generation is zero once a full sync completed, so it cannot tell).
// It is random rather than read from the clock: a clock that has not moved
// since the last full sync (a fake or coarse Config.Now) would reuse that
// sync's mark, and the sweep would keep events the provider deleted.
func (e *Engine) newGeneration(prev SyncState) int64 {
	var b [8]byte
	_, _ = rand.Read(b[:]) // never fails (crypto/rand)
	g := int64(binary.BigEndian.Uint64(b[:]) >> 1)
	if g == 0 || g == prev.Generation {
		g = prev.Generation + 1
	}
	return g
}

// RenewExpiring renews every subscription that expires within
// Config.RenewBefore. A provider that implements provider.Renewer (Graph)
// extends the subscription in place; if it no longer has it, a new one is
// created and the calendar fully resynced. Other subscriptions are replaced:
// the new one is created first and the old one stopped afterwards, so there
// is no gap (both are accepted during the overlap). It returns how many were
// renewed; failures are reported to OnError and joined into the error.
//
// With a Store that implements [Leases], each subscription is renewed under
// a lease (see [RenewLeaseTTL]) and read again once the lease is taken, so
// that of several instances sweeping at the same time exactly one renews
// it: the others skip it while the lease is held, and afterwards find it
// renewed or replaced. The count includes only this Engine's renewals.
func (e *Engine) RenewExpiring(ctx context.Context) (int, error) {
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
		// Another instance may have renewed or replaced it since the list
		// was read: the subscription is read again under its lease.
		cur, release, held, err := e.leaseSubscription(ctx, s.ID)
		switch {
		case held:
			e.log.DebugContext(ctx, "calsync: renewal skipped: another instance holds its lease", "subscription", s.ID)
			continue
		case errors.Is(err, ErrNotFound):
			e.log.DebugContext(ctx, "calsync: renewal skipped: subscription already replaced", "subscription", s.ID)
			continue
		case err != nil:
			errs = append(errs, fmt.Errorf("calsync: renew %s: %w", s.ID, err))
			continue
		case !cur.Expiration.Before(due):
			release()
			e.log.DebugContext(ctx, "calsync: renewal skipped: subscription already renewed", "subscription", s.ID)
			continue
		}
		cal, err := e.cfg.Store.Calendar(ctx, cur.CalendarID)
		if err != nil {
			release()
			errs = append(errs, fmt.Errorf("calsync: renew %s: %w", s.ID, err))
			continue
		}
		resync, err := e.resubscribe(ctx, cal, cur, 0)
		release()
		if err != nil {
			e.fail(ctx, cal, err)
			errs = append(errs, err)
			continue
		}
		n++
		if resync {
			// Notifications were lost while the subscription was gone; if
			// this resync fails, retry it like a failed notification
			// rather than wait for the safety net.
			var last error
			e.syncs.Do(cal.ID, func() error {
				_, last = e.syncOnce(ctx, cal)
				return last
			}, func(err error) { e.fail(ctx, cal, err) })
			if last != nil {
				e.retryFolded(ctx, cal, last)
			}
		}
	}
	e.alertExpiring(ctx)
	return n, errors.Join(errs...)
}

// renewLease names the lease held while subscription id is renewed (or
// created).
func renewLease(id string) string { return "renew/" + id }

// leaseSubscription takes the renewal lease of subscription id (when the
// Store has Leases) and reads the subscription under it, so that what the
// caller decides from it holds until release. held is true, and nothing is
// held, when another instance holds the lease. If the subscription is gone
// the error wraps ErrNotFound and nothing is held. Otherwise the caller must
// call release. Without Leases it only reads the subscription.
func (e *Engine) leaseSubscription(ctx context.Context, id string) (sub Subscription, release func(), held bool, err error) {
	release = func() {}
	if l, ok := e.cfg.Store.(Leases); ok {
		name := renewLease(id)
		got, err := l.AcquireLease(ctx, name, e.cfg.InstanceID, e.cfg.Now(), RenewLeaseTTL)
		if err != nil {
			return Subscription{}, nil, false, fmt.Errorf("lease: %w", err)
		}
		if !got {
			return Subscription{}, nil, true, nil
		}
		release = func() { e.releaseLease(ctx, l, name) }
	}
	sub, err = e.cfg.Store.Subscription(ctx, id)
	if err != nil {
		release()
		return Subscription{}, nil, false, err
	}
	return sub, release, false, nil
}

// resubscribeLeased runs resubscribe for a lifecycle notification under
// the subscription's renewal lease, so that it never races a renewal sweep
// of another instance. If another instance holds the lease it returns an
// error wrapping ErrConflict, and the notification is retried later, when
// the subscription has been renewed or replaced. A subscription no longer
// stored (replaced by an earlier lifecycle notification or a renewal, or
// removed) is left alone: the caller's sync still runs.
func (e *Engine) resubscribeLeased(ctx context.Context, cal Calendar, id string, kind NotificationKind) error {
	old, release, held, err := e.leaseSubscription(ctx, id)
	switch {
	case held:
		return fmt.Errorf("calsync: %s for subscription %s: another instance is renewing it: %w", kind, id, ErrConflict)
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

// releaseLease gives up a lease this Engine holds. A failure is only
// logged: the lease expires on its own.
func (e *Engine) releaseLease(ctx context.Context, l Leases, name string) {
	if err := l.ReleaseLease(context.WithoutCancel(ctx), name, e.cfg.InstanceID); err != nil {
		e.log.WarnContext(ctx, "calsync: cannot release lease", "lease", name, "err", err)
	}
}

// alertExpiring raises an alert for every subscription that, after a
// renewal sweep, still expires within AlertExpiryWithin.
func (e *Engine) alertExpiring(ctx context.Context) {
	now := e.cfg.Now()
	subs, err := e.cfg.Store.ExpiringSubscriptions(ctx, now.Add(e.cfg.AlertExpiryWithin))
	if err != nil {
		return
	}
	for _, s := range subs {
		e.raise(ctx, Alert{
			Kind: AlertSubscriptionExpiring, CalendarID: s.CalendarID, SubscriptionID: s.ID, At: now,
			Value: s.Expiration.Sub(now).Seconds(), Threshold: e.cfg.AlertExpiryWithin.Seconds(),
			Message: fmt.Sprintf("subscription %s of calendar %s expires at %s and could not be renewed", s.ID, s.CalendarID, s.Expiration.UTC().Format(time.RFC3339)),
		})
	}
}

// resubscribe keeps subscription old of cal delivering; kind is the
// lifecycle notification that asked for it, or zero for a renewal before
// expiry. A provider.Renewer renews in place (after a reauthorization, for
// ReauthorizationRequired, if it is a provider.Reauthorizer). Otherwise, for
// SubscriptionRemoved, or when the provider says the subscription is gone,
// a new subscription is created and then the old one stopped and
// forgotten. resync reports that notifications were lost and the calendar
// has been marked for a full resync, which the caller must run.
func (e *Engine) resubscribe(ctx context.Context, cal Calendar, old Subscription, kind NotificationKind) (resync bool, err error) {
	ttl := old.Expiration.Sub(old.Created)
	if ttl <= 0 || old.ResourceID == "" {
		// A record without a resource id is the placeholder subscribe
		// stores before the provider answers, left by a crash in between:
		// its one-hour lifetime is not a lease length to copy (that would
		// renew it every hour for ever). Use the provider's default.
		ttl = 0
	}
	p, err := e.provider(cal.Provider)
	if err != nil {
		return false, err
	}
	if r, ok := p.(provider.Renewer); ok && kind != SubscriptionRemoved {
		err := e.renewInPlace(ctx, cal, p, r, old, ttl, kind)
		if !errors.Is(err, ErrSubscriptionGone) {
			if err != nil {
				return false, fmt.Errorf("calsync: renew %s: %w", old.ID, err)
			}
			return false, nil
		}
		e.log.InfoContext(ctx, "calsync: subscription gone, recreating it and resyncing", "calendar", cal.ID, "subscription", old.ID)
		if err := e.requireFullSync(ctx, cal); err != nil {
			return false, fmt.Errorf("calsync: renew %s: %w", old.ID, err)
		}
		resync = true
	}
	sub, err := e.subscribe(ctx, cal, WatchRequest{Address: old.Address, LifecycleAddress: old.LifecycleAddress, TTL: ttl})
	if err != nil {
		return resync, fmt.Errorf("calsync: renew %s: %w", old.ID, err)
	}
	if err := p.Stop(ctx, cal, &old); err != nil && !errors.Is(err, ErrNotFound) {
		// The new subscription works; the old one expires on its own.
		e.log.WarnContext(ctx, "calsync: cannot stop replaced subscription", "subscription", old.ID, "err", err)
	}
	if err := e.cfg.Store.DeleteSubscription(ctx, old.ID); err != nil && !errors.Is(err, ErrNotFound) {
		return resync, fmt.Errorf("calsync: renew %s: forget old subscription: %w", old.ID, err)
	}
	e.log.InfoContext(ctx, "calsync: subscription renewed", "calendar", cal.ID, "old", old.ID, "new", sub)
	return resync, nil
}

// renewInPlace extends old with the provider's Renew (reauthorizing it
// first for ReauthorizationRequired) and stores the new expiration.
func (e *Engine) renewInPlace(ctx context.Context, cal Calendar, p Provider, r provider.Renewer, old Subscription, ttl time.Duration, kind NotificationKind) error {
	if ra, ok := p.(provider.Reauthorizer); ok && kind == ReauthorizationRequired {
		if err := ra.Reauthorize(ctx, cal, &old); err != nil {
			return err
		}
	}
	renewed, err := r.Renew(ctx, cal, &old, ttl)
	if err != nil {
		return err
	}
	s := old
	s.Expiration, s.Created = renewed.Expiration, renewed.Created
	if s.Created.IsZero() {
		s.Created = e.cfg.Now()
	}
	if err := e.cfg.Store.PutSubscription(ctx, s); err != nil {
		return fmt.Errorf("store subscription: %w", err)
	}
	e.log.InfoContext(ctx, "calsync: subscription extended", "calendar", cal.ID, "subscription", s)
	return nil
}

// requireFullSync drops the calendar's cursor so that its next sync lists
// it whole (and deletes what the provider no longer has). It writes without
// Batch.Expect: a sync under way, here or in another instance, gets
// ErrConflict on its next page and continues with this full sync (with a
// Store that ignores Expect it may write its cursor back; it ran after the
// gap, so it saw the changes).
func (e *Engine) requireFullSync(ctx context.Context, cal Calendar) error {
	st, err := e.cfg.Store.SyncState(ctx, cal.ID)
	if err != nil {
		return err
	}
	if st.FullSync() {
		return nil
	}
	_, err = e.cfg.Store.Apply(ctx, cal.ID, &Batch{State: SyncState{Generation: e.newGeneration(st), LastSync: st.LastSync}})
	return err
}

func randomSecret() (string, error) {
	var b [32]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", fmt.Errorf("calsync: random secret: %w", err)
	}
	return hex.EncodeToString(b[:]), nil
}
