package sqlite_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/calsync/calsync"
	"github.com/calsync/calsync/store/sqlite"
)

// BenchmarkNotificationPath is the Store work of one notification of an
// incremental sync that brings one changed event: the ledger claim, the
// calendar and subscription lookups, the sync state read, and one Apply
// (Expect, one upsert, its feed row, the ledger entry completed and the
// attempt cleared in its transaction). "prepared" is the Store as it
// opens; "plain" the same Store with every statement parsed at each call
// (sqlite.WithoutPrepared), the baseline measured in the same run.
func BenchmarkNotificationPath(b *testing.B) {
	for _, mode := range []string{"prepared", "plain"} {
		b.Run(mode, func(b *testing.B) {
			s := open(b)
			if mode == "plain" {
				sqlite.WithoutPrepared(s)
			}
			ctx := b.Context()
			cal := calsync.Calendar{ID: "bench", Provider: "google", AccountID: "a", RemoteID: "bench@example.com"}
			if err := s.PutCalendar(ctx, cal); err != nil {
				b.Fatal(err)
			}
			if err := s.PutSubscription(ctx, calsync.Subscription{ID: "sub", CalendarID: cal.ID, Provider: "google",
				Expiration: time.Now().Add(time.Hour), Created: time.Now()}); err != nil {
				b.Fatal(err)
			}
			base := time.Date(2031, 1, 1, 0, 0, 0, 0, time.UTC)
			state := calsync.SyncState{Cursor: "c0"}
			if _, err := s.Apply(ctx, cal.ID, &calsync.Batch{State: state}); err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			for i := 0; b.Loop(); i++ {
				key := fmt.Sprintf("google|m%d", i)
				if _, err := s.BeginNotification(ctx, key, base); err != nil {
					b.Fatal(err)
				}
				if _, err := s.Subscription(ctx, "sub"); err != nil {
					b.Fatal(err)
				}
				if _, err := s.Calendar(ctx, cal.ID); err != nil {
					b.Fatal(err)
				}
				st, err := s.SyncState(ctx, cal.ID)
				if err != nil {
					b.Fatal(err)
				}
				id := fmt.Sprintf("e%d", i%100)
				ev := &calsync.Event{ID: id, Status: "confirmed", Summary: "x", ETag: fmt.Sprint(i),
					Updated: base.Add(time.Duration(i) * time.Second), Raw: []byte(`{"id":"` + id + `"}`)}
				next := calsync.SyncState{Cursor: fmt.Sprintf("c%d", i+1), LastSync: base}
				ar, err := s.Apply(ctx, cal.ID, &calsync.Batch{
					Changes:  []calsync.Change{{Op: calsync.Upsert, EventID: id, Event: ev}},
					State:    next,
					Expect:   &st,
					Complete: &calsync.Completion{Notifications: []string{key}, ClearAttempt: "google|bench|sync", At: base},
				})
				if err != nil {
					b.Fatal(err)
				}
				if len(ar.Applied) != 1 || !ar.Completed {
					b.Fatalf("Apply: %d applied, completed %v", len(ar.Applied), ar.Completed)
				}
			}
		})
	}
}
