package calsync_test

import (
	"context"
	"fmt"
	"log"
	"time"

	gcal "google.golang.org/api/calendar/v3"

	"github.com/calsync/calsync"
	"github.com/calsync/calsync/google"
)

// Connect subscribes to a calendar's push notifications and runs its initial
// full sync: by the time it returns, the events the calendar already held
// are in the Store and OnChange has received them. The emulator, Engine and
// webhook server come from the package example's startLocal.
func ExampleEngine_Connect() {
	ctx := context.Background()
	l := startLocal()
	defer l.stop()

	// The calendar holds an event before calsync knows it.
	if _, err := l.emu.InsertEvent("alice@example.com", &gcal.Event{
		Summary: "Standup",
		Start:   &gcal.EventDateTime{Date: "2031-03-14"},
		End:     &gcal.EventDateTime{Date: "2031-03-15"},
	}); err != nil {
		log.Fatal(err)
	}

	cal := calsync.Calendar{ID: "alice/work", Provider: google.Name, AccountID: "alice", RemoteID: "alice@example.com"}
	sub, err := l.engine.Connect(ctx, cal, calsync.ConnectRequest{Address: l.hookURL})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("subscribed:", sub.Provider, sub.CalendarID, sub.Address == l.hookURL)

	select {
	case c := <-l.changes:
		fmt.Println("initial sync:", c.Op, c.Event.Summary)
	case <-time.After(10 * time.Second):
		fmt.Println("no change reached OnChange within 10 s")
	}
	// Output:
	// subscribed: google alice/work true
	// initial sync: upsert Standup
}

// A host that prefers to read the changes keeps a position (a
// FeedEntry.Seq) with its own data and asks for what came after it. The
// feed holds every change the Store committed, in commit order.
func ExampleEngine_ChangesSince() {
	ctx := context.Background()
	l := startLocal()
	defer l.stop()
	if _, err := l.emu.InsertEvent("alice@example.com", &gcal.Event{
		Summary: "Standup",
		Start:   &gcal.EventDateTime{Date: "2031-03-14"},
		End:     &gcal.EventDateTime{Date: "2031-03-15"},
	}); err != nil {
		log.Fatal(err)
	}
	cal := calsync.Calendar{ID: "alice/work", Provider: google.Name, AccountID: "alice", RemoteID: "alice@example.com"}
	if _, err := l.engine.Connect(ctx, cal, calsync.ConnectRequest{Address: l.hookURL}); err != nil {
		log.Fatal(err)
	}

	var position int64 // the host's, stored with the data it derives
	entries, next, err := l.engine.ChangesSince(ctx, position, 100)
	if err != nil {
		log.Fatal(err)
	}
	for _, e := range entries {
		fmt.Println(e.Seq, e.CalendarID, e.Change.Op, e.Change.Event.Summary, "version", e.Change.Event.Version)
	}
	position = next
	entries, _, _ = l.engine.ChangesSince(ctx, position, 100)
	fmt.Println("after position", position, "the feed holds", len(entries), "more")
	// Output:
	// 1 alice/work upsert Standup version 1
	// after position 1 the feed holds 0 more
}
