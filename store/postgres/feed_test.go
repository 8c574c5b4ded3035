package postgres_test

import (
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/calsync/calsync"
	"github.com/calsync/calsync/store/internal/fixture"
	"github.com/calsync/calsync/store/postgres"
	"github.com/calsync/calsync/store/storetest"
)

// BenchmarkApplyFeed measures what the change feed costs Apply, one Apply
// at a time: storetest's benchmarks (syncs of 10,000 changes in pages of
// 250) with the feed, and without it (the baseline), in one run.
func BenchmarkApplyFeed(b *testing.B) {
	for _, mode := range []string{"feed", "nofeed"} {
		b.Run(mode, func(b *testing.B) {
			storetest.Bench(b, func(b *testing.B) calsync.Store {
				s := newStore(b)
				if mode == "nofeed" {
					postgres.WithoutFeed(s)
				}
				return s
			})
		})
	}
}

// BenchmarkApplyFeedParallel measures what the feed's counter costs
// concurrent Applies: the end of every Apply (the feed statement and the
// commit) holds the counter's lock, so Applies of different calendars,
// which otherwise run in parallel, queue there. Each of 4×GOMAXPROCS
// goroutines updates 10 (or 250, a full page) events of a calendar of its
// own per Apply; ns/op is per Apply, with the feed and without it, in one
// run.
func BenchmarkApplyFeedParallel(b *testing.B) {
	for _, events := range []int{10, 250} {
		for _, mode := range []string{"feed", "nofeed"} {
			b.Run(fmt.Sprintf("events=%d/%s", events, mode), func(b *testing.B) { applyParallel(b, events, mode == "nofeed") })
		}
	}
}

func applyParallel(b *testing.B, events int, noFeed bool) {
	s := newStore(b)
	if noFeed {
		postgres.WithoutFeed(s)
	}
	var next atomic.Int64
	b.SetParallelism(4)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		cal := fmt.Sprintf("parallel-%d", next.Add(1))
		if err := s.PutCalendar(b.Context(), calsync.Calendar{ID: cal, Provider: "google"}); err != nil {
			b.Error(err)
			return
		}
		for n := 1; pb.Next(); n++ {
			bt := &calsync.Batch{}
			for i := range events {
				e := fixture.Event(cal, fmt.Sprintf("e%03d", i), fixture.Base.Add(time.Duration(n)*time.Microsecond), fmt.Sprint(n))
				bt.Changes = append(bt.Changes, calsync.Change{Op: calsync.Upsert, EventID: e.ID, Event: e})
			}
			if _, err := s.Apply(b.Context(), cal, bt); err != nil {
				b.Error(err)
				return
			}
		}
	})
}
