package googletest_test

import (
	"slices"
	"testing"
	"time"

	calendar "google.golang.org/api/calendar/v3"

	"github.com/calsync/calsync/google/googletest"
)

// The request log records every API call with its operation, calendar and
// answer, so tests count calls without a proxy.
func TestRequestLog(t *testing.T) {
	clock := newClock()
	srv, svc := newEnv(t, googletest.Config{Now: clock.Now})
	if err := srv.AddCalendar("bob@example.com", "UTC"); err != nil {
		t.Fatal(err)
	}
	if got := srv.Requests(); len(got) != 0 {
		t.Fatalf("fresh server logged %+v", got)
	}
	if _, err := svc.Events.List(calID).Do(); err != nil {
		t.Fatal(err)
	}
	clock.Advance(time.Minute)
	if _, err := svc.Events.List("bob@example.com").Do(); err != nil {
		t.Fatal(err)
	}
	srv.Fail(googletest.Fault{Op: googletest.OpEventsList, CalendarID: calID, Status: 503})
	_, err := svc.Events.List(calID).Do()
	apiErr(t, err, 503, "backendError")
	ch, err := svc.Events.Watch("primary", &calendar.Channel{Id: "c", Type: "web_hook", Address: "https://x.example/h"}).Do()
	if err != nil {
		t.Fatal(err)
	}
	if err := svc.Channels.Stop(&calendar.Channel{Id: ch.Id, ResourceId: ch.ResourceId}).Do(); err != nil {
		t.Fatal(err)
	}
	_, err = newService(t, srv, "").Events.List(calID).Do() // no token: 401
	apiErr(t, err, 401, "authError")
	_, err = svc.Events.Get(calID, "nosuchevent").Do()
	apiErr(t, err, 404, "notFound")

	t0 := newClock().Now()
	want := []googletest.Request{
		{Op: googletest.OpEventsList, CalendarID: calID, Status: 200, Time: t0},
		{Op: googletest.OpEventsList, CalendarID: "bob@example.com", Status: 200, Time: t0.Add(time.Minute)},
		{Op: googletest.OpEventsList, CalendarID: calID, Status: 503, Time: t0.Add(time.Minute)},
		{Op: googletest.OpEventsWatch, CalendarID: "primary", Status: 200, Time: t0.Add(time.Minute)},
		{Op: googletest.OpChannelsStop, CalendarID: "", Status: 204, Time: t0.Add(time.Minute)},
		{Op: googletest.OpEventsList, CalendarID: calID, Status: 401, Time: t0.Add(time.Minute)},
		{Op: googletest.OpEventsGet, CalendarID: calID, Status: 404, Time: t0.Add(time.Minute)},
	}
	if got := srv.Requests(); !slices.Equal(got, want) {
		t.Fatalf("Requests =\n %+v\nwant\n %+v", got, want)
	}
	for _, tc := range []struct {
		op, cal string
		want    int
	}{
		{googletest.OpEventsList, calID, 3},
		{googletest.OpEventsList, "bob@example.com", 1},
		{googletest.OpEventsList, "", 4},
		{"", calID, 4},
		{googletest.OpEventsWatch, "", 1},
		{googletest.OpChannelsStop, "", 1},
		{"", "", 7},
		{googletest.OpEventsInsert, "", 0},
	} {
		if got := srv.RequestCount(tc.op, tc.cal); got != tc.want {
			t.Errorf("RequestCount(%q, %q) = %d, want %d", tc.op, tc.cal, got, tc.want)
		}
	}
	// Unknown routes are not operations.
	rawDo(t, srv, "GET", "users/me/settings", nil, "")
	if got := srv.RequestCount("", ""); got != 7 {
		t.Errorf("unknown route logged: %d requests", got)
	}
	// The log is a copy.
	srv.Requests()[0].Op = "mutated"
	if srv.Requests()[0].Op != googletest.OpEventsList {
		t.Error("Requests leaked the log")
	}
}
