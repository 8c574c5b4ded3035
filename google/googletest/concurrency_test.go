package googletest_test

import (
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	calendar "google.golang.org/api/calendar/v3"

	"github.com/calsync/calsync/google/googletest"
)

// TestConcurrentClientsConverge runs writers, syncing readers and knob
// callers at once (run with -race); a client that keeps syncing
// incrementally ends with exactly the server's events.
func TestConcurrentClientsConverge(t *testing.T) {
	rc := newReceiver(t)
	srv, svc := newEnv(t, googletest.Config{PushClient: rc.srv.Client()})
	watch(t, svc, "c", rc.srv.URL, "")

	local := map[string]*calendar.Event{}
	apply := func(items []*calendar.Event) {
		for _, e := range items {
			if e.Status == "cancelled" {
				delete(local, e.Id)
			} else {
				local[e.Id] = e
			}
		}
	}
	items, tok := fullList(t, svc, false, 7)
	apply(items)

	var wg sync.WaitGroup
	errs := make(chan error, 64)
	for w := range 4 {
		wg.Go(func() {
			for i := range 15 {
				ev, err := svc.Events.Insert(calID, timedEvent(fmt.Sprintf("w%d-%d", w, i), t0.Add(time.Duration(i)*time.Hour), time.Hour)).Do()
				if err != nil {
					errs <- err
					return
				}
				switch i % 3 {
				case 1:
					_, err = svc.Events.Patch(calID, ev.Id, &calendar.Event{Summary: "patched"}).Do()
				case 2:
					err = svc.Events.Delete(calID, ev.Id).Do()
				}
				if err != nil {
					errs <- err
					return
				}
			}
		})
	}
	wg.Go(func() {
		for range 20 {
			srv.DuplicateNextNotifications(1)
			srv.Channels(calID)
			srv.Deliveries()
			if _, err := srv.Events(calID, true); err != nil {
				errs <- err
			}
		}
	})
	// A reader syncing while the writers write.
	for range 10 {
		var got []*calendar.Event
		got, tok = incremental(t, svc, false, 5, tok)
		apply(got)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	items, _ = incremental(t, svc, false, 5, tok)
	apply(items)

	want, err := srv.Events(calID, false)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for id, e := range local {
		got = append(got, id)
		for _, w := range want {
			if w.Id == id && (w.Summary != e.Summary || w.Etag != e.Etag) {
				t.Errorf("event %s: local %q/%s, server %q/%s", id, e.Summary, e.Etag, w.Summary, w.Etag)
			}
		}
	}
	slices.Sort(got)
	if !slices.Equal(got, ids(want)) || len(want) != 40 {
		t.Fatalf("local copy has %d events, server %d (want 40)", len(got), len(want))
	}
	waitIdle(t, srv)
}
