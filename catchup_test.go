package calsync_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/calsync/calsync"
	"github.com/calsync/calsync/provider"
	"github.com/calsync/calsync/store/memory"
)

// putCalendars stores n calendars of the fake provider, never synced.
func putCalendars(t *testing.T, st calsync.Store, n int) {
	t.Helper()
	for i := range n {
		id := fmt.Sprintf("cal-%03d", i)
		if err := st.PutCalendar(context.Background(), calsync.Calendar{ID: id, Provider: "fake", AccountID: id, RemoteID: id}); err != nil {
			t.Fatal(err)
		}
	}
}

// The catch-up starts calendars no faster than Config.CatchUpRate: on a
// fake clock that moves only when the catch-up's wait is over, no second
// holds more provider calls than the rate, and every calendar is synced.
func TestCatchUpPaced(t *testing.T) {
	const (
		n    = 13
		rate = 4 // calendars per second: one every 250 ms
	)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	clock := newFakeClock()
	p := newFakeProvider(100)
	p.put("a", "b")
	var (
		mu    sync.Mutex
		calls []time.Time
	)
	fetched := make(chan struct{}, n)
	p.beforeFetch = func(int, provider.Position) error {
		mu.Lock()
		calls = append(calls, clock.Now())
		mu.Unlock()
		fetched <- struct{}{}
		return nil
	}
	st := memory.New()
	putCalendars(t, st, n)
	e, _ := newTestEngine(t, p, st, calsync.Config{Now: clock.Now, CatchUpRate: rate, Workers: 4})
	calsync.SetSleepForTest(e, clock.Sleep)
	type result struct {
		n   int
		err error
	}
	res := make(chan result, 1)
	go func() {
		k, err := e.RunSweep(ctx, calsync.SweepCatchUp)
		res <- result{k, err}
	}()
	// Let the clock move only as far as the catch-up asks, once the
	// calendar it started has made its call.
	for i := range n {
		select {
		case <-fetched:
		case <-ctx.Done():
			t.Fatalf("calendar %d never synced", i)
		}
		if i < n-1 {
			if !clock.WaitSleepers(ctx, 1) {
				t.Fatalf("the catch-up did not wait before calendar %d", i+1)
			}
			sleeps := clock.Sleeps()
			clock.Advance(sleeps[len(sleeps)-1])
		}
	}
	r := <-res
	if r.n != n || r.err != nil {
		t.Fatalf("catch-up = %d, %v; want %d, nil", r.n, r.err, n)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(calls) != n {
		t.Fatalf("%d provider calls, want %d (one per calendar)", len(calls), n)
	}
	for i, c := range calls {
		in := 0
		for _, d := range calls {
			if !d.Before(c) && d.Before(c.Add(time.Second)) {
				in++
			}
		}
		if in > rate {
			t.Errorf("%d provider calls in the second from call %d (%s), want at most %d", in, i, c.Format(time.RFC3339Nano), rate)
		}
	}
	if span, want := calls[n-1].Sub(calls[0]), time.Duration(n-1)*time.Second/rate; span != want {
		t.Errorf("catch-up of %d calendars took %s of fake time, want %s", n, span, want)
	}
}

// Run does not hold the first renewal sweep behind the catch-up: with the
// catch-up paused on its pace (a fake clock that does not move), the
// subscription due at start is renewed.
func TestRenewalNotBehindCatchUp(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	clock := newFakeClock()
	p := newFakeProvider(100)
	p.now = clock.Now
	st := memory.New()
	e1, _ := newTestEngine(t, p, st, calsync.Config{Now: clock.Now})
	old, err := e1.Connect(ctx, fakeCal, calsync.ConnectRequest{Address: "https://example.com/hook", TTL: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	putCalendars(t, st, 5)
	renewed := make(chan struct{})
	var once sync.Once
	p.onWatch = func(provider.WatchRequest) error { once.Do(func() { close(renewed) }); return nil }
	e2, _ := newTestEngine(t, p, st, calsync.Config{Now: clock.Now, CatchUpRate: 1})
	calsync.SetSleepForTest(e2, clock.Sleep)
	runCtx, stop := context.WithCancel(ctx)
	errc := make(chan error, 1)
	go func() { errc <- e2.Run(runCtx) }()
	if !clock.WaitSleepers(ctx, 1) {
		t.Fatal("the catch-up never paused on its pace")
	}
	select {
	case <-renewed:
	case <-ctx.Done():
		t.Fatal("the subscription due at start was not renewed while the catch-up was under way")
	}
	if clock.Total() == 0 || len(clock.Sleeps()) > 1 {
		t.Errorf("the catch-up's waits: %v, want one, still under way", clock.Sleeps())
	}
	stop()
	if err := <-errc; !errors.Is(err, context.Canceled) {
		t.Errorf("Run = %v", err)
	}
	subs, err := st.ListSubscriptions(ctx, fakeCal.ID)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range subs {
		if s.ID == old.ID {
			t.Errorf("the subscription due at start (%s) is still stored: not renewed", old.ID)
		}
	}
}
