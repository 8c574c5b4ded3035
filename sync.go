package calsync

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/calsync/calsync/provider"
)

// SyncResult summarises one sync.
type SyncResult struct {
	// Full is true if the sync listed the whole calendar.
	Full bool
	// Resyncs counts restarts from scratch after ErrFullSyncRequired.
	Resyncs int
	// Pages is the number of pages fetched and committed.
	Pages int
	// Applied counts the changes committed, sweep deletions included.
	Applied int
	// Stale counts changes skipped by last-write-wins.
	Stale int
}

// Sync brings the calendar up to date now and returns what it did. If a
// sync of the calendar is under way it waits for that one to finish first,
// so that Sync never runs two syncs of one calendar at once and always
// reflects changes made before it was called.
func (e *Engine) Sync(ctx context.Context, calendarID string) (SyncResult, error) {
	cal, err := e.cfg.Store.Calendar(ctx, calendarID)
	if err != nil {
		return SyncResult{}, fmt.Errorf("calsync: Sync %s: %w", calendarID, err)
	}
	for {
		var (
			res    SyncResult
			resErr error
			runs   int
		)
		ran := e.syncs.Do(cal.ID, func() error {
			runs++
			res, resErr = e.syncOnce(ctx, cal)
			return resErr
		}, nil)
		if ran {
			// The host hears of a refused grant from the error; the
			// account is parked all the same.
			e.noteReauth(ctx, cal, resErr)
			if resErr != nil && runs > 1 {
				// The failed run was a follow-up for notifications folded
				// into this sync, already acknowledged: retry them.
				e.retryFolded(ctx, cal, resErr)
			}
			return res, resErr
		}
		select {
		case <-e.syncs.Wait(cal.ID):
		case <-ctx.Done():
			return SyncResult{}, ctx.Err()
		}
	}
}

// Resync runs a full sync of the calendar now, whatever its cursor: every
// event is listed again, what the provider no longer has is deleted, and
// events that did not change are not reported to OnChange. Use it when the
// local copy is in doubt (a restored backup, a bug fixed in the host).
// Like Sync it waits for a sync under way; a sync of another instance
// that is under way continues as this full sync (it gets ErrConflict on
// its next page). A parked calendar (see CalendarHealth.Unavailable) is
// not synced: connect it again.
func (e *Engine) Resync(ctx context.Context, calendarID string) (SyncResult, error) {
	cal, err := e.cfg.Store.Calendar(ctx, calendarID)
	if err != nil {
		return SyncResult{}, fmt.Errorf("calsync: Resync %s: %w", calendarID, err)
	}
	if err := e.readParkedErr(ctx, cal); err != nil {
		return SyncResult{}, fmt.Errorf("calsync: Resync %s: %w", calendarID, err)
	}
	if err := e.requireFullSync(ctx, cal); err != nil {
		return SyncResult{}, fmt.Errorf("calsync: Resync %s: %w", calendarID, err)
	}
	return e.Sync(ctx, calendarID)
}

// retryFolded schedules a retry (a Resync of cal) for the notifications
// that were folded into a sync whose last run failed with err (they were
// counted as done when they were folded), or for a resync that a renewal
// found necessary.
func (e *Engine) retryFolded(ctx context.Context, cal Calendar, err error) {
	dl, ok := e.cfg.Store.(DeadLetters)
	if !ok || ctx.Err() != nil {
		return
	}
	e.recordFailure(ctx, dl, Notification{Kind: Resync, Provider: cal.Provider, CalendarID: cal.ID}, err, e.cfg.Now(), false)
}

// maxConflicts is how many times one sync continues from a sync state
// another instance changed under it (ErrConflict) before it gives up with
// an error wrapping ErrConflict, to be retried later.
const maxConflicts = 3

// syncOnce runs one sync of cal: incremental from its cursor, full if it has
// none (resuming an interrupted full sync from its page token), and a fresh
// full sync whenever the provider says the cursor expired. Every page is
// committed with the position it reached, expecting the position it started
// from (Batch.Expect).
func (e *Engine) syncOnce(ctx context.Context, cal Calendar) (res SyncResult, err error) {
	return e.syncOnceWith(ctx, cal, nil)
}

