package google

import (
	"fmt"
	"time"

	calendar "google.golang.org/api/calendar/v3"

	"github.com/calsync/calsync/provider"
)

// change converts one events.list item. A cancelled event is a deletion,
// except, in series mode (singleEvents false), a cancelled exception of a
// series (it has a recurringEventId): that is an upsert of an event with
// status "cancelled" linked to its series and original start, because a
// client expanding the stored series must know that occurrence is off, and
// Google's reference says to keep cancelled exceptions for the life of
// the series. Listed again unchanged (every full sync lists them), it is
// unchanged in the Store and not reported again. Anything else is an
// upsert. With singleEvents, occurrences are events of their own, and a
// cancelled one is deleted.
func change(calendarID string, item *calendar.Event, singleEvents bool) (provider.Change, error) {
	if item == nil || item.Id == "" {
		return provider.Change{}, fmt.Errorf("google: events.list returned an event without an id")
	}
	ev, err := convert(calendarID, item)
	if err != nil {
		return provider.Change{}, err
	}
	if item.Status == "cancelled" && (singleEvents || item.RecurringEventId == "") {
		return provider.Change{Op: provider.Delete, EventID: item.Id, Event: ev}, nil
	}
	return provider.Change{Op: provider.Upsert, EventID: item.Id, Event: ev}, nil
}

// convert maps a Calendar API event to a provider.Event, keeping the
// provider's JSON in Raw.
func convert(calendarID string, item *calendar.Event) (*provider.Event, error) {
	raw, err := item.MarshalJSON()
	if err != nil {
		return nil, fmt.Errorf("google: event %s: encode: %w", item.Id, err)
	}
	ev := &provider.Event{
		ID:               item.Id,
		CalendarID:       calendarID,
		Status:           provider.Status(item.Status),
		Summary:          item.Summary,
		RecurringEventID: item.RecurringEventId,
		Recurrence:       item.Recurrence,
		ICalUID:          item.ICalUID,
		ETag:             item.Etag,
		Raw:              raw,
	}
	if ev.Status == "" {
		ev.Status = "confirmed"
	}
	if item.Updated != "" {
		if ev.Updated, err = time.Parse(time.RFC3339Nano, item.Updated); err != nil {
			return nil, fmt.Errorf("google: event %s: bad updated %q: %w", item.Id, item.Updated, err)
		}
	}
	if ev.Start, err = eventTime(item.Start); err != nil {
		return nil, fmt.Errorf("google: event %s: start: %w", item.Id, err)
	}
	if ev.End, err = eventTime(item.End); err != nil {
		return nil, fmt.Errorf("google: event %s: end: %w", item.Id, err)
	}
	if item.OriginalStartTime != nil {
		t, err := eventTime(item.OriginalStartTime)
		if err != nil {
			return nil, fmt.Errorf("google: event %s: originalStartTime: %w", item.Id, err)
		}
		ev.OriginalStart = &t
	}
	return ev, nil
}

func eventTime(t *calendar.EventDateTime) (provider.EventTime, error) {
	if t == nil {
		return provider.EventTime{}, nil
	}
	out := provider.EventTime{TimeZone: t.TimeZone}
	switch {
	case t.Date != "":
		if _, err := time.Parse(time.DateOnly, t.Date); err != nil {
			return out, fmt.Errorf("bad date %q", t.Date)
		}
		out.Date = t.Date
	case t.DateTime != "":
		dt, err := time.Parse(time.RFC3339Nano, t.DateTime)
		if err != nil {
			return out, fmt.Errorf("bad dateTime %q", t.DateTime)
		}
		out.DateTime = dt
	}
	return out, nil
}
