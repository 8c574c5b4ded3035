package calsync

import (
	"context"
	"errors"
	"time"
)

// QueueRunner is a Queue that runs its own workers and its own schedule,
// such as a job queue shared by several instances (package riverqueue):
// it keeps the attempts of a failed notification itself, and runs the
// periodic sweeps once per cluster rather than once per process.
//
// When Config.Queue is a QueueRunner, [Engine.Run] starts no worker
// goroutines (Dequeue is not called) and no sweep scheduler: it calls
// RunQueue, which works notifications with [Engine.ProcessAttempt] and
// sweeps with [Engine.RunSweep], every [Engine.SweepInterval], until ctx
// is done, then lets the work under way finish (see Config.DrainTimeout)
// before it returns.
type QueueRunner interface {
	Queue
	// RunQueue works the queue with e until ctx is done (see above).
	RunQueue(ctx context.Context, e *Engine) error
	// Unfinished counts the jobs waiting or running in any instance,
	// without retries scheduled for later: [Engine.WaitIdle] waits for it
	// to reach zero.
	Unfinished(ctx context.Context) (int, error)
}

// ProcessAttempt handles one notification for a [QueueRunner] that keeps
// the notification's attempts itself: attempt counts from 1, and final
// says that no attempt follows this one.
//
// It does what [Engine.Process] does, except for the bookkeeping of
// failures: it records no retry (the queue schedules the next attempt,
// after [Engine.RetryAfter]), and when the final attempt fails it moves
// the notification to the dead letters (Stores that implement
// [DeadLetters]) and calls Config.OnDeadLetter, as Process does after
// Config.MaxAttempts, so that there is one dead-letter view, one hook and
// one [Engine.Replay] whatever the queue.
//
// It returns an error only when the notification should be attempted
// again: nil after a success, after a duplicate, for a calendar or
// account that is parked (refused by the provider until the host or the
// user acts), and after a final failure (already dead-lettered). When ctx
// is cancelled first (a shutdown), it returns ctx's error and records
// nothing; a deadline of ctx that passes (the queue's job timeout) is a
// failure like any other.
func (e *Engine) ProcessAttempt(ctx context.Context, n Notification, attempt int, final bool) error {
	// The queue moves (readiness) while this Engine works its jobs.
	e.obs.dequeued()
	defer e.obs.handled()
	err := e.handle(ctx, n, attempt > 1, func(dl DeadLetters, cause error, now time.Time) {
		if !final || !retriable(cause) || dl == nil {
			return
		}
		// The attempt's own context may have passed its deadline.
		e.deadLetter(context.WithoutCancel(ctx), dl, DeadLetter{
			ID: n.workID(), Notification: n, Attempts: attempt,
			LastError: cause.Error(), FirstFailed: n.Received, LastFailed: now,
		})
	})
	switch {
	case err == nil:
		return nil
	case interrupted(ctx):
		return ctx.Err()
	case final || !retriable(err):
		return nil
	}
	return err
}

// retriable reports whether another attempt of a notification that
// failed with err can succeed without the host or the user acting.
func retriable(err error) bool {
	return !errors.Is(err, ErrCalendarUnavailable) && !errors.Is(err, ErrReauthRequired) && !isParked(err)
}

// RetryAfter is how long to wait before the next attempt of a
// notification that has failed attempts times: 2^attempts ×
// Config.RetryUnit, less a random share of up to a quarter of it (so that
// the calendars that failed together in one outage do not all retry in
// the same minute). A [QueueRunner] schedules its retries with it.
func (e *Engine) RetryAfter(attempts int) time.Duration {
	return retryDelay(max(attempts, 1), e.cfg.RetryUnit)
}

// Config returns the Engine's configuration, defaults applied. A
// [QueueRunner] reads its worker count, attempts, intervals, logger and
// meter provider from it.
func (e *Engine) Config() Config { return e.cfg }
