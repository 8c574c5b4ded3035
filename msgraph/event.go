package msgraph

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/calsync/calsync/provider"
)

// graphEvent holds the fields of a Graph event that calsync maps.
// encoding/json matches names case-insensitively, which also covers the
// PascalCase start/end keys of the beta events/delta example
// (https://learn.microsoft.com/en-us/graph/api/event-delta?view=graph-rest-beta).
type graphEvent struct {
	ID           string           `json:"id"`
	Removed      *json.RawMessage `json:"@removed"`
	ETag         string           `json:"@odata.etag"`
	ChangeKey    string           `json:"changeKey"`
	Subject      string           `json:"subject"`
	Start        *dateTimeZone    `json:"start"`
	End          *dateTimeZone    `json:"end"`
	IsAllDay     bool             `json:"isAllDay"`
	IsCancelled  bool             `json:"isCancelled"`
	ShowAs       string           `json:"showAs"`
	Type         string           `json:"type"`
	SeriesMaster string           `json:"seriesMasterId"`
	OrigStart    string           `json:"originalStart"`
	ICalUID      string           `json:"iCalUId"`
	LastModified string           `json:"lastModifiedDateTime"`
	Recurrence   *recurrence      `json:"recurrence"`

	// The descriptive properties (Event.Details).
	Body *struct {
		ContentType string `json:"contentType"`
		Content     string `json:"content"`
	} `json:"body"`
	Location *struct {
		DisplayName string `json:"displayName"`
	} `json:"location"`
	Sensitivity string `json:"sensitivity"`
	IsOrganizer bool   `json:"isOrganizer"`
	Organizer   *struct {
		EmailAddress emailAddress `json:"emailAddress"`
	} `json:"organizer"`
	Attendees []struct {
		Type         string        `json:"type"`
		Status       *responseType `json:"status"`
		EmailAddress emailAddress  `json:"emailAddress"`
	} `json:"attendees"`
	ResponseStatus *responseType `json:"responseStatus"`
	OnlineMeeting  *struct {
		JoinURL string `json:"joinUrl"`
	} `json:"onlineMeeting"`
	OnlineMeetingURL string `json:"onlineMeetingUrl"`
	WebLink          string `json:"webLink"`
	Created          string `json:"createdDateTime"`
}

type emailAddress struct {
	Name    string `json:"name"`
	Address string `json:"address"`
}

type responseType struct {
	Response string `json:"response"`
}

type dateTimeZone struct {
	DateTime string `json:"dateTime"`
	TimeZone string `json:"timeZone"`
}

// change converts one delta item. An item with @removed is a deletion
// carrying only the id; a cancelled event (isCancelled) is a deletion
// carrying the event (for an occurrence its series and original start);
// anything else is an upsert. Raw is the item's JSON as Graph sent it.
func change(calendarID string, raw json.RawMessage) (provider.Change, error) {
	var g graphEvent
	if err := json.Unmarshal(raw, &g); err != nil {
		return provider.Change{}, fmt.Errorf("malformed event: %w", err)
	}
	if g.ID == "" {
		return provider.Change{}, errors.New("event without an id")
	}
	if g.Removed != nil {
		return provider.Change{Op: provider.Delete, EventID: g.ID, Event: &provider.Event{
			ID: g.ID, CalendarID: calendarID, Status: "cancelled", Raw: raw,
		}}, nil
	}
	ev, err := convert(calendarID, &g, raw)
	if err != nil {
		return provider.Change{}, fmt.Errorf("event %s: %w", g.ID, err)
	}
	if g.IsCancelled {
		return provider.Change{Op: provider.Delete, EventID: g.ID, Event: ev}, nil
	}
	return provider.Change{Op: provider.Upsert, EventID: g.ID, Event: ev}, nil
}

