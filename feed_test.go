package calsync_test

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/calsync/calsync"
	"github.com/calsync/calsync/store/memory"
)

// runEngine runs e.Run until the test ends; stop ends it earlier.
func runEngine(t *testing.T, e *calsync.Engine) (stop func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		e.Run(ctx)
	}()
	var once sync.Once
	stop = func() { once.Do(func() { cancel(); <-done }) }
	t.Cleanup(stop)
	return stop
}

// lostAcks is a memory Store whose AckPosition fails while fail is set,
// for positions past 0: what a process killed after OnChange and before
// the acknowledgement leaves behind.
type lostAcks struct {
	*memory.Store
	fail atomic.Bool
}

func (s *lostAcks) AckPosition(ctx context.Context, consumer string, pos int64) error {
	if s.fail.Load() && pos > 0 {
		return errors.New("lost")
	}
	return s.Store.AckPosition(ctx, consumer, pos)
}

// delivered is what OnChange received, as "calendar/op:event/version".
type delivered struct {
	mu  sync.Mutex
	got []string
}

func (d *delivered) onChange(_ context.Context, cal calsync.Calendar, cs []calsync.Change) {
	d.mu.Lock()
	defer d.mu.Unlock()
	for _, c := range cs {
		d.got = append(d.got, key(cal.ID, c))
	}
}

func (d *delivered) list() []string {
	d.mu.Lock()
	defer d.mu.Unlock()
	return slices.Clone(d.got)
}

func key(cal string, c calsync.Change) string {
	v := int64(0)
	if c.Event != nil {
		v = c.Event.Version
	}
	return fmt.Sprintf("%s/%s:%s/%d", cal, c.Op, c.EventID, v)
}

// feedKeys reads the whole feed through the Engine's pull API.
func feedKeys(t *testing.T, e *calsync.Engine) []string {
	t.Helper()
	var out []string
	var pos int64
	for {
		es, next, err := e.ChangesSince(t.Context(), pos, 4)
		if err != nil {
			t.Fatal(err)
		}
		if len(es) == 0 {
			if next != pos {
				t.Errorf("ChangesSince(%d) returned nothing and next position %d", pos, next)
			}
			return out
		}
		if next != es[len(es)-1].Seq {
			t.Errorf("ChangesSince(%d): next position %d, last entry %d", pos, next, es[len(es)-1].Seq)
		}
		for _, en := range es {
			out = append(out, key(en.CalendarID, en.Change))
		}
		pos = next
	}
}

// A process that dies after OnChange and before it acknowledged the
// position: the next Engine on the Store delivers the same changes again,
// in order, and goes on from there.
func TestFeedRedeliversUnacknowledged(t *testing.T) {
	ctx := t.Context()
	st := &lostAcks{Store: memory.New()}
	st.fail.Store(true)
	p := newFakeProvider(10) // one page: one delivery
	p.put(ids("a", 6)...)
	first := &delivered{}
	e1, err := calsync.NewEngine(calsync.Config{Store: st, Providers: []calsync.Provider{p}, OnChange: first.onChange})
	if err != nil {
		t.Fatal(err)
	}
	connectFake(t, e1) // without Run: delivered by the syncing goroutine
	want := feedKeys(t, e1)
	if len(want) != 6 || !slices.Equal(first.list(), want) {
		t.Fatalf("first process received %q, feed holds %q", first.list(), want)
	}
	if pos, _ := st.ConsumerPosition(ctx, calsync.DefaultFeedConsumer); pos != 0 {
		t.Fatalf("position %d acknowledged although acknowledgements were lost", pos)
	}

	st.fail.Store(false)
	again := &delivered{}
	e2, err := calsync.NewEngine(calsync.Config{Store: st, Providers: []calsync.Provider{p}, OnChange: again.onChange,
		ManualSweeps: true, SkipCatchUp: true})
	if err != nil {
		t.Fatal(err)
	}
	runEngine(t, e2)
	p.put("b")
	// Once a worker has handled this, Run's consumer is up, and WaitIdle
	// waits for the backlog it found.
	if err := e2.Enqueue(ctx, calsync.Notification{Kind: calsync.Changed, Provider: "fake", CalendarID: fakeCal.ID}); err != nil {
		t.Fatal(err)
	}
	if err := e2.WaitIdle(ctx); err != nil {
		t.Fatal(err)
	}
	want = append(want, "cal-1/upsert:b/1")
	if got := again.list(); !slices.Equal(got, want) {
		t.Errorf("restarted process received %q, want the unacknowledged changes again, then b: %q", got, want)
	}
	if got := feedKeys(t, e2); !slices.Equal(got, want) {
		t.Errorf("the feed holds %q, want %q", got, want)
	}
	entries, head, _ := e2.ChangesSince(ctx, 0, 100)
	if pos, _ := st.ConsumerPosition(ctx, calsync.DefaultFeedConsumer); len(entries) == 0 || pos != head {
		t.Errorf("acknowledged position %d, feed head %d", pos, head)
	}
}

