package msgraphtest_test

import (
	"encoding/json"
	"net/http"
	"net/url"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/calsync/calsync/msgraph/msgraphtest"
)

// wireEvent is the part of an event's JSON these tests read.
type wireEvent struct {
	ID          string `json:"id"`
	Subject     string `json:"subject"`
	BodyPreview string `json:"bodyPreview"`
	Body        struct {
		ContentType string `json:"contentType"`
		Content     string `json:"content"`
	} `json:"body"`
	Sensitivity           string `json:"sensitivity"`
	ShowAs                string `json:"showAs"`
	IsOrganizer           bool   `json:"isOrganizer"`
	IsOnlineMeeting       bool   `json:"isOnlineMeeting"`
	OnlineMeetingProvider string `json:"onlineMeetingProvider"`
	OnlineMeeting         *struct {
		JoinURL string `json:"joinUrl"`
	} `json:"onlineMeeting"`
	WebLink        string            `json:"webLink"`
	ResponseStatus map[string]string `json:"responseStatus"`
	Location       struct {
		DisplayName string `json:"displayName"`
	} `json:"location"`
	Organizer struct {
		EmailAddress msgraphtest.EmailAddress `json:"emailAddress"`
	} `json:"organizer"`
	Attendees []struct {
		Type         string                   `json:"type"`
		Status       map[string]string        `json:"status"`
		EmailAddress msgraphtest.EmailAddress `json:"emailAddress"`
	} `json:"attendees"`
}

// meetingBody is a create request with every descriptive property a client
// writes, enum members in the case the create-event reference uses.
func meetingBody() map[string]any {
	return map[string]any{
		"subject":     "Planning",
		"body":        map[string]any{"contentType": "HTML", "content": "<html><body><p>Agenda: budget &amp; hiring</p></body></html>"},
		"start":       map[string]any{"dateTime": "2026-03-03T10:00:00", "timeZone": "UTC"},
		"end":         map[string]any{"dateTime": "2026-03-03T11:00:00", "timeZone": "UTC"},
		"location":    map[string]any{"displayName": "Room 4"},
		"showAs":      "oof",
		"sensitivity": "private",
		"attendees": []any{
			map[string]any{"type": "Required", "emailAddress": map[string]any{"name": "Bob", "address": "bob@contoso.com"},
				"status": map[string]any{"response": "accepted"}}, // status is read-only
			map[string]any{"type": "optional", "emailAddress": map[string]any{"address": "carol@contoso.com"}},
			map[string]any{"type": "resource", "emailAddress": map[string]any{"name": "Room 4", "address": "room4@contoso.com"}},
		},
		"isOnlineMeeting":       true,
		"onlineMeetingProvider": "teamsForBusiness",
	}
}

func TestEventDescriptiveProperties(t *testing.T) {
	srv, clk := newServer(t, msgraphtest.Config{})
	resp, b := api(t, srv, "POST", "/me/events", meetingBody(), nil)
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("create: %d %s", resp.StatusCode, b)
	}
	var ev wireEvent
	decode(t, b, &ev)
	if ev.Body.ContentType != "html" || ev.BodyPreview != "Agenda: budget & hiring" || ev.Location.DisplayName != "Room 4" ||
		ev.ShowAs != "oof" || ev.Sensitivity != "private" {
		t.Errorf("body %+v preview %q location %q showAs %q sensitivity %q", ev.Body, ev.BodyPreview, ev.Location.DisplayName, ev.ShowAs, ev.Sensitivity)
	}
	if !ev.IsOrganizer || ev.ResponseStatus["response"] != "organizer" || ev.Organizer.EmailAddress.Address != "alice@contoso.onmicrosoft.com" {
		t.Errorf("isOrganizer %v responseStatus %v organizer %+v", ev.IsOrganizer, ev.ResponseStatus, ev.Organizer)
	}
	if !ev.IsOnlineMeeting || ev.OnlineMeetingProvider != "teamsForBusiness" || ev.OnlineMeeting == nil ||
		!strings.HasPrefix(ev.OnlineMeeting.JoinURL, "https://teams.microsoft.com/l/meetup-join/") {
		t.Errorf("online meeting %v %q %+v", ev.IsOnlineMeeting, ev.OnlineMeetingProvider, ev.OnlineMeeting)
	}
	if want := "https://outlook.office365.com/owa/?itemid=" + url.QueryEscape(ev.ID) + "&exvsurl=1&path=/calendar/item"; ev.WebLink != want || !strings.Contains(ev.WebLink, "%3D") {
		t.Errorf("webLink = %q, want %q (the id URL-encoded)", ev.WebLink, want)
	}
	if len(ev.Attendees) != 3 {
		t.Fatalf("attendees %+v", ev.Attendees)
	}
	for i, want := range []struct{ typ, addr string }{{"required", "bob@contoso.com"}, {"optional", "carol@contoso.com"}, {"resource", "room4@contoso.com"}} {
		a := ev.Attendees[i]
		if a.Type != want.typ || a.EmailAddress.Address != want.addr || a.Status["response"] != "none" || a.Status["time"] != "0001-01-01T00:00:00Z" {
			t.Errorf("attendee %d = %+v, want %s %s with response none", i, a, want.typ, want.addr)
		}
	}

	// Bob answers; then the organizer edits the attendees over REST and
	// turns isOnlineMeeting off, which Graph ignores once the meeting is
	// online: the answer and the join URL stay.
	clk.Add(time.Minute)
	cur, err := srv.Event("alice", "", ev.ID)
	if err != nil {
		t.Fatal(err)
	}
	cur.Attendees[0].Response = "declined"
	if _, err := srv.UpdateEvent("alice", "", ev.ID, cur); err != nil {
		t.Fatal(err)
	}
	resp, b = api(t, srv, "PATCH", "/me/events/"+ev.ID, map[string]any{
		"isOnlineMeeting": false,
		"attendees": []any{
			map[string]any{"emailAddress": map[string]any{"name": "Bob", "address": "BOB@contoso.com"}},
			map[string]any{"emailAddress": map[string]any{"address": "dave@contoso.com"}, "status": map[string]any{"response": "accepted"}},
		},
	}, nil)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("patch: %d %s", resp.StatusCode, b)
	}
	var patched wireEvent
	decode(t, b, &patched)
	if patched.OnlineMeeting == nil || patched.OnlineMeeting.JoinURL != ev.OnlineMeeting.JoinURL || !patched.IsOnlineMeeting {
		t.Errorf("online meeting after isOnlineMeeting false: %v %+v", patched.IsOnlineMeeting, patched.OnlineMeeting)
	}
	if len(patched.Attendees) != 2 || patched.Attendees[0].Status["response"] != "declined" || patched.Attendees[0].Status["time"] != fmtTime(t0.Add(time.Minute)) ||
		patched.Attendees[1].Status["response"] != "none" || patched.Attendees[1].Type != "required" {
		t.Errorf("attendees after patch %+v", patched.Attendees)
	}

	// The delta carries the same properties.
	items, _, _ := deltaRound(t, srv, "/me/calendarView/delta?startDateTime=2026-03-01T00:00:00Z&endDateTime=2026-03-10T00:00:00Z", 0)
	if len(items) != 1 {
		t.Fatalf("delta items %v", items)
	}
	raw, _ := json.Marshal(items[0])
	var fromDelta wireEvent
	decode(t, raw, &fromDelta)
	if !reflect.DeepEqual(fromDelta, patched) {
		t.Errorf("delta item differs from the PATCH answer:\n delta %+v\n patch %+v", fromDelta, patched)
	}
}

