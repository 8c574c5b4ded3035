package storetest

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/calsync/calsync"
)

// feedPage is the limit the suite reads the feed with, small so that
// reading pages is exercised.
const feedPage = 7

// feedAfter reads every entry after seq after, checking that Seqs strictly
// increase and that no page exceeds its limit.
func (h *harness) feedAfter(f calsync.ChangeFeed, after int64) []calsync.FeedEntry {
	h.Helper()
	var out []calsync.FeedEntry
	for {
		page, err := f.ChangesSince(h.ctx, after, feedPage)
		if err != nil {
			h.Fatalf("ChangesSince(%d, %d): %v", after, feedPage, err)
		}
		if len(page) > feedPage {
			h.Fatalf("ChangesSince(%d, %d) returned %d entries", after, feedPage, len(page))
		}
		if len(page) == 0 {
			return out
		}
		for _, e := range page {
			if e.Seq <= after {
				h.Fatalf("ChangesSince returned Seq %d after Seq %d: Seqs must strictly increase", e.Seq, after)
			}
			after = e.Seq
		}
		out = append(out, page...)
	}
}

// feedHead returns the Seq of the newest entry (0 if the feed is empty).
func (h *harness) feedHead(f calsync.ChangeFeed) int64 {
	h.Helper()
	es := h.feedAfter(f, 0)
	if len(es) == 0 {
		return 0
	}
	return es[len(es)-1].Seq
}

// mine keeps the entries of this subtest's calendars.
func (h *harness) mine(es []calsync.FeedEntry) []calsync.FeedEntry {
	var out []calsync.FeedEntry
	for _, e := range es {
		if strings.HasPrefix(e.CalendarID, h.ns) {
			out = append(out, e)
		}
	}
	return out
}

// applied is what one Apply reported, to compare with the feed.
type applied struct {
	cal string
	res *calsync.ApplyResult
}

// checkFeed compares entries with the changes the Applies reported, in
// order, and each Apply's Seq with its last entry.
func (h *harness) checkFeed(what string, entries []calsync.FeedEntry, applies ...applied) {
	h.Helper()
	i := 0
	for k, a := range applies {
		if len(a.res.Applied) == 0 {
			if a.res.Seq != 0 {
				h.Errorf("%s: Apply %d reported no change but Seq %d, want 0", what, k, a.res.Seq)
			}
			continue
		}
		for j, ch := range a.res.Applied {
			if i >= len(entries) {
				h.Errorf("%s: the feed ends after %d entries; Apply %d's change %d (%s:%s) is missing", what, len(entries), k, j, ch.Op, ch.EventID)
				return
			}
			got := entries[i]
			i++
			if got.CalendarID != a.cal {
				h.Errorf("%s: entry %d (Seq %d) CalendarID = %q, want %q", what, i-1, got.Seq, got.CalendarID, a.cal)
			}
			if got.Committed.IsZero() {
				h.Errorf("%s: entry %d (Seq %d) has a zero Committed", what, i-1, got.Seq)
			}
			h.checkChange(fmt.Sprintf("%s: entry %d (Seq %d)", what, i-1, got.Seq), got.Change, ch)
			if j == len(a.res.Applied)-1 && got.Seq != a.res.Seq {
				h.Errorf("%s: Apply %d reported Seq %d, but its last entry has Seq %d", what, k, a.res.Seq, got.Seq)
			}
		}
	}
	if i != len(entries) {
		h.Errorf("%s: %d entries, want %d (one per applied change): extra %q", what, len(entries), i, ops(changesOf(entries[i:])))
	}
}

func changesOf(es []calsync.FeedEntry) []calsync.Change {
	out := make([]calsync.Change, len(es))
	for i, e := range es {
		out[i] = e.Change
	}
	return out
}

// checkChange compares a change from the feed with the one Apply reported.
func (h *harness) checkChange(what string, got, want calsync.Change) {
	h.Helper()
	if got.Op != want.Op || got.EventID != want.EventID {
		h.Errorf("%s: %s:%s, want %s:%s", what, got.Op, got.EventID, want.Op, want.EventID)
		return
	}
	switch {
	case got.Event == nil && want.Event != nil:
		h.Errorf("%s: Event = nil, want %+v", what, *want.Event)
	case got.Event != nil && want.Event == nil:
		h.Errorf("%s: Event = %+v, want nil", what, *got.Event)
	case got.Event != nil:
		h.checkEvent(what, *got.Event, *want.Event)
	}
}

