package storetest

import (
	"fmt"
	"time"

	"github.com/calsync/calsync"
)

func testTimePrecision(h *harness) {
	cal := h.newCalendar("cal")
	step := h.f.TimePrecision
	e := h.ev(cal, "e", h.at(1), "1")
	e.Start.DateTime = base.Add(step)
	e.End.DateTime = base.Add(3 * step)
	h.put(cal, e)
	h.checkEvent("event with times one precision step apart", h.event(cal, "e"), want(e, 1))

	// Last-write-wins must tell apart Updated values one step apart.
	newer := h.ev(cal, "e", h.at(2), "2")
	res := h.put(cal, newer)
	h.checkApplied("upsert "+step.String()+" newer", res, "upsert:e")
	older := h.ev(cal, "e", h.at(1), "3")
	res = h.put(cal, older)
	h.checkApplied("upsert "+step.String()+" older", res)
	h.checkStale("upsert "+step.String()+" older", res, 1)
	h.checkEvent("event after a stale write one step older", h.event(cal, "e"), want(newer, 2))

	st := calsync.SyncState{Cursor: "c", LastSync: h.at(5)}
	h.apply(cal, &calsync.Batch{State: st})
	h.checkState("LastSync precision", h.state(cal), st)
}

func testVersion(h *harness) {
	cal := h.newCalendar("cal")
	v1 := h.ev(cal, "e", h.at(10), "a")
	v1.Version = 1000 // providers leave it zero; the store must not take it
	res := h.put(cal, v1)
	if len(res.Applied) == 1 && res.Applied[0].Event != nil && res.Applied[0].Event.Version != 1 {
		h.Errorf("Applied Version after the first upsert = %d, want 1", res.Applied[0].Event.Version)
	}
	if got := h.event(cal, "e").Version; got != 1 {
		h.Errorf("Version after the first upsert = %d, want 1", got)
	}

	v2 := h.ev(cal, "e", h.at(11), "b")
	res = h.put(cal, v2)
	h.checkApplied("newer upsert", res, "upsert:e")
	if len(res.Applied) == 1 && res.Applied[0].Event != nil && res.Applied[0].Event.Version != 2 {
		h.Errorf("Applied Version after the second upsert = %d, want 2", res.Applied[0].Event.Version)
	}
	h.checkEvent("after the second upsert", h.event(cal, "e"), want(v2, 2))

	// Same Updated and ETag: nothing changes, nothing reported.
	same := h.ev(cal, "e", h.at(11), "b")
	same.Summary = "ignored"
	res = h.put(cal, same)
	h.checkApplied("upsert with equal Updated and ETag", res)
	h.checkStale("upsert with equal Updated and ETag", res, 0)
	h.checkEvent("after an upsert with equal Updated and ETag", h.event(cal, "e"), want(v2, 2))

	// Same Updated, other ETag: not older, so it applies.
	v3 := h.ev(cal, "e", h.at(11), "c")
	res = h.put(cal, v3)
	h.checkApplied("upsert with equal Updated and another ETag", res, "upsert:e")
	h.checkEvent("after an upsert with equal Updated and another ETag", h.event(cal, "e"), want(v3, 3))

	// Several applied upserts of one event in one batch each count.
	v4, v5 := h.ev(cal, "e", h.at(12), "d"), h.ev(cal, "e", h.at(13), "e")
	res = h.put(cal, v4, v5)
	h.checkApplied("two upserts in one batch", res, "upsert:e", "upsert:e")
	if len(res.Applied) == 2 && res.Applied[0].Event != nil && res.Applied[1].Event != nil &&
		(res.Applied[0].Event.Version != 4 || res.Applied[1].Event.Version != 5) {
		h.Errorf("Applied Versions of two upserts in one batch = %d, %d; want 4, 5", res.Applied[0].Event.Version, res.Applied[1].Event.Version)
	}
	h.checkEvent("after two upserts in one batch", h.event(cal, "e"), want(v5, 5))
}

func testLastWriteWinsUpsert(h *harness) {
	cal := h.newCalendar("cal")
	cur := h.ev(cal, "e", h.at(100), "cur")
	h.put(cal, cur)

	res := h.put(cal, h.ev(cal, "e", h.at(50), "old"))
	h.checkApplied("older upsert", res)
	h.checkStale("older upsert", res, 1)
	h.checkEvent("after an older upsert", h.event(cal, "e"), want(cur, 1))

	// An older write with the same ETag is still stale, not "unchanged".
	res = h.put(cal, h.ev(cal, "e", h.at(99), "cur"))
	h.checkStale("older upsert with the same ETag", res, 1)
	h.checkApplied("older upsert with the same ETag", res)

	newer := h.ev(cal, "e", h.at(101), "new")
	res = h.put(cal, newer, h.ev(cal, "f", h.at(1), "f"))
	h.checkApplied("newer upsert", res, "upsert:e", "upsert:f")
	h.checkStale("newer upsert", res, 0)
	h.checkEvent("after a newer upsert", h.event(cal, "e"), want(newer, 2))
}