// WaitIdle waits for Run's consumer to deliver what this Engine committed:
// with a notification handled and OnChange still running, it is not idle.
func TestFeedWaitIdleWaitsForDelivery(t *testing.T) {
	ctx := t.Context()
	p := newFakeProvider(10)
	p.put("a")
	var blocking atomic.Bool
	entered, release := make(chan struct{}), make(chan struct{})
	got := &delivered{}
	e, err := calsync.NewEngine(calsync.Config{Store: memory.New(), Providers: []calsync.Provider{p}, Workers: 1,
		ManualSweeps: true, SkipCatchUp: true,
		OnChange: func(ctx context.Context, cal calsync.Calendar, cs []calsync.Change) {
			if blocking.Load() {
				entered <- struct{}{}
				<-release
			}
			got.onChange(ctx, cal, cs)
		}})
	if err != nil {
		t.Fatal(err)
	}
	connectFake(t, e)
	runEngine(t, e)
	if err := e.WaitIdle(ctx); err != nil {
		t.Fatal(err)
	}
	blocking.Store(true)
	p.put("b")
	if err := e.Enqueue(ctx, calsync.Notification{Kind: calsync.Changed, Provider: "fake", CalendarID: fakeCal.ID}); err != nil {
		t.Fatal(err)
	}
	<-entered
	for e.Stats().Handled < e.Stats().Enqueued {
		runtime.Gosched() // the worker finishes the notification
	}
	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	if err := e.WaitIdle(cancelled); err == nil {
		t.Error("WaitIdle: idle while OnChange had not received the committed change")
	}
	close(release)
	if err := e.WaitIdle(ctx); err != nil {
		t.Fatal(err)
	}
	if l := got.list(); len(l) != 2 || l[1] != "cal-1/upsert:b/1" {
		t.Errorf("OnChange received %q, want a then b", l)
	}
}

