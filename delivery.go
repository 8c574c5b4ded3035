package calsync

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"
)

// feedBatch is how many feed entries one read of a delivery takes.
const feedBatch = 500

// feedLeaseTTL is how long the lease "feed/"+Config.FeedConsumer lasts
// (Stores that implement [Leases]): the lease makes one of the instances
// sharing a consumer deliver at a time. Run's consumer extends it every
// third of that; if its process dies, another instance takes over once it
// has expired, and redelivers from the last acknowledged position.
const feedLeaseTTL = 30 * time.Second

// delivery hands the change feed to Config.OnChange: Run's consumer
// goroutine does, or, while Run is not running, the goroutine that
// committed. It reads after the consumer's position, calls OnChange for
// each run of one calendar's changes in feed order, then acknowledges the
// new position, so that a crash before the acknowledgement redelivers
// (at least once).
type delivery struct {
	e      *Engine
	feed   ChangeFeed
	leases Leases // nil when the Store has none
	lease  string // "feed/" + consumer
	name   string // the consumer

	// wake is signalled (without blocking) after this Engine commits,
	// while running.
	wake    chan struct{}
	running atomic.Bool // Run's consumer is up: it delivers

	mu    sync.Mutex // one delivery at a time in this Engine; guards below
	pos   int64      // delivered up to here
	acked int64      // the store has pos acknowledged up to here
	held  time.Time  // when this Engine last took the lease; zero if it does not hold it
}

// newDelivery returns the delivery of e, or nil when OnChange is not set
// or the Store keeps no feed (OnChange is then called inline).
func newDelivery(e *Engine) *delivery {
	f, ok := e.cfg.Store.(ChangeFeed)
	if !ok || e.cfg.OnChange == nil {
		return nil
	}
	l, _ := e.cfg.Store.(Leases)
	return &delivery{
		e: e, feed: f, leases: l,
		lease: "feed/" + e.cfg.FeedConsumer, name: e.cfg.FeedConsumer,
		wake: make(chan struct{}, 1),
	}
}

// committed hands the changes an Apply of a sync of cal committed to
// OnChange: through the feed when the Store keeps one (waking Run's
// consumer, or delivering here while Run is not running), else directly.
func (e *Engine) committed(ctx context.Context, cal Calendar, ar *ApplyResult) {
	if len(ar.Applied) == 0 || e.cfg.OnChange == nil {
		return
	}
	d := e.delivery
	if d == nil {
		e.cfg.OnChange(ctx, cal, ar.Applied)
		return
	}
	e.obs.feedCommitted(ar.Seq)
	if d.running.Load() {
		select {
		case d.wake <- struct{}{}:
		default: // already signalled
		}
		return
	}
	if err := d.step(ctx, false); err != nil && ctx.Err() == nil {
		// The changes are in the feed: the next delivery (the next commit,
		// or Run) hands them over.
		e.log.WarnContext(ctx, "calsync: change feed delivery", "consumer", d.name, "err", err)
	}
}

// start marks Run's consumer as up, before its goroutine starts, so that
// commits from then on wake it rather than deliver inline.
func (d *delivery) start() {
	d.running.Store(true)
	d.e.obs.feedStarted()
}

// run is Run's consumer: it delivers whatever the feed holds after the
// consumer's position, then again after every commit of this Engine and
// every FeedPollInterval, until ctx is done.
func (d *delivery) run(ctx context.Context) {
	defer func() {
		d.running.Store(false)
		d.mu.Lock()
		d.release(ctx)
		d.mu.Unlock()
		d.e.obs.feedStopped()
	}()
	// Often enough to keep the lease, which lasts three of these.
	tick := time.NewTicker(min(d.e.cfg.FeedPollInterval, feedLeaseTTL/3))
	defer tick.Stop()
	var pause time.Duration // after consecutive failures
	for {
		var (
			timer *time.Timer
			retry <-chan time.Time // nil: no retry pending
		)
		if err := d.step(ctx, true); err != nil && ctx.Err() == nil {
			// A failing Store must not make the consumer spin: wait 100 ms,
			// doubling up to 30 s (a commit still wakes it).
			pause = min(max(2*pause, 100*time.Millisecond), 30*time.Second)
			d.e.log.ErrorContext(ctx, "calsync: change feed delivery", "consumer", d.name, "err", err, "retry_in", pause)
			timer = time.NewTimer(pause)
			retry = timer.C
		} else {
			pause = 0
		}
		select {
		case <-ctx.Done():
		case <-d.wake:
		case <-tick.C:
		case <-retry:
		}
		if timer != nil {
			timer.Stop()
		}
		if ctx.Err() != nil {
			return
		}
	}
}

