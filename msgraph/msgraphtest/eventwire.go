package msgraphtest

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"time"
)

// dateTimeTimeZone is Graph's dateTimeTimeZone.
type dateTimeTimeZone struct {
	DateTime string `json:"dateTime"`
	TimeZone string `json:"timeZone"`
}

func (d dateTimeTimeZone) parse() (time.Time, error) {
	loc, err := recurrenceLocation(d.TimeZone)
	if err != nil {
		return time.Time{}, fmt.Errorf("timeZone %q is not supported (UTC or an IANA name)", d.TimeZone)
	}
	for _, layout := range []string{localTime, "2006-01-02T15:04:05", time.RFC3339Nano} {
		if t, err := time.ParseInLocation(layout, d.DateTime, loc); err == nil {
			return t.UTC(), nil
		}
	}
	return time.Time{}, fmt.Errorf("dateTime %q is not ISO 8601", d.DateTime)
}

func wireTime(t time.Time) dateTimeTimeZone {
	return dateTimeTimeZone{DateTime: t.UTC().Format(localTime), TimeZone: "UTC"}
}

type itemBody struct {
	ContentType string `json:"contentType"`
	Content     string `json:"content"`
}

// wireEvent is the event resource with the fields calendarView delta
// returns (https://learn.microsoft.com/en-us/graph/delta-query-events).
type wireEvent struct {
	ODataType             string               `json:"@odata.type"`
	ODataEtag             string               `json:"@odata.etag"`
	CreatedDateTime       string               `json:"createdDateTime"`
	LastModifiedDateTime  string               `json:"lastModifiedDateTime"`
	ChangeKey             string               `json:"changeKey"`
	Categories            []string             `json:"categories"`
	TransactionID         *string              `json:"transactionId"`
	OriginalStartTimeZone string               `json:"originalStartTimeZone"`
	OriginalEndTimeZone   string               `json:"originalEndTimeZone"`
	ICalUID               string               `json:"iCalUId"`
	ReminderMinutes       int                  `json:"reminderMinutesBeforeStart"`
	IsReminderOn          bool                 `json:"isReminderOn"`
	HasAttachments        bool                 `json:"hasAttachments"`
	Subject               string               `json:"subject"`
	BodyPreview           string               `json:"bodyPreview"`
	Importance            string               `json:"importance"`
	Sensitivity           string               `json:"sensitivity"`
	OriginalStart         *string              `json:"originalStart,omitempty"`
	IsAllDay              bool                 `json:"isAllDay"`
	IsCancelled           bool                 `json:"isCancelled"`
	IsOrganizer           bool                 `json:"isOrganizer"`
	ResponseRequested     bool                 `json:"responseRequested"`
	SeriesMasterID        *string              `json:"seriesMasterId"`
	ShowAs                string               `json:"showAs"`
	Type                  string               `json:"type"`
	WebLink               string               `json:"webLink"`
	OnlineMeetingURL      *string              `json:"onlineMeetingUrl"`
	IsOnlineMeeting       bool                 `json:"isOnlineMeeting"`
	OnlineMeetingProvider string               `json:"onlineMeetingProvider"`
	AllowNewTimeProposals bool                 `json:"allowNewTimeProposals"`
	IsDraft               bool                 `json:"isDraft"`
	Recurrence            *PatternedRecurrence `json:"recurrence"`
	OnlineMeeting         *onlineMeetingInfo   `json:"onlineMeeting"`
	ID                    string               `json:"id"`
	ResponseStatus        map[string]string    `json:"responseStatus"`
	Body                  itemBody             `json:"body"`
	Start                 dateTimeTimeZone     `json:"start"`
	End                   dateTimeTimeZone     `json:"end"`
	Location              map[string]string    `json:"location"`
	Locations             []map[string]string  `json:"locations"`
	Attendees             []wireAttendee       `json:"attendees"`
	Organizer             map[string]any       `json:"organizer"`
}

// onlineMeetingInfo is Graph's onlineMeetingInfo
// (https://learn.microsoft.com/en-us/graph/api/resources/onlinemeetinginfo);
// the emulator fills joinUrl only.
type onlineMeetingInfo struct {
	JoinURL string `json:"joinUrl"`
}