// Run's consumer delivers every change once, in feed order, one call at a
// time and one calendar per call, while workers sync two calendars.
func TestFeedDeliversInCommitOrder(t *testing.T) {
	ctx := t.Context()
	p := newFakeProvider(3)
	p.put(ids("a", 5)...)
	cal2 := calsync.Calendar{ID: "cal-2", Provider: "fake", AccountID: "acct", RemoteID: "other"}
	var inFlight, overlaps atomic.Int32
	got := &delivered{}
	e, err := calsync.NewEngine(calsync.Config{Store: memory.New(), Providers: []calsync.Provider{p}, Workers: 4,
		ManualSweeps: true, SkipCatchUp: true,
		OnChange: func(ctx context.Context, cal calsync.Calendar, cs []calsync.Change) {
			if inFlight.Add(1) > 1 {
				overlaps.Add(1)
			}
			defer inFlight.Add(-1)
			for _, c := range cs {
				if c.Event != nil && c.Event.CalendarID != cal.ID {
					t.Errorf("a call for %s carries a change of %s", cal.ID, c.Event.CalendarID)
				}
			}
			got.onChange(ctx, cal, cs)
		}})
	if err != nil {
		t.Fatal(err)
	}
	runEngine(t, e)
	for _, c := range []calsync.Calendar{fakeCal, cal2} {
		if _, err := e.Connect(ctx, c, calsync.ConnectRequest{Address: "https://example.com/hook"}); err != nil {
			t.Fatal(err)
		}
	}
	for round := range 5 {
		p.put(fmt.Sprintf("r%d-x", round), fmt.Sprintf("r%d-y", round))
		p.del(fmt.Sprintf("a%03d", round))
		for _, c := range []calsync.Calendar{fakeCal, cal2} {
			if err := e.Enqueue(ctx, calsync.Notification{Kind: calsync.Changed, Provider: "fake", CalendarID: c.ID}); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := e.WaitIdle(ctx); err != nil {
		t.Fatal(err)
	}
	want := feedKeys(t, e)
	if got := got.list(); !slices.Equal(got, want) {
		t.Errorf("OnChange received\n%q\nthe feed holds\n%q", got, want)
	}
	if len(want) != 2*(5+3*5) {
		t.Errorf("the feed holds %d changes, want %d (each calendar: 5 at first, 3 a round for 5 rounds)", len(want), 2*(5+3*5))
	}
	if overlaps.Load() > 0 {
		t.Errorf("%d OnChange calls overlapped another", overlaps.Load())
	}
}

// The pull API pages through the feed; without a feed it says so.
func TestFeedChangesSince(t *testing.T) {
	ctx := t.Context()
	p := newFakeProvider(10)
	p.put(ids("a", 7)...)
	e, _ := newTestEngine(t, p, memory.New(), calsync.Config{})
	connectFake(t, e)
	if got := feedKeys(t, e); len(got) != 7 || got[0] != "cal-1/upsert:a000/1" {
		t.Errorf("feed = %q, want the 7 upserts", got)
	}
	es, next, err := e.ChangesSince(ctx, 1000, 10)
	if err != nil || len(es) != 0 || next != 1000 {
		t.Errorf("ChangesSince past the end = %d entries, %d, %v; want none, 1000", len(es), next, err)
	}

	bare, _ := newTestEngine(t, p, struct{ calsync.Store }{memory.New()}, calsync.Config{})
	if _, _, err := bare.ChangesSince(ctx, 0, 10); !errors.Is(err, errors.ErrUnsupported) {
		t.Errorf("ChangesSince on a Store without a feed: %v, want errors.ErrUnsupported", err)
	}
}

// While another instance holds the consumer's lease, commits are left to
// it; changes of a calendar disconnected before delivery are skipped, and
// the position moves past them.
func TestFeedLeaseAndDisconnectedCalendar(t *testing.T) {
	ctx := t.Context()
	st := memory.New()
	if ok, err := st.AcquireLease(ctx, "feed/"+calsync.DefaultFeedConsumer, "other-instance", time.Now(), time.Hour); !ok || err != nil {
		t.Fatal(ok, err)
	}
	p := newFakeProvider(10)
	p.put(ids("a", 3)...)
	got := &delivered{}
	e, err := calsync.NewEngine(calsync.Config{Store: st, Providers: []calsync.Provider{p}, OnChange: got.onChange,
		ManualSweeps: true, SkipCatchUp: true})
	if err != nil {
		t.Fatal(err)
	}
	cal2 := calsync.Calendar{ID: "cal-2", Provider: "fake", AccountID: "acct", RemoteID: "other"}
	for _, c := range []calsync.Calendar{fakeCal, cal2} {
		if _, err := e.Connect(ctx, c, calsync.ConnectRequest{Address: "https://example.com/hook"}); err != nil {
			t.Fatal(err)
		}
	}
	if l := got.list(); len(l) != 0 {
		t.Fatalf("delivered %q while another instance held the consumer's lease", l)
	}
	if err := e.Disconnect(ctx, fakeCal.ID); err != nil {
		t.Fatal(err)
	}
	if err := st.ReleaseLease(ctx, "feed/"+calsync.DefaultFeedConsumer, "other-instance"); err != nil {
		t.Fatal(err)
	}
	runEngine(t, e)
	if err := e.Enqueue(ctx, calsync.Notification{Kind: calsync.Changed, Provider: "fake", CalendarID: cal2.ID}); err != nil {
		t.Fatal(err)
	}
	if err := e.WaitIdle(ctx); err != nil {
		t.Fatal(err)
	}
	want := []string{"cal-2/upsert:a000/1", "cal-2/upsert:a001/1", "cal-2/upsert:a002/1"}
	if l := got.list(); !slices.Equal(l, want) {
		t.Errorf("delivered %q, want only the connected calendar's %q", l, want)
	}
	_, head, _ := e.ChangesSince(ctx, 0, 100)
	if pos, _ := st.ConsumerPosition(ctx, calsync.DefaultFeedConsumer); pos != head || head != 6 {
		t.Errorf("acknowledged position %d, want the feed's head %d (6 entries)", pos, head)
	}
}

// Two instances sharing a consumer: the one holding its lease delivers
// the other's commits too (found by polling), every change once; when it
// stops, the other takes over.
func TestFeedTwoInstancesShareConsumer(t *testing.T) {
	ctx := t.Context()
	st := memory.New()
	p := newFakeProvider(10)
	p.put(ids("a", 4)...)
	ch := make(chan string, 100)
	newInstance := func(name string) *calsync.Engine {
		e, err := calsync.NewEngine(calsync.Config{Store: st, Providers: []calsync.Provider{p}, ManualSweeps: true, SkipCatchUp: true,
			FeedPollInterval: 10 * time.Millisecond, InstanceID: name,
			OnChange: func(_ context.Context, cal calsync.Calendar, cs []calsync.Change) {
				for _, c := range cs {
					ch <- name + " " + key(cal.ID, c)
				}
			}})
		if err != nil {
			t.Fatal(err)
		}
		return e
	}
	var keys []string
	receive := func(what string, n int, by string) {
		t.Helper()
		for range n {
			var inst, k string
			fmt.Sscan(<-ch, &inst, &k)
			if inst != by {
				t.Errorf("%s: %s delivered %s, want %s to", what, inst, k, by)
			}
			keys = append(keys, k)
		}
	}
	e1, e2 := newInstance("i1"), newInstance("i2")
	stop1 := runEngine(t, e1)
	if _, err := e1.Connect(ctx, fakeCal, calsync.ConnectRequest{Address: "https://example.com/hook"}); err != nil {
		t.Fatal(err)
	}
	receive("i1's own commits", 4, "i1")
	// Once a worker has handled this, i1's consumer is up and holds the
	// lease.
	if err := e1.Enqueue(ctx, calsync.Notification{Kind: calsync.Changed, Provider: "fake", CalendarID: fakeCal.ID}); err != nil {
		t.Fatal(err)
	}
	if err := e1.WaitIdle(ctx); err != nil {
		t.Fatal(err)
	}
	runEngine(t, e2)
	cal2 := calsync.Calendar{ID: "cal-2", Provider: "fake", AccountID: "acct", RemoteID: "other"}
	if _, err := e2.Connect(ctx, cal2, calsync.ConnectRequest{Address: "https://example.com/hook"}); err != nil {
		t.Fatal(err)
	}
	receive("i2's commits while i1 holds the lease", 4, "i1")
	stop1() // gives the lease back
	p.put("b")
	if _, err := e2.Sync(ctx, cal2.ID); err != nil {
		t.Fatal(err)
	}
	receive("after i1 stopped", 1, "i2")
	want := feedKeys(t, e2)
	slices.Sort(keys)
	slices.Sort(want)
	if !slices.Equal(keys, want) {
		t.Errorf("delivered %q, want each change in the feed once: %q", keys, want)
	}
	if err := e2.WaitIdle(ctx); err != nil {
		t.Fatal(err)
	}
	select {
	case extra := <-ch:
		t.Errorf("a change delivered twice: %s", extra)
	default:
	}
}

// SweepPruneFeed deletes what every consumer acknowledged, and what is
// older than FeedRetention; with no consumer, nothing by position.
func TestSweepPruneFeed(t *testing.T) {
	ctx := t.Context()
	st := memory.New()
	p := newFakeProvider(10)
	p.put(ids("a", 5)...)
	e, _ := newTestEngine(t, p, st, calsync.Config{})
	connectFake(t, e) // delivered and acknowledged (position 5) by "default"
	if err := st.AckPosition(ctx, "slow", 2); err != nil {
		t.Fatal(err)
	}
	if n, err := e.RunSweep(ctx, calsync.SweepPruneFeed); n != 2 || err != nil {
		t.Errorf("SweepPruneFeed = %d, %v; want the 2 entries both consumers acknowledged", n, err)
	}
	if es, _, _ := e.ChangesSince(ctx, 0, 10); len(es) != 3 || es[0].Seq != 3 {
		t.Errorf("feed after pruning = %d entries from Seq %v, want 3 from Seq 3", len(es), es)
	}
	// Older than the retention: gone, acknowledged or not.
	aged, _ := newTestEngine(t, p, st, calsync.Config{FeedRetention: time.Nanosecond})
	if n, err := aged.RunSweep(ctx, calsync.SweepPruneFeed); n != 3 || err != nil {
		t.Errorf("SweepPruneFeed with a retention of 1ns = %d, %v; want the 3 entries left", n, err)
	}

	// A host that only pulls (no OnChange, so no consumer) keeps the feed
	// for FeedRetention.
	pull, err := calsync.NewEngine(calsync.Config{Store: memory.New(), Providers: []calsync.Provider{p}})
	if err != nil {
		t.Fatal(err)
	}
	connectFake(t, pull)
	if n, err := pull.RunSweep(ctx, calsync.SweepPruneFeed); n != 0 || err != nil {
		t.Errorf("SweepPruneFeed without consumers = %d, %v; want 0", n, err)
	}
	if got := feedKeys(t, pull); len(got) != 5 {
		t.Errorf("pull-only feed = %q, want 5 entries", got)
	}
	if d := pull.SweepInterval(calsync.SweepPruneFeed); d != calsync.DefaultSafetyNetInterval {
		t.Errorf("SweepInterval(SweepPruneFeed) = %v, want %v", d, calsync.DefaultSafetyNetInterval)
	}
}

// An instance that died holding the consumer's lease stops nobody for
// long: once the lease has expired, another instance takes over and
// delivers what was left.
func TestFeedTakeoverAfterExpiry(t *testing.T) {
	ctx := t.Context()
	clock := newFakeClock()
	st := memory.New()
	if ok, err := st.AcquireLease(ctx, "feed/"+calsync.DefaultFeedConsumer, "dead-instance", clock.Now(), 30*time.Second); !ok || err != nil {
		t.Fatal(ok, err)
	}
	p := newFakeProvider(10)
	p.put(ids("a", 3)...)
	ch := make(chan string, 10)
	e, err := calsync.NewEngine(calsync.Config{Store: st, Providers: []calsync.Provider{p}, Now: clock.Now,
		ManualSweeps: true, SkipCatchUp: true, FeedPollInterval: 10 * time.Millisecond,
		OnChange: func(_ context.Context, cal calsync.Calendar, cs []calsync.Change) {
			for _, c := range cs {
				ch <- key(cal.ID, c)
			}
		}})
	if err != nil {
		t.Fatal(err)
	}
	runEngine(t, e)
	connectFake(t, e)
	// WaitIdle leaves deliveries to the instance holding the lease: it
	// returns, and nothing has been delivered.
	if err := e.WaitIdle(ctx); err != nil {
		t.Fatal(err)
	}
	select {
	case k := <-ch:
		t.Fatalf("%s delivered while another instance held the lease", k)
	default:
	}
	clock.Advance(31 * time.Second)
	for _, want := range []string{"cal-1/upsert:a000/1", "cal-1/upsert:a001/1", "cal-1/upsert:a002/1"} {
		if got := <-ch; got != want {
			t.Errorf("after the lease expired: delivered %s, want %s", got, want)
		}
	}
}
