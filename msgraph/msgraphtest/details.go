package msgraphtest

import (
	"encoding/base64"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"time"
)

// This file holds the event properties that describe an event beyond its
// time and recurrence, as the event resource documents them
// (https://learn.microsoft.com/en-us/graph/api/resources/event): attendees
// and their responses, organizer, sensitivity, showAs, body, online
// meeting.

// EmailAddress is Graph's emailAddress: a name and an SMTP address.
type EmailAddress struct {
	Name    string `json:"name"`
	Address string `json:"address"`
}

// Attendee is one attendee of an event (Graph's attendee resource,
// https://learn.microsoft.com/en-us/graph/api/resources/attendee).
type Attendee struct {
	// Type is "required" (the default), "optional" or "resource".
	Type string
	// EmailAddress names the attendee; Address is required.
	EmailAddress EmailAddress
	// Response is status.response: "none" (the default), "organizer",
	// "tentativelyAccepted", "accepted", "declined" or "notResponded".
	// Requests through the REST API cannot set it (Graph records an
	// attendee's answer when it arrives); the Go methods can, to play the
	// attendee's answer.
	Response string
	// ResponseTime is status.time, set by the server when Response
	// changes; the zero time is rendered as Graph renders "never",
	// 0001-01-01T00:00:00Z.
	ResponseTime time.Time
}

var (
	validShowAs       = []string{"free", "tentative", "busy", "oof", "workingElsewhere", "unknown"}
	validSensitivity  = []string{"normal", "personal", "private", "confidential"}
	validAttendeeType = []string{"required", "optional", "resource"}
	validResponse     = []string{"none", "organizer", "tentativelyAccepted", "accepted", "declined", "notResponded"}
	validBodyType     = []string{"text", "html"}
)

// enumValue returns the member of valid that v names, ignoring case (Graph
// reads enum members case-insensitively: the create-event reference sends
// "Required" and "HTML"), with def for "".
func enumValue(v, def, typ string, valid []string) (string, error) {
	if v == "" {
		return def, nil
	}
	for _, m := range valid {
		if strings.EqualFold(v, m) {
			return m, nil
		}
	}
	return "", fmt.Errorf("cannot convert the literal '%s' to the expected type 'microsoft.graph.%s'", v, typ)
}

// validateDetails checks the descriptive fields of ev and fills their
// defaults: showAs busy, sensitivity normal, body text, attendees required
// with response none, and the owner's response ("organizer" for the
// owner's own events, "notResponded" for an invitation).
func validateDetails(ev *Event) error {
	var err error
	if ev.ShowAs, err = enumValue(ev.ShowAs, "busy", "freeBusyStatus", validShowAs); err != nil {
		return err
	}
	if ev.Sensitivity, err = enumValue(ev.Sensitivity, "normal", "sensitivity", validSensitivity); err != nil {
		return err
	}
	if ev.BodyType, err = enumValue(ev.BodyType, "text", "bodyType", validBodyType); err != nil {
		return err
	}
	def := "organizer"
	if ev.Organizer != nil {
		if ev.Organizer.Address == "" {
			return fmt.Errorf("the organizer needs an email address")
		}
		o := *ev.Organizer
		ev.Organizer, def = &o, "notResponded"
	}
	if ev.Response, err = enumValue(ev.Response, def, "responseType", validResponse); err != nil {
		return err
	}
	ev.Attendees = slices.Clone(ev.Attendees)
	for i := range ev.Attendees {
		a := &ev.Attendees[i]
		if a.EmailAddress.Address == "" {
			return fmt.Errorf("attendee %d has no email address", i)
		}
		if a.Type, err = enumValue(a.Type, "required", "attendeeType", validAttendeeType); err != nil {
			return err
		}
		if a.Response, err = enumValue(a.Response, "none", "responseType", validResponse); err != nil {
			return err
		}
	}
	return nil
}

