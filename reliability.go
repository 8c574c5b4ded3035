package calsync

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/calsync/calsync/internal/alert"
)

// AlertKind names the condition an Alert reports.
type AlertKind string

// The alert kinds.
const (
	// AlertFailureRate: the share of failed notifications in the alert
	// window is above Config.AlertFailureRate.
	AlertFailureRate AlertKind = "failure_rate"
	// AlertLatency: the P95 of notification processing latency (arrival to
	// committed) in the window is above Config.AlertLatencyP95.
	AlertLatency AlertKind = "latency_p95"
	// AlertDeadLetters: notifications were moved to the dead letters in the
	// window.
	AlertDeadLetters AlertKind = "dead_letters"
	// AlertVolumeDrop: far fewer notifications arrived in the window than
	// in the one before (pushes may have stopped).
	AlertVolumeDrop AlertKind = "volume_drop"
	// AlertSubscriptionExpiring: a subscription expires within
	// Config.AlertExpiryWithin and renewing it has not worked.
	AlertSubscriptionExpiring AlertKind = "subscription_expiring"
)

// Alert is a condition the host should look at, passed to Config.OnAlert.
type Alert struct {
	// Kind is what is wrong.
	Kind AlertKind
	// Message describes it for a person.
	Message string
	// Value and Threshold are the measured value and the limit it crossed
	// (rates as fractions, latencies in seconds, counts).
	Value, Threshold float64
	// CalendarID and SubscriptionID name what it is about, when it is about
	// one calendar or subscription.
	CalendarID, SubscriptionID string
	// At is when it was raised.
	At time.Time
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
func (n Notification) workID() string {
	if k := n.dedupKey(); k != "" {
		return k
	}
	return fmt.Sprintf("%s|%s|%s", n.Provider, n.CalendarID, n.Kind)
}

// Process handles one notification: it skips one the ledger has seen
// (when the Store is a [Ledger]), runs what the notification asks for
// (usually an incremental sync, coalesced with any sync of that calendar
// under way), and on failure records an attempt so that it is retried
// after 2^attempt minutes, moving it to the dead letters after
// Config.MaxAttempts (when the Store is a [DeadLetters]). Run calls it;
// hosts with their own Queue consumer may call it directly. It returns the
// processing error, already recorded.
func (e *Engine) Process(ctx context.Context, n Notification) error {
	return e.handle(ctx, n, false)
}

// handle is Process; retry is set for a due attempt, which the ledger must
// not skip: its entry may have been left in progress or done by a failure
// to record the previous outcome, and the attempt record is the claim.
func (e *Engine) handle(ctx context.Context, n Notification, retry bool) error {
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
			e.stats.duplicates.Add(1)
			e.metrics.processed.Add(ctx, 1, providerAttr(n.Provider), outcomeAttr(outcomeDuplicate))
			return nil
		}
	}
	ran, err := e.process(ctx, n)
	now := e.cfg.Now()
	e.stats.processed.Add(1)
	outcome := outcomeOK
	switch {
	case err != nil:
		outcome = outcomeFailed
	case !ran:
		outcome = outcomeCoalesced
	}
	e.metrics.processed.Add(ctx, 1, providerAttr(n.Provider), outcomeAttr(outcome))
	if !n.Received.IsZero() {
		lat := now.Sub(n.Received)
		e.metrics.latency.Record(ctx, lat.Seconds(), providerAttr(n.Provider))
		e.monitor.Processed(now, err != nil, lat)
	}
	if ledger != nil && key != "" {
		mark := ledger.CompleteNotification
		if err != nil {
			mark = ledger.FailNotification
		}
		if lerr := mark(context.WithoutCancel(ctx), key, now); lerr != nil && !errors.Is(lerr, ErrNotFound) {
			e.log.WarnContext(ctx, "calsync: dedup ledger", "calendar", n.CalendarID, "err", lerr)
		}
	}
	if dl, ok := e.cfg.Store.(DeadLetters); ok {
		if err == nil {
			if cerr := dl.ClearAttempt(ctx, n.workID()); cerr != nil && !errors.Is(cerr, ErrNotFound) {
				e.log.WarnContext(ctx, "calsync: clear attempt", "calendar", n.CalendarID, "err", cerr)
			}
		} else if ctx.Err() == nil {
			e.recordFailure(ctx, dl, n, err, now)
		}
	}
	e.checkAlerts(ctx, now)
	return err
}