// testFeed: every applied change, and only those, is in the feed, in
// order, with the Seq Apply reported; entries outlive their calendar.
func testFeed(h *harness) {
	f := as[calsync.ChangeFeed](h)
	start := h.feedHead(f)
	a, b := h.newCalendar("a"), h.newCalendar("b")
	var all []applied
	apply := func(cal string, bt *calsync.Batch) *calsync.ApplyResult {
		h.Helper()
		res := h.apply(cal, bt)
		all = append(all, applied{cal, res})
		return res
	}
	batch := func(chs ...calsync.Change) *calsync.Batch { return &calsync.Batch{Changes: chs} }

	r1 := apply(a, batch(upsert(h.ev(a, "a1", h.at(1), "1")), upsert(h.ev(a, "a2", h.at(1), "1"))))
	apply(b, batch(upsert(h.ev(b, "b1", h.at(1), "1"))))
	gone := h.ev(a, "a2", h.at(5), "")
	gone.Summary, gone.Raw = "", nil
	r3 := apply(a, batch(
		upsert(h.ev(a, "a1", h.at(2), "2")),
		upsert(h.ev(a, "a1", h.at(2), "2")), // the same version again: not a change
		upsert(h.ev(a, "a2", h.at(0), "0")), // stale: not a change
		del("never-stored", nil),            // reported, so in the feed
		del("a2", gone),
	))
	h.checkApplied("mixed batch", r3, "upsert:a1", "delete:never-stored", "delete:a2")
	// A batch that only moves the cursor writes no entry.
	apply(a, &calsync.Batch{State: calsync.SyncState{Cursor: "c"}})
	// A series deleted with its exception: both deletions are entries.
	s := h.ev(b, "s", h.at(1), "1")
	x := h.ev(b, "s_x", h.at(1), "1")
	x.RecurringEventID = "s"
	apply(b, batch(upsert(s), upsert(x)))
	apply(b, batch(del("s", nil)))

	if r3.Seq <= r1.Seq {
		h.Errorf("Seq of a later Apply = %d, not greater than the earlier %d", r3.Seq, r1.Seq)
	}
	entries := h.mine(h.feedAfter(f, start))
	h.checkFeed("feed after the batches", entries, all...)
	for _, e := range entries {
		if e.Seq <= start {
			h.Errorf("entry Seq %d committed after the feed's head %d", e.Seq, start)
		}
	}

	// Reading from a position returns exactly what follows it, whatever
	// the limit.
	if len(entries) > 2 {
		pos := entries[1].Seq
		for _, limit := range []int{1, 2, 100} {
			page, err := f.ChangesSince(h.ctx, pos, limit)
			if err != nil {
				h.Fatalf("ChangesSince(%d, %d): %v", pos, limit, err)
			}
			if len(page) == 0 || len(page) > limit || page[0].Seq <= pos {
				h.Errorf("ChangesSince(%d, %d) returned %d entries starting at Seq %v", pos, limit, len(page), seqs(page))
				continue
			}
			// Other subtests may write in between (Features.Parallel), so
			// this subtest's next entry is the first one or follows others.
			want := entries[2].Seq
			if page[0].Seq > want {
				h.Errorf("ChangesSince(%d, %d) starts at Seq %d, skipping this subtest's Seq %d", pos, limit, page[0].Seq, want)
			}
			if page[len(page)-1].Seq >= want && !slices.Contains(seqs(page), want) {
				h.Errorf("ChangesSince(%d, %d) returned Seqs %v, without %d", pos, limit, seqs(page), want)
			}
		}
	}
	if _, err := f.ChangesSince(h.ctx, start, 0); err == nil {
		h.Error("ChangesSince with limit 0: no error")
	}

	// Entries outlive their calendar: they record what was committed.
	if err := h.s.DeleteCalendar(h.ctx, b); err != nil {
		h.Fatal(err)
	}
	h.checkFeed("feed after deleting a calendar", h.mine(h.feedAfter(f, start)), all...)
}

func seqs(es []calsync.FeedEntry) []int64 {
	out := make([]int64, len(es))
	for i, e := range es {
		out[i] = e.Seq
	}
	return out
}

