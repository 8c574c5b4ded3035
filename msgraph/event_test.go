package msgraph

import (
	"encoding/json"
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
