package storetest

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/calsync/calsync"
)

func testApplyAtomic(h *harness) {
	invalid := []struct {
		name string
		ch   calsync.Change
	}{
		{"upsert without Event", calsync.Change{Op: calsync.Upsert, EventID: "bad"}},
		{"upsert with Event.ID not EventID", calsync.Change{Op: calsync.Upsert, EventID: "bad", Event: h.ev("", "other", h.at(5), "5")}},
		{"upsert with empty EventID", calsync.Change{Op: calsync.Upsert, EventID: "", Event: h.ev("", "", h.at(5), "5")}},
		{"delete with empty EventID", calsync.Change{Op: calsync.Delete, EventID: ""}},
		{"unknown operation", calsync.Change{Op: 0, EventID: "bad", Event: h.ev("", "bad", h.at(5), "5")}},
	}
	for i, tc := range invalid {
		cal := h.newCalendar(fmt.Sprintf("cal%d", i))
		a := h.ev(cal, "a", h.at(1), "1")
		z := h.ev(cal, "z", h.at(1), "1")
		before := calsync.SyncState{Cursor: "before", LastSync: h.at(3)}
		h.apply(cal, &calsync.Batch{Changes: []calsync.Change{upsert(a), upsert(z)}, State: before})

		ch := tc.ch
		if ch.Event != nil {
			ch.Event.CalendarID = cal
		}
		_, err := h.s.Apply(h.ctx, cal, &calsync.Batch{
			Changes: []calsync.Change{
				upsert(h.ev(cal, "a", h.at(2), "2")),
				upsert(h.ev(cal, "new", h.at(2), "2")),
				del("z", nil),
				ch,
				upsert(h.ev(cal, "after", h.at(2), "2")),
			},
			State:      calsync.SyncState{PageToken: "after", Generation: 9},
			Generation: 9,
			Sweep:      true,
		})
		if err == nil {
			h.Errorf("%s: Apply returned no error", tc.name)
		}
		h.checkEvent(tc.name+": a after a failed batch", h.event(cal, "a"), want(a, 1))
		h.checkEvent(tc.name+": z after a failed batch", h.event(cal, "z"), want(z, 1))
		h.absent(cal, "new")
		h.absent(cal, "after")
		h.checkState(tc.name+": SyncState after a failed batch", h.state(cal), before)

		// The store still works after the failure.
		res := h.put(cal, h.ev(cal, "a", h.at(2), "2"))
		h.checkApplied(tc.name+": valid batch after a failed one", res, "upsert:a")
	}
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

func testListEvents(h *harness) {
	cal := h.newCalendar("cal")
	other := h.newCalendar("other")
	ids := []string{"b", "a", "B", "_x", "a0", "a-", "é", "z", "0", "~", "Z", "aa", "a b", "Ab"}
	var evs []*calsync.Event
	for _, id := range ids {
		evs = append(evs, h.ev(cal, id, h.at(1), "1"))
	}
	h.put(cal, evs...)
	h.put(other, h.ev(other, "a00", h.at(1), "1"), h.ev(other, "zz", h.at(1), "1"))
	sorted := slices.Clone(ids)
	sort.Strings(sorted) // byte order

	list := func(after string, limit int) []string {
		h.Helper()
		page, err := h.s.ListEvents(h.ctx, cal, after, limit)
		if err != nil {
			h.Fatalf("ListEvents(%q, %d): %v", after, limit, err)
		}
		out := make([]string, len(page))
		for i, e := range page {
			out[i] = e.ID
			if e.CalendarID != cal {
				h.Errorf("ListEvents returned event %q of calendar %q", e.ID, e.CalendarID)
			}
		}
		return out
	}
	expect := func(after string, limit int) []string {
		i := sort.Search(len(sorted), func(i int) bool { return sorted[i] > after })
		return sorted[i:min(len(sorted), i+limit)]
	}

	for _, limit := range []int{1, 3, 5, len(ids), 1000} {
		var all []string
		after := ""
		for n := 0; ; n++ {
			if n > len(ids)+1 {
				h.Fatalf("limit %d: pagination does not end", limit)
			}
			page := list(after, limit)
			if len(page) > limit {
				h.Errorf("ListEvents(%q, %d) returned %d events", after, limit, len(page))
			}
			if want := expect(after, limit); !slices.Equal(page, want) {
				h.Errorf("ListEvents(%q, %d) = %q, want %q", after, limit, page, want)
			}
			if len(page) == 0 {
				break
			}
			all = append(all, page...)
			after = page[len(page)-1]
		}
		if !slices.Equal(all, sorted) {
			h.Errorf("paging with limit %d = %q, want %q", limit, all, sorted)
		}
	}
	// afterID is exclusive and need not exist.
	for _, after := range []string{"a", "a0", "a1", "A", "Z", "zz", "~", "\u00ff"} {
		if got, want := list(after, 4), expect(after, 4); !slices.Equal(got, want) {
			h.Errorf("ListEvents(%q, 4) = %q, want %q", after, got, want)
		}
	}
	if got := list(sorted[len(sorted)-1], 10); len(got) != 0 {
		h.Errorf("ListEvents after the last id = %q, want none", got)
	}
	// A calendar without events lists nothing.
	empty := h.newCalendar("empty")
	if page, err := h.s.ListEvents(h.ctx, empty, "", 10); err != nil || len(page) != 0 {
		h.Errorf("ListEvents of an empty calendar = %d events, %v; want none", len(page), err)
	}
	// An unknown calendar: nothing, or ErrNotFound.
	if page, err := h.s.ListEvents(h.ctx, h.ns+"unknown", "", 10); (err != nil && !isNotFound(err)) || len(page) != 0 {
		h.Errorf("ListEvents of an unknown calendar = %d events, %v; want none or ErrNotFound", len(page), err)
	}
}

func (h *harness) sub(cal, name string, exp time.Time) calsync.Subscription {
	return calsync.Subscription{
		ID:               h.ns + name,
		CalendarID:       cal,
		Provider:         "msgraph",
		ResourceID:       "res-" + name,
		ResourceURI:      "https://graph.microsoft.com/v1.0/me/events?name=" + name,
		Address:          "https://example.com/hook/" + name,
		LifecycleAddress: "https://example.com/lifecycle/" + name,
		Secret:           "s3cr3t-" + name + "-" + strings.Repeat("x", 64),
		Expiration:       exp,
		Created:          exp.Add(-72 * time.Hour).In(time.FixedZone("UTC+2", 7200)),
	}
}

func (h *harness) checkSub(what string, got, want calsync.Subscription) {
	h.Helper()
	g, w := got, want
	g.Expiration, g.Created, w.Expiration, w.Created = time.Time{}, time.Time{}, time.Time{}, time.Time{}
	if g != w || !got.Expiration.Equal(want.Expiration) || !got.Created.Equal(want.Created) {
		h.Errorf("%s = %#v, want %#v", what, got, want)
	}
}

func (h *harness) putSub(sub calsync.Subscription) {
	h.Helper()
	if err := h.s.PutSubscription(h.ctx, sub); err != nil {
		h.Fatalf("PutSubscription(%q): %v", sub.ID, err)
	}
}

func subIDs(subs []calsync.Subscription) []string {
	ids := make([]string, len(subs))
	for i, s := range subs {
		ids[i] = s.ID
	}
	return ids
}

func testSubscriptions(h *harness) {
	cal, other := h.newCalendar("cal"), h.newCalendar("other")
	s2, s1, s3 := h.sub(cal, "s2", h.at(3000)), h.sub(cal, "s1", h.at(1000)), h.sub(cal, "S3", h.at(2000))
	so := h.sub(other, "so", h.at(500))
	for _, s := range []calsync.Subscription{s2, s1, s3, so} {
		h.putSub(s)
	}
	for _, s := range []calsync.Subscription{s1, s2, s3, so} {
		got, err := h.s.Subscription(h.ctx, s.ID)
		if err != nil {
			h.Fatalf("Subscription(%q): %v", s.ID, err)
		}
		h.checkSub("Subscription("+s.ID+")", got, s)
	}
	_, err := h.s.Subscription(h.ctx, h.ns+"unknown")
	h.notFound(err, "Subscription of an unknown id")

	// Replace: every field changes.
	r := h.sub(cal, "s1", h.at(9000))
	r.ID = s1.ID
	r.Provider, r.ResourceID, r.Secret, r.Address = "google", "res-renewed", "new-secret", "https://example.com/new"
	h.putSub(r)
	got, err := h.s.Subscription(h.ctx, s1.ID)
	if err != nil {
		h.Fatalf("Subscription(%q) after replace: %v", s1.ID, err)
	}
	h.checkSub("Subscription after replace", got, r)

	list, err := h.s.ListSubscriptions(h.ctx, cal)
	if err != nil {
		h.Fatalf("ListSubscriptions: %v", err)
	}
	if want := []string{s3.ID, s1.ID, s2.ID}; !slices.Equal(subIDs(list), want) { // "S3" < "s1" < "s2"
		h.Errorf("ListSubscriptions = %q, want %q", subIDs(list), want)
	} else {
		h.checkSub("ListSubscriptions[1]", list[1], r)
	}
	if list, err := h.s.ListSubscriptions(h.ctx, other); err != nil || !slices.Equal(subIDs(list), []string{so.ID}) {
		h.Errorf("ListSubscriptions(other) = %q, %v; want [%s]", subIDs(list), err, so.ID)
	}
	if list, err := h.s.ListSubscriptions(h.ctx, h.newCalendar("none")); err != nil || len(list) != 0 {
		h.Errorf("ListSubscriptions of a calendar without any = %q, %v; want none", subIDs(list), err)
	}

	if err := h.s.DeleteSubscription(h.ctx, s2.ID); err != nil {
		h.Fatalf("DeleteSubscription(%q): %v", s2.ID, err)
	}
	_, err = h.s.Subscription(h.ctx, s2.ID)
	h.notFound(err, "Subscription after DeleteSubscription")
	if list, err := h.s.ListSubscriptions(h.ctx, cal); err != nil || !slices.Equal(subIDs(list), []string{s3.ID, s1.ID}) {
		h.Errorf("ListSubscriptions after delete = %q, %v; want [%s %s]", subIDs(list), err, s3.ID, s1.ID)
	}
	if err := h.s.DeleteSubscription(h.ctx, s2.ID); err != nil && !isNotFound(err) {
		h.Errorf("DeleteSubscription of a deleted subscription: %v, want nil or ErrNotFound", err)
	}
}

func testExpiringSubscriptions(h *harness) {
	cal, other := h.newCalendar("cal"), h.newCalendar("other")
	t0 := time.Now().Add(24 * time.Hour).Truncate(time.Microsecond)
	subs := []calsync.Subscription{
		h.sub(cal, "a", t0.Add(3*time.Hour)),
		h.sub(cal, "b", t0.Add(1*time.Hour)),
		h.sub(other, "c", t0.Add(2*time.Hour)),
		h.sub(cal, "d", t0.Add(5*time.Hour)),
		h.sub(cal, "e", t0.Add(4*time.Hour)), // exactly at the bound: not before it
		h.sub(other, "f", t0.Add(4*time.Hour-h.f.TimePrecision)),
	}
	for _, s := range subs {
		h.putSub(s)
	}
	bound := t0.Add(4 * time.Hour)
	got, err := h.s.ExpiringSubscriptions(h.ctx, bound)
	if err != nil {
		h.Fatalf("ExpiringSubscriptions: %v", err)
	}
	if !slices.IsSortedFunc(got, func(a, b calsync.Subscription) int { return a.Expiration.Compare(b.Expiration) }) {
		h.Errorf("ExpiringSubscriptions is not ordered by expiration: %q", subIDs(got))
	}
	var mine []calsync.Subscription
	for _, s := range got {
		if !s.Expiration.Before(bound) {
			h.Errorf("ExpiringSubscriptions(%s) returned %q expiring at %s", bound, s.ID, s.Expiration)
		}
		if strings.HasPrefix(s.ID, h.ns) {
			mine = append(mine, s)
		}
	}
	want := []calsync.Subscription{subs[1], subs[2], subs[0], subs[5]}
	if !slices.Equal(subIDs(mine), subIDs(want)) {
		h.Errorf("ExpiringSubscriptions = %q, want %q", subIDs(mine), subIDs(want))
	} else {
		for i := range want {
			h.checkSub("ExpiringSubscriptions["+want[i].ID+"]", mine[i], want[i])
		}
	}
	// A renewal moves a subscription out.
	renewed := subs[1]
	renewed.Expiration = t0.Add(48 * time.Hour)
	h.putSub(renewed)
	got, err = h.s.ExpiringSubscriptions(h.ctx, bound)
	if err != nil {
		h.Fatalf("ExpiringSubscriptions: %v", err)
	}
	if slices.Contains(subIDs(got), renewed.ID) {
		h.Errorf("ExpiringSubscriptions still returns %q after its expiration moved past the bound", renewed.ID)
	}
}

func testCopies(h *harness) {
	cal := h.newCalendar("cal")
	orig := func() *calsync.Event {
		e := h.ev(cal, "e", h.at(1), "1")
		e.Raw = json.RawMessage(`{"id":"e","summary":"hello"}`)
		e.Recurrence = []string{"RRULE:FREQ=DAILY", "EXDATE:20310315T000000Z"}
		e.OriginalStart = &calsync.EventTime{DateTime: base, TimeZone: "UTC"}
		return e
	}
	mutate := func(e *calsync.Event) {
		if len(e.Raw) > 0 {
			e.Raw[len(e.Raw)-3] = 'X'
		}
		if len(e.Recurrence) > 0 {
			e.Recurrence[0] = "RRULE:FREQ=YEARLY"
		}
		if e.OriginalStart != nil {
			e.OriginalStart.TimeZone = "Mars/Olympus"
			e.OriginalStart.Date = "2000-01-01"
		}
		e.Summary = "mutated"
	}
	check := func(what string) {
		h.Helper()
		h.checkEvent(what, h.event(cal, "e"), want(orig(), 1))
	}

	in := orig()
	b := &calsync.Batch{Changes: []calsync.Change{upsert(in)}}
	res := h.apply(cal, b)
	mutate(in)
	b.Changes[0].EventID = "other"
	b.Changes[0].Event = h.ev(cal, "other", h.at(1), "9")
	check("after modifying the Event and the batch given to Apply")

	if len(res.Applied) == 1 && res.Applied[0].Event != nil {
		mutate(res.Applied[0].Event)
		check("after modifying the Event returned in ApplyResult")
	}

	got := h.event(cal, "e")
	mutate(&got)
	check("after modifying an Event returned by Event")

	list, err := h.s.ListEvents(h.ctx, cal, "", 10)
	if err != nil {
		h.Fatalf("ListEvents: %v", err)
	}
	for i := range list {
		mutate(&list[i])
	}
	check("after modifying Events returned by ListEvents")
}

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

func testCancelledContext(h *harness) {
	cal := h.newCalendar("cal")
	e := h.ev(cal, "e", h.at(1), "1")
	h.apply(cal, &calsync.Batch{Changes: []calsync.Change{upsert(e)}, State: calsync.SyncState{Cursor: "before"}})
	sub := h.sub(cal, "s", h.at(100))
	h.putSub(sub)

	ctx, cancel := context.WithCancel(h.ctx)
	cancel()
	calls := map[string]func() error{
		"PutCalendar": func() error { return h.s.PutCalendar(ctx, calsync.Calendar{ID: h.ns + "new"}) },
		"Calendar":    func() error { _, err := h.s.Calendar(ctx, cal); return err },
		"ListCalendars": func() error {
			_, err := h.s.ListCalendars(ctx)
			return err
		},
		"DeleteCalendar": func() error { return h.s.DeleteCalendar(ctx, h.ns+"new") },
		"SyncState":      func() error { _, err := h.s.SyncState(ctx, cal); return err },
		"Apply": func() error {
			_, err := h.s.Apply(ctx, cal, &calsync.Batch{
				Changes: []calsync.Change{upsert(h.ev(cal, "e", h.at(2), "2")), upsert(h.ev(cal, "f", h.at(2), "2"))},
				State:   calsync.SyncState{Cursor: "after"},
			})
			return err
		},
		"Event":                 func() error { _, err := h.s.Event(ctx, cal, "e"); return err },
		"ListEvents":            func() error { _, err := h.s.ListEvents(ctx, cal, "", 10); return err },
		"PutSubscription":       func() error { return h.s.PutSubscription(ctx, h.sub(cal, "new", h.at(100))) },
		"Subscription":          func() error { _, err := h.s.Subscription(ctx, sub.ID); return err },
		"ListSubscriptions":     func() error { _, err := h.s.ListSubscriptions(ctx, cal); return err },
		"ExpiringSubscriptions": func() error { _, err := h.s.ExpiringSubscriptions(ctx, h.at(1000)); return err },
		"DeleteSubscription":    func() error { return h.s.DeleteSubscription(ctx, sub.ID) },
	}
	names := make([]string, 0, len(calls))
	for name := range calls {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		if err := calls[name](); err == nil {
			h.Errorf("%s with a cancelled context returned no error", name)
		}
	}
	// The failed Apply changed nothing.
	h.checkEvent("event after Apply with a cancelled context", h.event(cal, "e"), want(e, 1))
	h.absent(cal, "f")
	h.checkState("SyncState after Apply with a cancelled context", h.state(cal), calsync.SyncState{Cursor: "before"})
}