// testFeedSweep: a full sync's sweep deletions are entries, after the
// batch's own changes.
func testFeedSweep(h *harness) {
	f := as[calsync.ChangeFeed](h)
	start := h.feedHead(f)
	cal := h.newCalendar("cal")
	r1 := h.put(cal, h.ev(cal, "keep", h.at(1), "1"), h.ev(cal, "gone1", h.at(1), "1"), h.ev(cal, "gone2", h.at(1), "1"))
	r2 := h.apply(cal, &calsync.Batch{
		Changes:    []calsync.Change{upsert(h.ev(cal, "keep", h.at(1), "1")), upsert(h.ev(cal, "added", h.at(2), "2"))},
		State:      calsync.SyncState{Cursor: "c"},
		Generation: 7,
		Sweep:      true,
	})
	h.checkApplied("full sync with a sweep", r2, "upsert:added", "delete:gone1", "delete:gone2")
	entries := h.mine(h.feedAfter(f, start))
	h.checkFeed("feed after a sweep", entries, applied{cal, r1}, applied{cal, r2})
	for _, e := range entries[max(0, len(entries)-2):] {
		if e.Change.Event == nil || e.Change.Event.ID != e.Change.EventID || e.Change.Event.CalendarID != cal {
			h.Errorf("sweep entry %s:%s: Event = %+v, want one with ID and CalendarID", e.Change.Op, e.Change.EventID, e.Change.Event)
		}
	}
}

// testFeedAtomic: the entries are written in Apply's transaction: a
// failed Apply leaves none, and a reader never sees a page's events
// without its entries, nor entries without their events.
func testFeedAtomic(h *harness) {
	f := as[calsync.ChangeFeed](h)
	start := h.feedHead(f)
	cal := h.newCalendar("cal")
	first := h.put(cal, h.ev(cal, "e", h.at(1), "1"))

	cancelled, cancel := context.WithCancel(h.ctx)
	cancel()
	next := func() []calsync.Change {
		return []calsync.Change{upsert(h.ev(cal, "e", h.at(2), "2")), upsert(h.ev(cal, "f", h.at(2), "2"))}
	}
	failures := []struct {
		name string
		ctx  context.Context
		cal  string
		b    *calsync.Batch
	}{
		{"a stale Expect", h.ctx, cal, &calsync.Batch{Changes: next(), Expect: &calsync.SyncState{Cursor: "other"}}},
		{"an unknown calendar", h.ctx, h.ns + "missing", &calsync.Batch{Changes: next()}},
		{"a cancelled context", cancelled, cal, &calsync.Batch{Changes: next()}},
		{"an invalid change", h.ctx, cal, &calsync.Batch{Changes: append(next(), calsync.Change{Op: calsync.Upsert, EventID: "bad"})}},
	}
	for _, tc := range failures {
		if _, err := h.s.Apply(tc.ctx, tc.cal, tc.b); err == nil {
			h.Errorf("Apply with %s: no error", tc.name)
		}
	}
	h.checkFeed("feed after failed Applies", h.mine(h.feedAfter(f, start)), applied{cal, first})

	// Pages commit while a reader compares the events with the feed: the
	// reader counts events, then follows the feed, then counts events
	// again. A feed written in a transaction of its own would show events
	// without their entries, or entries without their events.
	pcal := h.newCalendar("pages")
	const pages = 100
	pos, entries := h.feedHead(f), 0 // before the first page commits
	check := func() bool {
		evs, err := h.s.ListEvents(h.ctx, pcal, "", pages+1)
		if err != nil {
			h.Errorf("ListEvents: %v", err)
			return false
		}
		for {
			page, err := f.ChangesSince(h.ctx, pos, 100)
			if err != nil {
				h.Errorf("ChangesSince: %v", err)
				return false
			}
			if len(page) == 0 {
				break
			}
			for _, e := range page {
				if e.CalendarID == pcal {
					entries++
				}
			}
			pos = page[len(page)-1].Seq
		}
		if entries < len(evs) {
			h.Errorf("the events of %d pages are visible, but only %d of their feed entries", len(evs), entries)
			return false
		}
		if evs, err = h.s.ListEvents(h.ctx, pcal, "", pages+1); err != nil {
			h.Errorf("ListEvents: %v", err)
			return false
		}
		if len(evs) < entries {
			h.Errorf("the feed entries of %d pages are visible, but only %d of their events", entries, len(evs))
			return false
		}
		return true
	}
	h.whilePaging(pcal, pages, check)
	if !h.Failed() && entries != pages {
		h.Errorf("%d pages applied, %d feed entries", pages, entries)
	}
}

// readAll reads every entry after after, without failing the test (for
// goroutines other than the test's).
func readAll(ctx context.Context, f calsync.ChangeFeed, after int64) ([]calsync.FeedEntry, error) {
	var out []calsync.FeedEntry
	for {
		page, err := f.ChangesSince(ctx, after, 100)
		if err != nil {
			return nil, err
		}
		if len(page) == 0 {
			return out, nil
		}
		for _, e := range page {
			if e.Seq <= after {
				return nil, fmt.Errorf("Seq %d returned after Seq %d", e.Seq, after)
			}
			after = e.Seq
		}
		out = append(out, page...)
	}
}

