package google_test

import (
	"context"
	"reflect"
	"testing"
	"time"

	calendar "google.golang.org/api/calendar/v3"

	"github.com/calsync/calsync"
	"github.com/calsync/calsync/google"
	"github.com/calsync/calsync/internal/eventdiff"
)

// TestEndToEndEventDetails writes events that use every member of the
// event model through the Calendar API, syncs them through the webhook and
// the Engine, and compares every normalized field of the stored copy with
// what was written and with what the emulator returns.
func TestEndToEndEventDetails(t *testing.T) {
	const alice = "alice@example.com"
	h := newHarness(t, google.Config{}, alice)
	h.connect(alice)
	start := time.Date(2026, 12, 7, 9, 0, 0, 0, time.UTC)
	berlin, err := time.LoadLocation("Europe/Berlin")
	if err != nil {
		t.Fatal(err)
	}
	at := func(d time.Duration) *calendar.EventDateTime {
		return &calendar.EventDateTime{DateTime: start.Add(d).In(berlin).Format(time.RFC3339), TimeZone: "Europe/Berlin"}
	}

	// A meeting Alice organizes, with guests, a room and a Meet conference.
	meeting, err := h.api.Events.Insert(alice, &calendar.Event{
		Summary: "Planning", Description: "Agenda: <b>budget</b>", Location: "Room 4",
		Start: at(0), End: at(time.Hour), Transparency: "transparent", Visibility: "private",
		Attendees: []*calendar.EventAttendee{
			{Email: alice, DisplayName: "Alice", ResponseStatus: "accepted"},
			{Email: "bob@example.com", DisplayName: "Bob", Optional: true, ResponseStatus: "tentative"},
			{Email: "room4@resource.example.com", DisplayName: "Room 4", Resource: true, ResponseStatus: "accepted"},
			{Email: "carol@example.com"},
		},
		ConferenceData: &calendar.ConferenceData{CreateRequest: &calendar.CreateConferenceRequest{
			RequestId: "e2e-1", ConferenceSolutionKey: &calendar.ConferenceSolutionKey{Type: "hangoutsMeet"},
		}},
	}).ConferenceDataVersion(1).Do()
	if err != nil {
		t.Fatal(err)
	}
	// Dana's meeting, imported into Alice's calendar: Alice is a guest who
	// accepted tentatively; the meeting has a third-party video link.
	invite, err := h.api.Events.Import(alice, &calendar.Event{
		ICalUID: "dana-weekly@example.org", Summary: "Dana's weekly", Start: at(2 * time.Hour), End: at(3 * time.Hour),
		Visibility: "confidential", Recurrence: []string{"RRULE:FREQ=WEEKLY;COUNT=3"},
		Organizer: &calendar.EventOrganizer{Email: "dana@example.org", DisplayName: "Dana"},
		Attendees: []*calendar.EventAttendee{
			{Email: "dana@example.org", DisplayName: "Dana", ResponseStatus: "accepted"},
			{Email: alice, ResponseStatus: "tentative"},
			{Email: "erin@example.org", ResponseStatus: "declined"},
		},
		ConferenceData: &calendar.ConferenceData{
			ConferenceSolution: &calendar.ConferenceSolution{Key: &calendar.ConferenceSolutionKey{Type: "addOn"}, Name: "Video"},
			EntryPoints: []*calendar.EntryPoint{
				{EntryPointType: "phone", Uri: "tel:+1-555-0100"},
				{EntryPointType: "video", Uri: "https://video.example.org/j/42"},
			},
		},
	}).ConferenceDataVersion(1).Do()
	if err != nil {
		t.Fatal(err)
	}
	// An all-day out-of-office event, public.
	ooo, err := h.api.Events.Insert(alice, &calendar.Event{
		Summary: "Away", EventType: "outOfOffice", Visibility: "public",
		Start: &calendar.EventDateTime{Date: "2026-12-10"}, End: &calendar.EventDateTime{Date: "2026-12-12"},
	}).Do()
	if err != nil {
		t.Fatal(err)
	}
	// Alice moves the second occurrence of Dana's meeting (an exception).
	instances, err := h.api.Events.Instances(alice, invite.Id).Do()
	if err != nil || len(instances.Items) != 3 {
		t.Fatalf("instances: %v (%v)", instances, err)
	}
	moved, err := h.api.Events.Patch(alice, instances.Items[1].Id, &calendar.Event{
		Start: at(7*24*time.Hour + 4*time.Hour), End: at(7*24*time.Hour + 5*time.Hour),
	}).Do()
	if err != nil {
		t.Fatal(err)
	}
	h.settle()

	meetingDetails := calsync.EventDetails{
		Description: "Agenda: <b>budget</b>", Location: "Room 4",
		Availability: calsync.AvailabilityFree, Visibility: calsync.VisibilityPrivate,
		Organizer: calsync.Person{Email: alice, Self: true},
		Attendees: []calsync.Attendee{
			{Email: alice, Name: "Alice", Type: calsync.AttendeeRequired, Response: calsync.ResponseAccepted, Self: true, Organizer: true},
			{Email: "bob@example.com", Name: "Bob", Type: calsync.AttendeeOptional, Response: calsync.ResponseTentative},
			{Email: "room4@resource.example.com", Name: "Room 4", Type: calsync.AttendeeResource, Response: calsync.ResponseAccepted},
			{Email: "carol@example.com", Type: calsync.AttendeeRequired, Response: calsync.ResponseNeedsAction},
		},
		Response:   calsync.ResponseAccepted,
		MeetingURL: "https://meet.google.com/" + meeting.ConferenceData.ConferenceId,
	}
	inviteDetails := calsync.EventDetails{
		Availability: calsync.AvailabilityBusy, Visibility: calsync.VisibilityConfidential,
		Organizer: calsync.Person{Email: "dana@example.org", Name: "Dana"},
		Attendees: []calsync.Attendee{
			{Email: "dana@example.org", Name: "Dana", Type: calsync.AttendeeRequired, Response: calsync.ResponseAccepted, Organizer: true},
			{Email: alice, Type: calsync.AttendeeRequired, Response: calsync.ResponseTentative, Self: true},
			{Email: "erin@example.org", Type: calsync.AttendeeRequired, Response: calsync.ResponseDeclined},
		},
		Response:   calsync.ResponseTentative,
		MeetingURL: "https://video.example.org/j/42",
	}
	oooDetails := calsync.EventDetails{
		Availability: calsync.AvailabilityOutOfOffice, Visibility: calsync.VisibilityPublic,
		Organizer: calsync.Person{Email: alice, Self: true}, Response: calsync.ResponseAccepted,
	}
	for _, tc := range []struct {
		id      string
		details calsync.EventDetails
		check   func(t *testing.T, got calsync.Event)
	}{
		{meeting.Id, meetingDetails, func(t *testing.T, got calsync.Event) {
			if got.Summary != "Planning" || got.Status != calsync.StatusConfirmed || got.Recurrence != nil || got.RecurringEventID != "" {
				t.Errorf("summary %q status %q recurrence %q series %q", got.Summary, got.Status, got.Recurrence, got.RecurringEventID)
			}
			if !got.Start.DateTime.Equal(start) || got.Start.TimeZone != "Europe/Berlin" || !got.End.DateTime.Equal(start.Add(time.Hour)) {
				t.Errorf("start %v end %v", got.Start, got.End)
			}
		}},
		{invite.Id, inviteDetails, func(t *testing.T, got calsync.Event) {
			if got.ICalUID != "dana-weekly@example.org" || len(got.Recurrence) != 1 || got.Recurrence[0] != "RRULE:FREQ=WEEKLY;COUNT=3" {
				t.Errorf("iCalUID %q recurrence %q", got.ICalUID, got.Recurrence)
			}
		}},
		{moved.Id, inviteDetails, func(t *testing.T, got calsync.Event) {
			wantOrig := start.Add(7*24*time.Hour + 2*time.Hour)
			if got.RecurringEventID != invite.Id || got.OriginalStart == nil || !got.OriginalStart.DateTime.Equal(wantOrig) ||
				!got.Start.DateTime.Equal(start.Add(7*24*time.Hour+4*time.Hour)) || got.ICalUID != "dana-weekly@example.org" {
				t.Errorf("exception: series %q original start %v start %v", got.RecurringEventID, got.OriginalStart, got.Start)
			}
		}},
		{ooo.Id, oooDetails, func(t *testing.T, got calsync.Event) {
			if got.Start.Date != "2026-12-10" || got.End.Date != "2026-12-12" || !got.Start.AllDay() {
				t.Errorf("all-day start %v end %v", got.Start, got.End)
			}
		}},
	} {
		t.Run(tc.id, func(t *testing.T) {
			got, remote := h.storedAndRemote(alice, tc.id)
			want := tc.details
			// What the server generates is compared with what it returns.
			want.WebLink = remote.HtmlLink
			want.Created = mustTime(t, remote.Created)
			if want.WebLink == "" || want.Created.IsZero() {
				t.Fatalf("the emulator returned no htmlLink or created: %+v", remote)
			}
			checkDetails(t, got.Details, want)
			if got.ETag != remote.Etag || !got.Updated.Equal(mustTime(t, remote.Updated)) {
				t.Errorf("etag %q updated %v, emulator %q %q", got.ETag, got.Updated, remote.Etag, remote.Updated)
			}
			tc.check(t, got)
		})
	}

	// Answers change: Bob declines, Carol accepts; the synced copy follows.
	if _, err := h.api.Events.Patch(alice, meeting.Id, &calendar.Event{Attendees: []*calendar.EventAttendee{
		{Email: alice, DisplayName: "Alice", ResponseStatus: "accepted"},
		{Email: "bob@example.com", DisplayName: "Bob", Optional: true, ResponseStatus: "declined"},
		{Email: "carol@example.com", ResponseStatus: "accepted"},
	}}).Do(); err != nil {
		t.Fatal(err)
	}
	h.settle()
	got, _ := h.storedAndRemote(alice, meeting.Id)
	wantAttendees := []calsync.Attendee{
		{Email: alice, Name: "Alice", Type: calsync.AttendeeRequired, Response: calsync.ResponseAccepted, Self: true, Organizer: true},
		{Email: "bob@example.com", Name: "Bob", Type: calsync.AttendeeOptional, Response: calsync.ResponseDeclined},
		{Email: "carol@example.com", Type: calsync.AttendeeRequired, Response: calsync.ResponseAccepted},
	}
	if !reflect.DeepEqual(got.Details.Attendees, wantAttendees) {
		t.Errorf("attendees after the answers changed:\n got %+v\nwant %+v", got.Details.Attendees, wantAttendees)
	}
	if got.Details.MeetingURL != meetingDetails.MeetingURL {
		t.Errorf("meeting URL after a patch without conferenceDataVersion = %q, want %q", got.Details.MeetingURL, meetingDetails.MeetingURL)
	}
}

// storedAndRemote returns the Store's copy of an event and the emulator's.
func (h *harness) storedAndRemote(calID, id string) (calsync.Event, *calendar.Event) {
	h.t.Helper()
	got, err := h.store.Event(context.Background(), calID, id)
	if err != nil {
		h.t.Fatalf("stored event %s: %v", id, err)
	}
	remote, err := h.api.Events.Get(calID, id).Do()
	if err != nil {
		h.t.Fatalf("emulator event %s: %v", id, err)
	}
	return got, remote
}

func mustTime(t *testing.T, s string) time.Time {
	t.Helper()
	v, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// checkDetails reports each field of got that differs from want.
func checkDetails(t *testing.T, got, want calsync.EventDetails) {
	t.Helper()
	for _, d := range eventdiff.Details(got, want) {
		t.Error(d)
	}
}
