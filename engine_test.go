package calsync_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/calsync/calsync"
	"github.com/calsync/calsync/provider"
	"github.com/calsync/calsync/store/memory"
)

// Google may deliver a channel's first message before it answers the
// watch call, so the subscription must already be known then; and a failed
// watch must leave nothing behind.
func TestSubscriptionKnownDuringWatch(t *testing.T) {
	ctx := context.Background()
	p := newFakeProvider(10)
	st := memory.New()
	var seenDuringWatch calsync.Subscription
	p.onWatch = func(req provider.WatchRequest) error {
		var err error
		seenDuringWatch, err = st.Subscription(ctx, req.ID)
		return err
	}
	e, _ := newTestEngine(t, p, st, calsync.Config{})
	sub, err := e.Connect(ctx, fakeCal, calsync.ConnectRequest{Address: "https://example.com/hook"})
	if err != nil {
		t.Fatal(err)
	}
	if seenDuringWatch.ID != sub.ID || seenDuringWatch.SecretHash != sub.SecretHash || sub.SecretHash == ([32]byte{}) || seenDuringWatch.CalendarID != fakeCal.ID {
		t.Errorf("during watch the store had %v", seenDuringWatch)
	}

	p.onWatch = func(provider.WatchRequest) error { return errors.New("watch refused") }
	cal2 := calsync.Calendar{ID: "cal-2", Provider: "fake", AccountID: "acct"}
	if _, err := e.Connect(ctx, cal2, calsync.ConnectRequest{Address: "https://example.com/hook"}); err == nil {
		t.Fatal("Connect succeeded although watch failed")
	}
	if subs, _ := st.ListSubscriptions(ctx, cal2.ID); len(subs) != 0 {
		t.Errorf("failed watch left subscriptions %v", subs)
	}
	if _, err := st.Calendar(ctx, cal2.ID); !errors.Is(err, calsync.ErrNotFound) {
		t.Errorf("failed Connect left the calendar behind (%v): it would look connected but never sync", err)
	}
}