func fmtTime(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05.0000000Z") }

// An invitation in an attendee's mailbox: someone else organizes, the
// owner has answered, and occurrences of a series carry it all.
func TestInvitation(t *testing.T) {
	srv, _ := newServer(t, msgraphtest.Config{})
	ev, err := srv.CreateEvent("alice", "", msgraphtest.Event{
		Subject: "Dana's weekly", Start: t0.Add(24 * time.Hour), End: t0.Add(25 * time.Hour),
		Organizer: &msgraphtest.EmailAddress{Name: "Dana", Address: "dana@fabrikam.com"}, Response: "tentativelyAccepted",
		ShowAs: "workingElsewhere", Sensitivity: "personal",
		Attendees: []msgraphtest.Attendee{{EmailAddress: msgraphtest.EmailAddress{Address: "alice@contoso.onmicrosoft.com"}, Response: "tentativelyAccepted"}},
		Recurrence: &msgraphtest.PatternedRecurrence{
			Pattern: msgraphtest.RecurrencePattern{Type: "daily", Interval: 1},
			Range:   msgraphtest.RecurrenceRange{Type: "numbered", NumberOfOccurrences: 2},
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	if ev.Attendees[0].ResponseTime != t0 || ev.Attendees[0].Type != "required" {
		t.Errorf("attendee = %+v", ev.Attendees[0])
	}
	items, _, _ := deltaRound(t, srv, "/me/calendarView/delta?startDateTime=2026-03-01T00:00:00Z&endDateTime=2026-03-10T00:00:00Z", 0)
	if len(items) != 2 {
		t.Fatalf("delta items %v", items)
	}
	for _, it := range items {
		raw, _ := json.Marshal(it)
		var w wireEvent
		decode(t, raw, &w)
		if w.IsOrganizer || w.Organizer.EmailAddress != (msgraphtest.EmailAddress{Name: "Dana", Address: "dana@fabrikam.com"}) ||
			w.ResponseStatus["response"] != "tentativelyAccepted" || w.ResponseStatus["time"] == "0001-01-01T00:00:00Z" ||
			w.ShowAs != "workingElsewhere" || w.Sensitivity != "personal" || len(w.Attendees) != 1 || w.Attendees[0].Status["response"] != "tentativelyAccepted" {
			t.Errorf("occurrence %s = %+v", w.ID, w)
		}
	}
}

func TestDescriptivePropertiesValidated(t *testing.T) {
	srv, _ := newServer(t, msgraphtest.Config{})
	for name, edit := range map[string]func(map[string]any){
		"showAs":      func(b map[string]any) { b["showAs"] = "away" },
		"sensitivity": func(b map[string]any) { b["sensitivity"] = "secret" },
		"body type":   func(b map[string]any) { b["body"] = map[string]any{"contentType": "markdown", "content": "x"} },
		"attendee type": func(b map[string]any) {
			b["attendees"] = []any{map[string]any{"type": "vip", "emailAddress": map[string]any{"address": "a@b.com"}}}
		},
		"attendee addr": func(b map[string]any) {
			b["attendees"] = []any{map[string]any{"emailAddress": map[string]any{"name": "nobody"}}}
		},
	} {
		t.Run(name, func(t *testing.T) {
			body := meetingBody()
			edit(body)
			resp, b := api(t, srv, "POST", "/me/events", body, nil)
			expectError(t, resp, b, http.StatusBadRequest, "ErrorInvalidRequest")
		})
	}
	if _, err := srv.CreateEvent("alice", "", msgraphtest.Event{Start: t0, End: t0.Add(time.Hour), Organizer: &msgraphtest.EmailAddress{Name: "x"}}); err == nil {
		t.Error("an organizer without an address was accepted")
	}
}
