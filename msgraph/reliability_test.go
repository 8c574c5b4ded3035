package msgraph_test

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/calsync/calsync"
	"github.com/calsync/calsync/msgraph/msgraphtest"
	"github.com/calsync/calsync/retry"
	"github.com/calsync/calsync/retry/retrytest"
)

func at(base time.Time, i int) msgraphtest.Event {
	start := base.Add(time.Duration(i) * time.Hour)
	return msgraphtest.Event{Subject: fmt.Sprint("event ", i), Start: start, End: start.Add(30 * time.Minute)}
}

// A burst of 1,000 Graph changes on one calendar while a sync runs, each
// notified as often as Graph does (created and updated), costs that sync
// and exactly one follow-up.
func TestBurstOfNotificationsCostsTwoSyncs(t *testing.T) {
	ctx := context.Background()
	h := newHarness(t)
	h.connect()
	base := time.Now().UTC().Truncate(time.Hour).Add(24 * time.Hour)

	entered, release := make(chan struct{}), make(chan struct{})
	var once sync.Once
	h.create(at(base, 0))
	if err := h.srv.WaitIdle(ctx); err != nil {
		t.Fatal(err)
	}
	first, err := h.q.Dequeue(ctx)
	if err != nil {
		t.Fatal(err)
	}
	h.hook.mu.Lock()
	h.hook.onRequest = func(r *http.Request) {
		if strings.Contains(r.URL.Path, "delta") {
			once.Do(func() { close(entered); <-release })
		}
	}
	h.hook.mu.Unlock()
	before := h.e.Stats().Syncs
	done := make(chan error, 1)
	go func() { done <- h.e.Process(ctx, first) }()
	<-entered
	const burst = 1000
	for i := 1; i < burst; i++ {
		h.create(at(base, i%2000))
	}
	if err := h.srv.WaitIdle(ctx); err != nil {
		t.Fatal(err)
	}
	// The queue keeps one waiting sync per calendar: the other
	// notifications (at least one per change) were folded into it as they
	// arrived.
	if n := h.q.Len(); n != 1 {
		t.Fatalf("queued %d notifications for %d changes, want 1", n, burst-1)
	}
	for h.q.Len() > 0 {
		n, _ := h.q.Dequeue(ctx)
		if err := h.e.Process(ctx, n); err != nil {
			t.Fatal(err)
		}
	}
	close(release)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if got := h.e.Stats().Syncs - before; got != 2 {
		t.Errorf("syncs for a burst of %d notifications = %d, want 2", burst, got)
	}
	h.assertInSync("after the burst")
}

// Graph's 429 with a fractional Retry-After is waited out exactly (on a
// fake clock) by the retry transport under the SDK, and the sync succeeds.
func TestRetryAfterFractional(t *testing.T) {
	clock := retrytest.NewClock(retrytest.Epoch)
	h := newHarnessWith(t, harnessOptions{retry: retry.Policy{Clock: clock}})
	h.connect()
	h.srv.Fail(msgraphtest.Fault{Op: msgraphtest.OpDelta, Status: 429, RetryAfter: "2.128"})
	h.create(at(time.Now().UTC().Truncate(time.Hour).Add(24*time.Hour), 1))
	h.mustSettle("after a 429")
	if got := clock.Sleeps(); !slices.Equal(got, []time.Duration{2128 * time.Millisecond}) {
		t.Errorf("waits = %v, want exactly [2.128s]", got)
	}
	h.assertInSync("after a 429")
}

// Five failing attempts make one dead letter and one hook call; the replay
// succeeds once Graph recovers.
func TestDeadLetterAndReplay(t *testing.T) {
	ctx := context.Background()
	now := retrytest.NewManualClock(time.Now())
	var hooks []calsync.DeadLetter
	h := newHarnessWith(t, harnessOptions{
		engine: calsync.Config{Now: now.Now, OnDeadLetter: func(_ context.Context, d calsync.DeadLetter) { hooks = append(hooks, d) }},
		retry:  retry.Policy{MaxRetries: retry.NoRetries},
		exact:  true, // one notification, so one dead letter
	})
	h.connect()
	h.srv.Fail(msgraphtest.Fault{Op: msgraphtest.OpDelta, Status: 503, Times: 1000})
	h.create(at(time.Now().UTC().Truncate(time.Hour).Add(24*time.Hour), 1))
	if err := h.srv.WaitIdle(ctx); err != nil {
		t.Fatal(err)
	}
	for h.q.Len() > 0 {
		n, _ := h.q.Dequeue(ctx)
		if err := h.e.Process(ctx, n); err == nil {
			t.Fatal("processing succeeded during the outage")
		}
	}
	for attempt := 2; attempt <= 5; attempt++ {
		now.Advance(time.Duration(1<<(attempt-1)) * time.Minute)
		if k, err := h.e.RunSweep(ctx, calsync.SweepRetry); k != 1 || err != nil {
			t.Fatalf("attempt %d: RetryDue = %d, %v", attempt, k, err)
		}
	}
	if len(hooks) != 1 || hooks[0].Attempts != 5 || hooks[0].Notification.Provider != "msgraph" {
		t.Fatalf("dead-letter hooks = %+v, want one after 5 attempts", hooks)
	}
	h.srv.ClearFaults()
	if err := h.e.Replay(ctx, hooks[0].ID); err != nil {
		t.Fatal(err)
	}
	h.assertInSync("after the replay")
}

// A dropped Graph notification is recovered by the safety-net sync, and a
// change made while the host was down by the next Engine's catch-up.
func TestSafetyNetAndCatchUp(t *testing.T) {
	ctx := context.Background()
	now := retrytest.NewManualClock(time.Now())
	h := newHarnessWith(t, harnessOptions{engine: calsync.Config{Now: now.Now}})
	h.connect()
	base := time.Now().UTC().Truncate(time.Hour).Add(24 * time.Hour)
	h.srv.DropAllNotifications(true)
	h.create(at(base, 1))
	if n := h.settle(); n != 0 {
		t.Fatalf("%d notifications arrived although the push was dropped", n)
	}
	h.srv.DropAllNotifications(false)
	now.Advance(calsync.DefaultSafetyNetAfter + time.Minute)
	if k, err := h.e.RunSweep(ctx, calsync.SweepSafetyNet); k != 1 || err != nil {
		t.Fatalf("SafetyNet = %d, %v", k, err)
	}
	h.assertInSync("after the safety net")

	h.srv.DropAllNotifications(true) // nobody was listening
	h.create(at(base, 2))
	h.settle()
	h.srv.DropAllNotifications(false)
	restarted, err := calsync.NewEngine(calsync.Config{Store: h.st, Providers: []calsync.Provider{h.p}})
	if err != nil {
		t.Fatal(err)
	}
	if k, err := restarted.RunSweep(ctx, calsync.SweepCatchUp); k != 1 || err != nil {
		t.Fatalf("CatchUp = %d, %v", k, err)
	}
	h.assertInSync("after catch-up")
}