func toWire(user string, ev Event) wireEvent {
	w := wireEvent{
		ODataType:             "#microsoft.graph.event",
		ODataEtag:             `W/"` + ev.ChangeKey + `"`,
		CreatedDateTime:       fmtTime(ev.Created),
		LastModifiedDateTime:  fmtTime(ev.LastModified),
		ChangeKey:             ev.ChangeKey,
		Categories:            []string{},
		OriginalStartTimeZone: "UTC",
		OriginalEndTimeZone:   "UTC",
		ICalUID:               ev.ICalUID,
		ReminderMinutes:       15,
		IsReminderOn:          true,
		Subject:               ev.Subject,
		BodyPreview:           preview(ev.Body, ev.BodyType),
		Importance:            "normal",
		Sensitivity:           ev.Sensitivity,
		IsAllDay:              ev.IsAllDay,
		IsOrganizer:           ev.Organizer == nil,
		ResponseRequested:     true,
		ShowAs:                ev.ShowAs,
		Type:                  ev.Type,
		WebLink:               webLink(ev.ID),
		IsOnlineMeeting:       ev.JoinURL != "",
		OnlineMeetingProvider: "unknown",
		AllowNewTimeProposals: true,
		Recurrence:            ev.Recurrence,
		ID:                    ev.ID,
		ResponseStatus:        map[string]string{"response": ev.Response, "time": "0001-01-01T00:00:00Z"},
		Body:                  itemBody{ContentType: ev.BodyType, Content: ev.Body},
		Start:                 wireTime(ev.Start),
		End:                   wireTime(ev.End),
		Attendees:             wireAttendees(ev.Attendees),
		Organizer: map[string]any{"emailAddress": EmailAddress{
			Name: ev.organizerName(user), Address: organizerAddress(user)}},
	}
	if ev.Organizer != nil {
		w.Organizer = map[string]any{"emailAddress": *ev.Organizer}
	}
	switch ev.Response {
	case "accepted", "tentativelyAccepted", "declined":
		w.ResponseStatus["time"] = fmtTime(ev.LastModified)
	}
	if ev.JoinURL != "" {
		w.OnlineMeetingProvider = ev.OnlineMeetingProvider
		w.OnlineMeeting = &onlineMeetingInfo{JoinURL: ev.JoinURL}
	}
	if ev.SeriesMasterID != "" {
		w.SeriesMasterID = &ev.SeriesMasterID
		o := fmtTime(ev.OriginalStart)
		w.OriginalStart = &o
	}
	loc := map[string]string{"displayName": ev.Location, "locationType": "default", "uniqueIdType": "unknown"}
	if ev.Location == "" {
		loc = map[string]string{"displayName": "", "locationType": "default", "uniqueIdType": "unknown"}
		w.Locations = []map[string]string{}
	} else {
		w.Locations = []map[string]string{loc}
	}
	w.Location = loc
	return w
}

func (ev Event) organizerName(user string) string {
	name, _, _ := strings.Cut(user, "@")
	return name
}

func organizerAddress(user string) string {
	if strings.Contains(user, "@") {
		return user
	}
	return user + "@contoso.onmicrosoft.com"
}

// preview is bodyPreview: the body's text, whitespace collapsed, at most
// 255 characters.
func preview(body, bodyType string) string {
	if bodyType == "html" {
		body = htmlText(body)
	}
	body = strings.Join(strings.Fields(body), " ")
	if len(body) > 255 {
		body = body[:255]
	}
	return body
}

// eventInput is the writable part of an event in a REST request. Pointers
// tell PATCH which fields were sent.
type eventInput struct {
	Subject               *string              `json:"subject"`
	Body                  *itemBody            `json:"body"`
	Start                 *dateTimeTimeZone    `json:"start"`
	End                   *dateTimeTimeZone    `json:"end"`
	IsAllDay              *bool                `json:"isAllDay"`
	ShowAs                *string              `json:"showAs"`
	Sensitivity           *string              `json:"sensitivity"`
	Location              *map[string]any      `json:"location"`
	Attendees             *[]attendeeInput     `json:"attendees"`
	IsOnlineMeeting       *bool                `json:"isOnlineMeeting"`
	OnlineMeetingProvider *string              `json:"onlineMeetingProvider"`
	Recurrence            *PatternedRecurrence `json:"recurrence"`
}