// recordFailure counts a failed attempt and schedules the next one after
// 2^attempts × RetryUnit, or moves the notification to the dead letters
// after MaxAttempts.
func (e *Engine) recordFailure(ctx context.Context, dl DeadLetters, n Notification, cause error, now time.Time) {
	id := n.workID()
	prev, err := dl.Attempt(ctx, id)
	attempts := 1
	if err == nil {
		attempts = prev.Attempts + 1
	}
	next := now.Add(time.Duration(1<<min(attempts, 20)) * e.cfg.RetryUnit)
	a, err := dl.RecordAttempt(ctx, id, n, cause.Error(), now, next)
	if err != nil {
		e.log.ErrorContext(ctx, "calsync: cannot record failed attempt", "calendar", n.CalendarID, "err", err)
		return
	}
	if a.Attempts < e.cfg.MaxAttempts {
		e.log.InfoContext(ctx, "calsync: notification will be retried", "calendar", n.CalendarID, "attempt", a.Attempts, "next", a.NextAttempt)
		return
	}
	d := DeadLetter{ID: id, Notification: n, Attempts: a.Attempts, LastError: a.LastError, FirstFailed: a.FirstFailed, LastFailed: a.LastFailed}
	if err := dl.AddDeadLetter(ctx, d); err != nil {
		e.log.ErrorContext(ctx, "calsync: cannot store dead letter", "calendar", n.CalendarID, "err", err)
		return
	}
	e.stats.deadLetters.Add(1)
	e.metrics.deadLetters.Add(ctx, 1, providerAttr(n.Provider))
	e.monitor.DeadLettered(now)
	e.log.ErrorContext(ctx, "calsync: notification moved to dead letters", "calendar", n.CalendarID, "attempts", a.Attempts, "err", a.LastError)
	if e.cfg.OnDeadLetter != nil {
		e.cfg.OnDeadLetter(ctx, d)
	}
}

// RetryDue processes the failed notifications whose next attempt is due,
// and returns how many it processed. Run calls it every RetryInterval.
func (e *Engine) RetryDue(ctx context.Context) (int, error) {
	dl, ok := e.cfg.Store.(DeadLetters)
	if !ok {
		return 0, nil
	}
	due, err := dl.DueAttempts(ctx, e.cfg.Now(), 100)
	if err != nil {
		return 0, fmt.Errorf("calsync: due attempts: %w", err)
	}
	for _, a := range due {
		e.handle(ctx, a.Notification, true)
	}
	return len(due), nil
}

// DeadLetters lists up to limit dead letters whose ID sorts after afterID.
// It returns an error if the Store keeps no dead letters.
func (e *Engine) DeadLetters(ctx context.Context, afterID string, limit int) ([]DeadLetter, error) {
	dl, ok := e.cfg.Store.(DeadLetters)
	if !ok {
		return nil, errors.New("calsync: the Store keeps no dead letters (it does not implement calsync.DeadLetters)")
	}
	return dl.ListDeadLetters(ctx, afterID, limit)
}

// Replay processes a dead letter again. On success the dead letter is
// deleted; on failure it stays, and the error is returned.
func (e *Engine) Replay(ctx context.Context, id string) error {
	dl, ok := e.cfg.Store.(DeadLetters)
	if !ok {
		return errors.New("calsync: the Store keeps no dead letters (it does not implement calsync.DeadLetters)")
	}
	d, err := dl.DeadLetter(ctx, id)
	if err != nil {
		return fmt.Errorf("calsync: replay %s: %w", id, err)
	}
	if _, err := e.process(ctx, d.Notification); err != nil {
		return fmt.Errorf("calsync: replay %s: %w", id, err)
	}
	if ledger, ok := e.cfg.Store.(Ledger); ok && d.Notification.dedupKey() != "" {
		if err := ledger.CompleteNotification(ctx, d.Notification.dedupKey(), e.cfg.Now()); err != nil && !errors.Is(err, ErrNotFound) {
			e.log.WarnContext(ctx, "calsync: dedup ledger", "calendar", d.Notification.CalendarID, "err", err)
		}
	}
	if err := dl.DeleteDeadLetter(ctx, id); err != nil && !errors.Is(err, ErrNotFound) {
		return fmt.Errorf("calsync: replay %s: delete dead letter: %w", id, err)
	}
	return nil
}

