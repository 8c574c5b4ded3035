package googletest_test

import (
	"net/http"
	"reflect"
	"strings"
	"testing"
	"time"

	calendar "google.golang.org/api/calendar/v3"

	"github.com/calsync/calsync/google/googletest"
)

var detailsStart = time.Date(2026, 4, 7, 10, 0, 0, 0, time.UTC)

// meeting returns an event with every descriptive member a client writes.
func meeting() *calendar.Event {
	ev := timedEvent("Planning", detailsStart, time.Hour)
	ev.Description = "Agenda: <b>budget</b>"
	ev.Location = "Room 4"
	ev.Transparency = "transparent"
	ev.Visibility = "private"
	ev.Attendees = []*calendar.EventAttendee{
		{Email: calID, ResponseStatus: "accepted"},
		{Email: "bob@example.com", DisplayName: "Bob", Optional: true, ResponseStatus: "tentative"},
		{Email: "room4@resource.example.com", DisplayName: "Room 4", Resource: true, ResponseStatus: "accepted"},
		{Email: "carol@example.com", Self: true, Organizer: true}, // read-only flags are ignored
	}
	ev.ConferenceData = &calendar.ConferenceData{CreateRequest: &calendar.CreateConferenceRequest{
		RequestId: "req-1", ConferenceSolutionKey: &calendar.ConferenceSolutionKey{Type: "hangoutsMeet"},
	}}
	return ev
}

func TestInsertDescriptiveMembers(t *testing.T) {
	srv, svc := newEnv(t, googletest.Config{})
	got, err := svc.Events.Insert(calID, meeting()).ConferenceDataVersion(1).Do()
	if err != nil {
		t.Fatal(err)
	}
	if got.Description != "Agenda: <b>budget</b>" || got.Location != "Room 4" || got.Transparency != "transparent" || got.Visibility != "private" {
		t.Errorf("description %q location %q transparency %q visibility %q", got.Description, got.Location, got.Transparency, got.Visibility)
	}
	if o := got.Organizer; o == nil || o.Email != calID || !o.Self {
		t.Errorf("organizer = %+v, want the calendar, self", o)
	}
	want := []calendar.EventAttendee{
		{Email: calID, ResponseStatus: "accepted", Self: true, Organizer: true},
		{Email: "bob@example.com", DisplayName: "Bob", Optional: true, ResponseStatus: "tentative"},
		{Email: "room4@resource.example.com", DisplayName: "Room 4", Resource: true, ResponseStatus: "accepted"},
		{Email: "carol@example.com", ResponseStatus: "needsAction"},
	}
	checkAttendees(t, got.Attendees, want)
	cd := got.ConferenceData
	if cd == nil || cd.ConferenceSolution == nil || cd.ConferenceSolution.Key.Type != "hangoutsMeet" || len(cd.EntryPoints) != 1 ||
		cd.CreateRequest == nil || cd.CreateRequest.Status == nil || cd.CreateRequest.Status.StatusCode != "success" {
		t.Fatalf("conferenceData = %+v", cd)
	}
	ep := cd.EntryPoints[0]
	if ep.EntryPointType != "video" || !strings.HasPrefix(ep.Uri, "https://meet.google.com/") || ep.Uri != "https://meet.google.com/"+cd.ConferenceId {
		t.Errorf("entry point %+v, conference id %q", ep, cd.ConferenceId)
	}
	if got.HangoutLink != ep.Uri {
		t.Errorf("hangoutLink = %q, want %q", got.HangoutLink, ep.Uri)
	}
	if got.HtmlLink == "" || got.Created == "" {
		t.Errorf("htmlLink %q created %q", got.HtmlLink, got.Created)
	}

	// events.list and singleEvents instances carry the same members.
	items, _ := fullList(t, svc, false, 10)
	if len(items) != 1 || items[0].HangoutLink != got.HangoutLink || len(items[0].Attendees) != 4 {
		t.Fatalf("listed %+v", items)
	}
	series := meeting()
	series.Recurrence = []string{"RRULE:FREQ=DAILY;COUNT=2"}
	if _, err := svc.Events.Insert(calID, series).ConferenceDataVersion(1).Do(); err != nil {
		t.Fatal(err)
	}
	evs, err := srv.Events(calID, true)
	if err != nil {
		t.Fatal(err)
	}
	for _, ev := range evs {
		if ev.RecurringEventId != "" && (ev.HangoutLink == "" || ev.HangoutLink == got.HangoutLink || len(ev.Attendees) != 4 || ev.Visibility != "private") {
			t.Errorf("instance %s: hangoutLink %q attendees %d visibility %q", ev.Id, ev.HangoutLink, len(ev.Attendees), ev.Visibility)
		}
	}
}

