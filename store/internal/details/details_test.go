package details

import (
	"reflect"
	"testing"
	"time"

	"github.com/calsync/calsync/provider"
)

func full() provider.EventDetails {
	return provider.EventDetails{
		Description: "Agenda \u0000 <b>x</b>", DescriptionHTML: true, Location: "Room 4",
		Availability: provider.AvailabilityOutOfOffice, Visibility: provider.VisibilityConfidential,
		Organizer: provider.Person{Email: "o@example.com", Name: "O", Self: true},
		Attendees: []provider.Attendee{
			{Email: "a@example.com", Name: "A", Type: provider.AttendeeResource, Response: provider.ResponseTentative, Self: true, Organizer: true},
			{Email: "b@example.com"},
		},
		Response: provider.ResponseDeclined, MeetingURL: "https://meet.example.com/x", WebLink: "https://cal.example.com/e",
		Created: time.Date(2031, 3, 14, 15, 9, 26, 535897900, time.UTC),
	}
}

// TestRoundTrip checks every field (a field added to EventDetails and
// forgotten here fails: full must set it, see TestFullSetsEveryField).
func TestRoundTrip(t *testing.T) {
	for _, d := range []provider.EventDetails{full(), {Organizer: provider.Person{Self: true}}, {Attendees: []provider.Attendee{{}}}} {
		b := Marshal(d)
		got, err := Unmarshal(b)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(got, d) {
			t.Errorf("round trip of %+v\n got %+v\n(%s)", d, got, b)
		}
	}
	if b := Marshal(provider.EventDetails{}); b != nil {
		t.Errorf("Marshal(zero) = %s, want nil (NULL)", b)
	}
	if d, err := Unmarshal(nil); err != nil || !d.IsZero() {
		t.Errorf("Unmarshal(nil) = %+v, %v", d, err)
	}
	for _, bad := range []string{"{", `{"created":"yesterday"}`} {
		if _, err := Unmarshal([]byte(bad)); err == nil {
			t.Errorf("Unmarshal(%s) succeeded", bad)
		}
	}
}

func TestFullSetsEveryField(t *testing.T) {
	v := reflect.ValueOf(full())
	for i := range v.NumField() {
		if v.Field(i).IsZero() {
			t.Errorf("full() leaves %s unset", v.Type().Field(i).Name)
		}
	}
}

// TestStoredForm pins the stored JSON: changing it needs a migration of
// the rows already written.
func TestStoredForm(t *testing.T) {
	b := Marshal(full())
	const want = `{"description":"Agenda \u0000 \u003cb\u003ex\u003c/b\u003e","descriptionHtml":true,"location":"Room 4",` +
		`"availability":"outOfOffice","visibility":"confidential","organizer":{"email":"o@example.com","name":"O","self":true},` +
		`"attendees":[{"email":"a@example.com","name":"A","type":"resource","response":"tentative","self":true,"organizer":true},` +
		`{"email":"b@example.com"}],"response":"declined","meetingUrl":"https://meet.example.com/x",` +
		`"webLink":"https://cal.example.com/e","created":"2031-03-14T15:09:26.5358979Z"}`
	if string(b) != want {
		t.Errorf("stored form\n got %s\nwant %s", b, want)
	}
}
