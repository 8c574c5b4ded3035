package msgraph

import (
	"encoding/json"
	"strings"
	"testing"
)

// TestRecurrenceRRULE converts Graph patterns and ranges, as a series
// master in the delta carries them, to RRULE lines.
func TestRecurrenceRRULE(t *testing.T) {
	const (
		timed  = `"isAllDay":false,"start":{"dateTime":"2024-05-06T16:00:00.0000000","timeZone":"UTC"}`
		allDay = `"isAllDay":true,"start":{"dateTime":"2024-02-29T00:00:00.0000000","timeZone":"UTC"}`
	)
	for _, tc := range []struct {
		name, start, json, want string
	}{
		{"daily, numbered", timed,
			`{"pattern":{"type":"daily","interval":1},"range":{"type":"numbered","startDate":"2024-05-06","numberOfOccurrences":5}}`,
			"RRULE:FREQ=DAILY;COUNT=5"},
		{"daily every 3 days, no end", timed,
			`{"pattern":{"type":"daily","interval":3},"range":{"type":"noEnd","startDate":"2024-05-06"}}`,
			"RRULE:FREQ=DAILY;INTERVAL=3"},
		{"weekly with days and week start", timed,
			`{"pattern":{"type":"weekly","interval":2,"daysOfWeek":["Monday","wednesday"],"firstDayOfWeek":"monday"},"range":{"type":"numbered","numberOfOccurrences":10}}`,
			"RRULE:FREQ=WEEKLY;INTERVAL=2;COUNT=10;BYDAY=MO,WE;WKST=MO"},
		{"weekly, Graph's default week start", timed,
			`{"pattern":{"type":"weekly","interval":1,"daysOfWeek":["friday"]},"range":{"type":"noEnd"}}`,
			"RRULE:FREQ=WEEKLY;BYDAY=FR;WKST=SU"},
		{"absoluteMonthly", timed,
			`{"pattern":{"type":"absoluteMonthly","interval":1,"dayOfMonth":15},"range":{"type":"noEnd"}}`,
			"RRULE:FREQ=MONTHLY;BYMONTHDAY=15"},
		{"absoluteMonthly on the 31st: the last day of shorter months", timed,
			`{"pattern":{"type":"absoluteMonthly","interval":1,"dayOfMonth":31},"range":{"type":"numbered","numberOfOccurrences":12}}`,
			"RRULE:FREQ=MONTHLY;COUNT=12;BYMONTHDAY=28,29,30,31;BYSETPOS=-1"},
		{"relativeMonthly, last Friday", timed,
			`{"pattern":{"type":"relativeMonthly","interval":1,"daysOfWeek":["friday"],"index":"last"},"range":{"type":"noEnd"}}`,
			"RRULE:FREQ=MONTHLY;BYDAY=FR;BYSETPOS=-1"},
		{"relativeMonthly, second weekday, every 2 months, index defaults", timed,
			`{"pattern":{"type":"relativeMonthly","interval":2,"daysOfWeek":["monday","tuesday","wednesday","thursday","friday"],"index":"second"},"range":{"type":"noEnd"}}`,
			"RRULE:FREQ=MONTHLY;INTERVAL=2;BYDAY=MO,TU,WE,TH,FR;BYSETPOS=2"},
		{"relativeMonthly without index is the first", timed,
			`{"pattern":{"type":"relativeMonthly","interval":1,"daysOfWeek":["sunday"]},"range":{"type":"noEnd"}}`,
			"RRULE:FREQ=MONTHLY;BYDAY=SU;BYSETPOS=1"},
		{"absoluteYearly", timed,
			`{"pattern":{"type":"absoluteYearly","interval":1,"month":7,"dayOfMonth":4},"range":{"type":"noEnd"}}`,
			"RRULE:FREQ=YEARLY;BYMONTH=7;BYMONTHDAY=4"},
		{"absoluteYearly on February 29, all day, end date", allDay,
			`{"pattern":{"type":"absoluteYearly","interval":1,"month":2,"dayOfMonth":29},"range":{"type":"endDate","startDate":"2024-02-29","endDate":"2040-01-01"}}`,
			"RRULE:FREQ=YEARLY;UNTIL=20400101;BYMONTH=2;BYMONTHDAY=28,29;BYSETPOS=-1"},
		{"relativeYearly, fourth Thursday of November", timed,
			`{"pattern":{"type":"relativeYearly","interval":1,"month":11,"daysOfWeek":["thursday"],"index":"fourth"},"range":{"type":"noEnd"}}`,
			"RRULE:FREQ=YEARLY;BYMONTH=11;BYDAY=TH;BYSETPOS=4"},
		{"endDate in an IANA zone: the end of that day there", timed,
			`{"pattern":{"type":"daily","interval":1},"range":{"type":"endDate","startDate":"2024-05-06","endDate":"2024-06-30","recurrenceTimeZone":"America/Los_Angeles"}}`,
			"RRULE:FREQ=DAILY;UNTIL=20240701T065959Z"},
		{"endDate in UTC", timed,
			`{"pattern":{"type":"daily","interval":1},"range":{"type":"endDate","startDate":"2024-05-06","endDate":"2024-06-30","recurrenceTimeZone":"UTC"}}`,
			"RRULE:FREQ=DAILY;UNTIL=20240630T235959Z"},
		// 16:00 UTC is 09:00 in Los Angeles: the last occurrence starts at
		// 2024-06-30T16:00Z, the next one a day later.
		{"endDate in a Windows zone: 12 hours after the last start", timed,
			`{"pattern":{"type":"weekly","interval":1,"daysOfWeek":["sunday"]},"range":{"type":"endDate","startDate":"2024-05-06","endDate":"2024-06-30","recurrenceTimeZone":"Pacific Standard Time"}}`,
			"RRULE:FREQ=WEEKLY;UNTIL=20240701T040000Z;BYDAY=SU;WKST=SU"},
		{"hourly is not a Graph pattern", timed, `{"pattern":{"type":"hourly"},"range":{"type":"noEnd"}}`, ""},
		{"unknown weekday", timed, `{"pattern":{"type":"weekly","daysOfWeek":["someday"]},"range":{"type":"noEnd"}}`, ""},
		{"unknown index", timed, `{"pattern":{"type":"relativeMonthly","daysOfWeek":["monday"],"index":"fifth"},"range":{"type":"noEnd"}}`, ""},
		{"relative without days", timed, `{"pattern":{"type":"relativeYearly","month":3},"range":{"type":"noEnd"}}`, ""},
		{"day of month 32", timed, `{"pattern":{"type":"absoluteMonthly","dayOfMonth":32},"range":{"type":"noEnd"}}`, ""},
		{"month 13", timed, `{"pattern":{"type":"absoluteYearly","month":13,"dayOfMonth":1},"range":{"type":"noEnd"}}`, ""},
		{"bad end date", timed, `{"pattern":{"type":"daily"},"range":{"type":"endDate","endDate":"soon"}}`, ""},
		{"numbered without a number", timed, `{"pattern":{"type":"daily"},"range":{"type":"numbered"}}`, ""},
		{"unknown range", timed, `{"pattern":{"type":"daily"},"range":{"type":"forever"}}`, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			item := `{"id":"m","type":"seriesMaster",` + tc.start + `,"recurrence":` + tc.json + `}`
			c, err := change("cal", json.RawMessage(item))
			if err != nil {
				t.Fatal(err)
			}
			if got := strings.Join(c.Event.Recurrence, "\n"); got != tc.want {
				t.Errorf("\n got %q\nwant %q", got, tc.want)
			}
		})
	}
}
