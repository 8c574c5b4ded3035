package msgraph

import (
	"encoding/json"
	"reflect"
	"testing"
	"time"

	"github.com/calsync/calsync/provider"
)

func TestChangeMapping(t *testing.T) {
	utc := func(s string) time.Time { v, _ := time.Parse(time.RFC3339, s); return v }
	for _, tc := range []struct {
		name string
		item string
		op   provider.ChangeOp
		chk  func(*testing.T, *provider.Event)
	}{
		{"removed", `{"@odata.type":"#microsoft.graph.event","id":"r1","@removed":{"reason":"deleted"}}`, provider.Delete,
			func(t *testing.T, e *provider.Event) {
				if e.ID != "r1" || e.CalendarID != "cal" {
					t.Errorf("%+v", e)
				}
			}},
		{"all day", `{"id":"a","subject":"Holiday","isAllDay":true,"start":{"dateTime":"2024-05-01T00:00:00.0000000","timeZone":"UTC"},
		  "end":{"dateTime":"2024-05-02T00:00:00.0000000","timeZone":"UTC"},"changeKey":"ck1","lastModifiedDateTime":"2024-04-01T10:00:00.1234567Z",
		  "iCalUId":"040000008200E0","showAs":"tentative"}`, provider.Upsert,
			func(t *testing.T, e *provider.Event) {
				if e.Start.Date != "2024-05-01" || e.End.Date != "2024-05-02" || e.ETag != "ck1" || e.ICalUID != "040000008200E0" ||
					!e.Updated.Equal(time.Date(2024, 4, 1, 10, 0, 0, 123456700, time.UTC)) || e.Status != "tentative" || e.Summary != "Holiday" {
					t.Errorf("%+v", e)
				}
			}},
		{"occurrence", `{"id":"o1","type":"occurrence","seriesMasterId":"m1","start":{"dateTime":"2024-05-01T09:00:00.0000000","timeZone":"UTC"},
		  "end":{"dateTime":"2024-05-01T10:00:00.0000000","timeZone":"UTC"}}`, provider.Upsert,
			func(t *testing.T, e *provider.Event) {
				if e.RecurringEventID != "m1" || e.OriginalStart == nil || !e.OriginalStart.DateTime.Equal(utc("2024-05-01T09:00:00Z")) {
					t.Errorf("%+v", e)
				}
			}},
		{"moved exception", `{"id":"x1","type":"exception","seriesMasterId":"m1","originalStart":"2024-05-02T09:00:00Z",
		  "start":{"dateTime":"2024-05-02T11:00:00.0000000","timeZone":"UTC"},"end":{"dateTime":"2024-05-02T12:00:00.0000000","timeZone":"UTC"}}`, provider.Upsert,
			func(t *testing.T, e *provider.Event) {
				if e.RecurringEventID != "m1" || !e.OriginalStart.DateTime.Equal(utc("2024-05-02T09:00:00Z")) || !e.Start.DateTime.Equal(utc("2024-05-02T11:00:00Z")) {
					t.Errorf("%+v", e)
				}
			}},
		{"cancelled occurrence", `{"id":"c1","type":"exception","seriesMasterId":"m1","isCancelled":true,"originalStart":"2024-05-03T09:00:00Z"}`, provider.Delete,
			func(t *testing.T, e *provider.Event) {
				if e.Status != "cancelled" || e.RecurringEventID != "m1" || e.OriginalStart == nil {
					t.Errorf("%+v", e)
				}
			}},
		{"series master", `{"id":"m1","type":"seriesMaster","recurrence":{"pattern":{"type":"daily","interval":1}}}`, provider.Upsert,
			func(t *testing.T, e *provider.Event) {
				if e.RecurringEventID != "" || e.OriginalStart != nil {
					t.Errorf("%+v", e)
				}
			}},
		{"beta PascalCase, IANA zone", `{"id":"p1","start":{"DateTime":"2024-05-01T09:00:00.0000000","TimeZone":"Europe/Paris"}}`, provider.Upsert,
			func(t *testing.T, e *provider.Event) {
				if !e.Start.DateTime.Equal(utc("2024-05-01T07:00:00Z")) || e.Start.TimeZone != "Europe/Paris" {
					t.Errorf("%+v", e.Start)
				}
			}},
		{"windows zone read as UTC", `{"id":"w1","start":{"dateTime":"2024-05-01T09:00:00","timeZone":"Pacific Standard Time"}}`, provider.Upsert,
			func(t *testing.T, e *provider.Event) {
				if !e.Start.DateTime.Equal(utc("2024-05-01T09:00:00Z")) || e.Start.TimeZone != "Pacific Standard Time" {
					t.Errorf("%+v", e.Start)
				}
			}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := change("cal", json.RawMessage(tc.item))
			if err != nil {
				t.Fatal(err)
			}
			if c.Op != tc.op || c.EventID != c.Event.ID || string(c.Event.Raw) != tc.item {
				t.Fatalf("change = %+v", c)
			}
			tc.chk(t, c.Event)
		})
	}
}

