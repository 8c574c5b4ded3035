package storetest

import (
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"time"

	"github.com/calsync/calsync"
)

func isNotFound(err error) bool { return errors.Is(err, calsync.ErrNotFound) }

// cases are the subtests of Run, one per contract point.
var cases = []struct {
	name string
	fn   func(h *harness)
}{
	{"Calendars", testCalendars},
	{"DeleteCalendar", testDeleteCalendar},
	{"SyncState", testSyncState},
	{"ApplyUnknownCalendar", testApplyUnknownCalendar},
	{"EventNotFound", testEventNotFound},
	{"UpsertRoundTrip", testUpsertRoundTrip},
	{"TimePrecision", testTimePrecision},
	{"Version", testVersion},
	{"LastWriteWinsUpsert", testLastWriteWinsUpsert},
	{"LastWriteWinsDelete", testLastWriteWinsDelete},
	{"ChangesInOrder", testChangesInOrder},
	{"CalendarsAreSeparate", testCalendarsAreSeparate},
	{"ApplyAtomic", testApplyAtomic},
	{"GenerationSweep", testGenerationSweep},
	{"SweepAcrossPages", testSweepAcrossPages},
	{"ListEvents", testListEvents},
	{"Subscriptions", testSubscriptions},
	{"ExpiringSubscriptions", testExpiringSubscriptions},
	{"Copies", testCopies},
	{"ConcurrentWriters", testConcurrentWriters},
	{"CancelledContext", testCancelledContext},
	{"FullSyncResume", testFullSyncResume},
	{"CursorWithEvents", testCursorWithEvents},
	{"DeleteThenOlderUpsert", testDeleteThenOlderUpsert},
	{"RawJSON", testRawJSON},
	{"UnchangedFinerThanPrecision", testUnchangedFinerThanPrecision},
	{"SweepWithoutGeneration", testSweepWithoutGeneration},
	{"Expect", testExpect},
	{"ExpectConcurrent", testExpectConcurrent},
	{"Ledger", testLedger},
	{"LedgerConcurrentBegin", testLedgerConcurrentBegin},
	{"LedgerPrune", testLedgerPrune},
	{"DeadLetters", testDeadLetters},
	{"Accounts", testAccounts},
	{"Leases", testLeases},
	{"LeasesConcurrentAcquire", testLeasesConcurrentAcquire},
}

func testCalendars(h *harness) {
	cals := []calsync.Calendar{
		{ID: h.ns + "c", Provider: "msgraph", AccountID: "acct-c", RemoteID: ""},
		{ID: h.ns + "a", Provider: "google", AccountID: "acct-a", RemoteID: "primary"},
		{ID: h.ns + "B", Provider: "google", AccountID: "acct-b", RemoteID: "b@group.calendar.google.com"},
	}
	for _, c := range cals {
		if err := h.s.PutCalendar(h.ctx, c); err != nil {
			h.Fatalf("PutCalendar(%q): %v", c.ID, err)
		}
	}
	for _, c := range cals {
		got, err := h.s.Calendar(h.ctx, c.ID)
		if err != nil {
			h.Fatalf("Calendar(%q): %v", c.ID, err)
		}
		if got != c {
			h.Errorf("Calendar(%q) = %+v, want %+v", c.ID, got, c)
		}
	}
	// Replace.
	cals[1].AccountID, cals[1].RemoteID = "acct-a2", "other@example.com"
	if err := h.s.PutCalendar(h.ctx, cals[1]); err != nil {
		h.Fatalf("PutCalendar(%q) replacing: %v", cals[1].ID, err)
	}
	if got, err := h.s.Calendar(h.ctx, cals[1].ID); err != nil || got != cals[1] {
		h.Errorf("Calendar(%q) after replace = %+v, %v; want %+v", cals[1].ID, got, err, cals[1])
	}

	_, err := h.s.Calendar(h.ctx, h.ns+"unknown")
	h.notFound(err, "Calendar of an unknown id")

	all, err := h.s.ListCalendars(h.ctx)
	if err != nil {
		h.Fatalf("ListCalendars: %v", err)
	}
	if !slices.IsSortedFunc(all, func(a, b calsync.Calendar) int { return strings.Compare(a.ID, b.ID) }) {
		h.Errorf("ListCalendars is not ordered by id (byte order): %v", calendarIDs(all))
	}
	var mine []calsync.Calendar
	for _, c := range all {
		if strings.HasPrefix(c.ID, h.ns) {
			mine = append(mine, c)
		}
	}
	wantList := []calsync.Calendar{cals[2], cals[1], cals[0]} // B < a < c in byte order
	if !slices.Equal(mine, wantList) {
		h.Errorf("ListCalendars (this test's) = %+v, want %+v", mine, wantList)
	}
}

