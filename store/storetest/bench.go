package storetest

import (
	"fmt"
	"testing"

	"github.com/calsync/calsync"
	"github.com/calsync/calsync/store/internal/fixture"
)

// Sizes of the benchmarks: a sync of BenchEvents changes applied in pages of
// BenchPageSize.
const (
	BenchEvents   = fixture.SyncEvents
	BenchPageSize = fixture.SyncPageSize
)

// Bench runs the store benchmarks as sub-benchmarks of b, each with a
// Store from newStore:
//
//   - Insert: a sync of BenchEvents new events, BenchEvents/BenchPageSize
//     batches into a new calendar.
//   - Update: the same events again, each newer than the stored one.
//   - FullResync: a full sync (Generation set, Sweep on the last page) that
//     finds every event unchanged.
//   - ListEvents: paging through the calendar, BenchPageSize at a time.
//
// Each reports changes/s (events/s for ListEvents), so that runs of
// different stores in one `go test -bench` compare directly. Setup that is
// not the measured operation runs with the timer stopped.
func Bench(b *testing.B, newStore func(b *testing.B) calsync.Store) {
	run := randomHex(4)
	applyAll := func(b *testing.B, s calsync.Store, cal string, bs []*calsync.Batch) {
		for _, bt := range bs {
			if _, err := s.Apply(b.Context(), cal, bt); err != nil {
				b.Fatalf("Apply: %v", err)
			}
		}
	}
	newCal := func(b *testing.B, s calsync.Store, name string) string {
		id := fmt.Sprintf("storetest-bench-%s-%s", run, name)
		if err := s.PutCalendar(b.Context(), calsync.Calendar{ID: id, Provider: "google"}); err != nil {
			b.Fatalf("PutCalendar: %v", err)
		}
		return id
	}
	report := func(b *testing.B, n int) {
		b.ReportMetric(float64(n)*float64(b.N)/b.Elapsed().Seconds(), "changes/s")
	}

	b.Run("Insert", func(b *testing.B) {
		s := newStore(b)
		n := 0
		for b.Loop() {
			b.StopTimer()
			n++
			cal := newCal(b, s, fmt.Sprintf("insert-%d", n))
			bs := fixture.Sync(cal, 1, 0)
			b.StartTimer()
			applyAll(b, s, cal, bs)
			b.StopTimer()
			if err := s.DeleteCalendar(b.Context(), cal); err != nil {
				b.Fatalf("DeleteCalendar: %v", err)
			}
			b.StartTimer()
		}
		report(b, BenchEvents)
	})
	b.Run("Update", func(b *testing.B) {
		s := newStore(b)
		cal := newCal(b, s, "update")
		applyAll(b, s, cal, fixture.Sync(cal, 1, 0))
		n := 1
		for b.Loop() {
			b.StopTimer()
			n++
			bs := fixture.Sync(cal, n, 0)
			b.StartTimer()
			applyAll(b, s, cal, bs)
		}
		report(b, BenchEvents)
	})
	b.Run("FullResync", func(b *testing.B) {
		s := newStore(b)
		cal := newCal(b, s, "resync")
		applyAll(b, s, cal, fixture.Sync(cal, 1, 0))
		var gen int64
		for b.Loop() {
			b.StopTimer()
			gen++
			bs := fixture.Sync(cal, 1, gen)
			b.StartTimer()
			applyAll(b, s, cal, bs)
		}
		report(b, BenchEvents)
	})
	b.Run("ListEvents", func(b *testing.B) {
		s := newStore(b)
		cal := newCal(b, s, "list")
		applyAll(b, s, cal, fixture.Sync(cal, 1, 0))
		for b.Loop() {
			after, seen := "", 0
			for {
				page, err := s.ListEvents(b.Context(), cal, after, BenchPageSize)
				if err != nil {
					b.Fatalf("ListEvents: %v", err)
				}
				if len(page) == 0 {
					break
				}
				seen += len(page)
				if seen > BenchEvents {
					b.Fatalf("ListEvents returned more than the %d events stored", BenchEvents)
				}
				after = page[len(page)-1].ID
			}
			if seen != BenchEvents {
				b.Fatalf("ListEvents paged through %d events, want %d", seen, BenchEvents)
			}
		}
		report(b, BenchEvents)
	})
}