// testFeedConcurrentAppliers: Applies from many goroutines at once, while
// a reader follows the feed from its last Seq: the reader sees every
// entry. An entry that commits with a Seq below one already read (a gap
// that fills later) would be missed, and fails the subtest.
func testFeedConcurrentAppliers(h *harness) {
	f := as[calsync.ChangeFeed](h)
	const (
		writers = 8
		batches = 25
	)
	start := h.feedHead(f)
	cals := make([]string, writers)
	for i := range cals {
		cals[i] = h.newCalendar(fmt.Sprintf("w%d", i))
	}
	var (
		mu   sync.Mutex
		last = make(map[int64]bool) // every Seq an Apply reported
	)
	writing := make(chan struct{})
	var wg sync.WaitGroup
	var writersWG sync.WaitGroup
	for w, cal := range cals {
		writersWG.Go(func() {
			var prev int64
			for n := range batches {
				res, err := h.s.Apply(h.ctx, cal, &calsync.Batch{Changes: []calsync.Change{
					upsert(h.ev(cal, fmt.Sprintf("e%03d", n), h.at(n), "1")),
					upsert(h.ev(cal, fmt.Sprintf("f%03d", n), h.at(n), "1")),
				}})
				if err != nil {
					h.Errorf("writer %d: Apply: %v", w, err)
					return
				}
				if res.Seq <= prev {
					h.Errorf("writer %d: Apply %d reported Seq %d after %d", w, n, res.Seq, prev)
				}
				prev = res.Seq
				mu.Lock()
				if last[res.Seq] {
					h.Errorf("two Applies reported Seq %d", res.Seq)
				}
				last[res.Seq] = true
				mu.Unlock()
			}
		})
	}
	go func() { writersWG.Wait(); close(writing) }()

	seen := make(map[int64]bool)
	pos := start
	follow := func() error {
		page, err := f.ChangesSince(h.ctx, pos, 50)
		if err != nil {
			return err
		}
		for _, e := range page {
			if e.Seq <= pos {
				return fmt.Errorf("ChangesSince(%d) returned Seq %d", pos, e.Seq)
			}
			pos = e.Seq
			seen[e.Seq] = true
		}
		return nil
	}
	wg.Go(func() {
		for {
			select {
			case <-writing:
				return
			default:
				if err := follow(); err != nil {
					h.Errorf("reader: %v", err)
					<-writing
					return
				}
			}
		}
	})
	wg.Wait()
	if h.Failed() {
		return
	}
	// The writers are done: read to the end once more.
	for {
		before := pos
		if err := follow(); err != nil {
			h.Fatalf("reader: %v", err)
		}
		if pos == before {
			break
		}
	}
	// Entries after pos committed after the reader's last read (other
	// subtests may still be writing); every one up to pos must have been
	// seen.
	all := h.feedAfter(f, start)
	var missed []int64
	for _, e := range all {
		if e.Seq <= pos && !seen[e.Seq] {
			missed = append(missed, e.Seq)
		}
	}
	if len(missed) > 0 {
		h.Errorf("a reader following the feed from its last Seq missed %d entries (Seqs %v): they became visible after an entry with a larger Seq", len(missed), missed[:min(len(missed), 10)])
	}
	if n := len(h.mine(all)); n != writers*batches*2 {
		h.Errorf("%d entries of this subtest's calendars, want %d", n, writers*batches*2)
	}
	for _, e := range h.mine(all) {
		delete(last, e.Seq)
	}
	if len(last) > 0 {
		h.Errorf("%d Seqs reported by Apply have no entry in the feed", len(last))
	}
}

