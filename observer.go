package calsync

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/metric/noop"
	"go.opentelemetry.io/otel/trace"
	tracenoop "go.opentelemetry.io/otel/trace/noop"

	"github.com/calsync/calsync/internal/alert"
)

// MeterName is the instrumentation scope name of calsync's metrics.
const MeterName = "github.com/calsync/calsync"

// The outcomes recorded on calsync.notifications.processed.
const (
	outcomeOK        = "ok"
	outcomeFailed    = "failed"
	outcomeDuplicate = "duplicate"
	outcomeCoalesced = "coalesced"
	// outcomeInterrupted: Run's shutdown cut the processing short (see
	// Config.DrainTimeout); not a failure.
	outcomeInterrupted = "interrupted"
)

// Bucket boundaries, in seconds, of the duration histograms: the SDK's
// defaults (0, 5, 10, 25, … 10000) would put nearly every latency in the
// first bucket.
var (
	// callBuckets: one provider call or one Store.Apply, a millisecond to
	// half a minute (a slow page of a big calendar).
	callBuckets = []float64{0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30}
	// syncBuckets: one sync, a few milliseconds (an incremental sync with
	// nothing new) to ten minutes (the full sync of a big calendar).
	syncBuckets = []float64{0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600}
	// latencyBuckets: a notification's arrival to the end of its
	// processing, debounce (DefaultDebounce) and queueing included.
	latencyBuckets = []float64{0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600}
)

// alertCheckEvery is the shortest interval between two alert checks.
const alertCheckEvery = time.Second

// observer is the one place an Engine reports what happens: each method is
// one event, and updates everything that watches it (the Stats counters,
// the OpenTelemetry instruments, the alert monitor, the per-calendar
// health). Adding a metric touches this file only.
type observer struct {
	now    func() time.Time
	log    *slog.Logger
	alerts AlertConfig

	counts struct {
		enqueued, handled, processed, duplicates, syncs, fullSyncs, changes, stale, failures, deadLetters atomic.Int64
	}

	received     metric.Int64Counter
	processed    metric.Int64Counter
	latency      metric.Float64Histogram
	syncDuration metric.Float64Histogram
	deadLetters  metric.Int64Counter
	alertsRaised metric.Int64Counter
	callDuration metric.Float64Histogram
	applyDur     metric.Float64Histogram

	tracer trace.Tracer

	// started is when the observer was made (Unix ns of now()); the queue
	// counts below feed the readiness check (readiness.go).
	started int64
	queue   struct {
		// inflight counts notifications Run's workers have dequeued and
		// not yet handled; lastMove is when a worker last dequeued or
		// finished one (Unix ns of now()).
		inflight, lastMove atomic.Int64
	}

	monitor *alert.Monitor
	// lastAlertCheck is when checkAlerts last ran (Unix ns of now()).
	lastAlertCheck atomic.Int64

	mu     sync.Mutex
	health map[string]*Health

	// idle: active counts syncs under way; waiting is set while WaitIdle
	// waits on changed, which is closed (and replaced) at the next change
	// of the queued or active counts.
	active  atomic.Int64
	idleMu  sync.Mutex
	waiting atomic.Bool // read without idleMu by signal; written under it
	changed chan struct{}

	// feed is what WaitIdle knows of Run's change-feed consumer.
	feed struct {
		// active: Run's consumer runs and delivers (it holds the
		// consumer's lease); only then does WaitIdle wait for it.
		active atomic.Bool
		// drained: it has delivered what the feed held when it last
		// started delivering.
		drained atomic.Bool
		// own is the largest Seq this Engine committed, delivered the
		// position delivered to OnChange.
		own, delivered atomic.Int64
	}
}

