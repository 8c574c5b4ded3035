package googletest_test

import (
	"errors"
	"testing"
	"time"

	calendar "google.golang.org/api/calendar/v3"

	"github.com/calsync/calsync/google/googletest"
)

// A deleted calendar answers 404 notFound to everything and notifies
// nobody.
func TestDeleteCalendar(t *testing.T) {
	rc := newReceiver(t)
	srv, svc := newEnv(t, googletest.Config{PushClient: rc.srv.Client()})
	ev := insert(t, svc, timedEvent("e", t0, time.Hour))
	_, tok := fullList(t, svc, false, 250)
	watch(t, svc, "c", rc.srv.URL, "")
	waitIdle(t, srv)
	if err := srv.DeleteCalendar(calID); err != nil {
		t.Fatal(err)
	}
	_, err := svc.Events.List(calID).Do()
	apiErr(t, err, 404, "notFound")
	_, err = svc.Events.List(calID).SyncToken(tok).Do()
	apiErr(t, err, 404, "notFound")
	_, err = svc.Events.List("primary").Do()
	apiErr(t, err, 404, "notFound")
	_, err = svc.Events.Watch(calID, &calendar.Channel{Id: "d", Type: "web_hook", Address: rc.srv.URL}).Do()
	apiErr(t, err, 404, "notFound")
	_, err = svc.Events.Get(calID, ev.Id).Do()
	apiErr(t, err, 404, "notFound")
	if _, err := srv.InsertEvent(calID, timedEvent("x", t0, time.Hour)); !errors.Is(err, googletest.ErrCalendarNotFound) {
		t.Fatalf("InsertEvent on a deleted calendar: %v", err)
	}
	if _, err := srv.Events(calID, false); !errors.Is(err, googletest.ErrCalendarNotFound) {
		t.Fatalf("Events of a deleted calendar: %v", err)
	}
	if err := srv.AddCalendar(calID, "UTC"); err == nil {
		t.Fatal("a deleted calendar's id was added again")
	}
	if err := srv.DeleteCalendar(calID); !errors.Is(err, googletest.ErrCalendarNotFound) {
		t.Fatalf("second DeleteCalendar: %v", err)
	}
	if got := srv.RequestCount(googletest.OpEventsList, calID); got != 3 {
		t.Fatalf("RequestCount = %d, want the 404s logged too", got)
	}
}

// Revoked access answers every request on the calendar with the chosen
// error and silences its channels until restored; other calendars work.
func TestRevokeCalendarAccess(t *testing.T) {
	for _, tc := range []struct {
		status     int
		reason     string
		wantStatus int
		wantReason string
		wantBody   string
	}{
		{0, "", 404, "notFound", `{"error":{"errors":[{"domain":"global","reason":"notFound","message":"Not Found"}],"code":404,"message":"Not Found"}}`},
		{403, "", 403, "forbidden", `{"error":{"errors":[{"domain":"global","reason":"forbidden","message":"Forbidden"}],"code":403,"message":"Forbidden"}}`},
		{403, "requiredAccessLevel", 403, "requiredAccessLevel", `{"error":{"errors":[{"domain":"calendar","reason":"requiredAccessLevel","message":"You need to have reader access to this calendar."}],"code":403,"message":"You need to have reader access to this calendar."}}`},
	} {
		t.Run(tc.wantReason, func(t *testing.T) {
			rc := newReceiver(t)
			srv, svc := newEnv(t, googletest.Config{PushClient: rc.srv.Client(), Exact: true})
			if err := srv.AddCalendar("other@example.com", "UTC"); err != nil {
				t.Fatal(err)
			}
			ch := watch(t, svc, "c", rc.srv.URL, "")
			waitIdle(t, srv)
			if err := srv.RevokeCalendarAccess(calID, tc.status, tc.reason); err != nil {
				t.Fatal(err)
			}
			_, err := svc.Events.List(calID).Do()
			if gerr := apiErr(t, err, tc.wantStatus, tc.wantReason); gerr.Body != tc.wantBody {
				t.Fatalf("body\n got %s\nwant %s", gerr.Body, tc.wantBody)
			}
			_, err = svc.Events.Watch(calID, &calendar.Channel{Id: "d", Type: "web_hook", Address: rc.srv.URL}).Do()
			apiErr(t, err, tc.wantStatus, tc.wantReason)
			_, err = svc.Events.Insert(calID, timedEvent("x", t0, time.Hour)).Do()
			apiErr(t, err, tc.wantStatus, tc.wantReason)
			if _, err := svc.Events.List("other@example.com").Do(); err != nil {
				t.Fatalf("another calendar refused: %v", err)
			}
			// The owner still changes it; the client hears nothing.
			if _, err := srv.InsertEvent(calID, timedEvent("by the owner", t0, time.Hour)); err != nil {
				t.Fatal(err)
			}
			waitIdle(t, srv)
			if n := len(rc.requests()); n != 1 {
				t.Fatalf("%d requests at the receiver, want only sync", n)
			}
			if err := srv.RestoreCalendarAccess(calID); err != nil {
				t.Fatal(err)
			}
			items, _ := fullList(t, svc, false, 250)
			if len(items) != 1 {
				t.Fatalf("after restore: %d events, want the owner's", len(items))
			}
			if _, err := srv.InsertEvent(calID, timedEvent("after restore", t0, time.Hour)); err != nil {
				t.Fatal(err)
			}
			waitIdle(t, srv)
			if n := len(rc.requests()); n != 2 {
				t.Fatalf("%d requests at the receiver after restore, want sync + 1", n)
			}
			if err := svc.Channels.Stop(&calendar.Channel{Id: ch.Id, ResourceId: ch.ResourceId}).Do(); err != nil {
				t.Fatal(err)
			}
		})
	}
	srv, _ := newEnv(t, googletest.Config{})
	if err := srv.RevokeCalendarAccess("nobody@example.com", 0, ""); !errors.Is(err, googletest.ErrCalendarNotFound) {
		t.Fatalf("RevokeCalendarAccess of an unknown calendar: %v", err)
	}
	if err := srv.RestoreCalendarAccess("nobody@example.com"); !errors.Is(err, googletest.ErrCalendarNotFound) {
		t.Fatalf("RestoreCalendarAccess of an unknown calendar: %v", err)
	}
}
