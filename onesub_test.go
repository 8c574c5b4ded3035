package calsync_test

import (
	"context"
	"errors"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/calsync/calsync"
	"github.com/calsync/calsync/provider"
	"github.com/calsync/calsync/store/memory"
)

// The invariant of this file: at most one live subscription per calendar,
// at the provider and in the Store, whatever the interleaving of Connect,
// renewal sweeps, lifecycle notifications and Disconnect, in one Engine
// and across Engines.

// liveAtProvider returns the subscriptions watched and not stopped.
func liveAtProvider(p *fakeProvider) []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	var live []string
	for _, w := range p.watches {
		if !slices.Contains(p.stopped, w.ID) {
			live = append(live, w.ID)
		}
	}
	return live
}

func checkOneSubscription(t *testing.T, st calsync.Store, p *fakeProvider) {
	t.Helper()
	subs, err := st.ListSubscriptions(context.Background(), fakeCal.ID)
	if err != nil {
		t.Fatal(err)
	}
	live := liveAtProvider(p)
	if len(subs) != 1 || len(live) != 1 || subs[0].ID != live[0] {
		t.Errorf("stored subscriptions %+v, live at the provider %v; want the same single one", subs, live)
	}
}

// Bug: with Run started before Connect (the README's order), the Engine's
// own renewal sweep ran during Connect's Watch, took the placeholder's
// lease again (leases were re-entrant for one InstanceID), treated the
// placeholder as due and subscribed a second time.
func TestRenewSweepDuringOwnConnect(t *testing.T) {
	st := memory.New()
	p := newFakeProvider(10)
	p.now = func() time.Time { return sweepAt }
	// The placeholder Connect stores expires in an hour: due for a sweep
	// renewing what expires within two.
	e := sweepEngine(t, st, p, 2*time.Hour)
	var (
		swept    atomic.Bool
		n        int
		sweepErr error
	)
	p.onWatch = func(provider.WatchRequest) error {
		if swept.CompareAndSwap(false, true) {
			n, sweepErr = e.RunSweep(context.Background(), calsync.SweepRenew)
		}
		return nil
	}
	if _, err := e.Connect(context.Background(), fakeCal, calsync.ConnectRequest{Address: "https://example.com/hook", TTL: seedTTL}); err != nil {
		t.Fatal(err)
	}
	if n != 0 || sweepErr != nil {
		t.Errorf("sweep during the same Engine's Connect = %d, %v; want 0, nil", n, sweepErr)
	}
	checkOneSubscription(t, st, p)
}

// Bug: a redelivered subscriptionRemoved handled by two workers of one
// Engine created two new subscriptions.
func TestRedeliveredSubscriptionRemovedTwoWorkers(t *testing.T) {
	ctx := context.Background()
	f := newRenewFixture(t)
	n := calsync.Notification{Kind: calsync.SubscriptionRemoved, Provider: "fake", SubscriptionID: f.sub.ID, CalendarID: fakeCal.ID}
	var (
		second    atomic.Bool
		secondErr error
	)
	f.p.onWatch = func(provider.WatchRequest) error {
		// The second worker gets the redelivery while the first is
		// creating the replacement.
		if second.CompareAndSwap(false, true) {
			secondErr = f.e.Process(ctx, n)
		}
		return nil
	}
	if err := f.e.Process(ctx, n); err != nil {
		t.Fatal(err)
	}
	if !errors.Is(secondErr, calsync.ErrConflict) {
		t.Errorf("second worker's Process = %v, want ErrConflict (retried later)", secondErr)
	}
	// The retry finds the subscription replaced and only syncs.
	if err := f.e.Process(ctx, n); err != nil {
		t.Fatal(err)
	}
	checkOneSubscription(t, f.st, f.p.fakeProvider)
}

// Bug: a change announced only on the old channel just before renewal
// stopped it was never delivered (the push goes out after the stop), and
// stayed missing until the next change or the safety net. The sweep syncs
// once the old channel is stopped.
func TestReplacedChannelSyncsAfterStop(t *testing.T) {
	st := memory.New()
	p := newFakeProvider(10)
	p.now = func() time.Time { return sweepAt.Add(-7 * 24 * time.Hour) }
	p.put("a")
	e := sweepEngine(t, st, p, 24*time.Hour)
	if _, err := e.Connect(context.Background(), fakeCal, calsync.ConnectRequest{Address: "https://example.com/hook", TTL: 7*24*time.Hour + time.Hour}); err != nil {
		t.Fatal(err)
	}
	p.put("late") // announced on the old channel only; that push is lost
	if n, err := e.RunSweep(context.Background(), calsync.SweepRenew); n != 1 || err != nil {
		t.Fatalf("renewal sweep = %d, %v", n, err)
	}
	if got := storedIDs(t, st, fakeCal.ID); !slices.Equal(got, []string{"a", "late"}) {
		t.Errorf("events after the channel was replaced = %v, want a late", got)
	}
	checkOneSubscription(t, st, p)
}

// Connect of a calendar already connected keeps its live subscription;
// Connect to another address replaces it, never leaving two.
func TestConnectIdempotent(t *testing.T) {
	ctx := context.Background()
	st := memory.New()
	p := newFakeProvider(10)
	e, _ := newTestEngine(t, p, st, calsync.Config{})
	req := calsync.ConnectRequest{Address: "https://example.com/hook"}
	first, err := e.Connect(ctx, fakeCal, req)
	if err != nil {
		t.Fatal(err)
	}
	again, err := e.Connect(ctx, fakeCal, req)
	if err != nil || again.ID != first.ID {
		t.Fatalf("second Connect = %s, %v; want the kept %s", again.ID, err, first.ID)
	}
	checkOneSubscription(t, st, p)
	moved, err := e.Connect(ctx, fakeCal, calsync.ConnectRequest{Address: "https://example.com/new-hook"})
	if err != nil || moved.ID == first.ID {
		t.Fatalf("Connect to a new address = %s, %v; want a new subscription", moved.ID, err)
	}
	checkOneSubscription(t, st, p)
}

// Two Engines on one store connecting the same calendar at once, while
// both sweep: one subscription.
func TestConcurrentConnectTwoEngines(t *testing.T) {
	st := memory.New()
	p := newFakeProvider(10)
	p.now = func() time.Time { return sweepAt }
	a, b := sweepEngine(t, st, p, 2*time.Hour), sweepEngine(t, st, p, 2*time.Hour)
	start := make(chan struct{})
	errs := make(chan error, 4)
	for _, e := range []*calsync.Engine{a, b} {
		go func() {
			<-start
			_, err := e.Connect(context.Background(), fakeCal, calsync.ConnectRequest{Address: "https://example.com/hook", TTL: seedTTL})
			errs <- err
		}()
		go func() {
			<-start
			_, err := e.RunSweep(context.Background(), calsync.SweepRenew)
			errs <- err
		}()
	}
	close(start)
	for range 4 {
		if err := <-errs; err != nil {
			t.Error(err)
		}
	}
	checkOneSubscription(t, st, p)
}