// newObserver makes the observer of an Engine configured with cfg (with
// defaults applied). expiring lists the subscriptions expiring before a
// time, for the expiry gauge.
func newObserver(cfg Config, expiring func(context.Context, time.Time) ([]Subscription, error)) (*observer, error) {
	o := &observer{now: cfg.Now, log: cfg.Logger, alerts: cfg.Alerts, health: make(map[string]*Health), started: cfg.Now().UnixNano()}
	tp := cfg.TracerProvider
	if tp == nil {
		tp = tracenoop.NewTracerProvider()
	}
	o.tracer = tp.Tracer(TracerName)
	o.monitor = alert.New(alert.Config{
		Window: cfg.Alerts.Window, FailureRate: cfg.Alerts.FailureRate, MinSamples: cfg.Alerts.MinSamples,
		P95: cfg.Alerts.LatencyP95, DeadLetters: 1, VolumeDrop: cfg.Alerts.VolumeDrop,
	})
	mp := cfg.MeterProvider
	if mp == nil {
		mp = noop.NewMeterProvider()
	}
	m := mp.Meter(MeterName)
	var errs [10]error
	o.received, errs[0] = m.Int64Counter("calsync.notifications.received", metric.WithUnit("{notification}"),
		metric.WithDescription("Notifications accepted by a webhook handler and queued."))
	o.processed, errs[1] = m.Int64Counter("calsync.notifications.processed", metric.WithUnit("{notification}"),
		metric.WithDescription("Notifications processed, by outcome (ok, failed, duplicate, coalesced)."))
	o.latency, errs[2] = m.Float64Histogram("calsync.notification.latency", metric.WithUnit("s"),
		metric.WithDescription("Time from a notification's arrival to the end of its processing."),
		metric.WithExplicitBucketBoundaries(latencyBuckets...))
	o.syncDuration, errs[3] = m.Float64Histogram("calsync.sync.duration", metric.WithUnit("s"),
		metric.WithDescription("Duration of one sync of one calendar, by provider and kind (full or incremental)."),
		metric.WithExplicitBucketBoundaries(syncBuckets...))
	o.callDuration, errs[8] = m.Float64Histogram("calsync.provider.call.duration", metric.WithUnit("s"),
		metric.WithDescription("Duration of one provider call the Engine made, by provider, operation and outcome (ok or error)."),
		metric.WithExplicitBucketBoundaries(callBuckets...))
	o.applyDur, errs[9] = m.Float64Histogram("calsync.store.apply.duration", metric.WithUnit("s"),
		metric.WithDescription("Duration of one Store.Apply (one page of a sync committed), by outcome (ok or error)."),
		metric.WithExplicitBucketBoundaries(callBuckets...))
	o.deadLetters, errs[4] = m.Int64Counter("calsync.dead_letters", metric.WithUnit("{notification}"),
		metric.WithDescription("Notifications moved to the dead-letter store."))
	o.alertsRaised, errs[5] = m.Int64Counter("calsync.alerts", metric.WithUnit("{alert}"),
		metric.WithDescription("Alerts raised, by kind."))
	var (
		expiry metric.Int64ObservableGauge
		lag    metric.Float64ObservableGauge
	)
	expiry, errs[6] = m.Int64ObservableGauge("calsync.subscriptions.expiring", metric.WithUnit("{subscription}"),
		metric.WithDescription("Subscriptions by time left before they expire (bucket: expired, 1h, 24h, 7d, later)."))
	lag, errs[7] = m.Float64ObservableGauge("calsync.sync.lag", metric.WithUnit("s"),
		metric.WithDescription("Largest time since the last successful sync among the calendars this Engine syncs."))
	for _, err := range errs {
		if err != nil {
			return nil, fmt.Errorf("calsync: metrics: %w", err)
		}
	}
	if _, err := m.RegisterCallback(func(ctx context.Context, ob metric.Observer) error {
		return o.observeGauges(ctx, ob, expiry, lag, expiring)
	}, expiry, lag); err != nil {
		return nil, fmt.Errorf("calsync: metrics: %w", err)
	}
	if ql, ok := cfg.Queue.(QueueDepth); ok {
		depth, err := m.Int64ObservableGauge("calsync.queue.depth", metric.WithUnit("{notification}"),
			metric.WithDescription("Notifications waiting in the Queue (Queues that implement QueueDepth)."))
		if err != nil {
			return nil, fmt.Errorf("calsync: metrics: %w", err)
		}
		if _, err := m.RegisterCallback(func(ctx context.Context, ob metric.Observer) error {
			n, err := ql.Depth(ctx)
			if err != nil {
				return err
			}
			ob.ObserveInt64(depth, int64(n))
			return nil
		}, depth); err != nil {
			return nil, fmt.Errorf("calsync: metrics: %w", err)
		}
	}
	if as, ok := cfg.Store.(AccountStore); ok {
		reauth, err := m.Int64ObservableGauge("calsync.accounts.needs_reauth", metric.WithUnit("{account}"),
			metric.WithDescription("Accounts whose grant the provider refused, waiting for the user to reconnect (their calendars are parked)."))
		if err != nil {
			return nil, fmt.Errorf("calsync: metrics: %w", err)
		}
		if _, err := m.RegisterCallback(func(ctx context.Context, ob metric.Observer) error {
			accts, err := as.ListAccounts(ctx)
			if err != nil {
				return err
			}
			var n int64
			for _, a := range accts {
				if a.Status == AccountNeedsReauth {
					n++
				}
			}
			ob.ObserveInt64(reauth, n)
			return nil
		}, reauth); err != nil {
			return nil, fmt.Errorf("calsync: metrics: %w", err)
		}
	}
	return o, nil
}

