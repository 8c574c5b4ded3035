package googletest

import (
	"encoding/json"
	"net/http"
	"net/mail"
	"strconv"
	"strings"
)

// This file holds the members of an event that describe it beyond its time
// and recurrence and that the server checks or fills: transparency,
// visibility, attendees, organizer and conference data (hangoutLink), as
// the Event resource documents them
// (https://developers.google.com/workspace/calendar/api/v3/reference/events).

// attendee is one member of an event's attendees. Organizer and Self are
// read-only: the server computes them when it renders the event.
type attendee struct {
	ID               string `json:"id,omitempty"`
	Email            string `json:"email,omitempty"`
	DisplayName      string `json:"displayName,omitempty"`
	Organizer        bool   `json:"organizer,omitempty"`
	Self             bool   `json:"self,omitempty"`
	Resource         bool   `json:"resource,omitempty"`
	Optional         bool   `json:"optional,omitempty"`
	ResponseStatus   string `json:"responseStatus,omitempty"`
	Comment          string `json:"comment,omitempty"`
	AdditionalGuests int    `json:"additionalGuests,omitempty"`
}

// person is an event's organizer (or creator).
type person struct {
	ID          string `json:"id,omitempty"`
	Email       string `json:"email,omitempty"`
	DisplayName string `json:"displayName,omitempty"`
	Self        bool   `json:"self,omitempty"`
}

var (
	validTransparency = map[string]bool{"opaque": true, "transparent": true}
	validVisibility   = map[string]bool{"default": true, "public": true, "private": true, "confidential": true}
	validResponse     = map[string]bool{"needsAction": true, "declined": true, "tentative": true, "accepted": true}
)

// writeOptions are what a write's query parameters change in how its body
// is read.
type writeOptions struct {
	// conferenceDataVersion 0 ignores conferenceData in the body (the
	// event keeps what it had); 1 reads it and honours createRequest.
	conferenceDataVersion int
	// importing is events.import: the organizer may be set.
	importing bool
}

// parseWriteOptions reads conferenceDataVersion, 0 (the default) or 1.
func parseWriteOptions(r *http.Request) (writeOptions, *apiError) {
	var opt writeOptions
	if v := r.URL.Query().Get("conferenceDataVersion"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 || n > 1 {
			return opt, errInvalid("conferenceDataVersion", "Invalid value '"+v+"'. Values must be within the range: [0, 1]")
		}
		opt.conferenceDataVersion = n
	}
	return opt, nil
}

// validEmail reports whether s is a bare email address (RFC 5322 addr-spec),
// as attendees[].email must be.
func validEmail(s string) bool {
	a, err := mail.ParseAddress(s)
	return err == nil && a.Address == s
}

// prepareDetails checks and normalizes the descriptive members of f, the
// fields a write is about to store; body is the request body, old the
// event's fields before the write (nil for a new event). Attendees get
// responseStatus "needsAction" when it is absent and lose the read-only
// organizer and self; an attendee's resource flag can only be set when the
// attendee is added. The organizer is kept from old, or taken from the body
// on import. conferenceData is kept from old unless conferenceDataVersion is
// 1, and a createRequest creates a Google Meet conference. The caller holds
// s.mu.
func (s *Server) prepareDetails(f fields, body map[string]json.RawMessage, old fields, opt writeOptions) *apiError {
	for key, valid := range map[string]map[string]bool{"transparency": validTransparency, "visibility": validVisibility} {
		if raw, ok := f[key]; ok {
			var v string
			if json.Unmarshal(raw, &v) != nil || !valid[v] {
				return errInvalid("", "Invalid value for: "+key)
			}
		}
	}
	if e := prepareAttendees(f, old); e != nil {
		return e
	}
	delete(f, "organizer")
	if raw, ok := body["organizer"]; ok && opt.importing && string(raw) != "null" {
		var p person
		if json.Unmarshal(raw, &p) != nil || !validEmail(p.Email) {
			return errInvalid("", "Invalid organizer email.")
		}
		b, _ := json.Marshal(person{Email: p.Email, DisplayName: p.DisplayName})
		f["organizer"] = b
	} else if raw, ok := old["organizer"]; ok {
		f["organizer"] = raw
	}
	if opt.conferenceDataVersion == 0 {
		delete(f, "conferenceData")
		if raw, ok := old["conferenceData"]; ok {
			f["conferenceData"] = raw
		}
		return nil
	}
	if raw, ok := f["conferenceData"]; ok {
		cd, e := s.conference(raw)
		if e != nil {
			return e
		}
		f["conferenceData"] = cd
	}
	return nil
}

func prepareAttendees(f fields, old fields) *apiError {
	raw, ok := f["attendees"]
	if !ok {
		return nil
	}
	var as []attendee
	if json.Unmarshal(raw, &as) != nil {
		return errInvalid("", "Invalid value for: attendees")
	}
	var before []attendee
	if raw, ok := old["attendees"]; ok {
		_ = json.Unmarshal(raw, &before)
	}
	for i := range as {
		a := &as[i]
		if a.Email == "" {
			return errRequired("Missing attendee email.")
		}
		if !validEmail(a.Email) {
			return errInvalid("", "Invalid attendee email.")
		}
		if a.ResponseStatus == "" {
			a.ResponseStatus = "needsAction"
		}
		if !validResponse[a.ResponseStatus] {
			return errInvalid("", "Invalid value for: attendees.responseStatus")
		}
		a.Organizer, a.Self = false, false
		for _, b := range before {
			if strings.EqualFold(b.Email, a.Email) {
				a.Resource = b.Resource // "Subsequent modifications are ignored."
				break
			}
		}
	}
	b, _ := json.Marshal(as)
	f["attendees"] = b
	return nil
}