// convert maps a Graph event to a provider.Event.
func convert(calendarID string, g *graphEvent, raw json.RawMessage) (*provider.Event, error) {
	ev := &provider.Event{
		ID:         g.ID,
		CalendarID: calendarID,
		Status:     provider.StatusConfirmed,
		Summary:    g.Subject,
		ICalUID:    g.ICalUID,
		ETag:       g.ETag,
		Raw:        raw,
	}
	if ev.ETag == "" {
		ev.ETag = g.ChangeKey
	}
	// Graph has no status: isCancelled is a cancellation; showAs
	// "tentative" is what an iCalendar STATUS:TENTATIVE becomes in Outlook.
	// responseStatus (the owner's answer) goes to Details.Response.
	switch {
	case g.IsCancelled:
		ev.Status = provider.StatusCancelled
	case strings.EqualFold(g.ShowAs, "tentative"):
		ev.Status = provider.StatusTentative
	}
	var err error
	if g.LastModified != "" {
		if ev.Updated, err = time.Parse(time.RFC3339Nano, g.LastModified); err != nil {
			return nil, fmt.Errorf("bad lastModifiedDateTime %q", g.LastModified)
		}
	}
	if ev.Details, err = details(g); err != nil {
		return nil, err
	}
	if ev.Start, err = eventTime(g.Start, g.IsAllDay); err != nil {
		return nil, fmt.Errorf("start: %w", err)
	}
	if g.Recurrence != nil {
		ev.Recurrence = g.Recurrence.rrule(ev.Start)
	}
	if ev.End, err = eventTime(g.End, g.IsAllDay); err != nil {
		return nil, fmt.Errorf("end: %w", err)
	}
	switch strings.ToLower(g.Type) {
	case "occurrence", "exception":
		ev.RecurringEventID = g.SeriesMaster
		if g.OrigStart != "" {
			t, err := time.Parse(time.RFC3339Nano, g.OrigStart)
			if err != nil {
				return nil, fmt.Errorf("bad originalStart %q", g.OrigStart)
			}
			os := provider.EventTime{DateTime: t.UTC(), TimeZone: "UTC"}
			if g.IsAllDay {
				os = provider.EventTime{Date: t.UTC().Format(time.DateOnly)}
			}
			ev.OriginalStart = &os
		} else if !ev.Start.IsZero() {
			// An occurrence that was never moved starts where the rule
			// put it.
			os := ev.Start
			ev.OriginalStart = &os
		}
	}
	return ev, nil
}

// eventTime converts a Graph dateTimeTimeZone. Fetch asks for UTC
// (Prefer: outlook.timezone="UTC"); a value in an IANA zone is read in that
// zone; one in a zone Go does not know (a Windows name such as "Pacific
// Standard Time") is read as UTC and its zone name kept. An all-day event's
// times are dates (the end date exclusive, as Graph sends it).
func eventTime(t *dateTimeZone, allDay bool) (provider.EventTime, error) {
	if t == nil || t.DateTime == "" {
		return provider.EventTime{}, nil
	}
	if allDay {
		d, _, _ := strings.Cut(t.DateTime, "T")
		if _, err := time.Parse(time.DateOnly, d); err != nil {
			return provider.EventTime{}, fmt.Errorf("bad date %q", t.DateTime)
		}
		return provider.EventTime{Date: d}, nil
	}
	loc := time.UTC
	if t.TimeZone != "" {
		if l, err := time.LoadLocation(t.TimeZone); err == nil {
			loc = l
		}
	}
	out := provider.EventTime{TimeZone: t.TimeZone}
	v, err := time.Parse(time.RFC3339Nano, t.DateTime)
	if err != nil {
		// Graph's usual form: no offset, seven fractional digits (time.Parse
		// accepts the fraction although the layout has none).
		v, err = time.ParseInLocation("2006-01-02T15:04:05", t.DateTime, loc)
		if err != nil {
			return provider.EventTime{}, fmt.Errorf("bad dateTime %q", t.DateTime)
		}
	}
	out.DateTime = v.UTC()
	return out, nil
}