// stampResponses dates the answers of ev's attendees that differ from old
// (nil for a new event) at now.
func stampResponses(ev *Event, old []Attendee, now time.Time) {
	for i := range ev.Attendees {
		a := &ev.Attendees[i]
		a.ResponseTime = time.Time{}
		for _, b := range old {
			if strings.EqualFold(a.EmailAddress.Address, b.EmailAddress.Address) {
				if a.Response == b.Response {
					a.ResponseTime = b.ResponseTime
				}
				break
			}
		}
		if a.ResponseTime.IsZero() && a.Response != "none" {
			a.ResponseTime = now
		}
	}
}

// onlineMeetingLocked gives ev a join URL once IsOnlineMeeting is set,
// keeping the one old had: Graph initializes onlineMeeting when
// isOnlineMeeting becomes true, and then ignores changes to
// isOnlineMeeting (event resource). The provider defaults to
// teamsForBusiness, the default of work accounts. The caller holds s.mu.
func (s *Server) onlineMeetingLocked(ev *Event, old Event) {
	if old.JoinURL != "" {
		ev.IsOnlineMeeting, ev.JoinURL = true, old.JoinURL
		if ev.OnlineMeetingProvider == "" {
			ev.OnlineMeetingProvider = old.OnlineMeetingProvider
		}
		return
	}
	ev.JoinURL = ""
	if !ev.IsOnlineMeeting {
		ev.OnlineMeetingProvider = ""
		return
	}
	if ev.OnlineMeetingProvider == "" || strings.EqualFold(ev.OnlineMeetingProvider, "unknown") {
		ev.OnlineMeetingProvider = "teamsForBusiness"
	}
	thread := base64.RawURLEncoding.EncodeToString(s.randBytesLocked(24))
	ev.JoinURL = "https://teams.microsoft.com/l/meetup-join/19%3ameeting_" + thread + "%40thread.v2/0"
}

// wireAttendee is an attendee as Graph renders it.
type wireAttendee struct {
	Type         string            `json:"type"`
	Status       map[string]string `json:"status"`
	EmailAddress EmailAddress      `json:"emailAddress"`
}

func wireAttendees(as []Attendee) []wireAttendee {
	out := make([]wireAttendee, len(as))
	for i, a := range as {
		at := "0001-01-01T00:00:00Z"
		if !a.ResponseTime.IsZero() {
			at = fmtTime(a.ResponseTime)
		}
		out[i] = wireAttendee{Type: a.Type, Status: map[string]string{"response": a.Response, "time": at}, EmailAddress: a.EmailAddress}
	}
	return out
}

// attendeeInput is an attendee in a REST request; status is read-only.
type attendeeInput struct {
	Type         string       `json:"type"`
	EmailAddress EmailAddress `json:"emailAddress"`
}

// restAttendees converts the attendees of a REST request, keeping the
// answers of those already invited.
func restAttendees(in []attendeeInput, old []Attendee) []Attendee {
	out := make([]Attendee, len(in))
	for i, a := range in {
		out[i] = Attendee{Type: a.Type, EmailAddress: a.EmailAddress}
		for _, b := range old {
			if strings.EqualFold(a.EmailAddress.Address, b.EmailAddress.Address) {
				out[i].Response, out[i].ResponseTime = b.Response, b.ResponseTime
				break
			}
		}
	}
	return out
}

// webLink is the event's Outlook on the web link, with the id URL-encoded
// as the event resource documents.
func webLink(id string) string {
	return "https://outlook.office365.com/owa/?itemid=" + url.QueryEscape(id) + "&exvsurl=1&path=/calendar/item"
}

// htmlText returns the text of an HTML body for bodyPreview: tags dropped,
// the common entities decoded. It is a preview, not an HTML parser.
func htmlText(s string) string {
	var b strings.Builder
	in := false
	for _, r := range s {
		switch {
		case r == '<':
			in = true
			b.WriteByte(' ')
		case r == '>':
			in = false
		case !in:
			b.WriteRune(r)
		}
	}
	return strings.NewReplacer("&nbsp;", " ", "&lt;", "<", "&gt;", ">", "&quot;", `"`, "&#39;", "'", "&amp;", "&").Replace(b.String())
}
