package calsync

import (
	"context"
	"time"
)

// SubscriptionsLeaseForTest names the lease under which a calendar's
// subscriptions change.
func SubscriptionsLeaseForTest(calendarID string) string { return subscriptionsLease(calendarID) }

// SetQueueClockForTest makes q tell time with now, and TakeForTest pops
// what is ready at that time without waiting.
func SetQueueClockForTest(q *MemoryQueue, now func() time.Time) { q.now = now }

// TakeForTest pops the first ready notification, or reports how long until
// one is ready.
func TakeForTest(q *MemoryQueue) (Notification, time.Duration, bool) { return q.take(q.now()) }

// SetSleepForTest makes e wait with sleep (a fake clock's) where it paces
// itself in real time (the catch-up).
func SetSleepForTest(e *Engine, sleep func(ctx context.Context, d time.Duration) error) {
	e.sleepFn = sleep
}
