package msgraphtest_test

import (
	"fmt"
	"time"

	"github.com/calsync/calsync/msgraph/msgraphtest"
)

// A weekly series with one moved and one cancelled occurrence, as a fresh
// calendarView (and so a fully synced client) sees it.
func ExampleServer_Events() {
	srv := msgraphtest.NewServer(msgraphtest.Config{})
	defer srv.Close()
	srv.AddUser("alice")

	start := time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC) // a Monday
	_, err := srv.CreateEvent("alice", "", msgraphtest.Event{
		Subject: "standup", Start: start, End: start.Add(15 * time.Minute),
		Recurrence: &msgraphtest.PatternedRecurrence{
			Pattern: msgraphtest.RecurrencePattern{Type: "weekly", DaysOfWeek: []string{"monday"}},
			Range:   msgraphtest.RecurrenceRange{Type: "numbered", NumberOfOccurrences: 4},
		},
	})
	if err != nil {
		panic(err)
	}
	window := func() []msgraphtest.Event {
		evs, _ := srv.Events("alice", "", start, start.Add(30*24*time.Hour))
		return evs
	}
	occ := window()
	moved := occ[1]
	moved.Start, moved.End = moved.Start.Add(time.Hour), moved.End.Add(time.Hour)
	if _, err := srv.UpdateEvent("alice", "", moved.ID, moved); err != nil {
		panic(err)
	}
	if err := srv.DeleteEvent("alice", "", occ[2].ID); err != nil {
		panic(err)
	}
	for _, ev := range window() {
		fmt.Println(ev.Start.Format("Jan 2 15:04"), ev.Type)
	}
	// Output:
	// Mar 2 10:00 occurrence
	// Mar 9 11:00 exception
	// Mar 23 10:00 occurrence
}