// CatchUp syncs every connected calendar once, incrementally (a full sync
// where the cursor has expired or a full sync was interrupted), to pick up
// whatever changed while no process was listening. Run calls it on start.
func (e *Engine) CatchUp(ctx context.Context) (int, error) {
	cals, err := e.cfg.Store.ListCalendars(ctx)
	if err != nil {
		return 0, fmt.Errorf("calsync: catch-up: %w", err)
	}
	var errs []error
	for _, c := range cals {
		if err := e.Process(ctx, Notification{Kind: Resync, Provider: c.Provider, CalendarID: c.ID}); err != nil {
			errs = append(errs, err)
		}
	}
	return len(cals), errors.Join(errs...)
}

// SafetyNet syncs every calendar whose last successful sync is older than
// Config.SafetyNetAfter, because pushes are not guaranteed. Run calls it
// every SafetyNetInterval. It returns how many calendars it synced.
func (e *Engine) SafetyNet(ctx context.Context) (int, error) {
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
		if err := e.Process(ctx, Notification{Kind: Resync, Provider: c.Provider, CalendarID: c.ID}); err != nil {
			errs = append(errs, err)
		}
	}
	return n, errors.Join(errs...)
}

// alertCheckEvery is the shortest interval between two alert checks.
const alertCheckEvery = time.Second

// checkAlerts raises the alerts whose thresholds the window has crossed.
//
// It runs after every processed notification, so it is throttled to once
// per alertCheckEvery of Config.Now: a full window's P95 costs about half a
// millisecond (BenchmarkCheckFullWindow), which a burst of notifications
// would otherwise pay on every one. Run also calls it every RetryInterval.
func (e *Engine) checkAlerts(ctx context.Context, now time.Time) {
	last := e.lastAlertCheck.Load()
	if last != 0 && now.UnixNano()-last < int64(alertCheckEvery) {
		return
	}
	if !e.lastAlertCheck.CompareAndSwap(last, now.UnixNano()) {
		return // another goroutine is checking
	}
	for _, f := range e.monitor.Check(now) {
		a := Alert{Kind: AlertKind(f.Kind), Value: f.Value, Threshold: f.Threshold, At: now}
		switch f.Kind {
		case alert.FailureRate:
			a.Message = fmt.Sprintf("%.0f%% of notifications failed in the last %s (threshold %.0f%%)", f.Value*100, e.cfg.AlertWindow, f.Threshold*100)
		case alert.LatencyP95:
			a.Message = fmt.Sprintf("P95 processing latency %.1fs in the last %s (threshold %.1fs)", f.Value, e.cfg.AlertWindow, f.Threshold)
		case alert.DeadLetters:
			a.Message = fmt.Sprintf("%.0f notifications moved to dead letters in the last %s", f.Value, e.cfg.AlertWindow)
		case alert.VolumeDrop:
			a.Message = fmt.Sprintf("notification volume fell to %.0f%% of the previous %s", f.Value*100, e.cfg.AlertWindow)
		}
		e.raise(ctx, a)
	}
}

func (e *Engine) raise(ctx context.Context, a Alert) {
	e.metrics.alerts.Add(ctx, 1, metricAttr("kind", string(a.Kind)))
	e.log.WarnContext(ctx, "calsync: alert", "kind", a.Kind, "message", a.Message, "calendar", a.CalendarID, "subscription", a.SubscriptionID)
	if e.cfg.OnAlert != nil {
		e.cfg.OnAlert(ctx, a)
	}
}
