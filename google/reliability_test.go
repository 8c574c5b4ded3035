package google_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"testing"
	"time"

	calendar "google.golang.org/api/calendar/v3"

	"github.com/calsync/calsync"
	"github.com/calsync/calsync/google"
	"github.com/calsync/calsync/google/googletest"
	"github.com/calsync/calsync/retry/retrytest"
)

// gate blocks the first events.list request until released, and counts
// the list requests.
type gate struct {
	mu      sync.Mutex
	lists   int
	armed   bool
	entered chan struct{}
	release chan struct{}
}

func newGate() *gate {
	return &gate{entered: make(chan struct{}), release: make(chan struct{})}
}

func (g *gate) RoundTrip(r *http.Request) (*http.Response, error) {
	if r.Method == http.MethodGet {
		g.mu.Lock()
		g.lists++
		block := g.armed
		g.armed = false
		g.mu.Unlock()
		if block {
			close(g.entered)
			<-g.release
		}
	}
	return http.DefaultTransport.RoundTrip(r)
}

func (g *gate) count() int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.lists
}

// A burst of 1,000 changes on one calendar (1 to 3 pushes each) while a
// sync runs costs that sync and exactly one follow-up.
func TestBurstOfNotificationsCostsTwoSyncs(t *testing.T) {
	ctx := context.Background()
	h := newHarness(t, google.Config{PageSize: 2500}, "cal@example.com")
	g := newGate()
	h.cfg.HTTPClient = &http.Client{Transport: g}
	h.engine = h.newEngine(calsync.Config{})
	h.connect("cal@example.com")
	h.settle()

	const burst = 1000
	pushedBefore := len(h.emu.Deliveries())
	if _, err := h.emu.InsertEvent("cal@example.com", event("first", 0)); err != nil {
		t.Fatal(err)
	}
	if err := h.emu.WaitIdle(ctx); err != nil {
		t.Fatal(err)
	}
	first, err := h.queue.Dequeue(ctx)
	if err != nil {
		t.Fatal(err)
	}
	g.mu.Lock()
	g.armed = true
	g.mu.Unlock()
	before := g.count()
	listsBefore := h.emu.RequestCount(googletest.OpEventsList, "cal@example.com")
	done := make(chan error, 1)
	go func() { done <- h.engine.Process(ctx, first) }()
	<-g.entered // the first sync is under way, blocked in events.list
	for i := range burst - 1 {
		if _, err := h.emu.InsertEvent("cal@example.com", event(fmt.Sprint("burst ", i), i%28)); err != nil {
			t.Fatal(err)
		}
	}
	if err := h.emu.WaitIdle(ctx); err != nil {
		t.Fatal(err)
	}
	pushed := 0
	for _, d := range h.emu.Deliveries()[pushedBefore:] {
		if d.OK() {
			pushed++
		}
	}
	if pushed < burst {
		t.Fatalf("%d pushes for %d changes", pushed, burst)
	}
	// The queue keeps one waiting sync per calendar: the other pushes
	// were folded into it as they arrived.
	if n := h.queue.Len(); n != 1 {
		t.Fatalf("queued %d notifications for %d pushes, want 1", n, pushed-1)
	}
	for h.queue.Len() > 0 {
		n, _ := h.queue.Dequeue(ctx)
		if err := h.engine.Process(ctx, n); err != nil {
			t.Fatal(err)
		}
	}
	close(g.release)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if got := g.count() - before; got != 2 {
		t.Errorf("events.list calls for a burst of %d = %d, want 2", burst, got)
	}
	if got := h.emu.RequestCount(googletest.OpEventsList, "cal@example.com") - listsBefore; got != 2 {
		t.Errorf("the emulator logged %d events.list calls for the burst, want 2", got)
	}
	h.assertConverged("cal@example.com")
}

