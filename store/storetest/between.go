package storetest

import (
	"slices"
	"time"

	"github.com/calsync/calsync"
)

// testEventsBetween: [calsync.TimeIndex] returns exactly the events
// calsync.InRange selects, ordered by id: single events by their times
// (all-day dates in the range's zone), series masters by their whole span
// (bounded by COUNT or UNTIL, or open), exceptions by their times and by
// their original start; it follows events that move or go, keeps
// calendars apart, and answers ErrNotFound for an unknown calendar.
func testEventsBetween(h *harness) {
	ti := as[calsync.TimeIndex](h)
	cal := h.newCalendar("cal")
	other := h.newCalendar("other")
	berlin, _ := time.LoadLocation("Europe/Berlin")
	ny, _ := time.LoadLocation("America/New_York")
	day := func(d int, hh int) time.Time { return time.Date(2026, 3, d, hh, 0, 0, 0, berlin) }
	n := 0
	mk := func(id string, start, end calsync.EventTime) *calsync.Event {
		n++
		e := h.ev(cal, id, h.at(n), "1")
		e.Start, e.End = start, end
		return e
	}
	at := func(t time.Time) calsync.EventTime { return calsync.EventTime{DateTime: t, TimeZone: "Europe/Berlin"} }
	date := func(s string) calsync.EventTime { return calsync.EventTime{Date: s} }
	series := func(e *calsync.Event, rule ...string) *calsync.Event { e.Recurrence = rule; return e }
	exception := func(e *calsync.Event, of string, orig calsync.EventTime, status calsync.Status) *calsync.Event {
		e.RecurringEventID, e.OriginalStart, e.Status = of, &orig, status
		return e
	}
	evs := []*calsync.Event{
		mk("a-single", at(day(10, 9)), at(day(10, 10))),
		mk("b-long", at(day(1, 9)), at(day(25, 10))),
		mk("c-zero", at(day(12, 9)), at(day(12, 9))),
		mk("d-allday", date("2026-03-11"), date("2026-03-12")),
		mk("e-allday-multi", date("2026-03-13"), date("2026-03-16")),
		series(mk("f-daily-count", at(day(2, 9)), at(day(2, 10))), "RRULE:FREQ=DAILY;COUNT=3"),
		series(mk("g-weekly-until", at(day(2, 9)), at(day(2, 10))), "RRULE:FREQ=WEEKLY;UNTIL=20260316T080000Z"),
		series(mk("h-open", at(day(2, 9)), at(day(2, 10))), "RRULE:FREQ=MONTHLY;BYDAY=1MO"),
		series(mk("i-allday-series", date("2026-02-02"), date("2026-02-03")), "RRULE:FREQ=WEEKLY;COUNT=2"),
		series(mk("j-unreadable", at(day(2, 9)), at(day(2, 10))), "RRULE:FREQ=SOMETIMES"),
		exception(mk("k-moved", at(day(20, 9)), at(day(20, 10))), "g-weekly-until", at(day(9, 9)), "confirmed"),
		exception(mk("l-cancelled", calsync.EventTime{}, calsync.EventTime{}), "g-weekly-until", at(day(16, 9)), "cancelled"),
		exception(mk("m-cancelled-day", calsync.EventTime{}, calsync.EventTime{}), "i-allday-series", date("2026-02-09"), "cancelled"),
		mk("n-later", at(day(30, 9)), at(day(30, 10))),
	}
	h.put(cal, evs...)
	h.put(other, h.ev(other, "a-single", h.at(1), "1"))

	check := func(what string, from, to time.Time, must ...string) {
		h.Helper()
		got, err := ti.EventsBetween(h.ctx, cal, from, to)
		if err != nil {
			h.Fatalf("EventsBetween(%s): %v", what, err)
		}
		var ids, want []string
		for _, e := range got {
			ids = append(ids, e.ID)
			if e.CalendarID != cal {
				h.Errorf("EventsBetween(%s): %s has CalendarID %q", what, e.ID, e.CalendarID)
			}
		}
		for _, e := range h.allEvents(cal) {
			if calsync.InRange(e, from, to) {
				want = append(want, e.ID)
			}
		}
		if !slices.Equal(ids, want) {
			h.Errorf("EventsBetween(%s) = %v, want %v", what, ids, want)
		}
		for _, id := range must {
			if !slices.Contains(ids, id) {
				h.Errorf("EventsBetween(%s) = %v, lacks %s", what, ids, id)
			}
		}
	}
	check("10 March", day(10, 0), day(11, 0), "a-single", "b-long", "g-weekly-until", "h-open", "j-unreadable")
	// All-day dates are read in the range's zone: at 18:00 in New York
	// (23:00 in Berlin) the 11th is not over there.
	check("11 March, Berlin", day(11, 0), day(12, 0), "d-allday")
	check("evening of 11 March, New York", time.Date(2026, 3, 11, 18, 0, 0, 0, ny), time.Date(2026, 3, 12, 0, 0, 0, 0, ny), "d-allday")
	check("12 March 09:00 exactly", day(12, 9), day(12, 10))
	check("original start of the moved exception", day(9, 8), day(9, 10), "k-moved")
	check("original start of the cancelled exception", day(16, 8), day(16, 10), "l-cancelled")
	check("February", time.Date(2026, 2, 1, 0, 0, 0, 0, ny), time.Date(2026, 3, 1, 0, 0, 0, 0, ny), "i-allday-series", "m-cancelled-day")
	check("years ahead", time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(2030, 2, 1, 0, 0, 0, 0, time.UTC), "h-open", "j-unreadable")
	check("an empty range", day(10, 0), day(10, 0))

	// Moving and deleting events moves them in the index.
	moved := mk("a-single", at(day(30, 12)), at(day(30, 13)))
	h.apply(cal, &calsync.Batch{Changes: []calsync.Change{upsert(moved), del("n-later", nil), del("g-weekly-until", nil)}})
	check("10 March after the changes", day(10, 0), day(11, 0), "b-long")
	check("30 March after the changes", day(30, 0), day(31, 0), "a-single", "h-open")
	got, err := ti.EventsBetween(h.ctx, cal, day(9, 0), day(21, 0))
	if err != nil {
		h.Fatal(err)
	}
	for _, e := range got {
		if e.ID == "g-weekly-until" || e.ID == "k-moved" || e.ID == "n-later" {
			h.Errorf("EventsBetween after deletions returned %s", e.ID)
		}
	}

	if _, err := ti.EventsBetween(h.ctx, h.ns+"missing", day(1, 0), day(2, 0)); !isNotFound(err) {
		h.Errorf("EventsBetween of an unknown calendar: err = %v, want ErrNotFound", err)
	}
}