func (in eventInput) apply(ev Event) (Event, error) {
	if in.Subject != nil {
		ev.Subject = *in.Subject
	}
	if in.Body != nil {
		ev.Body, ev.BodyType = in.Body.Content, in.Body.ContentType
	}
	if in.Start != nil {
		t, err := in.Start.parse()
		if err != nil {
			return ev, err
		}
		ev.Start = t
	}
	if in.End != nil {
		t, err := in.End.parse()
		if err != nil {
			return ev, err
		}
		ev.End = t
	}
	if in.IsAllDay != nil {
		ev.IsAllDay = *in.IsAllDay
	}
	if in.ShowAs != nil {
		ev.ShowAs = *in.ShowAs
	}
	if in.Sensitivity != nil {
		ev.Sensitivity = *in.Sensitivity
	}
	if in.Attendees != nil {
		ev.Attendees = restAttendees(*in.Attendees, ev.Attendees)
	}
	if in.IsOnlineMeeting != nil {
		ev.IsOnlineMeeting = *in.IsOnlineMeeting
	}
	if in.OnlineMeetingProvider != nil {
		ev.OnlineMeetingProvider = *in.OnlineMeetingProvider
	}
	if in.Location != nil {
		ev.Location, _ = (*in.Location)["displayName"].(string)
	}
	if in.Recurrence != nil {
		ev.Recurrence = in.Recurrence
	}
	return ev, nil
}

// eventHandler serves POST {owner}/[calendar(s)/{id}/]events and GET,
// PATCH, DELETE .../events/{id}.
func (s *Server) eventHandler(t *target, id string) handler {
	return func(w http.ResponseWriter, r *http.Request, req *request) *apiError {
		user := t.owner
		if user == "" {
			user = req.me
		}
		var in eventInput
		if r.Method == http.MethodPost || r.Method == http.MethodPatch {
			if e := readJSON(w, r, &in); e != nil {
				return e
			}
		}
		s.mu.Lock()
		defer s.mu.Unlock()
		calendar := t.calendar
		if calendar == "" && id != "" {
			// /events/{id} covers every calendar of the mailbox.
			if mb := s.users[user]; mb != nil {
				for _, cid := range mb.order {
					if _, err := mb.calendars[cid].get(id); err == nil {
						calendar = cid
						break
					}
				}
			}
		}
		c, err := s.calendarLocked(user, calendar)
		if err != nil {
			return newAPIError(http.StatusNotFound, "ErrorItemNotFound", "The specified object was not found in the store.")
		}
		var ev Event
		switch r.Method {
		case http.MethodPost:
			ev, err = in.apply(Event{})
			if err == nil {
				ev, err = s.createEventLocked(user, c.id, ev)
			}
			if err != nil {
				return newAPIError(http.StatusBadRequest, "ErrorInvalidRequest", strings.TrimPrefix(err.Error(), "msgraphtest: "))
			}
			writeJSON(w, http.StatusCreated, withContext(s.base(req)+"/$metadata#users('"+user+"')/events/$entity", toWire(user, ev)))
			return nil
		case http.MethodGet:
			ev, err = c.get(id)
		case http.MethodPatch:
			ev, err = s.updateEventLocked(user, c.id, id, in.apply)
		case http.MethodDelete:
			if err = s.deleteEventLocked(user, c.id, id); err == nil {
				w.WriteHeader(http.StatusNoContent)
				return nil
			}
		}
		if err != nil {
			if isNotFound(err) {
				return newAPIError(http.StatusNotFound, "ErrorItemNotFound", "The specified object was not found in the store.")
			}
			return newAPIError(http.StatusBadRequest, "ErrorInvalidRequest", strings.TrimPrefix(err.Error(), "msgraphtest: "))
		}
		writeJSON(w, http.StatusOK, withContext(s.base(req)+"/$metadata#users('"+user+"')/events/$entity", toWire(user, ev)))
		return nil
	}
}

// withContext returns v's JSON object with "@odata.context" first.
func withContext(ctx string, v any) json.RawMessage {
	b, _ := json.Marshal(v)
	c, _ := json.Marshal(ctx)
	out := append([]byte(`{"@odata.context":`), c...)
	if len(b) > 2 {
		out = append(out, ',')
		out = append(out, b[1:]...)
	} else {
		out = append(out, '}')
	}
	return out
}
