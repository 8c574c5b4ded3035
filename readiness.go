package calsync

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"time"
)

// Defaults for ReadinessConfig fields left zero.
const (
	// DefaultReadinessTimeout bounds the Store reads of one readiness
	// check.
	DefaultReadinessTimeout = 2 * time.Second
	// DefaultQueueStallAfter is how long notifications may wait in the
	// queue while Run's workers neither take nor finish one before the
	// readiness check calls the queue stuck.
	DefaultQueueStallAfter = 5 * time.Minute
)

// maxListedExpired bounds the subscription ids a readiness answer lists.
const maxListedExpired = 20

// ReadinessConfig configures [Engine.ReadinessHandler].
type ReadinessConfig struct {
	// Timeout bounds the Store reads of one check; a Store that does not
	// answer within it fails the "store" check. Default:
	// DefaultReadinessTimeout (2 s).
	Timeout time.Duration
	// QueueStallAfter: the "queue" check fails when notifications wait in
	// the queue and Run's workers have neither taken nor finished one for
	// this long (since the Engine was made, if they never did). Keep it
	// above the longest sync you expect while every worker is busy (a full
	// sync of a big calendar takes minutes). Default:
	// DefaultQueueStallAfter (5 min).
	QueueStallAfter time.Duration
}

// Readiness is the JSON body of a readiness answer.
type Readiness struct {
	// Ready is true when every check passed (the answer is 200).
	Ready bool `json:"ready"`
	// Failing names the checks that failed: "store", "queue",
	// "subscriptions".
	Failing []string `json:"failing,omitempty"`
	// Store is the result of a short read of the Store.
	Store ReadinessCheck `json:"store"`
	// Queue says whether Run's workers are taking notifications.
	Queue QueueCheck `json:"queue"`
	// Subscriptions says whether a subscription has expired without being
	// renewed.
	Subscriptions SubscriptionsCheck `json:"subscriptions"`
}

// ReadinessCheck is the outcome of one check.
type ReadinessCheck struct {
	// OK is true when the check passed.
	OK bool `json:"ok"`
	// Error says why it failed (no secrets: ids and the Store's or
	// queue's error message).
	Error string `json:"error,omitempty"`
}

// QueueCheck is the outcome of the "queue" check.
type QueueCheck struct {
	ReadinessCheck
	// Waiting is the number of notifications waiting: the Queue's Depth
	// (a Queue that implements [QueueDepth]), else those this Engine
	// enqueued that its workers have not taken.
	Waiting int `json:"waiting"`
	// SinceMove is how long ago (in seconds) a worker last took or
	// finished a notification, or the Engine was made.
	SinceMove float64 `json:"since_move_seconds"`
}

// SubscriptionsCheck is the outcome of the "subscriptions" check.
type SubscriptionsCheck struct {
	ReadinessCheck
	// Expired counts the subscriptions past their expiration, those of
	// parked calendars (see [CalendarHealth]) excepted.
	Expired int `json:"expired"`
	// IDs lists up to 20 of them (subscription ids, never their tokens).
	IDs []string `json:"ids,omitempty"`
}

// ReadinessHandler returns an http.Handler for a readiness probe, for the
// host to mount next to its own (for example at /readyz). Each GET or
// HEAD runs three checks:
//
//   - store: the Store answers a short read (the subscriptions expired by
//     now) within cfg.Timeout;
//   - queue: notifications are not left waiting while Run's workers take
//     none (see ReadinessConfig.QueueStallAfter);
//   - subscriptions: no subscription has expired, except those of
//     calendars parked because the provider refused them or the user's
//     grant (their renewal waits for the host or the user; CalendarHealth
//     and the calsync.accounts.needs_reauth gauge show them). An expired
//     subscription means its calendar no longer hears of changes.
//
// It answers 200 when all pass and 503 when one fails, with a small JSON
// [Readiness] body (ids only, never a token); HEAD gets the status alone,
// other methods 405. A failing subscriptions check is a matter for the
// renewal sweep (or a person), not always a reason to take the instance
// out of a load balancer: hosts that route on readiness may prefer to
// alert on the body's Failing instead.
func (e *Engine) ReadinessHandler(cfg ReadinessConfig) http.Handler {
	if cfg.Timeout <= 0 {
		cfg.Timeout = DefaultReadinessTimeout
	}
	if cfg.QueueStallAfter <= 0 {
		cfg.QueueStallAfter = DefaultQueueStallAfter
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
			return
		}
		rd := e.Readiness(r.Context(), cfg)
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Cache-Control", "no-store")
		status := http.StatusOK
		if !rd.Ready {
			status = http.StatusServiceUnavailable
		}
		w.WriteHeader(status)
		if r.Method == http.MethodHead {
			return
		}
		_ = json.NewEncoder(w).Encode(rd)
	})
}