// syncOnceWith is syncOnce committing done, if not nil and not yet
// written, with the last page (Batch.Complete).
func (e *Engine) syncOnceWith(ctx context.Context, cal Calendar, done *completion) (res SyncResult, err error) {
	st, stErr := e.cfg.Store.SyncState(ctx, cal.ID)
	var why error
	if stErr == nil {
		why = e.parkedErr(ctx, cal, st)
		if isParked(why) {
			// Not a sync: nothing is asked of the provider, and the
			// calendar's health keeps the refusal that parked it.
			return res, fmt.Errorf("calsync: sync %s: %w", cal.ID, why)
		}
	}
	start := e.cfg.Now()
	e.obs.syncBegins()
	defer func() { e.obs.syncDone(ctx, cal, start, res, err) }()
	ctx, span := e.startSync(ctx, cal)
	defer func() { endSync(span, res, err) }()
	p, err := e.provider(cal.Provider)
	if err != nil {
		return res, err
	}
	if err := errors.Join(stErr, why); err != nil {
		return res, fmt.Errorf("calsync: sync %s: %w", cal.ID, err)
	}
	// expect is the stored state this sync read or last wrote. Every Apply
	// carries it, so that another instance of the host app syncing the
	// calendar from the same database is noticed (ErrConflict), never
	// overwritten or swept.
	expect := st
	if st.FullSync() && st.Generation == 0 {
		st = SyncState{Generation: e.newGeneration(st)}
	}
	res.Full = st.FullSync()
	e.obs.syncStarted(cal)
	conflicts := 0
	for {
		callCtx, end := e.startProviderCall(ctx, opFetch, cal)
		page, err := p.Fetch(callCtx, cal, provider.Position{Cursor: st.Cursor, PageToken: st.PageToken})
		end(err)
		if errors.Is(err, ErrFullSyncRequired) && res.Resyncs < e.cfg.MaxResyncs {
			e.log.InfoContext(ctx, "calsync: cursor expired, full resync", "calendar", cal.ID, "err", err)
			res.Resyncs++
			res.Full = true
			st = SyncState{Generation: e.newGeneration(st), LastSync: st.LastSync}
			continue
		}
		if err != nil {
			if errors.Is(err, ErrCalendarUnavailable) {
				e.park(ctx, cal, err)
			}
			return res, fmt.Errorf("calsync: sync %s: %w", cal.ID, err)
		}
		b := Batch{Changes: page.Changes, State: st, Expect: &expect}
		if st.FullSync() {
			b.Generation = st.Generation
			b.Sweep = page.Last()
		}
		if page.Last() {
			if page.NextCursor == "" {
				return res, fmt.Errorf("calsync: sync %s: provider %s returned a last page without a cursor", cal.ID, p.Name())
			}
			b.State = SyncState{Cursor: page.NextCursor, LastSync: e.cfg.Now()}
			if done != nil && !done.written {
				done.c.At = b.State.LastSync
				b.Complete = &done.c
			}
		} else {
			b.State.PageToken = page.NextPageToken
		}
		ar, err := e.apply(ctx, cal, &b)
		if errors.Is(err, ErrConflict) && conflicts < maxConflicts {
			// Another instance moved the calendar on: continue from where
			// it stands (resuming its full sync, generation and page
			// token, rather than starting another), never from ours.
			conflicts++
			if st, err = e.cfg.Store.SyncState(ctx, cal.ID); err != nil {
				return res, fmt.Errorf("calsync: sync %s: %w", cal.ID, err)
			}
			e.log.InfoContext(ctx, "calsync: sync state changed concurrently, continuing from it", "calendar", cal.ID, "conflicts", conflicts)
			expect = st
			if st.FullSync() && st.Generation == 0 {
				st = SyncState{Generation: e.newGeneration(st)}
			}
			res.Full = res.Full || st.FullSync()
			continue
		}
		if err != nil {
			return res, fmt.Errorf("calsync: sync %s: apply: %w", cal.ID, err)
		}
		if b.Complete != nil && ar.Completed {
			done.written = true
		}
		res.Pages++
		res.Applied += len(ar.Applied)
		res.Stale += ar.Stale
		e.obs.pageApplied(cal, ar)
		e.committed(ctx, cal, ar)
		st, expect = b.State, b.State
		if page.Last() {
			break
		}
	}
	e.log.DebugContext(ctx, "calsync: synced", "calendar", cal.ID, "full", res.Full, "pages", res.Pages, "applied", res.Applied, "stale", res.Stale)
	return res, nil
}

// newGeneration returns a full-sync mark different from the previous one
// and from the stamps earlier full syncs left on the calendar's events
// (prev.Generation is zero once a full sync completed, so it cannot tell).
// It is random rather than read from the clock: a clock that has not moved
// since the last full sync (a fake or coarse Config.Now) would reuse that
// sync's mark, and the sweep would keep events the provider deleted.
func (e *Engine) newGeneration(prev SyncState) int64 {
	var b [8]byte
	_, _ = rand.Read(b[:]) // never fails (crypto/rand)
	g := int64(binary.BigEndian.Uint64(b[:]) >> 1)
	if g == 0 || g == prev.Generation {
		g = prev.Generation + 1
	}
	return g
}

// requireFullSync drops the calendar's cursor so that its next sync lists
// it whole (and deletes what the provider no longer has). It writes without
// Batch.Expect: a sync under way, here or in another instance, gets
// ErrConflict on its next page and continues with this full sync (with a
// Store that ignores Expect it may write its cursor back; it ran after the
// gap, so it saw the changes).
func (e *Engine) requireFullSync(ctx context.Context, cal Calendar) error {
	st, err := e.cfg.Store.SyncState(ctx, cal.ID)
	if err != nil {
		return err
	}
	if st.FullSync() {
		return nil
	}
	_, err = e.cfg.Store.Apply(ctx, cal.ID, &Batch{State: SyncState{Generation: e.newGeneration(st), LastSync: st.LastSync, Unavailable: st.Unavailable}})
	return err
}
