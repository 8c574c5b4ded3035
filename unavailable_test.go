package calsync_test

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/calsync/calsync"
	"github.com/calsync/calsync/provider"
	"github.com/calsync/calsync/store/memory"
)

// A calendar the provider refuses for good (deleted, or access lost) is
// reported once and then parked: no retries into the dead letters, no
// provider call from notifications, sweeps or renewals, until the host
// connects it again.
func TestUnavailableCalendarParked(t *testing.T) {
	ctx := context.Background()
	clock := newFakeClock()
	p := newFakeProvider(10)
	p.now = clock.Now
	p.put("a")
	st := memory.New()
	var reported []error
	e, _ := newTestEngine(t, p, st, calsync.Config{Now: clock.Now, RenewBefore: time.Hour,
		OnError: func(_ context.Context, _ calsync.Calendar, err error) { reported = append(reported, err) }})
	if _, err := e.Connect(ctx, fakeCal, calsync.ConnectRequest{Address: "https://example.com/hook", TTL: 2 * time.Hour}); err != nil {
		t.Fatal(err)
	}
	gone := &provider.Error{Provider: "fake", Op: "list", StatusCode: 404, Err: errors.Join(provider.ErrNotFound, provider.ErrCalendarUnavailable)}
	fetches := 0
	p.beforeFetch = func(int, provider.Position) error { fetches++; return gone }
	n := calsync.Notification{Kind: calsync.Changed, Provider: "fake", CalendarID: fakeCal.ID, MessageID: "m1"}
	if err := e.Process(ctx, n); !errors.Is(err, calsync.ErrCalendarUnavailable) {
		t.Fatalf("first Process = %v, want ErrCalendarUnavailable", err)
	}
	if len(reported) != 1 || fetches != 1 {
		t.Fatalf("OnError calls %d, fetches %d; want 1 and 1", len(reported), fetches)
	}
	h, err := e.CalendarHealth(ctx, fakeCal.ID)
	if err != nil || h.Unavailable == "" {
		t.Fatalf("CalendarHealth = %+v, %v; want Unavailable set", h, err)
	}
	// Nothing afterwards calls the provider or reports again.
	watches := len(p.watches)
	for i, k := range []calsync.NotificationKind{calsync.Changed, calsync.Resync, calsync.SubscriptionRemoved, calsync.ReauthorizationRequired} {
		n := calsync.Notification{Kind: k, Provider: "fake", CalendarID: fakeCal.ID, MessageID: "m" + string(rune('2'+i))}
		if err := e.Process(ctx, n); err != nil {
			t.Errorf("Process(%s) of a parked calendar = %v", k, err)
		}
	}
	clock.Advance(7 * time.Hour)
	for _, s := range calsync.Sweeps() {
		if _, err := e.RunSweep(ctx, s); err != nil {
			t.Errorf("RunSweep(%s) = %v", s, err)
		}
	}
	if fetches != 1 || len(p.watches) != watches || len(p.stopped) != 0 || len(reported) != 1 {
		t.Errorf("after parking: fetches %d, watches %d, stops %d, OnError %d; want 1, %d, 0, 1", fetches, len(p.watches), len(p.stopped), len(reported), watches)
	}
	if dls, _ := e.DeadLetters(ctx, "", 10); len(dls) != 0 {
		t.Errorf("dead letters = %+v, want none", dls)
	}
	if _, err := e.Sync(ctx, fakeCal.ID); !errors.Is(err, calsync.ErrCalendarUnavailable) {
		t.Errorf("Sync of a parked calendar = %v, want ErrCalendarUnavailable", err)
	}
	// The host acts: access is back and it connects the calendar again.
	p.beforeFetch = nil
	p.put("b")
	if _, err := e.Connect(ctx, fakeCal, calsync.ConnectRequest{Address: "https://example.com/hook", TTL: 2 * time.Hour}); err != nil {
		t.Fatal(err)
	}
	if got := storedIDs(t, st, fakeCal.ID); !slices.Equal(got, []string{"a", "b"}) {
		t.Errorf("events after reconnecting = %v, want a b", got)
	}
	if h, _ := e.CalendarHealth(ctx, fakeCal.ID); h.Unavailable != "" {
		t.Errorf("still unavailable after Connect: %q", h.Unavailable)
	}
	checkOneSubscription(t, st, p)
}