// testFeedConsumers: positions are kept per consumer and only move
// forward.
func testFeedConsumers(h *harness) {
	f := as[calsync.ChangeFeed](h)
	c1, c2 := h.ns+"consumer-1", h.ns+"consumer-2"
	pos := func(c string, want int64, what string) {
		h.Helper()
		got, err := f.ConsumerPosition(h.ctx, c)
		if err != nil {
			h.Fatalf("%s: ConsumerPosition(%q): %v", what, c, err)
		}
		if got != want {
			h.Errorf("%s: ConsumerPosition(%q) = %d, want %d", what, c, got, want)
		}
	}
	ack := func(c string, p int64) {
		h.Helper()
		if err := f.AckPosition(h.ctx, c, p); err != nil {
			h.Fatalf("AckPosition(%q, %d): %v", c, p, err)
		}
	}
	pos(c1, 0, "a consumer that never acknowledged")
	ack(c1, 5)
	pos(c1, 5, "after acknowledging 5")
	ack(c1, 3)
	pos(c1, 5, "after acknowledging 3 below 5")
	ack(c1, 9)
	ack(c1, 9)
	pos(c1, 9, "after acknowledging 9 twice")
	pos(c2, 0, "another consumer")
	ack(c2, 0)
	ack(c2, 2)
	pos(c2, 2, "the other consumer after acknowledging 2")
	pos(c1, 9, "after the other consumer acknowledged")
	all, err := f.ConsumerPositions(h.ctx)
	if err != nil {
		h.Fatalf("ConsumerPositions: %v", err)
	}
	if all[c1] != 9 || all[c2] != 2 {
		h.Errorf("ConsumerPositions: %s = %d, %s = %d; want 9 and 2", c1, all[c1], c2, all[c2])
	}
	if err := f.AckPosition(h.ctx, "", 1); err == nil {
		h.Error("AckPosition with an empty consumer: no error")
	}
	if err := f.AckPosition(h.ctx, c1, -1); err == nil {
		h.Error("AckPosition of a negative position: no error")
	}
	pos(c1, 9, "after the refused acknowledgements")
}

// testFeedPrune: pruning by position and by age, and Seqs never reused
// after the feed was emptied. PruneFeed is store-wide, so this subtest
// runs alone even with Features.Parallel (and deletes the other
// subtests' entries).
func testFeedPrune(h *harness) {
	f := as[calsync.ChangeFeed](h)
	cal := h.newCalendar("cal")
	consumer := h.ns + "consumer"
	r1 := h.put(cal, h.ev(cal, "e1", h.at(1), "1"), h.ev(cal, "e2", h.at(1), "1"))
	r2 := h.put(cal, h.ev(cal, "e3", h.at(1), "1"))
	if err := f.AckPosition(h.ctx, consumer, r1.Seq); err != nil {
		h.Fatal(err)
	}
	count := func(es []calsync.FeedEntry, upTo int64) int {
		n := 0
		for _, e := range es {
			if e.Seq <= upTo {
				n++
			}
		}
		return n
	}
	prune := func(olderThan time.Duration, upTo int64) int {
		h.Helper()
		n, err := f.PruneFeed(h.ctx, olderThan, upTo)
		if err != nil {
			h.Fatalf("PruneFeed(%s, %d): %v", olderThan, upTo, err)
		}
		return n
	}

	if n := prune(0, 0); n != 0 {
		h.Errorf("PruneFeed(0, 0) = %d, want 0 (neither age nor position given)", n)
	}
	before := h.feedAfter(f, 0)
	if n, want := prune(time.Hour, r1.Seq), count(before, r1.Seq); n != want {
		h.Errorf("PruneFeed(1h, %d) = %d, want %d (the entries up to Seq %d)", r1.Seq, n, want, r1.Seq)
	}
	after := h.feedAfter(f, 0)
	if count(after, r1.Seq) != 0 {
		h.Errorf("after PruneFeed(1h, %d): entries up to that Seq remain: %v", r1.Seq, seqs(after))
	}
	h.checkFeed("after pruning up to the first Apply", h.mine(after), applied{cal, r2})

	// By age: an hour keeps what was just written; a nanosecond keeps
	// nothing already committed.
	before = after
	n := prune(time.Hour, 0)
	after = h.feedAfter(f, 0)
	if n != len(before)-len(after) {
		h.Errorf("PruneFeed(1h, 0) reported %d deleted, but %d entries went", n, len(before)-len(after))
	}
	h.checkFeed("after pruning entries older than an hour", h.mine(after), applied{cal, r2})
	if n := prune(time.Nanosecond, 0); n != len(after) {
		h.Errorf("PruneFeed(1ns, 0) = %d, want %d (every entry)", n, len(after))
	}
	if left := h.feedAfter(f, 0); len(left) != 0 {
		h.Errorf("after PruneFeed(1ns, 0): entries %v remain", seqs(left))
	}

	// The emptied feed goes on with larger Seqs; positions are untouched.
	r3 := h.put(cal, h.ev(cal, "e4", h.at(1), "1"))
	if r3.Seq <= r2.Seq {
		h.Errorf("Seq after emptying the feed = %d, want more than %d: Seqs must never be reused", r3.Seq, r2.Seq)
	}
	h.checkFeed("after the feed was emptied", h.mine(h.feedAfter(f, 0)), applied{cal, r3})
	if p, err := f.ConsumerPosition(h.ctx, consumer); err != nil || p != r1.Seq {
		h.Errorf("ConsumerPosition after pruning = %d, %v; want %d", p, err, r1.Seq)
	}
}
