package googletest_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"net/http"
	"net/http/httptest"

	calendar "google.golang.org/api/calendar/v3"
	"google.golang.org/api/googleapi"
	"google.golang.org/api/option"

	"github.com/calsync/calsync/google/googletest"
)

// The official client syncs against the emulator: a full list, then an
// incremental one with the sync token, and a 410 once tokens expire. (By
// default an expired token gets 400 or 410 at random, as from Google;
// StaleToken410 always answers 410.)
func Example() {
	srv := googletest.NewServer(googletest.Config{StaleSyncToken: googletest.StaleToken410})
	defer srv.Close()
	if err := srv.AddCalendar("alice@example.com", "Europe/Berlin"); err != nil {
		log.Fatal(err)
	}
	ctx := context.Background()
	svc, err := calendar.NewService(ctx, option.WithEndpoint(srv.Endpoint()), option.WithHTTPClient(srv.Client()))
	if err != nil {
		log.Fatal(err)
	}

	_, err = svc.Events.Insert("primary", &calendar.Event{
		Summary: "Planning",
		Start:   &calendar.EventDateTime{DateTime: "2026-03-02T10:00:00+01:00"},
		End:     &calendar.EventDateTime{DateTime: "2026-03-02T11:00:00+01:00"},
	}).Do()
	if err != nil {
		log.Fatal(err)
	}
	full, err := svc.Events.List("primary").Do()
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("full sync:", len(full.Items), full.Items[0].Summary)

	if err := svc.Events.Delete("primary", full.Items[0].Id).Do(); err != nil {
		log.Fatal(err)
	}
	inc, err := svc.Events.List("primary").SyncToken(full.NextSyncToken).Do()
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("incremental:", len(inc.Items), inc.Items[0].Status)

	_ = srv.ExpireSyncTokens("primary")
	_, err = svc.Events.List("primary").SyncToken(inc.NextSyncToken).Do()
	var gerr *googleapi.Error
	if errors.As(err, &gerr) {
		fmt.Println("expired:", gerr.Code, gerr.Errors[0].Reason)
	}
	// Output:
	// full sync: 1 Planning
	// incremental: 1 cancelled
	// expired: 410 fullSyncRequired
}

// Notifications go to an HTTPS receiver; WaitIdle replaces sleeping.
func ExampleServer_WaitIdle() {
	receiver := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Println(r.Header.Get("X-Goog-Resource-State"), r.Header.Get("X-Goog-Channel-Id"))
	}))
	defer receiver.Close()

	// By default one change sends 1 to 3 pushes; MaxPushesPerChange 1
	// sends exactly one.
	srv := googletest.NewServer(googletest.Config{PushClient: receiver.Client(), MaxPushesPerChange: 1})
	defer srv.Close()
	_ = srv.AddCalendar("alice@example.com", "UTC")
	svc, err := calendar.NewService(context.Background(), option.WithEndpoint(srv.Endpoint()), option.WithHTTPClient(srv.Client()))
	if err != nil {
		log.Fatal(err)
	}
	if _, err := svc.Events.Watch("primary", &calendar.Channel{Id: "chan-1", Type: "web_hook", Address: receiver.URL}).Do(); err != nil {
		log.Fatal(err)
	}
	if err := srv.WaitIdle(context.Background()); err != nil {
		log.Fatal(err)
	}
	if _, err := srv.InsertEvent("alice@example.com", &calendar.Event{
		Start: &calendar.EventDateTime{Date: "2026-03-02"},
		End:   &calendar.EventDateTime{Date: "2026-03-03"},
	}); err != nil {
		log.Fatal(err)
	}
	if err := srv.WaitIdle(context.Background()); err != nil {
		log.Fatal(err)
	}
	// Output:
	// sync chan-1
	// exists chan-1
}

// Faults reproduce what Google answers under load.
func ExampleServer_FailNext() {
	srv := googletest.NewServer(googletest.Config{})
	defer srv.Close()
	_ = srv.AddCalendar("alice@example.com", "UTC")
	svc, _ := calendar.NewService(context.Background(), option.WithEndpoint(srv.Endpoint()), option.WithHTTPClient(srv.Client()))

	srv.FailNext(1, http.StatusTooManyRequests, "rateLimitExceeded")
	_, err := svc.Events.List("primary").Do()
	var gerr *googleapi.Error
	errors.As(err, &gerr)
	fmt.Println(gerr.Body)
	_, err = svc.Events.List("primary").Do()
	fmt.Println(err)
	// Output:
	// {"error":{"errors":[{"domain":"usageLimits","reason":"rateLimitExceeded","message":"Rate Limit Exceeded"}],"code":429,"message":"Rate Limit Exceeded"}}
	// <nil>
}
