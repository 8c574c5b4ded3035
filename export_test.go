package calsync

// WaitIdleForTest exposes the coalescing group's wait to external tests.
func WaitIdleForTest(e *Engine, calendarID string) <-chan struct{} { return e.syncs.Wait(calendarID) }

// SubscriptionsLeaseForTest names the lease under which a calendar's
// subscriptions change.
func SubscriptionsLeaseForTest(calendarID string) string { return subscriptionsLease(calendarID) }
