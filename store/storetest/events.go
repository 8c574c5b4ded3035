package storetest

import (
	"encoding/json"
	"fmt"
	"slices"
	"sort"
	"time"

	"github.com/calsync/calsync"
)

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
			Details: calsync.EventDetails{Availability: calsync.AvailabilityFree, Organizer: calsync.Person{Self: true}},
			Start:   calsync.EventTime{Date: "2031-03-14"},
			End:     calsync.EventTime{Date: "2031-03-16", TimeZone: "Europe/Paris"},
			ICalUID: "allday@google.com", ETag: `"3181161784712000"`, Updated: h.at(1),
			Raw: json.RawMessage(`{"kind":"calendar#event","id":"allday","start":{"date":"2031-03-14"},"nested":{"a":[1,2.5,"x",null,true]}}`),
		},
		{
			ID: "series", CalendarID: cal, Status: "tentative", Summary: "Weekly",
			Details: calsync.EventDetails{
				Description: "Agenda:\n<b>ünïcode</b> \u0000 \"quoted\"", DescriptionHTML: true, Location: "Room 4 ✈",
				Availability: calsync.AvailabilityOutOfOffice, Visibility: calsync.VisibilityConfidential,
				Organizer: calsync.Person{Email: "dana@example.org", Name: "Dana", Self: true},
				Attendees: []calsync.Attendee{
					{Email: "dana@example.org", Name: "Dana", Type: calsync.AttendeeRequired, Response: calsync.ResponseAccepted, Self: true, Organizer: true},
					{Email: "bob@example.org", Type: calsync.AttendeeOptional, Response: calsync.ResponseTentative},
					{Email: "room@example.org", Name: "Room", Type: calsync.AttendeeResource, Response: calsync.ResponseDeclined},
					{Email: "carol@example.org", Type: calsync.AttendeeRequired, Response: calsync.ResponseNeedsAction},
				},
				Response:   calsync.ResponseAccepted,
				MeetingURL: "https://meet.example.com/abc-defg-hij",
				WebLink:    "https://calendar.example.com/event?eid=c2VyaWVz",
				Created:    base.In(kolkata).Add(-48 * time.Hour),
			},
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

func testCopies(h *harness) {
	cal := h.newCalendar("cal")
	orig := func() *calsync.Event {
		e := h.ev(cal, "e", h.at(1), "1")
		e.Raw = json.RawMessage(`{"id":"e","summary":"hello"}`)
		e.Recurrence = []string{"RRULE:FREQ=DAILY", "EXDATE:20310315T000000Z"}
		e.OriginalStart = &calsync.EventTime{DateTime: base, TimeZone: "UTC"}
		e.Details.Attendees = []calsync.Attendee{{Email: "a@example.com", Response: calsync.ResponseAccepted}}
		return e
	}
	mutate := func(e *calsync.Event) {
		if len(e.Details.Attendees) > 0 {
			e.Details.Attendees[0].Response = calsync.ResponseDeclined
		}
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

// testRawJSON: Raw comes back as the same JSON value whatever it holds,
// including what some databases' JSON types refuse or rewrite (the \u0000
// escape, numbers beyond float64, duplicate-free key order, deep nesting).
func testRawJSON(h *harness) {
	cal := h.newCalendar("cal")
	raws := []string{
		`{"description":"line one\u0000line two","id":"nul"}`,
		`{"z":1,"a":[1.50,-0,1e2,12345678901234567890],"m":{"\u00e9":"\ud83d\ude00","s":"tab\there"}}`,
		`{}`,
		`{"deep":[[[[[[[[[[{"x":null}]]]]]]]]]]}`,
	}
	for i, raw := range raws {
		e := h.ev(cal, fmt.Sprintf("e%d", i), h.at(1), "1")
		e.Raw = []byte(raw)
		h.put(cal, e)
		h.checkEvent(fmt.Sprintf("event with Raw %s", raw), h.event(cal, e.ID), want(e, 1))
	}
}

// testDetailsReplaced checks that a newer version of an event replaces its
// Details as a whole: fewer attendees, other values, and none at all.
func testDetailsReplaced(h *harness) {
	cal := h.newCalendar("cal")
	e := h.ev(cal, "e", h.at(1), "1")
	e.Details = calsync.EventDetails{
		Description: "v1", Location: "Room 1", Availability: calsync.AvailabilityBusy, Visibility: calsync.VisibilityDefault,
		Attendees: []calsync.Attendee{
			{Email: "a@example.com", Type: calsync.AttendeeRequired, Response: calsync.ResponseNeedsAction},
			{Email: "b@example.com", Type: calsync.AttendeeOptional, Response: calsync.ResponseNeedsAction},
		},
		Created: h.at(0),
	}
	h.put(cal, e)
	h.checkEvent("first version", h.event(cal, "e"), want(e, 1))

	e2 := h.ev(cal, "e", h.at(2), "2")
	e2.Details = calsync.EventDetails{
		Description: "v2", Availability: calsync.AvailabilityFree, Visibility: calsync.VisibilityPrivate,
		Attendees: []calsync.Attendee{{Email: "b@example.com", Type: calsync.AttendeeOptional, Response: calsync.ResponseDeclined}},
		Created:   h.at(0),
	}
	h.put(cal, e2)
	h.checkEvent("second version", h.event(cal, "e"), want(e2, 2))

	e3 := h.ev(cal, "e", h.at(3), "3")
	h.put(cal, e3)
	h.checkEvent("version without details", h.event(cal, "e"), want(e3, 3))
}
