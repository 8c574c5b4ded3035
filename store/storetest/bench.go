package storetest

import (
	"fmt"
	"testing"
	"time"

	"github.com/calsync/calsync"
)

// Sizes of the benchmarks: a sync of BenchEvents changes applied in pages of
// BenchPageSize.
const (
	BenchEvents   = 10000
	BenchPageSize = 250
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
	batches := func(cal string, n int, gen int64) []*calsync.Batch { return benchPages(cal, n, gen) }
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
			bs := batches(cal, 1, 0)
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
		applyAll(b, s, cal, batches(cal, 1, 0))
		n := 1
		for b.Loop() {
			b.StopTimer()
			n++
			bs := batches(cal, n, 0)
			b.StartTimer()
			applyAll(b, s, cal, bs)
		}
		report(b, BenchEvents)
	})
	b.Run("FullResync", func(b *testing.B) {
		s := newStore(b)
		cal := newCal(b, s, "resync")
		applyAll(b, s, cal, batches(cal, 1, 0))
		var gen int64
		for b.Loop() {
			b.StopTimer()
			gen++
			bs := batches(cal, 1, gen)
			b.StartTimer()
			applyAll(b, s, cal, bs)
		}
		report(b, BenchEvents)
	})
	b.Run("ListEvents", func(b *testing.B) {
		s := newStore(b)
		cal := newCal(b, s, "list")
		applyAll(b, s, cal, batches(cal, 1, 0))
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

func timeStep(n int) time.Duration { return time.Duration(n) * time.Microsecond }

// BenchPages returns the pages of the sync that [Bench] applies: BenchEvents
// upserts of new or changed events in pages of BenchPageSize, each event's
// Updated at step n (a larger n is newer), the last page carrying a cursor.
// Benchmarks of a baseline (a raw database upsert) write the same rows with
// it.
func BenchPages(calendarID string, n int) []*calsync.Batch { return benchPages(calendarID, n, 0) }

// benchPages builds the pages of one sync writing events with Updated step
// n; a non-zero gen makes it a full sync that sweeps on its last page.
func benchPages(cal string, n int, gen int64) []*calsync.Batch {
	h := &harness{f: Features{}.withDefaults()}
	var out []*calsync.Batch
	for i := 0; i < BenchEvents; i += BenchPageSize {
		bt := &calsync.Batch{Generation: gen, State: calsync.SyncState{PageToken: fmt.Sprint(i), Generation: gen}}
		for j := i; j < min(BenchEvents, i+BenchPageSize); j++ {
			e := h.ev(cal, fmt.Sprintf("event-%06d", (j*7919)%BenchEvents), base.Add(timeStep(n)), fmt.Sprint(n))
			bt.Changes = append(bt.Changes, upsert(e))
		}
		out = append(out, bt)
	}
	if gen != 0 {
		out[len(out)-1].Sweep = true
	}
	out[len(out)-1].State = calsync.SyncState{Cursor: "cursor"}
	return out
}
