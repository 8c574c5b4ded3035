package storetest

import (
	"fmt"
	"slices"
	"sort"

	"github.com/calsync/calsync"
)

// testSweepWithoutGeneration: a batch with Sweep and a zero Generation is
// invalid; it must fail and change nothing, not delete the events some
// earlier full sync stamped.
func testSweepWithoutGeneration(h *harness) {
	cal := h.newCalendar("cal")
	stamped := h.ev(cal, "stamped", h.at(1), "1")
	plain := h.ev(cal, "plain", h.at(1), "1")
	before := calsync.SyncState{Cursor: "before", LastSync: h.at(2)}
	h.apply(cal, &calsync.Batch{Changes: []calsync.Change{upsert(stamped)}, Generation: 5, State: calsync.SyncState{Generation: 5}})
	h.apply(cal, &calsync.Batch{Changes: []calsync.Change{upsert(plain)}, State: before})
	_, err := h.s.Apply(h.ctx, cal, &calsync.Batch{
		Changes: []calsync.Change{upsert(h.ev(cal, "new", h.at(3), "3"))},
		State:   calsync.SyncState{Cursor: "after"},
		Sweep:   true,
	})
	if err == nil {
		h.Errorf("Apply of a batch with Sweep and a zero Generation returned no error")
	}
	h.checkEvent("stamped event after the invalid batch", h.event(cal, "stamped"), want(stamped, 1))
	h.checkEvent("plain event after the invalid batch", h.event(cal, "plain"), want(plain, 1))
	h.absent(cal, "new")
	h.checkState("SyncState after the invalid batch", h.state(cal), before)
}

func testGenerationSweep(h *harness) {
	cal := h.newCalendar("cal")
	var evs []*calsync.Event
	for _, id := range []string{"changed", "unchanged", "stale", "gone", "deleted"} {
		evs = append(evs, h.ev(cal, id, h.at(10), "10"))
	}
	h.put(cal, evs...)
	unchanged, stale := evs[1], evs[2]

	changed := h.ev(cal, "changed", h.at(11), "11")
	added := h.ev(cal, "added", h.at(11), "11")
	res := h.apply(cal, &calsync.Batch{
		Changes: []calsync.Change{
			upsert(changed),
			upsert(h.ev(cal, "unchanged", h.at(10), "10")),
			upsert(h.ev(cal, "stale", h.at(9), "9")),
			upsert(added),
			del("deleted", nil),
		},
		State:      calsync.SyncState{Cursor: "c1", LastSync: h.at(20)},
		Generation: 5,
		Sweep:      true,
	})
	h.checkStale("full-sync batch", res, 1)
	own := []string{"upsert:changed", "upsert:added", "delete:deleted"}
	got := ops(res.Applied)
	if len(got) < len(own) || !slices.Equal(got[:len(own)], own) {
		h.Errorf("full-sync batch: Applied = %q, want %q first, then the sweep", got, own)
	} else if swept := got[len(own):]; !slices.Equal(swept, []string{"delete:gone"}) {
		h.Errorf("full-sync batch: sweep reported %q, want [delete:gone]", swept)
	}
	h.checkEvent("changed", h.event(cal, "changed"), want(changed, 2))
	h.checkEvent("unchanged (survives the sweep)", h.event(cal, "unchanged"), want(unchanged, 1))
	h.checkEvent("stale (survives the sweep)", h.event(cal, "stale"), want(stale, 1))
	h.checkEvent("added", h.event(cal, "added"), want(added, 1))
	h.absent(cal, "gone")
	h.absent(cal, "deleted")
	if ids := h.eventIDs(cal); !slices.Equal(ids, []string{"added", "changed", "stale", "unchanged"}) {
		h.Errorf("events after the sweep = %q", ids)
	}

	// A later full sync with a new generation removes what it did not see,
	// including events stamped by the previous one.
	res = h.apply(cal, &calsync.Batch{
		Changes:    []calsync.Change{upsert(h.ev(cal, "unchanged", h.at(10), "10"))},
		State:      calsync.SyncState{Cursor: "c2"},
		Generation: 6,
		Sweep:      true,
	})
	got = ops(res.Applied)
	sort.Strings(got)
	if want := []string{"delete:added", "delete:changed", "delete:stale"}; !slices.Equal(got, want) {
		h.Errorf("second full sync: Applied = %q, want (in any order) %q", got, want)
	}
	if ids := h.eventIDs(cal); !slices.Equal(ids, []string{"unchanged"}) {
		h.Errorf("events after the second sweep = %q, want [unchanged]", ids)
	}

	// Incremental batches (Generation 0) do not sweep without Sweep.
	h.put(cal, h.ev(cal, "inc", h.at(30), "30"))
	if ids := h.eventIDs(cal); !slices.Equal(ids, []string{"inc", "unchanged"}) {
		h.Errorf("events after an incremental batch = %q, want [inc unchanged]", ids)
	}
}