func calendarIDs(cs []calsync.Calendar) []string {
	ids := make([]string, len(cs))
	for i, c := range cs {
		ids[i] = c.ID
	}
	return ids
}

func testDeleteCalendar(h *harness) {
	gone := h.newCalendar("gone")
	kept := h.newCalendar("kept")
	for _, cal := range []string{gone, kept} {
		h.apply(cal, &calsync.Batch{
			Changes: []calsync.Change{upsert(h.ev(cal, "e1", h.at(1), "1")), upsert(h.ev(cal, "e2", h.at(1), "1"))},
			State:   calsync.SyncState{Cursor: "cursor-" + cal, LastSync: h.at(10)},
		})
		for _, s := range []string{"s1", "s2"} {
			sub := calsync.Subscription{ID: cal + "-" + s, CalendarID: cal, Provider: "google", Secret: "secret", Expiration: h.at(100)}
			if err := h.s.PutSubscription(h.ctx, sub); err != nil {
				h.Fatalf("PutSubscription(%q): %v", sub.ID, err)
			}
		}
	}
	if err := h.s.DeleteCalendar(h.ctx, gone); err != nil {
		h.Fatalf("DeleteCalendar(%q): %v", gone, err)
	}

	_, err := h.s.Calendar(h.ctx, gone)
	h.notFound(err, "Calendar after DeleteCalendar")
	_, err = h.s.SyncState(h.ctx, gone)
	h.notFound(err, "SyncState after DeleteCalendar")
	h.absent(gone, "e1")
	_, err = h.s.Apply(h.ctx, gone, &calsync.Batch{Changes: []calsync.Change{upsert(h.ev(gone, "e3", h.at(2), "2"))}})
	h.notFound(err, "Apply after DeleteCalendar")
	for _, s := range []string{"s1", "s2"} {
		_, err := h.s.Subscription(h.ctx, gone+"-"+s)
		h.notFound(err, "Subscription of a deleted calendar")
	}
	if subs, err := h.s.ListSubscriptions(h.ctx, gone); err != nil && !isNotFound(err) {
		h.Errorf("ListSubscriptions of a deleted calendar: %v", err)
	} else if len(subs) != 0 {
		h.Errorf("ListSubscriptions of a deleted calendar = %v, want none", subs)
	}
	exp, err := h.s.ExpiringSubscriptions(h.ctx, h.at(1000))
	if err != nil {
		h.Fatalf("ExpiringSubscriptions: %v", err)
	}
	var expKept []string
	for _, s := range exp {
		if s.CalendarID == gone {
			h.Errorf("ExpiringSubscriptions returns %q of a deleted calendar", s.ID)
		}
		if s.CalendarID == kept {
			expKept = append(expKept, s.ID)
		}
	}
	if len(expKept) != 2 {
		h.Errorf("ExpiringSubscriptions of the kept calendar = %q, want its 2 subscriptions", expKept)
	}
	all, err := h.s.ListCalendars(h.ctx)
	if err != nil {
		h.Fatalf("ListCalendars: %v", err)
	}
	if slices.Contains(calendarIDs(all), gone) {
		h.Errorf("ListCalendars still lists deleted calendar %q", gone)
	}

	// The other calendar, with the same event ids, is untouched.
	if ids := h.eventIDs(kept); !slices.Equal(ids, []string{"e1", "e2"}) {
		h.Errorf("events of the kept calendar = %q, want [e1 e2]", ids)
	}
	if st := h.state(kept); st.Cursor != "cursor-"+kept {
		h.Errorf("SyncState of the kept calendar = %+v, want cursor %q", st, "cursor-"+kept)
	}
	if subs, err := h.s.ListSubscriptions(h.ctx, kept); err != nil || len(subs) != 2 {
		h.Errorf("ListSubscriptions of the kept calendar = %v, %v; want 2", subs, err)
	}

	// A calendar created again under the same id starts empty.
	if err := h.s.PutCalendar(h.ctx, calsync.Calendar{ID: gone, Provider: "google"}); err != nil {
		h.Fatalf("PutCalendar(%q) again: %v", gone, err)
	}
	h.checkState("SyncState of a re-created calendar", h.state(gone), calsync.SyncState{})
	if ids := h.eventIDs(gone); len(ids) != 0 {
		h.Errorf("events of a re-created calendar = %q, want none", ids)
	}
	if subs, err := h.s.ListSubscriptions(h.ctx, gone); err != nil || len(subs) != 0 {
		h.Errorf("ListSubscriptions of a re-created calendar = %v, %v; want none", subs, err)
	}

	// Deleting what does not exist is either a no-op or ErrNotFound.
	if err := h.s.DeleteCalendar(h.ctx, h.ns+"never"); err != nil && !isNotFound(err) {
		h.Errorf("DeleteCalendar of an unknown id: %v, want nil or ErrNotFound", err)
	}
}

