package calsync

import (
	"context"
	"errors"
	"fmt"
)

// errParked is what a sync of a parked calendar returns: the provider
// refused the calendar for good earlier (SyncState.Unavailable), and no
// provider call is made for it until the host connects it again.
var errParked = fmt.Errorf("calendar parked until the host connects or disconnects it: %w", ErrCalendarUnavailable)

// maxUnavailableReason bounds the reason stored in SyncState.Unavailable.
const maxUnavailableReason = 512

// park records that the provider refused cal for good (cause wraps
// ErrCalendarUnavailable), so that no sync, retry, safety net or renewal
// calls the provider for it again until Connect. The sync that found out
// reports cause to OnError, once; nothing else is reported afterwards.
func (e *Engine) park(ctx context.Context, cal Calendar, cause error) {
	st, err := e.cfg.Store.SyncState(ctx, cal.ID)
	if err != nil || st.Unavailable != "" {
		return
	}
	expect := st
	st.Unavailable = cause.Error()
	if len(st.Unavailable) > maxUnavailableReason {
		st.Unavailable = st.Unavailable[:maxUnavailableReason]
	}
	if _, err := e.cfg.Store.Apply(ctx, cal.ID, &Batch{State: st, Expect: &expect}); err != nil {
		// Another sync moved the state on; the next failure parks it.
		e.log.WarnContext(ctx, "calsync: cannot park unavailable calendar", "calendar", cal.ID, "err", err)
		return
	}
	e.log.WarnContext(ctx, "calsync: calendar unavailable at the provider; parked until the host connects or disconnects it",
		"calendar", cal.ID, "provider", cal.Provider, "err", cause)
}

// parkedErr returns why cal is parked, given its sync state st: errParked
// (refused for good by the provider) or errAccountParked (its account's
// grant was refused); nil if it is not parked, or the error reading its
// account.
func (e *Engine) parkedErr(ctx context.Context, cal Calendar, st SyncState) error {
	if st.Unavailable != "" {
		return errParked
	}
	return e.accountParkedErr(ctx, cal.AccountID)
}

// readParkedErr is parkedErr with the sync state read from the Store.
func (e *Engine) readParkedErr(ctx context.Context, cal Calendar) error {
	st, err := e.cfg.Store.SyncState(ctx, cal.ID)
	if err != nil {
		return fmt.Errorf("calsync: %s: %w", cal.ID, err)
	}
	return e.parkedErr(ctx, cal, st)
}

// isParked reports whether err says a calendar is parked: nothing was
// asked of the provider, and the refusal that parked it was reported
// when it happened.
func isParked(err error) bool {
	return errors.Is(err, errParked) || errors.Is(err, errAccountParked)
}

// unpark clears SyncState.Unavailable, reporting whether it was set: the
// host connected the calendar again. The cursor is kept; the next sync
// says whether it still works.
func (e *Engine) unpark(ctx context.Context, calendarID string) (wasParked bool, err error) {
	st, err := e.cfg.Store.SyncState(ctx, calendarID)
	if err != nil || st.Unavailable == "" {
		return false, err
	}
	expect := st
	st.Unavailable = ""
	_, err = e.cfg.Store.Apply(ctx, calendarID, &Batch{State: st, Expect: &expect})
	return true, err
}
