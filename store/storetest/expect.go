package storetest

import (
	"errors"
	"fmt"
	"sync"

	"github.com/calsync/calsync"
)

func isConflict(err error) bool { return errors.Is(err, calsync.ErrConflict) }

// testExpect checks Batch.Expect: a batch expecting the stored sync state
// applies (LastSync is not compared), one expecting another Cursor,
// PageToken or Generation fails with ErrConflict and changes nothing, and
// one for an unknown calendar fails with ErrNotFound.
func testExpect(h *harness) {
	// A calendar never synced has the zero state, and Expect of it matches.
	fresh := h.newCalendar("fresh")
	first := calsync.SyncState{PageToken: "p1", Generation: 7}
	res := h.apply(fresh, &calsync.Batch{
		Changes:    []calsync.Change{upsert(h.ev(fresh, "a", h.at(1), "1"))},
		State:      first,
		Generation: 7,
		Expect:     &calsync.SyncState{},
	})
	h.checkApplied("Expect of the zero state on a fresh calendar", res, "upsert:a")
	h.checkState("after Expect of the zero state", h.state(fresh), first)

	stored := calsync.SyncState{PageToken: "p1", Generation: 7, LastSync: h.at(3)}
	differing := []struct {
		name   string
		expect calsync.SyncState
	}{
		{"Cursor", calsync.SyncState{Cursor: "c", PageToken: "p1", Generation: 7, LastSync: h.at(3)}},
		{"PageToken", calsync.SyncState{PageToken: "p0", Generation: 7, LastSync: h.at(3)}},
		{"empty PageToken", calsync.SyncState{Generation: 7, LastSync: h.at(3)}},
		{"Generation", calsync.SyncState{PageToken: "p1", Generation: 8, LastSync: h.at(3)}},
		{"zero", calsync.SyncState{}},
	}
	for i, tc := range differing {
		cal := h.newCalendar(fmt.Sprintf("cal%d", i))
		a := h.ev(cal, "a", h.at(1), "1")
		z := h.ev(cal, "z", h.at(1), "1")
		h.apply(cal, &calsync.Batch{Changes: []calsync.Change{upsert(a), upsert(z)}, State: stored, Generation: 7})

		_, err := h.s.Apply(h.ctx, cal, &calsync.Batch{
			Changes: []calsync.Change{
				upsert(h.ev(cal, "a", h.at(2), "2")),
				upsert(h.ev(cal, "new", h.at(2), "2")),
				del("z", nil),
			},
			State:      calsync.SyncState{Cursor: "other"},
			Generation: 7,
			Sweep:      true,
			Expect:     &tc.expect,
		})
		if !isConflict(err) {
			h.Errorf("Expect differing in %s: err = %v, want one wrapping calsync.ErrConflict", tc.name, err)
		}
		if isNotFound(err) {
			h.Errorf("Expect differing in %s: err = %v also wraps ErrNotFound", tc.name, err)
		}
		h.checkEvent("Expect differing in "+tc.name+": a", h.event(cal, "a"), want(a, 1))
		h.checkEvent("Expect differing in "+tc.name+": z", h.event(cal, "z"), want(z, 1))
		h.absent(cal, "new")
		h.checkState("Expect differing in "+tc.name+": SyncState", h.state(cal), stored)

		// The expected state matches, whatever LastSync says; the
		// generation the conflicting batch would have swept with is
		// still the one stamped.
		next := calsync.SyncState{PageToken: "p2", Generation: 7, LastSync: h.at(4)}
		res := h.apply(cal, &calsync.Batch{
			Changes:    []calsync.Change{upsert(h.ev(cal, "a", h.at(2), "2"))},
			State:      next,
			Generation: 7,
			Expect:     &calsync.SyncState{PageToken: "p1", Generation: 7, LastSync: h.at(99)},
		})
		h.checkApplied("Expect matching (LastSync aside) after a conflict", res, "upsert:a")
		h.checkState("Expect matching after a conflict: SyncState", h.state(cal), next)
		// A nil Expect applies whatever the stored state.
		h.apply(cal, &calsync.Batch{State: calsync.SyncState{Cursor: "done"}})
		h.checkState("nil Expect: SyncState", h.state(cal), calsync.SyncState{Cursor: "done"})
	}

	// An unknown calendar is not found, not a conflict.
	missing := h.ns + "missing"
	_, err := h.s.Apply(h.ctx, missing, &calsync.Batch{
		Changes: []calsync.Change{upsert(h.ev(missing, "a", h.at(1), "1"))},
		Expect:  &calsync.SyncState{},
	})
	h.notFound(err, "Apply with Expect to an unknown calendar")
	if isConflict(err) {
		h.Errorf("Apply with Expect to an unknown calendar: err = %v wraps ErrConflict", err)
	}
}

// testExpectConcurrent races Applies that all expect the same stored state:
// in every round exactly one succeeds, the others fail with ErrConflict and
// leave nothing behind. Run with -race.
func testExpectConcurrent(h *harness) {
	const (
		writers = 4
		rounds  = 25
	)
	cal := h.newCalendar("cal")
	var cur calsync.SyncState
	for r := range rounds {
		var (
			start = make(chan struct{})
			wg    sync.WaitGroup
			errs  [writers]error
			ress  [writers]*calsync.ApplyResult
		)
		for g := range writers {
			wg.Go(func() {
				<-start
				expect := cur
				id := fmt.Sprintf("r%03d-g%d", r, g)
				ress[g], errs[g] = h.s.Apply(h.ctx, cal, &calsync.Batch{
					Changes:    []calsync.Change{upsert(h.ev(cal, id, h.at(r), id))},
					State:      calsync.SyncState{PageToken: id, Generation: int64(r%3 + 1)},
					Generation: int64(r%3 + 1),
					Expect:     &expect,
				})
			})
		}
		close(start)
		wg.Wait()
		winner := -1
		for g, err := range errs {
			switch {
			case err == nil:
				if winner >= 0 {
					h.Fatalf("round %d: writers %d and %d both applied with the same Expect", r, winner, g)
				}
				winner = g
			case !isConflict(err):
				h.Fatalf("round %d: writer %d: err = %v, want nil or one wrapping calsync.ErrConflict", r, g, err)
			}
		}
		if winner < 0 {
			h.Fatalf("round %d: no writer applied (errors %v)", r, errs)
		}
		id := fmt.Sprintf("r%03d-g%d", r, winner)
		h.checkApplied(fmt.Sprintf("round %d: winner", r), ress[winner], "upsert:"+id)
		cur = calsync.SyncState{PageToken: id, Generation: int64(r%3 + 1)}
		h.checkState(fmt.Sprintf("round %d", r), h.state(cal), cur)
		for g := range writers {
			if g != winner {
				h.absent(cal, fmt.Sprintf("r%03d-g%d", r, g))
			}
		}
		h.event(cal, id)
	}
	if n := len(h.eventIDs(cal)); n != rounds {
		h.Errorf("events after %d rounds = %d, want one per round", rounds, n)
	}
}