func testSyncState(h *harness) {
	cal := h.newCalendar("cal")
	h.checkState("SyncState of a new calendar", h.state(cal), calsync.SyncState{})
	if !h.state(cal).FullSync() {
		h.Errorf("SyncState of a new calendar is not FullSync")
	}
	_, err := h.s.SyncState(h.ctx, h.ns+"unknown")
	h.notFound(err, "SyncState of an unknown calendar")

	// A batch without changes writes only the state.
	mid := calsync.SyncState{PageToken: "page-2", Generation: 42, LastSync: h.at(7)}
	res := h.apply(cal, &calsync.Batch{State: mid, Generation: 42})
	h.checkApplied("state-only batch", res)
	h.checkState("SyncState after a state-only batch", h.state(cal), mid)

	// State replaces the whole SyncState: PageToken and Generation go.
	done := calsync.SyncState{Cursor: "sync-token-1", LastSync: h.at(9).In(time.FixedZone("UTC+9", 9*3600))}
	h.apply(cal, &calsync.Batch{
		Changes: []calsync.Change{upsert(h.ev(cal, "e", h.at(1), "1"))},
		State:   done, Generation: 42, Sweep: true,
	})
	h.checkState("SyncState after the last page", h.state(cal), done)

	// Every field round-trips.
	full := calsync.SyncState{Cursor: "https://graph.microsoft.com/v1.0/me/events/delta?$deltatoken=abc%3D%3D", PageToken: "tok-π", Generation: 1 << 62, LastSync: h.at(12345)}
	h.apply(cal, &calsync.Batch{State: full})
	h.checkState("SyncState round trip", h.state(cal), full)
}

func testApplyUnknownCalendar(h *harness) {
	unknown := h.ns + "unknown"
	_, err := h.s.Apply(h.ctx, unknown, &calsync.Batch{Changes: []calsync.Change{upsert(h.ev(unknown, "e", h.at(1), "1"))}, State: calsync.SyncState{Cursor: "c"}})
	h.notFound(err, "Apply with changes to an unknown calendar")
	_, err = h.s.Apply(h.ctx, unknown, &calsync.Batch{State: calsync.SyncState{Cursor: "c"}})
	h.notFound(err, "Apply without changes to an unknown calendar")
	_, err = h.s.Calendar(h.ctx, unknown)
	h.notFound(err, "Calendar after Apply to an unknown calendar (Apply must not create it)")
}

func testEventNotFound(h *harness) {
	cal := h.newCalendar("cal")
	h.put(cal, h.ev(cal, "there", h.at(1), "1"))
	h.absent(cal, "missing")
	_, err := h.s.Event(h.ctx, h.ns+"unknown", "there")
	h.notFound(err, "Event of an unknown calendar")
}

