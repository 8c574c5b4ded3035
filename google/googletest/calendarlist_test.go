package googletest_test

import (
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"

	calendar "google.golang.org/api/calendar/v3"

	"github.com/calsync/calsync/google/googletest"
)

func listCalendars(t *testing.T, svc *calendar.Service, pageSize int64) ([]*calendar.CalendarListEntry, int) {
	t.Helper()
	var out []*calendar.CalendarListEntry
	pages := 0
	tok := ""
	for {
		call := svc.CalendarList.List().PageToken(tok)
		if pageSize > 0 {
			call.MaxResults(pageSize)
		}
		res, err := call.Do()
		if err != nil {
			t.Fatal(err)
		}
		pages++
		if res.Kind != "calendar#calendarList" || res.Etag == "" {
			t.Fatalf("page kind %q etag %q", res.Kind, res.Etag)
		}
		out = append(out, res.Items...)
		if tok = res.NextPageToken; tok == "" {
			return out, pages
		}
	}
}

func TestCalendarListEntries(t *testing.T) {
	srv, svc := newEnv(t, googletest.Config{})
	if err := srv.AddCalendar("team@group.calendar.google.com", "Europe/Berlin"); err != nil {
		t.Fatal(err)
	}
	if err := srv.SetCalendarInfo("team@group.calendar.google.com", googletest.CalendarInfo{
		Summary: "Team", SummaryOverride: "My team", BackgroundColor: "#16a765", AccessRole: "reader",
	}); err != nil {
		t.Fatal(err)
	}
	got, _ := listCalendars(t, svc, 0)
	if len(got) != 2 {
		t.Fatalf("%d entries, want 2", len(got))
	}
	p, o := got[0], got[1]
	if p.Kind != "calendar#calendarListEntry" || p.Id != calID || !p.Primary || p.AccessRole != "owner" ||
		p.Summary != calID || p.TimeZone != "America/Toronto" || p.BackgroundColor == "" || p.ColorId == "" || p.Etag == "" || !p.Selected {
		t.Fatalf("primary entry = %+v", p)
	}
	if o.Primary || o.Summary != "Team" || o.SummaryOverride != "My team" || o.BackgroundColor != "#16a765" ||
		o.AccessRole != "reader" || o.TimeZone != "Europe/Berlin" {
		t.Fatalf("second entry = %+v", o)
	}
	if o.Etag == p.Etag {
		t.Fatal("two entries share an etag")
	}

	one, err := svc.CalendarList.Get("team@group.calendar.google.com").Do()
	if err != nil {
		t.Fatal(err)
	}
	if one.SummaryOverride != "My team" {
		t.Fatalf("calendarList.get = %+v", one)
	}
	if one, err := svc.CalendarList.Get("primary").Do(); err != nil || one.Id != calID {
		t.Fatalf("calendarList.get(primary) = %+v, %v", one, err)
	}
	_, err = svc.CalendarList.Get("nobody@example.com").Do()
	apiErr(t, err, http.StatusNotFound, "notFound")

	// minAccessRole filters.
	res, err := svc.CalendarList.List().MinAccessRole("writer").Do()
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Items) != 1 || res.Items[0].Id != calID {
		t.Fatalf("minAccessRole=writer: %d items", len(res.Items))
	}

	// Deleted and revoked calendars leave the list.
	if err := srv.DeleteCalendar("team@group.calendar.google.com"); err != nil {
		t.Fatal(err)
	}
	if got, _ := listCalendars(t, svc, 0); len(got) != 1 {
		t.Fatalf("%d entries after delete, want 1", len(got))
	}
	if err := srv.AddCalendar("shared@example.com", ""); err != nil {
		t.Fatal(err)
	}
	if err := srv.RevokeCalendarAccess("shared@example.com", 0, ""); err != nil {
		t.Fatal(err)
	}
	if got, _ := listCalendars(t, svc, 0); len(got) != 1 {
		t.Fatalf("%d entries after revoke, want 1", len(got))
	}
}

func TestCalendarListPaging(t *testing.T) {
	srv, svc := newEnv(t, googletest.Config{})
	for i := range 104 {
		if err := srv.AddCalendar(fmt.Sprintf("c%03d@example.com", i), ""); err != nil {
			t.Fatal(err)
		}
	}
	// Default page size 100: two pages for 105 calendars.
	got, pages := listCalendars(t, svc, 0)
	if len(got) != 105 || pages != 2 {
		t.Fatalf("%d entries in %d pages, want 105 in 2", len(got), pages)
	}
	got, pages = listCalendars(t, svc, 10)
	if len(got) != 105 || pages != 11 {
		t.Fatalf("%d entries in %d pages, want 105 in 11", len(got), pages)
	}
	seen := map[string]bool{}
	for i, e := range got {
		if seen[e.Id] {
			t.Fatalf("%s listed twice", e.Id)
		}
		seen[e.Id] = true
		if (i == 0) != e.Primary {
			t.Fatalf("entry %d primary = %v", i, e.Primary)
		}
	}
	// maxResults above 250 is accepted (lowered to 250), not refused.
	if _, pages = listCalendars(t, svc, 1000); pages != 1 {
		t.Fatalf("%d pages with maxResults=1000", pages)
	}
	status, _, body := rawDo(t, srv, "GET", "users/me/calendarList", url.Values{"pageToken": {"garbage"}}, "")
	if status != http.StatusBadRequest || !strings.Contains(body, `"invalid"`) {
		t.Fatalf("garbage page token: %d %s", status, body)
	}
	status, _, _ = rawDo(t, srv, "GET", "users/me/calendarList", url.Values{"maxResults": {"0"}}, "")
	if status != http.StatusBadRequest {
		t.Fatalf("maxResults=0: %d", status)
	}
}

func TestSetCalendarInfoValidates(t *testing.T) {
	srv, _ := newEnv(t, googletest.Config{})
	for _, info := range []googletest.CalendarInfo{
		{BackgroundColor: "red"},
		{ForegroundColor: "#12345"},
		{AccessRole: "admin"},
	} {
		if err := srv.SetCalendarInfo(calID, info); err == nil {
			t.Errorf("SetCalendarInfo(%+v) = nil, want an error", info)
		}
	}
	if err := srv.SetCalendarInfo("nobody@example.com", googletest.CalendarInfo{}); err == nil {
		t.Error("SetCalendarInfo on an unknown calendar succeeded")
	}
}
