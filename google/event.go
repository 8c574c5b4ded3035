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
// cancelled one is deleted. A cancelled exception of a series in
// deletedSeries (those the same page deletes) belongs to a series that is
// gone, not to a live one, and is deleted too rather than kept.
func change(calendarID string, item *calendar.Event, singleEvents bool, deletedSeries map[string]bool) (provider.Change, error) {
	if item == nil || item.Id == "" {
		return provider.Change{}, fmt.Errorf("google: events.list returned an event without an id")
	}
	ev, err := convert(calendarID, item)
	if err != nil {
		return provider.Change{}, err
	}
	if item.Status == "cancelled" && (singleEvents || item.RecurringEventId == "" || deletedSeries[item.RecurringEventId]) {
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
		ev.Status = provider.StatusConfirmed
	}
	if item.Updated != "" {
		if ev.Updated, err = time.Parse(time.RFC3339Nano, item.Updated); err != nil {
			return nil, fmt.Errorf("google: event %s: bad updated %q: %w", item.Id, item.Updated, err)
		}
	}
	if ev.Details, err = details(item, ev.Status); err != nil {
		return nil, fmt.Errorf("google: event %s: %w", item.Id, err)
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

// details maps the descriptive members of an Event resource
// (https://developers.google.com/workspace/calendar/api/v3/reference/events).
// A cancelled event carries few members, so the defaults Google documents
// for absent ones (transparency opaque, visibility default) are applied
// only to events that are not cancelled.
func details(item *calendar.Event, status provider.Status) (provider.EventDetails, error) {
	d := provider.EventDetails{
		Description: item.Description,
		Location:    item.Location,
		MeetingURL:  item.HangoutLink,
		WebLink:     item.HtmlLink,
	}
	if status != provider.StatusCancelled || item.Transparency != "" {
		d.Availability = availability(item.Transparency, item.EventType)
	}
	if status != provider.StatusCancelled || item.Visibility != "" {
		d.Visibility = visibility(item.Visibility)
	}
	if d.MeetingURL == "" && item.ConferenceData != nil {
		for _, ep := range item.ConferenceData.EntryPoints {
			if ep != nil && ep.EntryPointType == "video" && ep.Uri != "" {
				d.MeetingURL = ep.Uri
				break
			}
		}
	}
	if o := item.Organizer; o != nil {
		d.Organizer = provider.Person{Email: o.Email, Name: o.DisplayName, Self: o.Self}
	}
	for _, a := range item.Attendees {
		if a == nil {
			continue
		}
		at := provider.Attendee{
			Email: a.Email, Name: a.DisplayName, Type: provider.AttendeeRequired,
			Response: response(a.ResponseStatus), Self: a.Self, Organizer: a.Organizer,
		}
		switch {
		case a.Resource:
			at.Type = provider.AttendeeResource
		case a.Optional:
			at.Type = provider.AttendeeOptional
		}
		if a.Self {
			d.Response = at.Response
		}
		d.Attendees = append(d.Attendees, at)
	}
	if d.Response == "" && d.Organizer.Self && status != provider.StatusCancelled {
		// The owner organizes: Google lists no attendee for it when the
		// event has no guests.
		d.Response = provider.ResponseAccepted
	}
	if item.Created != "" {
		t, err := time.Parse(time.RFC3339Nano, item.Created)
		if err != nil {
			return d, fmt.Errorf("bad created %q", item.Created)
		}
		d.Created = t
	}
	return d, nil
}

// availability maps transparency ("opaque", the default, or
// "transparent"); an opaque event of eventType "outOfOffice" is out of
// office.
func availability(transparency, eventType string) provider.Availability {
	switch transparency {
	case "", "opaque":
		if eventType == "outOfOffice" {
			return provider.AvailabilityOutOfOffice
		}
		return provider.AvailabilityBusy
	case "transparent":
		return provider.AvailabilityFree
	}
	return provider.AvailabilityUnknown
}

// visibility maps visibility; absent is "default". A value this package
// does not know is reported as the zero Visibility.
func visibility(v string) provider.Visibility {
	switch v {
	case "", "default":
		return provider.VisibilityDefault
	case "public":
		return provider.VisibilityPublic
	case "private":
		return provider.VisibilityPrivate
	case "confidential":
		return provider.VisibilityConfidential
	}
	return ""
}

// response maps an attendee's responseStatus; Google's values are the
// model's.
func response(s string) provider.Response {
	switch r := provider.Response(s); r {
	case provider.ResponseNeedsAction, provider.ResponseDeclined, provider.ResponseTentative, provider.ResponseAccepted:
		return r
	}
	return ""
}
