package googletest_test

import (
	"net/url"
	"testing"

	"github.com/calsync/calsync/google/googletest"
)

// FuzzListTokens: whatever a client sends as syncToken or pageToken, the
// answer is 200, 400 or 410, never a server error.
func FuzzListTokens(f *testing.F) {
	srv := googletest.NewServer(googletest.Config{})
	f.Cleanup(srv.Close)
	_ = srv.AddCalendar(calID, "UTC")
	f.Add("", "")
	f.Add("CPDAlvWDx70CEPDAlvWDx70CGAU=", "")
	f.Add("", "CiAKGjBpNDd2Nmp2Zml2cXRwYjBpOXA")
	f.Add("UwAAAAAAAAAA", "UAAAAAAAAAAA")
	f.Fuzz(func(t *testing.T, syncToken, pageToken string) {
		q := url.Values{}
		if syncToken != "" {
			q.Set("syncToken", syncToken)
		}
		if pageToken != "" {
			q.Set("pageToken", pageToken)
		}
		status, _, body := rawDo(t, srv, "GET", "calendars/"+url.PathEscape(calID)+"/events", q, "")
		if status != 200 && status != 400 && status != 410 {
			t.Fatalf("status %d: %s", status, body)
		}
	})
}

// FuzzInsertBody: malformed event bodies are 4xx, never a server error.
func FuzzInsertBody(f *testing.F) {
	srv := googletest.NewServer(googletest.Config{})
	f.Cleanup(srv.Close)
	_ = srv.AddCalendar(calID, "UTC")
	f.Add(`{"start":{"date":"2026-03-02"},"end":{"date":"2026-03-03"}}`)
	f.Add(`{"start":{"dateTime":"2026-03-02T10:00:00","timeZone":"Europe/Berlin"},"end":{"dateTime":"2026-03-02T11:00:00","timeZone":"Europe/Berlin"},"recurrence":["RRULE:FREQ=WEEKLY;BYDAY=MO,TU;INTERVAL=2;UNTIL=20260501T000000Z","EXDATE;TZID=Europe/Berlin:20260303T100000"]}`)
	f.Add(`{"start":{"date":"2026-03-02"},"end":{"date":"2026-03-03"},"recurrence":["RRULE:FREQ=DAILY;BYDAY=SA;COUNT=3"]}`)
	f.Add(`{"id":"abcde","start":{"date":"2026-13-02"}}`)
	f.Fuzz(func(t *testing.T, body string) {
		status, _, resp := rawDo(t, srv, "POST", "calendars/"+url.PathEscape(calID)+"/events", nil, body)
		if status >= 500 {
			t.Fatalf("status %d for %q: %s", status, body, resp)
		}
	})
}