// step delivers what the feed holds after the position if this Engine
// holds the consumer's lease (or the Store has no Leases). keep keeps the
// lease afterwards (Run's consumer); an inline delivery gives it back.
func (d *delivery) step(ctx context.Context, keep bool) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	holder, fresh, err := d.claim(ctx)
	if err != nil {
		return err
	}
	if keep {
		d.e.obs.feedHolder(holder)
	}
	if !holder {
		return nil // the holder delivers
	}
	if !keep {
		defer d.release(ctx)
	}
	if fresh {
		// Another instance may have delivered meanwhile: continue from
		// the stored position, and make sure the consumer is known to
		// SweepPruneFeed before it has delivered anything.
		pos, err := d.feed.ConsumerPosition(ctx, d.name)
		if err != nil {
			return fmt.Errorf("feed position of %q: %w", d.name, err)
		}
		if pos == 0 {
			if err := d.feed.AckPosition(ctx, d.name, 0); err != nil {
				return fmt.Errorf("register feed consumer %q: %w", d.name, err)
			}
		}
		d.pos, d.acked = pos, pos
		if keep {
			d.e.obs.feedClaimed(pos)
		}
	}
	return d.drain(ctx)
}

// claim takes or extends the consumer's lease. holder reports whether
// this Engine may deliver; fresh, that it has not held the lease since
// its last delivery, so its position must be read again.
func (d *delivery) claim(ctx context.Context) (holder, fresh bool, err error) {
	if d.leases == nil {
		return true, true, nil
	}
	now := d.e.cfg.Now()
	if !d.held.IsZero() && !now.Before(d.held) && now.Sub(d.held) < feedLeaseTTL/3 {
		return true, false, nil
	}
	ok, err := d.leases.AcquireLease(ctx, d.lease, d.e.cfg.InstanceID, now, feedLeaseTTL)
	if err != nil {
		d.held = time.Time{}
		return false, false, fmt.Errorf("feed consumer %q: lease: %w", d.name, err)
	}
	if !ok {
		d.held = time.Time{}
		return false, false, nil
	}
	fresh = d.held.IsZero() || now.Sub(d.held) >= feedLeaseTTL
	d.held = now
	return true, fresh, nil
}

// release gives the lease back, if held, so that another instance can
// deliver at once.
func (d *delivery) release(ctx context.Context) {
	if d.leases == nil || d.held.IsZero() {
		return
	}
	d.held = time.Time{}
	if err := d.leases.ReleaseLease(context.WithoutCancel(ctx), d.lease, d.e.cfg.InstanceID); err != nil {
		d.e.log.WarnContext(ctx, "calsync: release the change feed lease", "consumer", d.name, "err", err)
	}
}

// drain delivers pages of the feed until a page comes back short.
func (d *delivery) drain(ctx context.Context) error {
	for {
		if err := d.ack(ctx); err != nil {
			return err
		}
		entries, err := d.feed.ChangesSince(ctx, d.pos, feedBatch)
		if err != nil {
			return fmt.Errorf("read the change feed after %d: %w", d.pos, err)
		}
		last, err := d.deliver(ctx, entries)
		if last > d.pos {
			d.pos = last
		}
		if err != nil {
			d.e.obs.feedDelivered(d.pos, false)
			return errors.Join(err, d.ack(ctx))
		}
		if len(entries) < feedBatch {
			d.e.obs.feedDelivered(d.pos, true)
			return d.ack(ctx)
		}
		d.e.obs.feedDelivered(d.pos, false)
	}
}

// ack stores the position delivered, if the store does not have it yet.
// It runs even when ctx is done: what was delivered should not be
// delivered again.
func (d *delivery) ack(ctx context.Context) error {
	if d.acked >= d.pos {
		return nil
	}
	if err := d.feed.AckPosition(context.WithoutCancel(ctx), d.name, d.pos); err != nil {
		return fmt.Errorf("acknowledge feed position %d of %q: %w", d.pos, d.name, err)
	}
	d.acked = d.pos
	return nil
}

// deliver calls OnChange for each run of consecutive entries of one
// calendar, in order, and returns the Seq of the last entry it handled:
// all of them unless it stops at an error or when ctx is done. The
// entries of a calendar that no longer exists are skipped.
func (d *delivery) deliver(ctx context.Context, entries []FeedEntry) (last int64, err error) {
	cals := make(map[string]*Calendar) // nil: deleted
	for i := 0; i < len(entries); {
		if err := ctx.Err(); err != nil {
			return last, err
		}
		id := entries[i].CalendarID
		j := i + 1
		for j < len(entries) && entries[j].CalendarID == id {
			j++
		}
		cal, seen := cals[id]
		if !seen {
			c, err := d.e.cfg.Store.Calendar(ctx, id)
			switch {
			case err == nil:
				cal = &c
			case !errors.Is(err, ErrNotFound):
				return last, fmt.Errorf("change feed: calendar %s: %w", id, err)
			}
			cals[id] = cal
		}
		if cal != nil {
			changes := make([]Change, j-i)
			for k := i; k < j; k++ {
				changes[k-i] = entries[k].Change
			}
			d.e.cfg.OnChange(ctx, *cal, changes)
		}
		last = entries[j-1].Seq
		i = j
	}
	return last, nil
}