// observeGauges reports subscriptions by time to expiry, and the largest
// sync lag among the calendars this Engine has synced.
func (o *observer) observeGauges(ctx context.Context, ob metric.Observer, expiry metric.Int64ObservableGauge, lag metric.Float64ObservableGauge,
	expiring func(context.Context, time.Time) ([]Subscription, error)) error {
	now := o.now()
	subs, err := expiring(ctx, now.Add(366*24*time.Hour))
	if err != nil {
		return err
	}
	buckets := []struct {
		name   string
		before time.Duration
	}{{"expired", 0}, {"1h", time.Hour}, {"24h", 24 * time.Hour}, {"7d", 7 * 24 * time.Hour}, {"later", 1 << 62}}
	counts := make([]int64, len(buckets))
	for _, s := range subs {
		left := s.Expiration.Sub(now)
		for i, b := range buckets {
			if left <= b.before {
				counts[i]++
				break
			}
		}
	}
	for i, b := range buckets {
		ob.ObserveInt64(expiry, counts[i], attrs("bucket", b.name))
	}
	var worst time.Duration
	o.mu.Lock()
	for _, h := range o.health {
		if !h.LastSuccess.IsZero() {
			worst = max(worst, now.Sub(h.LastSuccess))
		}
	}
	o.mu.Unlock()
	ob.ObserveFloat64(lag, worst.Seconds())
	return nil
}

// attrs is one attribute as a measurement option.
func attrs(k, v string) metric.MeasurementOption {
	return metric.WithAttributes(attribute.String(k, v))
}

// enqueued: a webhook handler queued n.
func (o *observer) enqueued(ctx context.Context, n Notification) {
	o.counts.enqueued.Add(1)
	o.received.Add(ctx, 1, attrs("provider", n.Provider))
	o.monitor.Received(n.Received)
	o.signal()
}

// alreadyQueued: a webhook handler's n was folded into a notification of
// the same calendar still waiting in the queue.
func (o *observer) alreadyQueued(ctx context.Context, n Notification) {
	o.counts.enqueued.Add(1)
	o.counts.handled.Add(1)
	o.received.Add(ctx, 1, attrs("provider", n.Provider))
	o.processed.Add(ctx, 1, attrs("provider", n.Provider), attrs("outcome", outcomeCoalesced))
	o.monitor.Received(n.Received)
}

// dequeued: a worker of Run took a notification from the Queue.
func (o *observer) dequeued() {
	o.queue.inflight.Add(1)
	o.queue.lastMove.Store(o.now().UnixNano())
}

// handled: a worker finished with a queued notification, whatever the
// outcome.
func (o *observer) handled() {
	o.queue.inflight.Add(-1)
	o.queue.lastMove.Store(o.now().UnixNano())
	o.counts.handled.Add(1)
	o.signal()
}

// providerCall: the Engine called the provider about a calendar.
func (o *observer) providerCall(calendarID string) {
	o.mu.Lock()
	o.calendar(calendarID).ProviderCalls++
	o.mu.Unlock()
}

// calendar returns the health record of a calendar, made if missing; o.mu
// is held.
func (o *observer) calendar(id string) *Health {
	h := o.health[id]
	if h == nil {
		h = new(Health)
		o.health[id] = h
	}
	return h
}

// signal wakes WaitIdle, if it waits, to look at the counts again.
//
// It runs for every notification (the webhook's ack path among others), so
// it takes no lock unless WaitIdle waits. idle sets waiting before it
// reads the counts, so a signal that finds waiting unset ran before idle
// set it, and idle then reads the changed count.
func (o *observer) signal() {
	if !o.waiting.Load() {
		return
	}
	o.idleMu.Lock()
	if o.waiting.Load() {
		close(o.changed)
		o.waiting.Store(false)
	}
	o.idleMu.Unlock()
}