// TestDetailsMapping maps the descriptive properties of delta items shaped
// like the event reference's examples: the organizer's copy of a meeting,
// and an invitation in an attendee's mailbox.
func TestDetailsMapping(t *testing.T) {
	for _, tc := range []struct {
		name string
		item string
		want provider.EventDetails
	}{
		{"organizer's meeting", `{"id":"a","createdDateTime":"2017-04-15T03:00:50.7579581Z","lastModifiedDateTime":"2017-04-15T03:00:51.245372Z",
		  "subject":"Let's go for lunch","bodyPreview":"Does late morning work for you?","importance":"normal","sensitivity":"normal",
		  "isAllDay":false,"isCancelled":false,"isOrganizer":true,"showAs":"busy","type":"singleInstance",
		  "webLink":"https://outlook.office365.com/owa/?itemid=AAMkAGI1AAAt9AHjAAA%3D&exvsurl=1&path=/calendar/item",
		  "onlineMeetingUrl":null,"isOnlineMeeting":true,"onlineMeetingProvider":"teamsForBusiness",
		  "onlineMeeting":{"joinUrl":"https://teams.microsoft.com/l/meetup-join/19%3ameeting_x%40thread.v2/0"},
		  "responseStatus":{"response":"organizer","time":"0001-01-01T00:00:00Z"},
		  "body":{"contentType":"html","content":"<html><head></head><body>Does late morning work for you?</body></html>"},
		  "start":{"dateTime":"2017-04-15T11:00:00.0000000","timeZone":"UTC"},"end":{"dateTime":"2017-04-15T12:00:00.0000000","timeZone":"UTC"},
		  "location":{"displayName":"Harry's Bar","locationType":"default","uniqueId":"Harry's Bar","uniqueIdType":"private"},
		  "attendees":[
		    {"type":"required","status":{"response":"none","time":"0001-01-01T00:00:00Z"},"emailAddress":{"name":"Samantha Booth","address":"samanthab@contoso.onmicrosoft.com"}},
		    {"type":"optional","status":{"response":"tentativelyAccepted","time":"2017-04-15T04:00:00Z"},"emailAddress":{"name":"Alex","address":"alexw@contoso.onmicrosoft.com"}},
		    {"type":"resource","status":{"response":"accepted","time":"2017-04-15T04:00:00Z"},"emailAddress":{"name":"Conf Room 3","address":"conf3@contoso.onmicrosoft.com"}},
		    {"type":"required","status":{"response":"organizer"},"emailAddress":{"name":"Dana Swope","address":"DanaS@contoso.onmicrosoft.com"}}],
		  "organizer":{"emailAddress":{"name":"Dana Swope","address":"danas@contoso.onmicrosoft.com"}}}`,
			provider.EventDetails{
				Description: "<html><head></head><body>Does late morning work for you?</body></html>", DescriptionHTML: true,
				Location: "Harry's Bar", Availability: provider.AvailabilityBusy, Visibility: provider.VisibilityDefault,
				Organizer: provider.Person{Email: "danas@contoso.onmicrosoft.com", Name: "Dana Swope", Self: true},
				Attendees: []provider.Attendee{
					{Email: "samanthab@contoso.onmicrosoft.com", Name: "Samantha Booth", Type: provider.AttendeeRequired, Response: provider.ResponseNeedsAction},
					{Email: "alexw@contoso.onmicrosoft.com", Name: "Alex", Type: provider.AttendeeOptional, Response: provider.ResponseTentative},
					{Email: "conf3@contoso.onmicrosoft.com", Name: "Conf Room 3", Type: provider.AttendeeResource, Response: provider.ResponseAccepted},
					{Email: "DanaS@contoso.onmicrosoft.com", Name: "Dana Swope", Type: provider.AttendeeRequired, Response: provider.ResponseAccepted, Self: true, Organizer: true},
				},
				Response:   provider.ResponseAccepted,
				MeetingURL: "https://teams.microsoft.com/l/meetup-join/19%3ameeting_x%40thread.v2/0",
				WebLink:    "https://outlook.office365.com/owa/?itemid=AAMkAGI1AAAt9AHjAAA%3D&exvsurl=1&path=/calendar/item",
				Created:    time.Date(2017, 4, 15, 3, 0, 50, 757958100, time.UTC),
			}},
		{"invitation, Skype URL, PascalCase enums", `{"id":"b","isOrganizer":false,"showAs":"WorkingElsewhere","sensitivity":"Personal",
		  "onlineMeetingUrl":"https://meet.lync.com/contoso/dana/ABC","onlineMeeting":null,
		  "responseStatus":{"response":"NotResponded"},"body":{"contentType":"text","content":"Weekly"},
		  "organizer":{"emailAddress":{"name":"Dana","address":"dana@fabrikam.com"}},
		  "attendees":[{"type":"Required","status":{"response":"Declined"},"emailAddress":{"address":"erin@fabrikam.com"}},
		    {"type":"required","emailAddress":{"address":"dana@fabrikam.com"}}]}`,
			provider.EventDetails{
				Description: "Weekly", Availability: provider.AvailabilityWorkingElsewhere, Visibility: provider.VisibilityPersonal,
				Organizer: provider.Person{Email: "dana@fabrikam.com", Name: "Dana"},
				Attendees: []provider.Attendee{
					{Email: "erin@fabrikam.com", Type: provider.AttendeeRequired, Response: provider.ResponseDeclined},
					{Email: "dana@fabrikam.com", Type: provider.AttendeeRequired, Organizer: true},
				},
				Response:   provider.ResponseNeedsAction,
				MeetingURL: "https://meet.lync.com/contoso/dana/ABC",
			}},
		{"out of office, confidential", `{"id":"c","showAs":"oof","sensitivity":"confidential"}`,
			provider.EventDetails{Availability: provider.AvailabilityOutOfOffice, Visibility: provider.VisibilityConfidential}},
		{"showAs unknown", `{"id":"d","showAs":"unknown","sensitivity":"private"}`,
			provider.EventDetails{Availability: provider.AvailabilityUnknown, Visibility: provider.VisibilityPrivate}},
		{"showAs from the future", `{"id":"e","showAs":"focusTime"}`,
			provider.EventDetails{Availability: provider.AvailabilityUnknown}},
		{"removed", `{"id":"f","@removed":{"reason":"deleted"}}`, provider.EventDetails{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := change("cal", json.RawMessage(tc.item))
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(c.Event.Details, tc.want) {
				t.Errorf("details\n got %+v\nwant %+v", c.Event.Details, tc.want)
			}
		})
	}
}
