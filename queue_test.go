package calsync_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/calsync/calsync"
)

// The debounced MemoryQueue holds one waiting sync per calendar until its
// notifications stop for Debounce (or MaxDebounce after the first), keeps
// lifecycle notifications immediate, and keeps arrival order among what
// is ready.
func TestMemoryQueueDebounce(t *testing.T) {
	ctx := context.Background()
	now := time.Unix(1000, 0)
	q := calsync.NewMemoryQueueWith(calsync.MemoryQueueConfig{Debounce: time.Second, MaxDebounce: 5 * time.Second})
	calsync.SetQueueClockForTest(q, func() time.Time { return now })
	changed := func(cal string) calsync.Notification {
		return calsync.Notification{Kind: calsync.Changed, Provider: "p", CalendarID: cal}
	}
	if err := q.Enqueue(ctx, changed("a")); err != nil {
		t.Fatal(err)
	}
	if _, wait, ok := calsync.TakeForTest(q); ok || wait != time.Second {
		t.Fatalf("a fresh sync was ready (ok %v, wait %v); want a wait of Debounce", ok, wait)
	}
	// A burst keeps it waiting, folded into one, up to MaxDebounce.
	for range 8 {
		now = now.Add(600 * time.Millisecond)
		if err := q.Enqueue(ctx, changed("a")); !errors.Is(err, calsync.ErrAlreadyQueued) {
			t.Fatalf("Enqueue during the burst = %v, want ErrAlreadyQueued", err)
		}
		if n, _, ok := calsync.TakeForTest(q); ok && now.Sub(time.Unix(1000, 0)) < 5*time.Second {
			t.Fatalf("taken %v during the burst, before MaxDebounce", n)
		}
	}
	// Lifecycle notifications go at once, before the waiting sync.
	life := calsync.Notification{Kind: calsync.SubscriptionRemoved, Provider: "p", CalendarID: "b"}
	if err := q.Enqueue(ctx, life); err != nil {
		t.Fatal(err)
	}
	if q.Len() != 2 {
		t.Fatalf("Len = %d, want 2", q.Len())
	}
	n, _, ok := calsync.TakeForTest(q)
	if !ok || n.Kind != calsync.SubscriptionRemoved {
		t.Fatalf("taken %+v, %v; want the lifecycle notification, ready at once", n, ok)
	}
	if _, wait, ok := calsync.TakeForTest(q); ok || wait != 200*time.Millisecond {
		t.Fatalf("the burst's sync was ready (%v) or waits %v; want it ready at MaxDebounce, 200ms on", ok, wait)
	}
	now = now.Add(200 * time.Millisecond)
	if n, _, ok := calsync.TakeForTest(q); !ok || n.CalendarID != "a" {
		t.Fatalf("at MaxDebounce taken %+v, %v; want the sync of a", n, ok)
	}
	if q.Len() != 0 {
		t.Errorf("Len = %d, want 0", q.Len())
	}
	// Once taken, the calendar queues again.
	if err := q.Enqueue(ctx, changed("a")); err != nil {
		t.Errorf("Enqueue after the sync was taken = %v", err)
	}
}