// fullEvents returns events that set every field, all-day and timed.
func (h *harness) fullEvents(cal string) []*calsync.Event {
	paris := time.FixedZone("CET", 3600)
	kolkata := time.FixedZone("IST", 5*3600+1800)
	return []*calsync.Event{
		{
			ID: "allday", CalendarID: cal, Status: "confirmed", Summary: "Holiday ✈ ünïcode",
			Start:   calsync.EventTime{Date: "2031-03-14"},
			End:     calsync.EventTime{Date: "2031-03-16", TimeZone: "Europe/Paris"},
			ICalUID: "allday@google.com", ETag: `"3181161784712000"`, Updated: h.at(1),
			Raw: json.RawMessage(`{"kind":"calendar#event","id":"allday","start":{"date":"2031-03-14"},"nested":{"a":[1,2.5,"x",null,true]}}`),
		},
		{
			ID: "series", CalendarID: cal, Status: "tentative", Summary: "Weekly",
			Start:      calsync.EventTime{DateTime: base.In(paris).Add(24 * time.Hour), TimeZone: "Europe/Paris"},
			End:        calsync.EventTime{DateTime: base.In(paris).Add(25 * time.Hour), TimeZone: "Europe/Paris"},
			Recurrence: []string{"RRULE:FREQ=WEEKLY;BYDAY=MO,WE", "EXDATE;TZID=Europe/Paris:20310317T160926"},
			ICalUID:    "series@google.com", ETag: `W/"etag-series"`, Updated: h.at(2),
			Raw: json.RawMessage(`{"id":"series"}`),
		},
		{
			ID: "series_20310319T150926Z", CalendarID: cal, Status: "cancelled", Summary: "Weekly (moved)",
			Start:            calsync.EventTime{DateTime: base.In(kolkata).Add(49 * time.Hour), TimeZone: "Asia/Kolkata"},
			End:              calsync.EventTime{DateTime: base.In(kolkata).Add(50 * time.Hour), TimeZone: "Asia/Kolkata"},
			RecurringEventID: "series",
			OriginalStart:    &calsync.EventTime{DateTime: base.UTC().Add(48 * time.Hour), TimeZone: "Europe/Paris"},
			ICalUID:          "series@google.com", ETag: "3", Updated: h.at(3),
		},
		{
			ID: "allday-occurrence", CalendarID: cal, Status: "confirmed",
			Start:            calsync.EventTime{Date: "2031-12-24"},
			End:              calsync.EventTime{Date: "2031-12-25"},
			RecurringEventID: "yearly",
			OriginalStart:    &calsync.EventTime{Date: "2031-12-24"},
			ETag:             "4", Updated: h.at(4),
			Raw: json.RawMessage(`[]`),
		},
	}
}

func testUpsertRoundTrip(h *harness) {
	cal := h.newCalendar("cal")
	evs := h.fullEvents(cal)
	res := h.put(cal, evs...)
	h.checkStale("first upserts", res, 0)
	if len(res.Applied) != len(evs) {
		h.Fatalf("Applied has %d changes, want %d: %q", len(res.Applied), len(evs), ops(res.Applied))
	}
	for i, e := range evs {
		a := res.Applied[i]
		if a.Op != calsync.Upsert || a.EventID != e.ID || a.Event == nil {
			h.Errorf("Applied[%d] = %s:%s (event %v), want upsert:%s with the stored event", i, a.Op, a.EventID, a.Event != nil, e.ID)
			continue
		}
		h.checkEvent("Applied["+e.ID+"]", *a.Event, want(e, 1))
		h.checkEvent("Event("+e.ID+")", h.event(cal, e.ID), want(e, 1))
	}
	listed := h.allEvents(cal)
	byID := make(map[string]calsync.Event)
	for _, e := range listed {
		byID[e.ID] = e
	}
	if len(listed) != len(evs) {
		h.Errorf("ListEvents returned %d events, want %d", len(listed), len(evs))
	}
	for _, e := range evs {
		h.checkEvent("ListEvents["+e.ID+"]", byID[e.ID], want(e, 1))
	}
}

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

// absentNot fails unless the event exists.
func (h *harness) absentNot(cal, id string) {
	h.Helper()
	if _, err := h.s.Event(h.ctx, cal, id); err != nil {
		h.Errorf("Event(%q, %q): %v, want the event", cal, id, err)
	}
}

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
