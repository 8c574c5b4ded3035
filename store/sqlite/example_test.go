package sqlite_test

import (
	"context"
	"fmt"
	"log"
	"os"
	"path/filepath"
	"time"

	"github.com/calsync/calsync"
	"github.com/calsync/calsync/store/sqlite"
)

func Example() {
	ctx := context.Background()
	dir, err := os.MkdirTemp("", "calsync-example-")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)

	st, err := sqlite.Open(ctx, filepath.Join(dir, "calsync.db"), nil)
	if err != nil {
		log.Fatal(err)
	}
	defer st.Close()

	cal := calsync.Calendar{ID: "user-42/primary", Provider: "google", AccountID: "user-42", RemoteID: "primary"}
	if err := st.PutCalendar(ctx, cal); err != nil {
		log.Fatal(err)
	}
	t := time.Date(2031, 3, 14, 9, 0, 0, 0, time.UTC)
	ev := func(id string, updated time.Time) calsync.Change {
		return calsync.Change{Op: calsync.Upsert, EventID: id, Event: &calsync.Event{ID: id, Summary: "Standup", Updated: updated}}
	}
	// One page and its cursor, in one transaction.
	res, err := st.Apply(ctx, cal.ID, &calsync.Batch{
		Changes: []calsync.Change{ev("a", t), ev("b", t)},
		State:   calsync.SyncState{Cursor: "sync-token-1"},
	})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("applied", len(res.Applied), "stale", res.Stale)

	// A late, older delivery of "a" is skipped: last write wins.
	res, err = st.Apply(ctx, cal.ID, &calsync.Batch{
		Changes: []calsync.Change{ev("a", t.Add(-time.Hour))},
		State:   calsync.SyncState{Cursor: "sync-token-2"},
	})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("applied", len(res.Applied), "stale", res.Stale)

	state, _ := st.SyncState(ctx, cal.ID)
	events, _ := st.ListEvents(ctx, cal.ID, "", 10)
	fmt.Println("cursor", state.Cursor, "events", len(events))
	// Output:
	// applied 2 stale 0
	// applied 0 stale 1
	// cursor sync-token-2 events 2
}