// details maps the descriptive properties of a Graph event
// (https://learn.microsoft.com/en-us/graph/api/resources/event). A
// property Graph did not send (a deletion carries none) stays zero.
func details(g *graphEvent) (provider.EventDetails, error) {
	d := provider.EventDetails{
		Availability: availability(g.ShowAs),
		Visibility:   visibility(g.Sensitivity),
		MeetingURL:   g.OnlineMeetingURL,
		WebLink:      g.WebLink,
	}
	if g.Body != nil {
		d.Description = g.Body.Content
		d.DescriptionHTML = strings.EqualFold(g.Body.ContentType, "html")
	}
	if g.Location != nil {
		d.Location = g.Location.DisplayName
	}
	if g.OnlineMeeting != nil && g.OnlineMeeting.JoinURL != "" {
		d.MeetingURL = g.OnlineMeeting.JoinURL
	}
	if g.Organizer != nil {
		d.Organizer = provider.Person{Email: g.Organizer.EmailAddress.Address, Name: g.Organizer.EmailAddress.Name, Self: g.IsOrganizer}
	}
	if g.ResponseStatus != nil {
		d.Response = answer(g.ResponseStatus.Response)
	}
	for _, a := range g.Attendees {
		at := provider.Attendee{
			Email: a.EmailAddress.Address, Name: a.EmailAddress.Name,
			Type: provider.AttendeeRequired,
		}
		switch strings.ToLower(a.Type) {
		case "optional":
			at.Type = provider.AttendeeOptional
		case "resource":
			at.Type = provider.AttendeeResource
		}
		if a.Status != nil {
			at.Response = answer(a.Status.Response)
			at.Organizer = strings.EqualFold(a.Status.Response, "organizer")
		}
		if d.Organizer.Email != "" && strings.EqualFold(at.Email, d.Organizer.Email) {
			at.Organizer = true
		}
		// Graph does not say which attendee is the mailbox owner; when the
		// owner organizes, the organizer's entry is the owner's.
		at.Self = at.Organizer && g.IsOrganizer
		d.Attendees = append(d.Attendees, at)
	}
	if g.Created != "" {
		t, err := time.Parse(time.RFC3339Nano, g.Created)
		if err != nil {
			return d, fmt.Errorf("bad createdDateTime %q", g.Created)
		}
		d.Created = t
	}
	return d, nil
}

// availability maps showAs (freeBusyStatus).
func availability(showAs string) provider.Availability {
	switch strings.ToLower(showAs) {
	case "":
		return ""
	case "free":
		return provider.AvailabilityFree
	case "tentative":
		return provider.AvailabilityTentative
	case "busy":
		return provider.AvailabilityBusy
	case "oof":
		return provider.AvailabilityOutOfOffice
	case "workingelsewhere":
		return provider.AvailabilityWorkingElsewhere
	}
	return provider.AvailabilityUnknown
}

// visibility maps sensitivity; a value this package does not know is
// the zero Visibility.
func visibility(sensitivity string) provider.Visibility {
	switch strings.ToLower(sensitivity) {
	case "normal":
		return provider.VisibilityDefault
	case "personal":
		return provider.VisibilityPersonal
	case "private":
		return provider.VisibilityPrivate
	case "confidential":
		return provider.VisibilityConfidential
	}
	return ""
}

// answer maps a responseType (documented in PascalCase, sent in
// camelCase): the organizer has accepted its own meeting; none and
// notResponded have not answered.
func answer(r string) provider.Response {
	switch strings.ToLower(r) {
	case "organizer", "accepted":
		return provider.ResponseAccepted
	case "tentativelyaccepted":
		return provider.ResponseTentative
	case "declined":
		return provider.ResponseDeclined
	case "none", "notresponded":
		return provider.ResponseNeedsAction
	}
	return ""
}
