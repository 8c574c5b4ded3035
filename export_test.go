package calsync

// WaitIdleForTest exposes the coalescing group's wait to external tests.
func WaitIdleForTest(e *Engine, calendarID string) <-chan struct{} { return e.syncs.Wait(calendarID) }
