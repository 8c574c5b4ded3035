package storetest

import (
	"slices"

	"github.com/calsync/calsync"
)

// testSeriesDeleteCascades: deleting a series deletes its stored
// exceptions (cancelled ones included), reported as Deletes after the
// batch's changes; a series deleted and recreated in the same batch keeps
// them; other events stay.
func testSeriesDeleteCascades(h *harness) {
	cal := h.newCalendar("cal")
	series := h.ev(cal, "s", h.at(1), "1")
	exc := func(id string, status calsync.Status) *calsync.Event {
		e := h.ev(cal, id, h.at(2), "1")
		e.RecurringEventID, e.Status = "s", status
		e.OriginalStart = &calsync.EventTime{DateTime: h.at(100)}
		return e
	}
	other := h.ev(cal, "x", h.at(1), "1")
	h.put(cal, series, exc("s_1", "cancelled"), exc("s_2", "confirmed"), other)

	// Deleted and recreated in one batch: the series lives on.
	res := h.apply(cal, &calsync.Batch{Changes: []calsync.Change{del("s", nil), upsert(h.ev(cal, "s", h.at(3), "2"))}})
	if got := h.eventIDs(cal); !slices.Equal(got, []string{"s", "s_1", "s_2", "x"}) {
		h.Errorf("after deleting and recreating the series: events %v, want s s_1 s_2 x", got)
	}
	if len(res.Applied) != 2 {
		h.Errorf("deleting and recreating the series applied %d changes, want 2", len(res.Applied))
	}

	res = h.apply(cal, &calsync.Batch{Changes: []calsync.Change{del("s", nil)}})
	if got := h.eventIDs(cal); !slices.Equal(got, []string{"x"}) {
		h.Errorf("after deleting the series: events %v, want only x", got)
	}
	var ops []string
	for _, c := range res.Applied {
		ops = append(ops, c.Op.String()+" "+c.EventID)
	}
	if want := []string{"delete s", "delete s_1", "delete s_2"}; !slices.Equal(ops, want) {
		h.Errorf("deleting the series applied %v, want %v", ops, want)
	}
}

// testSeriesDeleteCascadesSeveral: one batch deleting two series deletes
// the exceptions of both, and only theirs.
func testSeriesDeleteCascadesSeveral(h *harness) {
	cal := h.newCalendar("cal")
	exc := func(id, series string) *calsync.Event {
		e := h.ev(cal, id, h.at(2), "1")
		e.RecurringEventID = series
		e.OriginalStart = &calsync.EventTime{DateTime: h.at(100)}
		return e
	}
	h.put(cal, h.ev(cal, "s", h.at(1), "1"), h.ev(cal, "t", h.at(1), "1"), h.ev(cal, "u", h.at(1), "1"),
		exc("s_1", "s"), exc("t_1", "t"), exc("t_2", "t"), exc("u_1", "u"))
	res := h.apply(cal, &calsync.Batch{Changes: []calsync.Change{del("t", nil), del("s", nil)}})
	if got := h.eventIDs(cal); !slices.Equal(got, []string{"u", "u_1"}) {
		h.Errorf("after deleting two series: events %v, want u u_1", got)
	}
	var deleted []string
	for _, c := range res.Applied {
		if c.Op == calsync.Delete {
			deleted = append(deleted, c.EventID)
		}
	}
	slices.Sort(deleted)
	if want := []string{"s", "s_1", "t", "t_1", "t_2"}; !slices.Equal(deleted, want) {
		h.Errorf("deleting two series reported deletions %v, want %v", deleted, want)
	}
}