// conferenceData is the conference of an event: an existing one (a
// solution and entry points) or a request to create one.
type conferenceData struct {
	CreateRequest *struct {
		RequestID             string `json:"requestId"`
		ConferenceSolutionKey *struct {
			Type string `json:"type"`
		} `json:"conferenceSolutionKey"`
		Status *struct {
			StatusCode string `json:"statusCode"`
		} `json:"status,omitempty"`
	} `json:"createRequest,omitempty"`
	EntryPoints []struct {
		EntryPointType string `json:"entryPointType"`
		URI            string `json:"uri"`
	} `json:"entryPoints,omitempty"`
	ConferenceSolution *struct {
		Key struct {
			Type string `json:"type"`
		} `json:"key"`
	} `json:"conferenceSolution,omitempty"`
	ConferenceID string `json:"conferenceId,omitempty"`
}

// conference checks a conferenceData member. An existing conference
// (conferenceSolution and at least one entry point) is kept as sent. A
// createRequest of type "hangoutsMeet" that was not answered yet creates a
// Google Meet conference at once (Google does it asynchronously: the
// emulator's status is "success" from the start); other solution types
// are refused, as for a calendar that allows only Meet.
func (s *Server) conference(raw json.RawMessage) (json.RawMessage, *apiError) {
	var cd conferenceData
	if json.Unmarshal(raw, &cd) != nil {
		return nil, errInvalid("", "Invalid value for: conferenceData")
	}
	cr := cd.CreateRequest
	if cr == nil || (cr.Status != nil && cr.Status.StatusCode == "success") {
		if cd.ConferenceSolution == nil || len(cd.EntryPoints) == 0 {
			return nil, errInvalid("", "Invalid conference data: set conferenceSolution and entryPoints, or createRequest.")
		}
		return raw, nil
	}
	if cr.RequestID == "" {
		return nil, errRequired("Missing conference create request id.")
	}
	if cr.ConferenceSolutionKey == nil || cr.ConferenceSolutionKey.Type != "hangoutsMeet" {
		return nil, errInvalid("", "Invalid conference type value.")
	}
	code := s.meetCode()
	out := map[string]any{
		"createRequest": map[string]any{
			"requestId":             cr.RequestID,
			"conferenceSolutionKey": map[string]string{"type": "hangoutsMeet"},
			"status":                map[string]string{"statusCode": "success"},
		},
		"entryPoints": []map[string]string{{
			"entryPointType": "video",
			"uri":            "https://meet.google.com/" + code,
			"label":          "meet.google.com/" + code,
		}},
		"conferenceSolution": map[string]any{
			"key":  map[string]string{"type": "hangoutsMeet"},
			"name": "Google Meet",
		},
		"conferenceId": code,
	}
	b, _ := json.Marshal(out)
	return b, nil
}

// meetCode returns a Meet meeting code, "aaa-bbbb-ccc" (the ConferenceData
// reference's example). The caller holds s.mu.
func (s *Server) meetCode() string {
	b := make([]byte, 0, 12)
	for i, n := range []int{3, 4, 3} {
		if i > 0 {
			b = append(b, '-')
		}
		for range n {
			b = append(b, byte('a'+s.rng.IntN(26)))
		}
	}
	return string(b)
}

// renderDetails sets the members the server computes from body: organizer
// (the calendar, unless imported with another), the attendees' organizer
// and self flags, and hangoutLink (the video entry point of a Google Meet
// conference).
func (c *calendarState) renderDetails(all map[string]json.RawMessage, body fields) {
	org := person{Email: c.id}
	if raw, ok := body["organizer"]; ok {
		_ = json.Unmarshal(raw, &org)
	}
	org.Self = strings.EqualFold(org.Email, c.id)
	all["organizer"], _ = json.Marshal(org)
	if raw, ok := body["attendees"]; ok {
		var as []attendee
		if json.Unmarshal(raw, &as) == nil {
			for i := range as {
				as[i].Organizer = strings.EqualFold(as[i].Email, org.Email)
				as[i].Self = strings.EqualFold(as[i].Email, c.id)
			}
			all["attendees"], _ = json.Marshal(as)
		}
	}
	delete(all, "hangoutLink")
	if raw, ok := body["conferenceData"]; ok {
		var cd conferenceData
		if json.Unmarshal(raw, &cd) == nil && cd.ConferenceSolution != nil && cd.ConferenceSolution.Key.Type == "hangoutsMeet" {
			for _, ep := range cd.EntryPoints {
				if ep.EntryPointType == "video" {
					all["hangoutLink"] = jsonString(ep.URI)
					break
				}
			}
		}
	}
}
