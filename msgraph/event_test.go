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

func TestRecurrenceRRULE(t *testing.T) {
	for _, tc := range []struct {
		json   string
		allDay bool
		want   string
	}{
		{`{"pattern":{"type":"daily","interval":1},"range":{"type":"numbered","numberOfOccurrences":5}}`, false, "RRULE:FREQ=DAILY;COUNT=5"},
		{`{"pattern":{"type":"weekly","interval":2,"daysOfWeek":["Monday","wednesday"],"firstDayOfWeek":"sunday"},"range":{"type":"endDate","endDate":"2024-06-30"}}`, false,
			"RRULE:FREQ=WEEKLY;BYDAY=MO,WE;WKST=SU;INTERVAL=2;UNTIL=20240630T235959Z"},
		{`{"pattern":{"type":"absoluteMonthly","interval":1,"dayOfMonth":15},"range":{"type":"noEnd"}}`, false, "RRULE:FREQ=MONTHLY;BYMONTHDAY=15"},
		{`{"pattern":{"type":"relativeMonthly","interval":1,"daysOfWeek":["friday"],"index":"last"},"range":{"type":"noEnd"}}`, false, "RRULE:FREQ=MONTHLY;BYDAY=FR;BYSETPOS=-1"},
		{`{"pattern":{"type":"absoluteYearly","interval":1,"month":2,"dayOfMonth":29},"range":{"type":"endDate","endDate":"2040-01-01"}}`, true, "RRULE:FREQ=YEARLY;BYMONTH=2;BYMONTHDAY=29;UNTIL=20400101"},
		{`{"pattern":{"type":"relativeYearly","interval":1,"month":11,"daysOfWeek":["thursday"],"index":"fourth"},"range":{"type":"noEnd"}}`, false, "RRULE:FREQ=YEARLY;BYMONTH=11;BYDAY=TH;BYSETPOS=4"},
		{`{"pattern":{"type":"hourly"},"range":{"type":"noEnd"}}`, false, ""},
		{`{"pattern":{"type":"weekly","daysOfWeek":["someday"]},"range":{"type":"noEnd"}}`, false, ""},
		{`{"pattern":{"type":"daily"},"range":{"type":"endDate","endDate":"soon"}}`, false, ""},
	} {
		item := `{"id":"m","type":"seriesMaster","isAllDay":` + map[bool]string{false: "false", true: "true"}[tc.allDay] + `,"recurrence":` + tc.json + `}`
		c, err := change("cal", json.RawMessage(item))
		if err != nil {
			t.Fatal(err)
		}
		got := ""
		if len(c.Event.Recurrence) == 1 {
			got = c.Event.Recurrence[0]
		} else if len(c.Event.Recurrence) > 1 {
			t.Fatalf("%v", c.Event.Recurrence)
		}
		if got != tc.want {
			t.Errorf("%s:\n got %q\nwant %q", tc.json, got, tc.want)
		}
	}
}
