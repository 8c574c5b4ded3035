package calsync

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"time"
)

// Attempt is the retry record of a notification whose processing failed.
type Attempt struct {
	// ID identifies the work item (usually the notification's ledger key).
	ID string
	// Notification is what to process again.
	Notification Notification
	// Attempts counts the failed attempts so far.
	Attempts int
	// LastError is the message of the last failure. It must not contain
	// secrets; Stores keep it as given.
	LastError string
	// FirstFailed and LastFailed are when the first and the last attempt
	// failed.
	FirstFailed, LastFailed time.Time
	// NextAttempt is when the next attempt is due.
	NextAttempt time.Time
}

// DeadLetter is a notification that failed too often and is kept, with its
// last error, until someone replays or deletes it.
type DeadLetter struct {
	// ID identifies the work item, as in [Attempt].
	ID string
	// Notification is what to replay.
	Notification Notification
	// Attempts counts the failed attempts.
	Attempts int
	// LastError is the message of the last failure.
	LastError string
	// FirstFailed and LastFailed are when the first and the last attempt
	// failed.
	FirstFailed, LastFailed time.Time
}

// DeadLetters keeps retry attempts and the dead-letter store.
//
// A failed notification is recorded with RecordAttempt (which counts
// attempts and schedules the next one); a success clears it with
// ClearAttempt; after too many attempts AddDeadLetter moves it to the dead
// letters. To replay a dead letter, enqueue its Notification again and
// DeleteDeadLetter it.
type DeadLetters interface {
	// RecordAttempt records one more failed attempt of the work item id:
	// it creates the record (Attempts 1, FirstFailed at) or increments
	// Attempts, and sets Notification, LastError, LastFailed = at and
	// NextAttempt = next. It returns the updated record.
	RecordAttempt(ctx context.Context, id string, n Notification, lastErr string, at, next time.Time) (Attempt, error)
	// Attempt returns the retry record of id.
	Attempt(ctx context.Context, id string) (Attempt, error)
	// DueAttempts returns up to limit records whose NextAttempt is not
	// after t, ordered by NextAttempt then ID, so that retries survive a
	// restart.
	DueAttempts(ctx context.Context, t time.Time, limit int) ([]Attempt, error)
	// ClearAttempt deletes the retry record of id; clearing one that does
	// not exist is not an error.
	ClearAttempt(ctx context.Context, id string) error
	// AddDeadLetter stores d, replacing a dead letter with the same ID, and
	// deletes the retry record with that ID, in one transaction.
	AddDeadLetter(ctx context.Context, d DeadLetter) error
	// DeadLetter returns one dead letter.
	DeadLetter(ctx context.Context, id string) (DeadLetter, error)
	// ListDeadLetters returns up to limit dead letters whose ID sorts after
	// afterID (byte order), ordered by ID. Pass "" to start.
	ListDeadLetters(ctx context.Context, afterID string, limit int) ([]DeadLetter, error)
	// DeleteDeadLetter deletes one dead letter (after a replay, or to
	// discard it).
	DeleteDeadLetter(ctx context.Context, id string) error
}

// recordFailure counts a failed attempt and schedules the next one after
// 2^attempts × RetryUnit (less jitter), or moves the notification to the
// dead letters after MaxAttempts. A failure of a notification whose work
// already has a retry scheduled (another notification of the same
// calendar failed earlier) is not counted: that retry covers it; only the
// retry's own outcome (retrying) moves the schedule on. A calendar the
// provider refused for good (ErrCalendarUnavailable) is parked instead.
func (e *Engine) recordFailure(ctx context.Context, dl DeadLetters, n Notification, cause error, now time.Time, retrying bool) {
	ctx = context.WithoutCancel(ctx) // the failure may be ctx's deadline
	if errors.Is(cause, ErrCalendarUnavailable) {
		return // a calendar refused for good is parked, not retried
	}
	if _, ok := e.accountStore(); ok && errors.Is(cause, ErrReauthRequired) {
		return // its account is parked; ResumeAccount syncs it again
	}
	id := n.workID()
	prev, err := dl.Attempt(ctx, id)
	if err == nil && !retrying && prev.NextAttempt.After(now) {
		e.log.DebugContext(ctx, "calsync: failed notification covered by the retry already scheduled", "calendar", n.CalendarID, "next", prev.NextAttempt)
		return
	}
	attempts := 1
	if err == nil {
		attempts = prev.Attempts + 1
	}
	next := now.Add(retryDelay(attempts, e.cfg.RetryUnit))
	a, err := dl.RecordAttempt(ctx, id, n, cause.Error(), now, next)
	if err != nil {
		e.log.ErrorContext(ctx, "calsync: cannot record failed attempt", "calendar", n.CalendarID, "err", err)
		return
	}
	e.attempts.Store(id, struct{}{})
	if a.Attempts < e.cfg.MaxAttempts {
		e.log.InfoContext(ctx, "calsync: notification will be retried", "calendar", n.CalendarID, "attempt", a.Attempts, "next", a.NextAttempt)
		return
	}
	e.deadLetter(ctx, dl, DeadLetter{ID: id, Notification: n, Attempts: a.Attempts, LastError: a.LastError, FirstFailed: a.FirstFailed, LastFailed: a.LastFailed})
}

// deadLetter stores d and tells the host (metrics, log, OnDeadLetter).
func (e *Engine) deadLetter(ctx context.Context, dl DeadLetters, d DeadLetter) {
	n := d.Notification
	if err := dl.AddDeadLetter(ctx, d); err != nil {
		e.log.ErrorContext(ctx, "calsync: cannot store dead letter", "calendar", n.CalendarID, "err", err)
		return
	}
	e.obs.deadLettered(ctx, n, d.LastFailed)
	e.log.ErrorContext(ctx, "calsync: notification moved to dead letters", "calendar", n.CalendarID, "attempts", d.Attempts, "err", d.LastError)
	if e.cfg.OnDeadLetter != nil {
		e.cfg.OnDeadLetter(ctx, d)
	}
}

// retryDue processes the failed notifications whose next attempt is due,
// and returns how many it processed (SweepRetry).
func (e *Engine) retryDue(ctx context.Context) (int, error) {
	dl, ok := e.cfg.Store.(DeadLetters)
	if !ok {
		return 0, nil
	}
	due, err := dl.DueAttempts(ctx, e.cfg.Now(), 100)
	if err != nil {
		return 0, fmt.Errorf("calsync: due attempts: %w", err)
	}
	for _, a := range due {
		e.track(ctx, a.Notification, true)
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
	if _, err := e.perform(ctx, d.Notification, nil); err != nil {
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

// retryDelay is the wait after the given number of failed attempts:
// 2^attempts × unit, less a random share of up to a quarter of it, so that
// the calendars that failed together in one provider outage do not all
// retry in the same minute.
func retryDelay(attempts int, unit time.Duration) time.Duration {
	d := time.Duration(1<<min(attempts, 20)) * unit
	return d - rand.N(d/4+1)
}
