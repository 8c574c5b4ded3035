package msgraph_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"testing"
	"time"

	"github.com/calsync/calsync"
	"github.com/calsync/calsync/internal/eventdiff"
	"github.com/calsync/calsync/msgraph/msgraphtest"
)

// TestEndToEndEventDetails writes a meeting with every descriptive
// property through the emulator's REST API and an invitation from someone
// else (which only the emulator's Go side can make: Graph has no request
// for it), syncs them through the webhook and the Engine, and compares
// every normalized field of the stored copies with what was written and
// with what the emulator holds.
func TestEndToEndEventDetails(t *testing.T) {
	h := newHarness(t)
	h.connect()
	base := time.Now().UTC().Truncate(time.Hour).Add(48 * time.Hour)
	wire := func(t time.Time) map[string]any {
		return map[string]any{"dateTime": t.Format("2006-01-02T15:04:05"), "timeZone": "UTC"}
	}

	meetingID := h.post("/me/events", map[string]any{
		"subject":     "Planning",
		"body":        map[string]any{"contentType": "html", "content": "<p>Agenda: budget</p>"},
		"start":       wire(base),
		"end":         wire(base.Add(time.Hour)),
		"location":    map[string]any{"displayName": "Room 4"},
		"showAs":      "oof",
		"sensitivity": "private",
		"attendees": []any{
			map[string]any{"type": "required", "emailAddress": map[string]any{"name": "Bob", "address": "bob@contoso.com"}},
			map[string]any{"type": "optional", "emailAddress": map[string]any{"address": "carol@contoso.com"}},
			map[string]any{"type": "resource", "emailAddress": map[string]any{"name": "Room 4", "address": "room4@contoso.com"}},
			map[string]any{"type": "required", "emailAddress": map[string]any{"name": "Erin", "address": "erin@contoso.com"}},
		},
		"isOnlineMeeting":       true,
		"onlineMeetingProvider": "teamsForBusiness",
	})
	invite := h.create(msgraphtest.Event{
		Subject: "Dana's daily", Body: "Status round", Start: base.Add(3 * time.Hour), End: base.Add(4 * time.Hour),
		ShowAs: "tentative", Sensitivity: "personal", Response: "tentativelyAccepted",
		Organizer: &msgraphtest.EmailAddress{Name: "Dana", Address: "dana@fabrikam.com"},
		Attendees: []msgraphtest.Attendee{
			{EmailAddress: msgraphtest.EmailAddress{Name: "Alice", Address: "alice@contoso.onmicrosoft.com"}, Response: "tentativelyAccepted"},
			{Type: "optional", EmailAddress: msgraphtest.EmailAddress{Address: "frank@fabrikam.com"}, Response: "declined"},
		},
		Recurrence: &msgraphtest.PatternedRecurrence{
			Pattern: msgraphtest.RecurrencePattern{Type: "daily", Interval: 1},
			Range:   msgraphtest.RecurrenceRange{Type: "numbered", NumberOfOccurrences: 2},
		},
	})
	h.mustSettle("create")

	// The attendees answer the meeting.
	meeting, err := h.srv.Event("alice", "", meetingID)
	if err != nil {
		t.Fatal(err)
	}
	for i, r := range []string{"accepted", "tentativelyAccepted", "accepted", "declined"} {
		meeting.Attendees[i].Response = r
	}
	if _, err := h.srv.UpdateEvent("alice", "", meetingID, meeting); err != nil {
		t.Fatal(err)
	}
	h.mustSettle("answers")

	meeting, err = h.srv.Event("alice", "", meetingID)
	if err != nil {
		t.Fatal(err)
	}
	if meeting.JoinURL == "" {
		t.Fatal("the emulator made no join URL")
	}
	got := h.stored1(meetingID)
	checkDetails(t, got.Details, calsync.EventDetails{
		Description: "<p>Agenda: budget</p>", DescriptionHTML: true, Location: "Room 4",
		Availability: calsync.AvailabilityOutOfOffice, Visibility: calsync.VisibilityPrivate,
		Organizer: calsync.Person{Email: "alice@contoso.onmicrosoft.com", Name: "alice", Self: true},
		Attendees: []calsync.Attendee{
			{Email: "bob@contoso.com", Name: "Bob", Type: calsync.AttendeeRequired, Response: calsync.ResponseAccepted},
			{Email: "carol@contoso.com", Type: calsync.AttendeeOptional, Response: calsync.ResponseTentative},
			{Email: "room4@contoso.com", Name: "Room 4", Type: calsync.AttendeeResource, Response: calsync.ResponseAccepted},
			{Email: "erin@contoso.com", Name: "Erin", Type: calsync.AttendeeRequired, Response: calsync.ResponseDeclined},
		},
		Response:   calsync.ResponseAccepted,
		MeetingURL: meeting.JoinURL,
		WebLink:    "https://outlook.office365.com/owa/?itemid=" + url.QueryEscape(meetingID) + "&exvsurl=1&path=/calendar/item",
		Created:    wireTime(meeting.Created),
	})
	if got.Summary != "Planning" || got.Status != calsync.StatusConfirmed || !got.Start.DateTime.Equal(base) ||
		!got.End.DateTime.Equal(base.Add(time.Hour)) || got.ICalUID != meeting.ICalUID || !got.Updated.Equal(wireTime(meeting.LastModified)) ||
		got.RecurringEventID != "" || got.OriginalStart != nil {
		got.Raw = nil
		t.Errorf("meeting = %+v, emulator %+v", got, meeting)
	}

	occs := h.occurrences(invite.ID)
	if len(occs) != 2 {
		t.Fatalf("%d occurrences of the invitation stored, want 2", len(occs))
	}
	for i, occ := range occs {
		remote, err := h.srv.Event("alice", "", occ.ID)
		if err != nil {
			t.Fatal(err)
		}
		checkDetails(t, occ.Details, calsync.EventDetails{
			Description:  "Status round",
			Availability: calsync.AvailabilityTentative, Visibility: calsync.VisibilityPersonal,
			Organizer: calsync.Person{Email: "dana@fabrikam.com", Name: "Dana"},
			Attendees: []calsync.Attendee{
				{Email: "alice@contoso.onmicrosoft.com", Name: "Alice", Type: calsync.AttendeeRequired, Response: calsync.ResponseTentative},
				{Email: "frank@fabrikam.com", Type: calsync.AttendeeOptional, Response: calsync.ResponseDeclined},
			},
			Response: calsync.ResponseTentative,
			WebLink:  "https://outlook.office365.com/owa/?itemid=" + url.QueryEscape(occ.ID) + "&exvsurl=1&path=/calendar/item",
			Created:  wireTime(remote.Created),
		})
		wantStart := base.Add(3*time.Hour + time.Duration(i)*24*time.Hour)
		if occ.Status != calsync.StatusTentative || occ.Summary != "Dana's daily" || occ.RecurringEventID != invite.ID ||
			occ.OriginalStart == nil || !occ.OriginalStart.DateTime.Equal(wantStart) || !occ.Start.DateTime.Equal(wantStart) {
			occ.Raw = nil
			t.Errorf("occurrence %d = %+v", i, occ)
		}
	}
}

