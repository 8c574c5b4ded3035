package sqlite_test

import (
	"context"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/calsync/calsync"
	"github.com/calsync/calsync/store/sqlite"
	"github.com/calsync/calsync/store/storetest"
)

// The feed and consumer positions are in the file: a reopened Store (a
// restarted process) reads them.
func TestFeedPersists(t *testing.T) {
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "feed.db")
	s := openPath(t, path)
	if err := s.PutCalendar(ctx, calsync.Calendar{ID: "c", Provider: "google"}); err != nil {
		t.Fatal(err)
	}
	ev := &calsync.Event{ID: "e", Status: "confirmed", Updated: time.Unix(1, 2), Raw: []byte(`{"id": "e"}`)}
	res, err := s.Apply(ctx, "c", &calsync.Batch{Changes: []calsync.Change{{Op: calsync.Upsert, EventID: "e", Event: ev}}})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.AckPosition(ctx, "host", res.Seq); err != nil {
		t.Fatal(err)
	}
	s.Close()

	s = openPath(t, path)
	defer s.Close()
	es, err := s.ChangesSince(ctx, 0, 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(es) != 1 || es[0].Seq != res.Seq || es[0].Change.Event == nil || es[0].Change.Event.Version != 1 || string(es[0].Change.Event.Raw) != `{"id": "e"}` {
		t.Errorf("feed after reopening = %+v, want the upsert of e, version 1, Seq %d", es, res.Seq)
	}
	if p, err := s.ConsumerPosition(ctx, "host"); err != nil || p != res.Seq {
		t.Errorf("ConsumerPosition after reopening = %d, %v; want %d", p, err, res.Seq)
	}
}

// twoHandles is one database file opened twice, as two processes would
// open it: Applies alternate between the handles, so that the suite's
// concurrent feed writers and readers cross connections.
type twoHandles struct {
	*sqlite.Store
	other *sqlite.Store
	n     *atomic.Int64
}

func (t twoHandles) Apply(ctx context.Context, calendarID string, b *calsync.Batch) (*calsync.ApplyResult, error) {
	if t.n.Add(1)%2 == 0 {
		return t.other.Apply(ctx, calendarID, b)
	}
	return t.Store.Apply(ctx, calendarID, b)
}

func TestConformanceTwoHandles(t *testing.T) {
	storetest.Run(t, func(t *testing.T) calsync.Store {
		path := filepath.Join(t.TempDir(), "calsync.db")
		a, b := openPath(t, path), openPath(t, path)
		t.Cleanup(func() { a.Close(); b.Close() })
		return twoHandles{a, b, new(atomic.Int64)}
	}, storetest.Features{TimePrecision: 1})
}

// BenchmarkApplyFeed measures what the change feed costs Apply:
// storetest's benchmarks (syncs of 10,000 changes in pages of 250) with
// the feed, and without it (the baseline), in one run.
func BenchmarkApplyFeed(b *testing.B) {
	for _, mode := range []string{"feed", "nofeed"} {
		b.Run(mode, func(b *testing.B) {
			storetest.Bench(b, func(b *testing.B) calsync.Store {
				s := open(b)
				if mode == "nofeed" {
					sqlite.WithoutFeed(s)
				}
				return s
			})
		})
	}
}