// Readiness runs the checks of [Engine.ReadinessHandler] and returns their
// outcome.
func (e *Engine) Readiness(ctx context.Context, cfg ReadinessConfig) Readiness {
	if cfg.Timeout <= 0 {
		cfg.Timeout = DefaultReadinessTimeout
	}
	if cfg.QueueStallAfter <= 0 {
		cfg.QueueStallAfter = DefaultQueueStallAfter
	}
	ctx, cancel := context.WithTimeout(ctx, cfg.Timeout)
	defer cancel()
	now := e.cfg.Now()
	var rd Readiness
	rd.Queue = e.queueCheck(ctx, now, cfg.QueueStallAfter)
	expired, err := e.cfg.Store.ExpiringSubscriptions(ctx, now)
	if err != nil {
		rd.Store.Error = fmt.Sprintf("store: %v", err)
		// Unknown, not failing: the store check says why.
		rd.Subscriptions.Error = "unknown: the store did not answer"
	} else {
		rd.Store.OK = true
		rd.Subscriptions = e.subscriptionsCheck(ctx, expired)
	}
	rd.Ready = true
	for _, c := range []struct {
		name string
		ok   bool
	}{{"store", rd.Store.OK}, {"queue", rd.Queue.OK}, {"subscriptions", rd.Subscriptions.OK || !rd.Store.OK}} {
		if !c.ok {
			rd.Ready = false
			rd.Failing = append(rd.Failing, c.name)
		}
	}
	return rd
}

// queueCheck fails when notifications wait and no worker has taken or
// finished one for stallAfter.
func (e *Engine) queueCheck(ctx context.Context, now time.Time, stallAfter time.Duration) QueueCheck {
	var c QueueCheck
	o := e.obs
	if qd, ok := e.cfg.Queue.(QueueDepth); ok {
		n, err := qd.Depth(ctx)
		if err != nil {
			c.Error = fmt.Sprintf("queue depth: %v", err)
			return c
		}
		c.Waiting = n
	} else {
		c.Waiting = int(max(0, o.counts.enqueued.Load()-o.counts.handled.Load()-o.queue.inflight.Load()))
	}
	last := o.queue.lastMove.Load()
	if last == 0 {
		last = o.started
	}
	since := now.Sub(time.Unix(0, last))
	c.SinceMove = since.Seconds()
	c.OK = c.Waiting == 0 || since < stallAfter
	if !c.OK {
		c.Error = fmt.Sprintf("%d notifications waiting and none taken for %s (is Run running?)", c.Waiting, since.Round(time.Second))
	}
	return c
}

// subscriptionsCheck fails when one of the expired subscriptions belongs
// to a calendar that is not parked.
func (e *Engine) subscriptionsCheck(ctx context.Context, expired []Subscription) SubscriptionsCheck {
	var c SubscriptionsCheck
	parked := map[string]bool{}
	for _, s := range expired {
		p, seen := parked[s.CalendarID]
		if !seen {
			cal, err := e.cfg.Store.Calendar(ctx, s.CalendarID)
			switch {
			case errors.Is(err, ErrNotFound):
				p = true // being disconnected: not a calendar that misses changes
			case err != nil:
				c.Error = fmt.Sprintf("calendar %s: %v", s.CalendarID, err)
				return c
			default:
				err = e.readParkedErr(ctx, cal)
				if err != nil && !isParked(err) {
					c.Error = fmt.Sprintf("calendar %s: %v", s.CalendarID, err)
					return c
				}
				p = isParked(err)
			}
			parked[s.CalendarID] = p
		}
		if p {
			continue
		}
		c.Expired++
		if len(c.IDs) < maxListedExpired {
			c.IDs = append(c.IDs, s.ID)
		}
	}
	c.OK = c.Expired == 0
	if !c.OK {
		c.Error = fmt.Sprintf("%d subscriptions expired without renewal: their calendars hear of no change", c.Expired)
	}
	return c
}
