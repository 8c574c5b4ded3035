package storetest

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/calsync/calsync"
)

func testConcurrentWriters(h *harness) {
	const (
		writers = 8
		rounds  = 5
		events  = 16
		writes  = writers * rounds // per event
	)
	cal := h.newCalendar("cal")
	// Write w (0..writes-1) of event k has Updated rank (7w+3k) mod writes:
	// a permutation, so each event has a different winning write and the
	// winner is not simply the last write issued.
	rank := func(w, k int) int { return (7*w + 3*k) % writes }
	var (
		mu      sync.Mutex
		applied = make(map[string][]int64) // versions reported per event
		stale   int
		wg      sync.WaitGroup
	)
	for g := range writers {
		wg.Go(func() {
			for r := range rounds {
				w := r*writers + g
				var chs []calsync.Change
				for i := range events {
					k := (i + g*5) % events // each writer its own order
					e := h.ev(cal, fmt.Sprintf("e%02d", k), h.at(rank(w, k)), fmt.Sprintf("w%d", w))
					chs = append(chs, upsert(e))
				}
				res, err := h.s.Apply(h.ctx, cal, &calsync.Batch{Changes: chs, State: calsync.SyncState{Cursor: fmt.Sprintf("w%d", w)}})
				if err != nil {
					h.Errorf("writer %d: Apply: %v", g, err)
					return
				}
				mu.Lock()
				stale += res.Stale
				for _, c := range res.Applied {
					if c.Op != calsync.Upsert || c.Event == nil {
						h.Errorf("writer %d: unexpected applied change %s:%s", g, c.Op, c.EventID)
						continue
					}
					applied[c.EventID] = append(applied[c.EventID], c.Event.Version)
				}
				mu.Unlock()
				// Readers run alongside the writers.
				if _, err := h.s.ListEvents(h.ctx, cal, "", events); err != nil {
					h.Errorf("writer %d: ListEvents: %v", g, err)
				}
			}
		})
	}
	wg.Wait()
	if h.Failed() {
		return
	}
	total := 0
	for k := range events {
		id := fmt.Sprintf("e%02d", k)
		vs := applied[id]
		total += len(vs)
		winner := -1
		for w := range writes {
			if rank(w, k) == writes-1 {
				winner = w
			}
		}
		got := h.event(cal, id)
		if got.ETag != fmt.Sprintf("w%d", winner) || !got.Updated.Equal(h.at(writes-1)) {
			h.Errorf("%s: holds write %s (Updated %s), want the newest, w%d", id, got.ETag, got.Updated, winner)
		}
		// Each applied upsert incremented the version once.
		slices.Sort(vs)
		for i, v := range vs {
			if v != int64(i+1) {
				h.Errorf("%s: applied versions %v, want 1..%d each once", id, vs, len(vs))
				break
			}
		}
		if got.Version != int64(len(vs)) {
			h.Errorf("%s: Version %d, but %d upserts were reported applied", id, got.Version, len(vs))
		}
	}
	if total+stale != writes*events {
		h.Errorf("applied %d + stale %d = %d, want every one of the %d upserts counted once", total, stale, total+stale, writes*events)
	}
	st := h.state(cal)
	if !strings.HasPrefix(st.Cursor, "w") {
		h.Errorf("SyncState after concurrent batches = %+v, want the state of one of them", st)
	}
}

// testCursorWithEvents: a reader never sees a cursor without the events of
// the batch that wrote it, nor events without their cursor, while batches
// commit.
func testCursorWithEvents(h *harness) {
	cal := h.newCalendar("cal")
	const pages = 30
	check := func() bool {
		// State first: the events of every page up to it must be there.
		st, err := h.s.SyncState(h.ctx, cal)
		if err != nil {
			h.Errorf("SyncState: %v", err)
			return false
		}
		n, _ := strconv.Atoi(st.PageToken)
		evs, err := h.s.ListEvents(h.ctx, cal, "", pages+1)
		if err != nil {
			h.Errorf("ListEvents: %v", err)
			return false
		}
		if len(evs) < n {
			h.Errorf("SyncState says page %d is applied, but only %d pages of events are visible", n, len(evs))
			return false
		}
		// Events first: the state must have reached the last page seen.
		last := len(evs)
		st, err = h.s.SyncState(h.ctx, cal)
		if err != nil {
			h.Errorf("SyncState: %v", err)
			return false
		}
		if n, _ := strconv.Atoi(st.PageToken); n < last {
			h.Errorf("events of page %d are visible, but SyncState says page %d", last, n)
			return false
		}
		return true
	}
	h.whilePaging(cal, pages, check)
}

// whilePaging applies pages 1..pages to cal from another goroutine, each
// one event ("p001", …) with SyncState.PageToken set to its number, and
// calls check meanwhile, until it returns false or the pages are all
// applied (then once more).
func (h *harness) whilePaging(cal string, pages int, check func() bool) {
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		defer close(done)
		for n := 1; n <= pages; n++ {
			e := h.ev(cal, fmt.Sprintf("p%03d", n), h.at(n), "1")
			if _, err := h.s.Apply(h.ctx, cal, &calsync.Batch{Changes: []calsync.Change{upsert(e)}, State: calsync.SyncState{PageToken: strconv.Itoa(n)}}); err != nil {
				h.Errorf("Apply page %d: %v", n, err)
				return
			}
		}
	})
	defer wg.Wait()
	for {
		select {
		case <-done:
			check()
			return
		default:
			if !check() {
				<-done
				return
			}
		}
	}
}
