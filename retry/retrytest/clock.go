// Package retrytest has test helpers for code that waits through package
// retry: a fake [retry.Clock] that records every wait it is asked for.
package retrytest

import (
	"context"
	"sync"
	"time"

	"github.com/calsync/calsync/retry"
)

// Clock is a fake retry.Clock. In auto mode ([NewClock]) Sleep records the
// wait, moves the time forward by it and returns at once, so a test asserts
// the waits ([Clock.Sleeps]) without sleeping. In manual mode
// ([NewManualClock]) Sleep blocks until [Clock.Advance] moves the time past
// its end or its context ends. It is safe for concurrent use.
type Clock struct {
	mu       sync.Mutex
	cond     *sync.Cond
	now      time.Time
	manual   bool
	sleeps   []time.Duration
	sleepers int
}

var _ retry.Clock = (*Clock)(nil)

// Epoch is the start time of clocks made with a zero start.
var Epoch = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

// NewClock returns an auto-advancing clock at start (zero: Epoch).
func NewClock(start time.Time) *Clock { return newClock(start, false) }

// NewManualClock returns a clock at start (zero: Epoch) whose Sleep blocks
// until Advance.
func NewManualClock(start time.Time) *Clock { return newClock(start, true) }

func newClock(start time.Time, manual bool) *Clock {
	if start.IsZero() {
		start = Epoch
	}
	c := &Clock{now: start, manual: manual}
	c.cond = sync.NewCond(&c.mu)
	return c
}

// Now returns the fake time.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// Sleep records d and waits for it in fake time (see [Clock]). It returns
// ctx.Err() if ctx is done before the wait ends.
func (c *Clock) Sleep(ctx context.Context, d time.Duration) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	c.mu.Lock()
	c.sleeps = append(c.sleeps, d)
	if !c.manual || d <= 0 {
		if d > 0 {
			c.now = c.now.Add(d)
		}
		c.mu.Unlock()
		return nil
	}
	end := c.now.Add(d)
	c.sleepers++
	c.cond.Broadcast()
	stop := context.AfterFunc(ctx, func() {
		c.mu.Lock()
		c.cond.Broadcast()
		c.mu.Unlock()
	})
	defer stop()
	for c.now.Before(end) && ctx.Err() == nil {
		c.cond.Wait()
	}
	c.sleepers--
	c.cond.Broadcast()
	c.mu.Unlock()
	if c.now.Before(end) {
		return ctx.Err()
	}
	return nil
}

// Advance moves the time forward by d, waking sleepers whose wait is over.
func (c *Clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
	c.cond.Broadcast()
}

// Sleeps returns a copy of every wait asked for so far, in order.
func (c *Clock) Sleeps() []time.Duration {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]time.Duration(nil), c.sleeps...)
}

// Total returns the sum of the waits asked for so far.
func (c *Clock) Total() time.Duration {
	var sum time.Duration
	for _, d := range c.Sleeps() {
		sum += d
	}
	return sum
}

// WaitSleepers blocks until at least n goroutines are sleeping (manual
// mode), or ctx ends; it reports whether they were.
func (c *Clock) WaitSleepers(ctx context.Context, n int) bool {
	stop := context.AfterFunc(ctx, func() {
		c.mu.Lock()
		c.cond.Broadcast()
		c.mu.Unlock()
	})
	defer stop()
	c.mu.Lock()
	defer c.mu.Unlock()
	for c.sleepers < n && ctx.Err() == nil {
		c.cond.Wait()
	}
	return c.sleepers >= n
}