// wireTime is t as Graph writes it: 7 fractional digits.
func wireTime(t time.Time) time.Time { return t.Truncate(100 * time.Nanosecond) }

// post sends a Graph REST request to the emulator as the signed-in user
// and returns the created event's id.
func (h *harness) post(path string, body any) string {
	h.t.Helper()
	b, err := json.Marshal(body)
	if err != nil {
		h.t.Fatal(err)
	}
	req, err := http.NewRequestWithContext(context.Background(), http.MethodPost, h.srv.URL()+"/v1.0"+path, bytes.NewReader(b))
	if err != nil {
		h.t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer token-of-alice")
	req.Header.Set("Content-Type", "application/json")
	resp, err := h.srv.Client().Do(req)
	if err != nil {
		h.t.Fatal(err)
	}
	defer resp.Body.Close()
	out, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusCreated {
		h.t.Fatalf("POST %s: %d %s", path, resp.StatusCode, out)
	}
	var ev struct {
		ID string `json:"id"`
	}
	if err := json.Unmarshal(out, &ev); err != nil || ev.ID == "" {
		h.t.Fatalf("POST %s: %s (%v)", path, out, err)
	}
	return ev.ID
}

func (h *harness) stored1(id string) calsync.Event {
	h.t.Helper()
	ev, err := h.st.Event(context.Background(), h.cal.ID, id)
	if err != nil {
		h.t.Fatalf("stored event %s: %v", id, err)
	}
	return ev
}

// checkDetails reports each field of got that differs from want.
func checkDetails(t *testing.T, got, want calsync.EventDetails) {
	t.Helper()
	for _, d := range eventdiff.Details(got, want) {
		t.Error(d)
	}
}