func testLastWriteWinsDelete(h *harness) {
	cal := h.newCalendar("cal")
	cur := h.ev(cal, "e", h.at(100), "cur")
	h.put(cal, cur)

	// A deletion older than the stored event is stale.
	res := h.apply(cal, &calsync.Batch{Changes: []calsync.Change{del("e", &calsync.Event{ID: "e", Updated: h.at(99)})}})
	h.checkApplied("older delete", res)
	h.checkStale("older delete", res, 1)
	h.checkEvent("after an older delete", h.event(cal, "e"), want(cur, 1))

	// A newer one applies.
	res = h.apply(cal, &calsync.Batch{Changes: []calsync.Change{del("e", &calsync.Event{ID: "e", Status: "cancelled", Updated: h.at(101)})}})
	h.checkApplied("newer delete", res, "delete:e")
	h.checkStale("newer delete", res, 0)
	h.absent(cal, "e")

	// A deletion without Updated (or without Event) always applies.
	h.put(cal, h.ev(cal, "f", h.at(100), "f"), h.ev(cal, "g", h.at(100), "g"))
	res = h.apply(cal, &calsync.Batch{Changes: []calsync.Change{del("f", nil), del("g", &calsync.Event{ID: "g"})}})
	h.checkApplied("deletes without Updated", res, "delete:f", "delete:g")
	h.absent(cal, "f")
	h.absent(cal, "g")

	// Deleting what is not stored is still reported.
	res = h.apply(cal, &calsync.Batch{Changes: []calsync.Change{del("never", nil), del("e", &calsync.Event{ID: "e", Updated: h.at(1)})}})
	h.checkApplied("deletes of absent events", res, "delete:never", "delete:e")
	h.checkStale("deletes of absent events", res, 0)
}

func testChangesInOrder(h *harness) {
	cal := h.newCalendar("cal")
	h.put(cal, h.ev(cal, "z", h.at(1), "1"))
	x2 := h.ev(cal, "x", h.at(2), "2")
	y := h.ev(cal, "y", h.at(1), "1")
	res := h.apply(cal, &calsync.Batch{Changes: []calsync.Change{
		upsert(x2),
		upsert(h.ev(cal, "x", h.at(1), "1")), // stale against the change before it
		del("y", nil),                        // absent yet: reported
		upsert(y),                            // then created
		upsert(h.ev(cal, "z", h.at(5), "5")), // updated
		del("z", nil),                        // then deleted
	}})
	h.checkApplied("mixed batch", res, "upsert:x", "delete:y", "upsert:y", "upsert:z", "delete:z")
	h.checkStale("mixed batch", res, 1)
	h.checkEvent("x", h.event(cal, "x"), want(x2, 1))
	h.checkEvent("y", h.event(cal, "y"), want(y, 1))
	h.absent(cal, "z")
}

func testCalendarsAreSeparate(h *harness) {
	a, b := h.newCalendar("a"), h.newCalendar("b")
	ea := h.ev(a, "same-id", h.at(10), "a")
	eb := h.ev(b, "same-id", h.at(20), "b")
	h.put(a, ea)
	h.put(b, eb)
	// A stale write in a must be judged against a's event, not b's.
	ea2 := h.ev(a, "same-id", h.at(15), "a2")
	res := h.put(a, ea2)
	h.checkApplied("upsert in calendar a", res, "upsert:same-id")
	h.checkEvent("a's event", h.event(a, "same-id"), want(ea2, 2))
	h.checkEvent("b's event", h.event(b, "same-id"), want(eb, 1))
	h.apply(a, &calsync.Batch{Changes: []calsync.Change{del("same-id", nil)}, State: calsync.SyncState{Cursor: "a"}})
	h.absent(a, "same-id")
	h.checkEvent("b's event after deleting a's", h.event(b, "same-id"), want(eb, 1))
	h.checkState("b's state after writing a's", h.state(b), calsync.SyncState{})
	// A sweep of a does not touch b.
	h.apply(a, &calsync.Batch{Generation: 7, Sweep: true, State: calsync.SyncState{Cursor: "a2"}})
	h.checkEvent("b's event after sweeping a", h.event(b, "same-id"), want(eb, 1))
}

// testUnchangedFinerThanPrecision re-applies an event whose Updated is finer
// than the store keeps (Graph's lastModifiedDateTime has seven fractional
// digits, 100 ns): the same Updated and ETag again is unchanged, not a new
// version reported to the host every time a page is replayed or a full sync
// lists the calendar again.
func testUnchangedFinerThanPrecision(h *harness) {
	cal := h.newCalendar("cal")
	updated := h.at(10).Add(700 * time.Nanosecond)
	h.put(cal, h.ev(cal, "e", updated, "a"))
	v := h.event(cal, "e").Version
	res := h.put(cal, h.ev(cal, "e", updated, "a"))
	h.checkApplied("upsert with the same Updated (100 ns digits) and ETag", res)
	h.checkStale("upsert with the same Updated (100 ns digits) and ETag", res, 0)
	if got := h.event(cal, "e").Version; got != v {
		h.Errorf("Version after an unchanged upsert = %d, want %d", got, v)
	}
	// A full sync that lists it again stamps it and does not report it.
	res = h.apply(cal, &calsync.Batch{Changes: []calsync.Change{upsert(h.ev(cal, "e", updated, "a"))}, Generation: 3, Sweep: true})
	h.checkApplied("full sync listing the unchanged event", res)
	h.absentNot(cal, "e")
}

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

// testDeleteThenOlderUpsert: an event deleted and re-created in one batch
// is a new event, even if the re-creation is older than what was stored.
func testDeleteThenOlderUpsert(h *harness) {
	cal := h.newCalendar("cal")
	h.put(cal, h.ev(cal, "e", h.at(5), "5"))
	again := h.ev(cal, "e", h.at(3), "3")
	res := h.apply(cal, &calsync.Batch{Changes: []calsync.Change{del("e", nil), upsert(again)}})
	h.checkApplied("delete then older upsert", res, "delete:e", "upsert:e")
	h.checkStale("delete then older upsert", res, 0)
	h.checkEvent("re-created event", h.event(cal, "e"), want(again, 1))
}
