package msgraph

import (
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
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
		Status:     "confirmed",
		Summary:    g.Subject,
		ICalUID:    g.ICalUID,
		ETag:       g.ETag,
		Raw:        raw,
	}
	if ev.ETag == "" {
		ev.ETag = g.ChangeKey
	}
	switch {
	case g.IsCancelled:
		ev.Status = "cancelled"
	case strings.EqualFold(g.ShowAs, "tentative"):
		ev.Status = "tentative"
	}
	if g.Recurrence != nil {
		ev.Recurrence = g.Recurrence.rrule(g.IsAllDay)
	}
	var err error
	if g.LastModified != "" {
		if ev.Updated, err = time.Parse(time.RFC3339Nano, g.LastModified); err != nil {
			return nil, fmt.Errorf("bad lastModifiedDateTime %q", g.LastModified)
		}
	}
	if ev.Start, err = eventTime(g.Start, g.IsAllDay); err != nil {
		return nil, fmt.Errorf("start: %w", err)
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

// recurrence is Graph's patternedRecurrence.
type recurrence struct {
	Pattern struct {
		Type           string   `json:"type"`
		Interval       int      `json:"interval"`
		Month          int      `json:"month"`
		DayOfMonth     int      `json:"dayOfMonth"`
		DaysOfWeek     []string `json:"daysOfWeek"`
		FirstDayOfWeek string   `json:"firstDayOfWeek"`
		Index          string   `json:"index"`
	} `json:"pattern"`
	Range struct {
		Type                string `json:"type"`
		EndDate             string `json:"endDate"`
		NumberOfOccurrences int    `json:"numberOfOccurrences"`
	} `json:"range"`
}

var (
	weekdays = map[string]string{"sunday": "SU", "monday": "MO", "tuesday": "TU", "wednesday": "WE", "thursday": "TH", "friday": "FR", "saturday": "SA"}
	setPos   = map[string]string{"first": "1", "second": "2", "third": "3", "fourth": "4", "last": "-1"}
)

// rrule renders the pattern as one RFC 5545 RRULE line, or nil for a
// pattern it cannot express (the item's Raw keeps Graph's form). An
// endDate range ends at the end of that day (UTC for timed events; Graph
// evaluates it in the range's recurrenceTimeZone, which Raw keeps).
func (r *recurrence) rrule(allDay bool) []string {
	p := r.Pattern
	var parts []string
	byDay := func() bool {
		var days []string
		for _, d := range p.DaysOfWeek {
			dd, ok := weekdays[strings.ToLower(d)]
			if !ok {
				return false
			}
			days = append(days, dd)
		}
		if len(days) > 0 {
			parts = append(parts, "BYDAY="+strings.Join(days, ","))
		}
		return true
	}
	relative := func() bool {
		pos, ok := setPos[strings.ToLower(p.Index)]
		if p.Index == "" {
			pos, ok = "1", true
		}
		if !ok || len(p.DaysOfWeek) == 0 || !byDay() {
			return false
		}
		parts = append(parts, "BYSETPOS="+pos)
		return true
	}
	switch strings.ToLower(p.Type) {
	case "daily":
		parts = append(parts, "FREQ=DAILY")
	case "weekly":
		parts = append(parts, "FREQ=WEEKLY")
		if !byDay() {
			return nil
		}
		if w, ok := weekdays[strings.ToLower(p.FirstDayOfWeek)]; ok {
			parts = append(parts, "WKST="+w)
		}
	case "absolutemonthly":
		if p.DayOfMonth < 1 || p.DayOfMonth > 31 {
			return nil
		}
		parts = append(parts, "FREQ=MONTHLY", "BYMONTHDAY="+strconv.Itoa(p.DayOfMonth))
	case "relativemonthly":
		parts = append(parts, "FREQ=MONTHLY")
		if !relative() {
			return nil
		}
	case "absoluteyearly":
		if p.Month < 1 || p.Month > 12 || p.DayOfMonth < 1 || p.DayOfMonth > 31 {
			return nil
		}
		parts = append(parts, "FREQ=YEARLY", "BYMONTH="+strconv.Itoa(p.Month), "BYMONTHDAY="+strconv.Itoa(p.DayOfMonth))
	case "relativeyearly":
		if p.Month < 1 || p.Month > 12 {
			return nil
		}
		parts = append(parts, "FREQ=YEARLY", "BYMONTH="+strconv.Itoa(p.Month))
		if !relative() {
			return nil
		}
	default:
		return nil
	}
	if p.Interval > 1 {
		parts = append(parts, "INTERVAL="+strconv.Itoa(p.Interval))
	}
	switch strings.ToLower(r.Range.Type) {
	case "enddate":
		d, err := time.Parse(time.DateOnly, r.Range.EndDate)
		if err != nil {
			return nil
		}
		if allDay {
			parts = append(parts, "UNTIL="+d.Format("20060102"))
		} else {
			parts = append(parts, "UNTIL="+d.Format("20060102")+"T235959Z")
		}
	case "numbered":
		if r.Range.NumberOfOccurrences < 1 {
			return nil
		}
		parts = append(parts, "COUNT="+strconv.Itoa(r.Range.NumberOfOccurrences))
	case "noend", "":
	default:
		return nil
	}
	return []string{"RRULE:" + strings.Join(parts, ";")}
}