func checkAttendees(t *testing.T, got []*calendar.EventAttendee, want []calendar.EventAttendee) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%d attendees, want %d", len(got), len(want))
	}
	for i, w := range want {
		g := *got[i]
		g.ForceSendFields, g.NullFields = nil, nil
		if !reflect.DeepEqual(g, w) {
			t.Errorf("attendee %d = %+v, want %+v", i, g, w)
		}
	}
}

// conferenceDataVersion 0, the default, ignores conferenceData in the body:
// an insert gets none, and a patch keeps the conference the event has.
func TestConferenceDataVersion(t *testing.T) {
	_, svc := newEnv(t, googletest.Config{})
	plain := insert(t, svc, meeting())
	if plain.ConferenceData != nil || plain.HangoutLink != "" {
		t.Fatalf("insert without conferenceDataVersion kept conference data %+v", plain.ConferenceData)
	}
	ev, err := svc.Events.Insert(calID, meeting()).ConferenceDataVersion(1).Do()
	if err != nil {
		t.Fatal(err)
	}
	other := meeting().ConferenceData
	other.CreateRequest.RequestId = "req-2"
	patched, err := svc.Events.Patch(calID, ev.Id, &calendar.Event{Summary: "renamed", ConferenceData: other}).Do()
	if err != nil {
		t.Fatal(err)
	}
	if patched.Summary != "renamed" || patched.HangoutLink != ev.HangoutLink {
		t.Fatalf("patch without conferenceDataVersion: summary %q hangoutLink %q, want %q", patched.Summary, patched.HangoutLink, ev.HangoutLink)
	}
	updated, err := svc.Events.Update(calID, ev.Id, timedEvent("replaced", detailsStart, time.Hour)).Do()
	if err != nil {
		t.Fatal(err)
	}
	if updated.HangoutLink != ev.HangoutLink || updated.Attendees != nil {
		t.Fatalf("update without conferenceDataVersion: hangoutLink %q attendees %v", updated.HangoutLink, updated.Attendees)
	}
	cleared, err := svc.Events.Update(calID, ev.Id, timedEvent("no meeting", detailsStart, time.Hour)).ConferenceDataVersion(1).Do()
	if err != nil {
		t.Fatal(err)
	}
	if cleared.ConferenceData != nil || cleared.HangoutLink != "" {
		t.Fatalf("update with conferenceDataVersion=1 and no conferenceData kept %+v", cleared.ConferenceData)
	}
	// An existing conference (solution and entry points) is kept as sent;
	// hangoutLink only belongs to Google Meet.
	zoom := timedEvent("zoom", detailsStart, time.Hour)
	zoom.ConferenceData = &calendar.ConferenceData{
		ConferenceSolution: &calendar.ConferenceSolution{Key: &calendar.ConferenceSolutionKey{Type: "addOn"}, Name: "Zoom"},
		EntryPoints:        []*calendar.EntryPoint{{EntryPointType: "video", Uri: "https://zoom.example.com/j/1"}},
	}
	z, err := svc.Events.Insert(calID, zoom).ConferenceDataVersion(1).Do()
	if err != nil {
		t.Fatal(err)
	}
	if z.HangoutLink != "" || z.ConferenceData == nil || z.ConferenceData.EntryPoints[0].Uri != "https://zoom.example.com/j/1" {
		t.Fatalf("add-on conference: hangoutLink %q data %+v", z.HangoutLink, z.ConferenceData)
	}
}

// A resource flag can only be set when the attendee is added.
func TestAttendeeResourceFixedOnceAdded(t *testing.T) {
	_, svc := newEnv(t, googletest.Config{})
	ev := timedEvent("r", detailsStart, time.Hour)
	ev.Attendees = []*calendar.EventAttendee{{Email: "room@example.com", Resource: true}}
	got := insert(t, svc, ev)
	patched, err := svc.Events.Patch(calID, got.Id, &calendar.Event{Attendees: []*calendar.EventAttendee{
		{Email: "room@example.com", ResponseStatus: "declined"}, {Email: "new@example.com", Resource: true},
	}}).Do()
	if err != nil {
		t.Fatal(err)
	}
	checkAttendees(t, patched.Attendees, []calendar.EventAttendee{
		{Email: "room@example.com", Resource: true, ResponseStatus: "declined"},
		{Email: "new@example.com", Resource: true, ResponseStatus: "needsAction"},
	})
}

