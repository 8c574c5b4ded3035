package calsync_test

import (
	"runtime"

	"github.com/calsync/calsync"
)

func runtimeGosched() { runtime.Gosched() }

// waitSynced returns a channel closed when no sync of the calendar runs.
func waitSynced(e *calsync.Engine, calendarID string) <-chan struct{} {
	return calsync.WaitIdleForTest(e, calendarID)
}