func TestRenewCreatesNewBeforeStoppingOld(t *testing.T) {
	ctx := context.Background()
	p := newFakeProvider(10)
	st := memory.New()
	now := time.Unix(0, 0)
	p.now = func() time.Time { return now }
	e, _ := newTestEngine(t, p, st, calsync.Config{Now: func() time.Time { return now }, RenewBefore: time.Hour})
	old, err := e.Connect(ctx, fakeCal, calsync.ConnectRequest{Address: "https://example.com/hook", TTL: 3 * time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	if n, err := e.RunSweep(ctx, calsync.SweepRenew); n != 0 || err != nil {
		t.Fatalf("renewed %d (%v) before anything was due", n, err)
	}
	now = now.Add(150 * time.Minute)
	p.onWatch = func(provider.WatchRequest) error {
		if len(p.stopped) != 0 {
			return errors.New("old channel stopped before the new one exists")
		}
		return nil
	}
	if n, err := e.RunSweep(ctx, calsync.SweepRenew); n != 1 || err != nil {
		t.Fatalf("RenewExpiring = %d, %v", n, err)
	}
	subs, _ := st.ListSubscriptions(ctx, fakeCal.ID)
	if len(subs) != 1 || subs[0].ID == old.ID || subs[0].Address != old.Address {
		t.Fatalf("subscriptions after renewal = %v", subs)
	}
	if !slices.Equal(p.stopped, []string{old.ID}) {
		t.Errorf("stopped = %v, want the old channel", p.stopped)
	}
	// The new channel has a secret of its own: its hash is not the old
	// channel's, and the old channel's token does not authenticate it.
	if last := p.watches[len(p.watches)-1]; last.TTL != 3*time.Hour || last.Secret == "" || provider.HashSecret(last.Secret) == old.SecretHash {
		t.Errorf("renewal watch = TTL %v, secret set %v, reused %v", last.TTL, last.Secret != "", provider.HashSecret(last.Secret) == old.SecretHash)
	}
}

func TestDisconnect(t *testing.T) {
	ctx := context.Background()
	p := newFakeProvider(10)
	p.put("a", "b")
	st := memory.New()
	e, _ := newTestEngine(t, p, st, calsync.Config{})
	sub, err := e.Connect(ctx, fakeCal, calsync.ConnectRequest{Address: "https://example.com/hook"})
	if err != nil {
		t.Fatal(err)
	}
	if err := e.Disconnect(ctx, fakeCal.ID); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(p.stopped, []string{sub.ID}) {
		t.Errorf("stopped = %v", p.stopped)
	}
	if _, err := st.Calendar(ctx, fakeCal.ID); !errors.Is(err, calsync.ErrNotFound) {
		t.Errorf("calendar after Disconnect: %v", err)
	}
	if err := e.Disconnect(ctx, fakeCal.ID); !errors.Is(err, calsync.ErrNotFound) {
		t.Errorf("second Disconnect = %v, want ErrNotFound", err)
	}
}

// A revoked grant is surfaced through OnError, never swallowed.
func TestReauthSurfaced(t *testing.T) {
	ctx := context.Background()
	p := newFakeProvider(10)
	st := memory.New()
	var got []error
	e, _ := newTestEngine(t, p, st, calsync.Config{OnError: func(_ context.Context, cal calsync.Calendar, err error) { got = append(got, err) }})
	if _, err := e.Connect(ctx, fakeCal, calsync.ConnectRequest{Address: "https://example.com/hook"}); err != nil {
		t.Fatal(err)
	}
	p.beforeFetch = func(int, provider.Position) error {
		return &provider.Error{Provider: "fake", Op: "list", StatusCode: 401, Err: provider.ErrReauthRequired}
	}
	e.Process(ctx, calsync.Notification{Kind: calsync.Changed, Provider: "fake", CalendarID: fakeCal.ID})
	if len(got) != 1 || !errors.Is(got[0], calsync.ErrReauthRequired) {
		t.Fatalf("OnError got %v", got)
	}
	h, ok := e.Health(fakeCal.ID)
	if !ok || h.ConsecutiveFailures != 1 || !errors.Is(h.LastError, calsync.ErrReauthRequired) {
		t.Errorf("health = %+v", h)
	}
}

func TestNewEngineValidates(t *testing.T) {
	p := newFakeProvider(1)
	for i, cfg := range []calsync.Config{
		{Providers: []calsync.Provider{p}},
		{Store: memory.New()},
		{Store: memory.New(), Providers: []calsync.Provider{p, p}},
		{Store: memory.New(), Providers: []calsync.Provider{nil}},
	} {
		if _, err := calsync.NewEngine(cfg); err == nil {
			t.Errorf("config %d accepted", i)
		}
	}
	e, _ := newTestEngine(t, p, memory.New(), calsync.Config{})
	if _, err := e.Connect(context.Background(), calsync.Calendar{ID: "x", Provider: "nope"}, calsync.ConnectRequest{Address: "https://h"}); !errors.Is(err, calsync.ErrUnknownProvider) {
		t.Errorf("unknown provider: %v", err)
	}
}

func TestMemoryQueueFull(t *testing.T) {
	q := calsync.NewMemoryQueue(2)
	ctx := context.Background()
	for i := range 2 {
		if err := q.Enqueue(ctx, calsync.Notification{MessageID: fmt.Sprint(i)}); err != nil {
			t.Fatal(err)
		}
	}
	if err := q.Enqueue(ctx, calsync.Notification{}); !errors.Is(err, calsync.ErrQueueFull) {
		t.Fatalf("third enqueue = %v, want ErrQueueFull", err)
	}
	if n, err := q.Dequeue(ctx); err != nil || n.MessageID != "0" {
		t.Fatalf("Dequeue = %+v %v", n, err)
	}
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	q.Dequeue(ctx)
	if _, err := q.Dequeue(cctx); !errors.Is(err, context.Canceled) {
		t.Errorf("Dequeue on empty cancelled = %v", err)
	}
}

// failingQueue fails every Dequeue and counts the calls; the third call
// blocks until the context ends, so the count is exact.
type failingQueue struct {
	calls   atomic.Int64
	stopped chan struct{}
}

func (q *failingQueue) Enqueue(context.Context, calsync.Notification) error { return nil }
func (q *failingQueue) Dequeue(ctx context.Context) (calsync.Notification, error) {
	if q.calls.Add(1) == 3 {
		close(q.stopped)
		<-ctx.Done()
		return calsync.Notification{}, ctx.Err()
	}
	return calsync.Notification{}, errors.New("queue database down")
}

// pauseLog records the retry_in of each "dequeue" log record.
type pauseLog struct {
	mu     sync.Mutex
	pauses []time.Duration
}

func (h *pauseLog) Enabled(context.Context, slog.Level) bool { return true }
func (h *pauseLog) WithAttrs([]slog.Attr) slog.Handler       { return h }
func (h *pauseLog) WithGroup(string) slog.Handler            { return h }
func (h *pauseLog) Handle(_ context.Context, r slog.Record) error {
	r.Attrs(func(a slog.Attr) bool {
		if a.Key == "retry_in" {
			h.mu.Lock()
			h.pauses = append(h.pauses, a.Value.Duration())
			h.mu.Unlock()
		}
		return true
	})
	return nil
}

// A Queue that keeps failing does not make Run's workers spin: they wait
// 100 ms, then 200 ms, ... between attempts.
func TestRunBacksOffFailingQueue(t *testing.T) {
	q := &failingQueue{stopped: make(chan struct{})}
	logs := &pauseLog{}
	e, _ := newTestEngine(t, newFakeProvider(1), memory.New(), calsync.Config{Queue: q, Workers: 1, SkipCatchUp: true, Logger: slog.New(logs)})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- e.Run(ctx) }()
	<-q.stopped // the third call, after both pauses
	cancel()
	<-done
	if want := []time.Duration{100 * time.Millisecond, 200 * time.Millisecond}; !slices.Equal(logs.pauses, want) || q.calls.Load() != 3 {
		t.Errorf("pauses %v over %d calls, want %v over 3", logs.pauses, q.calls.Load(), want)
	}
}

// A placeholder left by a crash between the watch call and storing its
// answer (no resource id, one-hour lifetime) is renewed with the provider's
// default lifetime, not with the placeholder's hour.
func TestRenewPlaceholderUsesDefaultTTL(t *testing.T) {
	ctx := context.Background()
	now := time.Unix(1_000_000, 0)
	p := newFakeProvider(10)
	p.now = func() time.Time { return now }
	st := memory.New()
	e, _ := newTestEngine(t, p, st, calsync.Config{Now: func() time.Time { return now }})
	if err := st.PutCalendar(ctx, fakeCal); err != nil {
		t.Fatal(err)
	}
	if err := st.PutSubscription(ctx, calsync.Subscription{ID: "left-behind", CalendarID: fakeCal.ID, Provider: "fake",
		Secret: "s", Address: "https://example.com/hook", Created: now, Expiration: now.Add(time.Hour)}); err != nil {
		t.Fatal(err)
	}
	if n, err := e.RunSweep(ctx, calsync.SweepRenew); n != 1 || err != nil {
		t.Fatalf("RenewExpiring = %d, %v", n, err)
	}
	if got := p.watches[len(p.watches)-1].TTL; got != 0 {
		t.Errorf("renewal TTL = %v, want 0 (the provider's default)", got)
	}
}

func TestManualSweepsRunNoSweep(t *testing.T) {
	p := newFakeProvider(10)
	st := memory.New()
	e, _ := newTestEngine(t, p, st, calsync.Config{ManualSweeps: true})
	connectFake(t, e)
	syncs := e.Stats().Syncs
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- e.Run(ctx) }()
	// With a notification processed, Run's workers are up; a catch-up (a
	// sync of every calendar) starts at once when Run schedules sweeps, and
	// would have run during the notification's debounce in the queue.
	if err := e.Enqueue(ctx, calsync.Notification{Kind: calsync.Changed, Provider: "fake", CalendarID: fakeCal.ID}); err != nil {
		t.Fatal(err)
	}
	if err := e.WaitIdle(ctx); err != nil {
		t.Fatal(err)
	}
	cancel()
	<-done
	if got := e.Stats().Syncs - syncs; got != 1 {
		t.Errorf("syncs during Run with ManualSweeps = %d, want 1 (the notification's; no catch-up)", got)
	}
	if _, err := e.RunSweep(context.Background(), calsync.Sweep("nope")); err == nil {
		t.Error("RunSweep of an unknown sweep: no error")
	}
	for _, s := range calsync.Sweeps() {
		if _, err := e.RunSweep(context.Background(), s); err != nil {
			t.Errorf("RunSweep(%s) = %v", s, err)
		}
	}
	if e.SweepInterval(calsync.SweepRenew) != calsync.DefaultRenewInterval || e.SweepInterval(calsync.SweepCatchUp) != 0 {
		t.Errorf("SweepInterval: renew %v, catch-up %v", e.SweepInterval(calsync.SweepRenew), e.SweepInterval(calsync.SweepCatchUp))
	}
}