func event(summary string, day int) *calendar.Event {
	start := time.Date(2026, 12, 1+day, 9, 0, 0, 0, time.UTC)
	return &calendar.Event{
		Summary: summary,
		Start:   &calendar.EventDateTime{DateTime: start.Format(time.RFC3339)},
		End:     &calendar.EventDateTime{DateTime: start.Add(time.Hour).Format(time.RFC3339)},
	}
}

// Five failing attempts against a failing Google make one dead letter and
// one hook call; the replay succeeds once Google recovers. One push per
// change (MaxPushesPerChange 1): the test counts one notification's
// attempts.
func TestDeadLetterAndReplayAgainstEmulator(t *testing.T) {
	ctx := context.Background()
	h := newHarnessWith(t, googletest.Config{MaxPushesPerChange: 1}, google.Config{}, "cal@example.com")
	clk := retrytest.NewManualClock(time.Now())
	var hooks []calsync.DeadLetter
	h.engine = h.newEngine(calsync.Config{Now: clk.Now, OnDeadLetter: func(_ context.Context, d calsync.DeadLetter) { hooks = append(hooks, d) }})
	h.connect("cal@example.com")
	h.settle()
	h.emu.Fail(googletest.Fault{Op: googletest.OpEventsList, Status: 503, Times: 1000})
	ev := h.insert("cal@example.com", "during the outage", 2)
	h.settle() // attempt 1
	for attempt := 2; attempt <= 5; attempt++ {
		clk.Advance(time.Duration(1<<(attempt-1)) * time.Minute)
		if k, err := h.engine.RunSweep(ctx, calsync.SweepRetry); k != 1 || err != nil {
			t.Fatalf("attempt %d: RetryDue = %d, %v", attempt, k, err)
		}
	}
	if len(hooks) != 1 || hooks[0].Attempts != 5 {
		t.Fatalf("hooks = %+v, want one dead letter after 5 attempts", hooks)
	}
	h.emu.ClearFaults()
	if err := h.engine.Replay(ctx, hooks[0].ID); err != nil {
		t.Fatal(err)
	}
	if _, err := h.store.Event(ctx, "cal@example.com", ev.Id); err != nil {
		t.Fatalf("replay did not sync: %v", err)
	}
	h.assertConverged("cal@example.com")
}

// A push Google drops is recovered by the safety-net sync.
func TestSafetyNetRecoversDroppedPush(t *testing.T) {
	ctx := context.Background()
	h := newHarness(t, google.Config{}, "cal@example.com")
	clk := retrytest.NewManualClock(time.Now())
	h.engine = h.newEngine(calsync.Config{Now: clk.Now})
	h.connect("cal@example.com")
	h.settle()
	h.emu.DropNextNotifications(1)
	ev := h.insert("cal@example.com", "dropped push", 1)
	h.settle()
	if _, err := h.store.Event(ctx, "cal@example.com", ev.Id); !errors.Is(err, calsync.ErrNotFound) {
		t.Fatalf("event synced although its push was dropped: %v", err)
	}
	clk.Advance(calsync.DefaultSafetyNetAfter + time.Minute)
	if k, err := h.engine.RunSweep(ctx, calsync.SweepSafetyNet); k != 1 || err != nil {
		t.Fatalf("SafetyNet = %d, %v", k, err)
	}
	h.assertConverged("cal@example.com")
}

// A change made while the host app was down (its push lost) is recovered by
// the next Engine's catch-up on start.
func TestRestartRecoversChangeWhileDown(t *testing.T) {
	ctx := context.Background()
	h := newHarness(t, google.Config{}, "cal@example.com")
	h.connect("cal@example.com")
	h.settle()
	h.emu.DropNextNotifications(2) // nobody was listening
	h.insert("cal@example.com", "while down 1", 1)
	h.insert("cal@example.com", "while down 2", 2)
	h.settle()
	h.engine = h.newEngine(calsync.Config{})
	if k, err := h.engine.RunSweep(ctx, calsync.SweepCatchUp); k != 1 || err != nil {
		t.Fatalf("CatchUp = %d, %v", k, err)
	}
	h.assertConverged("cal@example.com")
}
