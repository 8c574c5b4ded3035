package calsync

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/trace"
)

// Defaults for Config fields left zero.
const (
	// DefaultWorkers is the number of goroutines Run uses to process
	// notifications. Workers mostly wait for the provider, and the
	// per-account limits (retry.LimitTransport) bound what each account
	// gets at once, so 16 keeps the p99 from a change to OnChange within
	// 2× of one fetch plus one Apply at 1,000 calendars × 200 changes/s on
	// SQLite, where 4 did not (BENCHMARKS.md, "Notification throughput").
	DefaultWorkers = 16
	// DefaultDebounce is how long the default queue holds a calendar's
	// sync for more notifications of the same burst.
	DefaultDebounce = 250 * time.Millisecond
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
	// DefaultDiscoverInterval is how often Run lists every active
	// account's calendars.
	DefaultDiscoverInterval = time.Hour
	// DefaultFeedConsumer is the name under which an Engine's deliveries
	// to OnChange acknowledge their position in the change feed.
	DefaultFeedConsumer = "default"
	// DefaultFeedRetention is how long the change feed keeps an entry that
	// not every consumer has acknowledged.
	DefaultFeedRetention = 7 * 24 * time.Hour
	// DefaultFeedPollInterval is how often Run's feed consumer looks for
	// changes other instances committed.
	DefaultFeedPollInterval = time.Second
	// DefaultDrainTimeout is how long Run lets the syncs under way finish
	// after its context ends.
	DefaultDrainTimeout = 10 * time.Second
)

// Config configures an Engine. Store and Providers are required.
type Config struct {
	// Store persists calendars, events, cursors and subscriptions.
	Store Store
	// Providers serve the calendars, keyed by their Name.
	Providers []Provider
	// Queue carries notifications from the webhook handlers to the workers.
	// Default: a MemoryQueue of DefaultQueueCapacity with Debounce and
	// MaxDebounce below.
	Queue Queue
	// Debounce, for the default queue, holds a calendar's sync until no
	// notification for it has arrived for this long (see
	// MemoryQueueConfig.Debounce): a burst of notifications costs one or
	// two syncs instead of one each, at the price of this much latency.
	// Default: DefaultDebounce; negative: none.
	Debounce time.Duration
	// MaxDebounce bounds that wait for a calendar whose notifications keep
	// coming. Default: 10 × Debounce.
	MaxDebounce time.Duration
	// OnChange receives the changes the Store committed (Upserts carry the
	// stored Event, Version set). Default: none.
	//
	// With a Store that implements [ChangeFeed] (store/memory,
	// store/sqlite, store/postgres) the changes come from the feed, at
	// least once: in commit order, one call per run of consecutive changes
	// of one calendar, never two calls at a time in one Engine. Run's feed
	// consumer makes the calls (woken by this Engine's commits, and every
	// FeedPollInterval for other instances'); while Run is not running, the
	// goroutine that committed makes them before Sync, Connect or Process
	// returns. After the calls the position is acknowledged under
	// FeedConsumer; a process that dies before that delivers the same
	// changes again, in the same order, when it next delivers. So apply
	// them idempotently: an Upsert is identified by (calendar, event ID,
	// Event.Version), keep it only if its Version is newer than the one
	// you hold (or you hold none); a Delete may come again. Replaying a run
	// of changes in order that way ends in the right state. Changes of a
	// calendar deleted (Disconnect) before they were delivered are not
	// delivered. Instances sharing the Store and a FeedConsumer take turns
	// under a lease (Stores that implement [Leases]): one delivers, the
	// others' commits reach it within FeedPollInterval.
	//
	// With any other Store, the goroutine that ran the sync calls it once
	// after each commit, at most once: if the process dies between the
	// commit and the call, the changes are in the Store but never reach
	// OnChange.
	//
	// It should return quickly: deliveries wait for it.
	OnChange func(ctx context.Context, cal Calendar, changes []Change)
	// OnError is called when a background sync or renewal fails, so that
	// failures never go unnoticed. A refused grant (errors.Is(err,
	// ErrReauthRequired)) is reported once, by the call that parks the
	// account (with a Store that implements [AccountStore]; see
	// OnAccountStatus), not by every later call that finds it parked.
	// Default: none (they are logged).
	OnError func(ctx context.Context, cal Calendar, err error)
	// OnAccountStatus is called once per change of an account's status
	// (see [AccountStatus]), in the instance that made the change: when
	// the provider refuses a grant (AccountNeedsReauth: show the user a
	// Reconnect button), when the connect flow completes again
	// (AccountActive) and when the host disconnects it. a is the account
	// as stored after the change; previous its status before. Needs a
	// Store that implements [AccountStore]. Default: none (changes are
	// logged).
	OnAccountStatus func(ctx context.Context, a Account, previous AccountStatus)
	// OnCalendarsChanged is called when the discovery sweep (SweepDiscover)
	// finds that calendars were added to or removed from an account since
	// it was last listed. Needs a Store that implements [AccountStore] and
	// providers that implement provider.CalendarLister. Default: none.
	OnCalendarsChanged func(ctx context.Context, a Account, added, removed []CalendarInfo)
	// DiscoverInterval is how often Run lists the calendars of every
	// active account to notice added and removed ones (SweepDiscover).
	// Default: DefaultDiscoverInterval.
	DiscoverInterval time.Duration
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
	// 2^attempt × RetryUnit, less a random jitter of up to a quarter of
	// it. Default: DefaultRetryUnit (one minute).
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
	// FeedConsumer names this Engine's reader of the change feed (Stores
	// that implement [ChangeFeed]): the feed keeps, under this name, the
	// position up to which OnChange has received the changes, and
	// redelivers from there after a restart. Engines (instances of the
	// host app) that share a name share the position and deliver in turn;
	// give an Engine a name of its own to have it receive every change
	// independently. Default: DefaultFeedConsumer.
	FeedConsumer string
	// FeedRetention bounds how long the change feed keeps an entry that
	// some consumer has not acknowledged (a consumer that stopped, or a
	// host reading with ChangesSince); entries every consumer has
	// acknowledged go at the next SweepPruneFeed. Default:
	// DefaultFeedRetention (7 days).
	FeedRetention time.Duration
	// FeedPollInterval is how often Run's feed consumer reads the feed
	// without being woken: changes this Engine commits wake it at once,
	// those of other instances sharing the Store are found this way.
	// Default: DefaultFeedPollInterval (1 s).
	FeedPollInterval time.Duration
	// SkipCatchUp stops Run from syncing every calendar when it starts
	// (the SweepCatchUp sweep). Default: false (catch up).
	SkipCatchUp bool
	// CatchUpRate is how many calendars per second SweepCatchUp starts
	// syncing, at most Workers at a time. The catch-up runs beside the
	// renewal sweep, never before it. Default: DefaultCatchUpRate (50).
	// math.Inf(1) starts them as fast as Workers allow.
	CatchUpRate float64
	// Alerts sets when alerts fire and who hears of them. Default: the
	// defaults of each AlertConfig field, alerts logged and counted.
	Alerts AlertConfig
	// ManualSweeps stops Run from scheduling the periodic sweeps (see
	// [Sweep]): Run then only processes the queue, and the host runs each
	// sweep with [Engine.RunSweep] from its own scheduler (for example a
	// periodic job that runs once per cluster), at the intervals
	// [Engine.SweepInterval] gives. Default: false (Run schedules them).
	ManualSweeps bool
	// MeterProvider receives the Engine's OpenTelemetry metrics (the
	// README lists them). Default: the global one, otel.GetMeterProvider()
	// as NewEngine finds it (a no-op until the host sets one with
	// otel.SetMeterProvider; instruments made before that follow it once
	// set).
	MeterProvider metric.MeterProvider
	// TracerProvider receives the Engine's spans: one per sync, per
	// provider call the Engine makes and per Store.Apply (see trace.go).
	// Spans carry ids, never tokens. Default: the global one,
	// otel.GetTracerProvider() as NewEngine finds it.
	TracerProvider trace.TracerProvider
	// DrainTimeout is how long Run, once its context ends, lets the
	// notifications its workers are processing finish: they run on until
	// done or until this much time has passed, and Run returns after
	// them. One cut short at the deadline is neither reported to OnError
	// nor recorded as a failed attempt (the provider's redelivery, the
	// queue or the next catch-up brings it back). Default:
	// DefaultDrainTimeout (10 s); negative: none (cut at once).
	DrainTimeout time.Duration
	// InstanceID identifies this Engine among the instances sharing the
	// Store: it owns the leases the Engine takes (Stores that implement
	// [Leases]). Two Engines must never share one. A stable id (a host
	// name) lets a restarted process take back at once the leases its
	// predecessor held, the change feed consumer's among them, instead of
	// waiting for them to expire. Default: a random id, new for every
	// NewEngine.
	InstanceID string
	// Logger receives structured logs (ids, never secrets): failures at
	// Error, recoveries and alerts at Warn. Default: slog.Default(), as
	// NewEngine finds it; slog.New(slog.DiscardHandler) for none.
	Logger *slog.Logger
	// Now returns the current time. Default: time.Now. Tests set a fake clock.
	Now func() time.Time
}