// events.import takes the organizer from the body: the calendar's copy of
// someone else's meeting.
func TestImportOrganizer(t *testing.T) {
	_, svc := newEnv(t, googletest.Config{})
	ev := meeting()
	ev.ICalUID = "planning-1@example.org"
	ev.Organizer = &calendar.EventOrganizer{Email: "dana@example.org", DisplayName: "Dana", Self: true}
	ev.Attendees = append(ev.Attendees, &calendar.EventAttendee{Email: "dana@example.org", ResponseStatus: "accepted"})
	got, err := svc.Events.Import(calID, ev).Do()
	if err != nil {
		t.Fatal(err)
	}
	if o := got.Organizer; o == nil || o.Email != "dana@example.org" || o.DisplayName != "Dana" || o.Self {
		t.Errorf("organizer = %+v", o)
	}
	if got.ICalUID != "planning-1@example.org" || got.ConferenceData != nil {
		t.Errorf("iCalUID %q conferenceData %+v", got.ICalUID, got.ConferenceData)
	}
	checkAttendees(t, got.Attendees, []calendar.EventAttendee{
		{Email: calID, ResponseStatus: "accepted", Self: true},
		{Email: "bob@example.com", DisplayName: "Bob", Optional: true, ResponseStatus: "tentative"},
		{Email: "room4@resource.example.com", DisplayName: "Room 4", Resource: true, ResponseStatus: "accepted"},
		{Email: "carol@example.com", ResponseStatus: "needsAction"},
		{Email: "dana@example.org", ResponseStatus: "accepted", Organizer: true},
	})
	// The organizer survives an update (read-only outside import).
	upd, err := svc.Events.Update(calID, got.Id, timedEvent("moved", detailsStart.Add(time.Hour), time.Hour)).Do()
	if err != nil || upd.Organizer == nil || upd.Organizer.Email != "dana@example.org" {
		t.Fatalf("update: organizer %+v, %v", upd.Organizer, err)
	}
	_, err = svc.Events.Import(calID, timedEvent("no uid", detailsStart, time.Hour)).Do()
	apiErr(t, err, http.StatusBadRequest, "required")
}

func TestDescriptiveMembersValidated(t *testing.T) {
	_, svc := newEnv(t, googletest.Config{})
	for name, tc := range map[string]struct {
		edit   func(*calendar.Event)
		reason string
	}{
		"transparency":          {func(e *calendar.Event) { e.Transparency = "see-through" }, "invalid"},
		"visibility":            {func(e *calendar.Event) { e.Visibility = "secret" }, "invalid"},
		"attendee without mail": {func(e *calendar.Event) { e.Attendees = []*calendar.EventAttendee{{DisplayName: "x"}} }, "required"},
		"attendee bad mail":     {func(e *calendar.Event) { e.Attendees = []*calendar.EventAttendee{{Email: "Bob <bob@example.com>"}} }, "invalid"},
		"attendee response": {func(e *calendar.Event) {
			e.Attendees = []*calendar.EventAttendee{{Email: "b@example.com", ResponseStatus: "maybe"}}
		}, "invalid"},
		"conference type": {func(e *calendar.Event) { e.ConferenceData.CreateRequest.ConferenceSolutionKey.Type = "eventHangout" }, "invalid"},
		"conference id":   {func(e *calendar.Event) { e.ConferenceData.CreateRequest.RequestId = "" }, "required"},
	} {
		t.Run(name, func(t *testing.T) {
			ev := meeting()
			tc.edit(ev)
			_, err := svc.Events.Insert(calID, ev).ConferenceDataVersion(1).Do()
			apiErr(t, err, http.StatusBadRequest, tc.reason)
		})
	}
	_, err := svc.Events.Insert(calID, meeting()).ConferenceDataVersion(2).Do()
	apiErr(t, err, http.StatusBadRequest, "invalid")
}