// idle reports whether every notification this Engine queued has been
// handled and no sync runs; if not, it returns a channel closed at the
// next change.
func (o *observer) idle() (bool, <-chan struct{}) {
	o.idleMu.Lock()
	defer o.idleMu.Unlock()
	if !o.waiting.Load() {
		o.changed = make(chan struct{})
		o.waiting.Store(true)
	}
	// Counts read after waiting is set: a change after this read signals.
	if o.counts.handled.Load() >= o.counts.enqueued.Load() && o.active.Load() == 0 && o.feedIdle() {
		return true, nil
	}
	return false, o.changed
}

// feedIdle reports whether Run's feed consumer, if it delivers, has
// delivered its backlog and every change this Engine committed.
func (o *observer) feedIdle() bool {
	f := &o.feed
	return !f.active.Load() || (f.drained.Load() && f.delivered.Load() >= f.own.Load())
}

// feedCommitted: this Engine committed feed entries up to seq.
func (o *observer) feedCommitted(seq int64) {
	maxInt64(&o.feed.own, seq)
}

// feedStarted: Run's feed consumer is starting.
func (o *observer) feedStarted() {
	o.feed.drained.Store(false)
	o.feed.active.Store(true)
	o.signal()
}

// feedHolder: Run's feed consumer does (or does not) hold the consumer's
// lease: it delivers, or another instance does.
func (o *observer) feedHolder(holder bool) {
	if holder && !o.feed.active.Load() {
		// Taking over: what it drained before no longer counts.
		o.feed.drained.Store(false)
	}
	if o.feed.active.Swap(holder) != holder {
		o.signal()
	}
}

// feedClaimed: Run's feed consumer took the consumer's lease, at pos.
func (o *observer) feedClaimed(pos int64) {
	o.feed.drained.Store(false)
	maxInt64(&o.feed.delivered, pos)
}

// feedDelivered: the feed was delivered to OnChange up to pos; drained if
// the read found nothing more.
func (o *observer) feedDelivered(pos int64, drained bool) {
	maxInt64(&o.feed.delivered, pos)
	o.feed.drained.Store(drained)
	o.signal()
}

// feedStopped: Run's feed consumer stopped.
func (o *observer) feedStopped() {
	o.feed.active.Store(false)
	o.signal()
}

// maxInt64 raises v to n if n is larger.
func maxInt64(v *atomic.Int64, n int64) {
	for {
		cur := v.Load()
		if n <= cur || v.CompareAndSwap(cur, n) {
			return
		}
	}
}

// duplicate: the ledger recognised n as already seen.
func (o *observer) duplicate(ctx context.Context, n Notification) {
	o.counts.duplicates.Add(1)
	o.processed.Add(ctx, 1, attrs("provider", n.Provider), attrs("outcome", outcomeDuplicate))
}

// notificationDone: n was processed at now; ran is false when its sync
// was folded into one under way.
func (o *observer) notificationDone(ctx context.Context, n Notification, ran bool, err error, now time.Time) {
	if err != nil && interrupted(ctx) {
		// Cut short by Run's shutdown (or the caller's context): not a
		// failure, and its latency says nothing of the pipeline's.
		o.processed.Add(context.WithoutCancel(ctx), 1, attrs("provider", n.Provider), attrs("outcome", outcomeInterrupted))
		return
	}
	o.counts.processed.Add(1)
	outcome := outcomeOK
	switch {
	case err != nil:
		outcome = outcomeFailed
	case !ran:
		outcome = outcomeCoalesced
	}
	o.processed.Add(ctx, 1, attrs("provider", n.Provider), attrs("outcome", outcome))
	if !n.Received.IsZero() {
		lat := now.Sub(n.Received)
		o.latency.Record(ctx, lat.Seconds(), attrs("provider", n.Provider))
		o.monitor.Processed(now, err != nil, lat)
	}
	o.checkAlerts(ctx, now)
}

// syncBegins: a sync of a calendar is about to start; syncDone follows.
func (o *observer) syncBegins() {
	o.active.Add(1)
	o.signal()
}