func testSweepAcrossPages(h *harness) {
	cal := h.newCalendar("cal")
	// A previous full sync (generation 1) left e00..e11.
	var first []calsync.Change
	for i := range 12 {
		first = append(first, upsert(h.ev(cal, fmt.Sprintf("e%02d", i), h.at(10), "10")))
	}
	h.apply(cal, &calsync.Batch{Changes: first, Generation: 1, Sweep: true, State: calsync.SyncState{Cursor: "old"}})

	// A new full sync (generation 2) in three pages sees e00..e08 (changed,
	// unchanged, stale) and a new one; e09..e11 are gone at the provider.
	pages := [][]calsync.Change{
		{upsert(h.ev(cal, "e00", h.at(11), "11")), upsert(h.ev(cal, "e01", h.at(10), "10")), upsert(h.ev(cal, "e02", h.at(9), "9"))},
		{upsert(h.ev(cal, "e03", h.at(10), "10")), upsert(h.ev(cal, "new", h.at(11), "11")), upsert(h.ev(cal, "e04", h.at(11), "11"))},
		{upsert(h.ev(cal, "e05", h.at(10), "10")), upsert(h.ev(cal, "e06", h.at(9), "9")), upsert(h.ev(cal, "e07", h.at(10), "10")), upsert(h.ev(cal, "e08", h.at(12), "12"))},
	}
	for i, p := range pages {
		last := i == len(pages)-1
		st := calsync.SyncState{PageToken: fmt.Sprintf("page%d", i+2), Generation: 2}
		if last {
			st = calsync.SyncState{Cursor: "new", LastSync: h.at(50)}
		}
		res := h.apply(cal, &calsync.Batch{Changes: p, Generation: 2, Sweep: last, State: st})
		for _, c := range res.Applied {
			if c.Op == calsync.Delete && !last {
				h.Errorf("page %d without Sweep deleted %q", i+1, c.EventID)
			}
		}
		h.checkState(fmt.Sprintf("SyncState after page %d", i+1), h.state(cal), st)
		if last {
			var swept []string
			for _, c := range res.Applied {
				if c.Op == calsync.Delete {
					swept = append(swept, c.EventID)
				}
			}
			sort.Strings(swept)
			if want := []string{"e09", "e10", "e11"}; !slices.Equal(swept, want) {
				h.Errorf("sweep on the last page deleted %q, want %q", swept, want)
			}
		}
	}
	want := []string{"e00", "e01", "e02", "e03", "e04", "e05", "e06", "e07", "e08", "new"}
	if ids := h.eventIDs(cal); !slices.Equal(ids, want) {
		h.Errorf("events after a three-page full sync = %q, want %q", ids, want)
	}
}

// testFullSyncResume: a full sync interrupted after some pages (a crash)
// resumes from the SyncState it stored, with the same generation, and its
// final sweep deletes exactly the events no page of the whole sync saw,
// including the pages before the interruption.
func testFullSyncResume(h *harness) {
	cal := h.newCalendar("cal")
	var old []*calsync.Event
	for i := range 6 {
		old = append(old, h.ev(cal, fmt.Sprintf("e%d", i), h.at(1), "1"))
	}
	h.apply(cal, &calsync.Batch{Changes: []calsync.Change{upsert(old[0]), upsert(old[1]), upsert(old[2]), upsert(old[3]), upsert(old[4]), upsert(old[5])},
		State: calsync.SyncState{Cursor: "c1", LastSync: h.at(1)}})

	// The full sync (generation 7) sees e0, e1 on page 1 and e3, new on
	// page 2, then the process dies.
	const gen = 7
	h.apply(cal, &calsync.Batch{Generation: gen, Changes: []calsync.Change{upsert(old[0]), upsert(h.ev(cal, "e1", h.at(2), "2"))},
		State: calsync.SyncState{PageToken: "p2", Generation: gen, LastSync: h.at(1)}})
	h.apply(cal, &calsync.Batch{Generation: gen, Changes: []calsync.Change{upsert(old[3]), upsert(h.ev(cal, "new", h.at(2), "2"))},
		State: calsync.SyncState{PageToken: "p3", Generation: gen, LastSync: h.at(1)}})

	// After the restart, the stored state says where to resume.
	st := h.state(cal)
	h.checkState("SyncState of an interrupted full sync", st, calsync.SyncState{PageToken: "p3", Generation: gen, LastSync: h.at(1)})
	if !st.FullSync() {
		h.Errorf("SyncState %+v of an interrupted full sync: FullSync() = false", st)
	}
	// The last page sees e5 and sweeps.
	res := h.apply(cal, &calsync.Batch{Generation: st.Generation, Sweep: true, Changes: []calsync.Change{upsert(old[5])},
		State: calsync.SyncState{Cursor: "c2", LastSync: h.at(3)}})
	h.checkApplied("last page of the resumed full sync", res, "delete:e2", "delete:e4")
	if ids := h.eventIDs(cal); !slices.Equal(ids, []string{"e0", "e1", "e3", "e5", "new"}) {
		h.Errorf("events after the resumed full sync = %q, want [e0 e1 e3 e5 new]", ids)
	}
	h.checkState("SyncState after the full sync", h.state(cal), calsync.SyncState{Cursor: "c2", LastSync: h.at(3)})
}