// WithDefaults returns a copy of c with zero fields set to their defaults.
func (c Config) WithDefaults() Config {
	if c.Debounce == 0 {
		c.Debounce = DefaultDebounce
	}
	if c.Queue == nil {
		c.Queue = NewMemoryQueueWith(MemoryQueueConfig{Capacity: DefaultQueueCapacity, Debounce: c.Debounce, MaxDebounce: c.MaxDebounce})
	}
	if c.Workers <= 0 {
		c.Workers = DefaultWorkers
	}
	if !(c.CatchUpRate > 0) {
		c.CatchUpRate = DefaultCatchUpRate
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
	if c.DiscoverInterval <= 0 {
		c.DiscoverInterval = DefaultDiscoverInterval
	}
	if c.SafetyNetInterval <= 0 {
		c.SafetyNetInterval = DefaultSafetyNetInterval
	}
	if c.FeedConsumer == "" {
		c.FeedConsumer = DefaultFeedConsumer
	}
	if c.FeedRetention <= 0 {
		c.FeedRetention = DefaultFeedRetention
	}
	if c.FeedPollInterval <= 0 {
		c.FeedPollInterval = DefaultFeedPollInterval
	}
	c.Alerts = c.Alerts.withDefaults()
	if c.DrainTimeout == 0 {
		c.DrainTimeout = DefaultDrainTimeout
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	if c.MeterProvider == nil {
		c.MeterProvider = otel.GetMeterProvider()
	}
	if c.TracerProvider == nil {
		c.TracerProvider = otel.GetTracerProvider()
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