// syncStarted: a sync of cal read its state and fetches.
func (o *observer) syncStarted(cal Calendar) {
	o.counts.syncs.Add(1)
	o.mu.Lock()
	o.calendar(cal.ID).Syncs++
	o.mu.Unlock()
}

// pageApplied: a sync of cal committed a page.
func (o *observer) pageApplied(cal Calendar, ar *ApplyResult) {
	o.counts.changes.Add(int64(len(ar.Applied)))
	o.counts.stale.Add(int64(ar.Stale))
	o.mu.Lock()
	o.calendar(cal.ID).Changes += int64(len(ar.Applied))
	o.mu.Unlock()
}

// syncDone: a sync of cal that started at start ended with err.
func (o *observer) syncDone(ctx context.Context, cal Calendar, start time.Time, res SyncResult, err error) {
	defer func() {
		o.active.Add(-1)
		o.signal()
	}()
	o.mu.Lock()
	h := o.calendar(cal.ID)
	h.LastAttempt = start
	h.LastError = err
	if err == nil {
		h.LastSuccess = start
		h.ConsecutiveFailures = 0
	} else {
		h.ConsecutiveFailures++
	}
	kind := "incremental"
	if res.Full {
		kind = "full"
		if err == nil {
			o.counts.fullSyncs.Add(1)
			h.FullSyncs++
		}
	}
	o.mu.Unlock()
	o.syncDuration.Record(ctx, o.now().Sub(start).Seconds(),
		metric.WithAttributes(attribute.String("provider", cal.Provider), attribute.String("kind", kind)))
}

// failed: a background sync or renewal failed.
func (o *observer) failed() { o.counts.failures.Add(1) }

// deadLettered: n moved to the dead letters at now.
func (o *observer) deadLettered(ctx context.Context, n Notification, now time.Time) {
	o.counts.deadLetters.Add(1)
	o.deadLetters.Add(ctx, 1, attrs("provider", n.Provider))
	o.monitor.DeadLettered(now)
}

// forget drops what the observer knows of a disconnected calendar.
func (o *observer) forget(calendarID string) {
	o.mu.Lock()
	delete(o.health, calendarID)
	o.mu.Unlock()
}

// calendarHealth returns this process's view of one calendar.
func (o *observer) calendarHealth(calendarID string) (Health, bool) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if p := o.health[calendarID]; p != nil {
		return *p, true
	}
	return Health{}, false
}

// stats returns the counters.
func (o *observer) stats() Stats {
	c := &o.counts
	return Stats{
		Enqueued:    c.enqueued.Load(),
		Handled:     c.handled.Load(),
		Processed:   c.processed.Load(),
		Duplicates:  c.duplicates.Load(),
		DeadLetters: c.deadLetters.Load(),
		Syncs:       c.syncs.Load(),
		FullSyncs:   c.fullSyncs.Load(),
		Changes:     c.changes.Load(),
		Stale:       c.stale.Load(),
		Failures:    c.failures.Load(),
	}
}

// checkAlerts raises the alerts whose thresholds the window has crossed.
//
// It runs after every processed notification, so it is throttled to once
// per alertCheckEvery of the clock: a full window's P95 costs about half a
// millisecond (BenchmarkCheckFullWindow), which a burst of notifications
// would otherwise pay on every one. Run also calls it every RetryInterval.
func (o *observer) checkAlerts(ctx context.Context, now time.Time) {
	last := o.lastAlertCheck.Load()
	if last != 0 && now.UnixNano()-last < int64(alertCheckEvery) {
		return
	}
	if !o.lastAlertCheck.CompareAndSwap(last, now.UnixNano()) {
		return // another goroutine is checking
	}
	for _, f := range o.monitor.Check(now) {
		o.raise(ctx, monitorAlert(f, now, o.alerts.Window))
	}
}

// raise reports an alert: counted, logged at Warn, passed to OnAlert.
func (o *observer) raise(ctx context.Context, a Alert) {
	o.alertsRaised.Add(ctx, 1, attrs("kind", string(a.Kind)))
	o.log.WarnContext(ctx, "calsync: alert", "kind", a.Kind, "message", a.Message, "calendar", a.CalendarID, "subscription", a.SubscriptionID)
	if o.alerts.OnAlert != nil {
		o.alerts.OnAlert(ctx, a)
	}
}
