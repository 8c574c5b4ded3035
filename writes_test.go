package calsync_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/calsync/calsync"
	"github.com/calsync/calsync/provider"
	"github.com/calsync/calsync/store/memory"
)

// writeCounter is the memory Store with its write calls of the
// notification path counted; ignoreComplete makes it a Store written
// before Batch.Complete existed (it drops the field).
type writeCounter struct {
	*memory.Store
	ignoreComplete bool

	mu                                  sync.Mutex
	begins, completes, fails, clears    int
	applies, appliesWithCompleteWritten int
}

func (s *writeCounter) count(f *int) { s.mu.Lock(); *f++; s.mu.Unlock() }

func (s *writeCounter) BeginNotification(ctx context.Context, key string, now time.Time) (bool, error) {
	s.count(&s.begins)
	return s.Store.BeginNotification(ctx, key, now)
}

func (s *writeCounter) CompleteNotification(ctx context.Context, key string, now time.Time) error {
	s.count(&s.completes)
	return s.Store.CompleteNotification(ctx, key, now)
}

func (s *writeCounter) FailNotification(ctx context.Context, key string, now time.Time) error {
	s.count(&s.fails)
	return s.Store.FailNotification(ctx, key, now)
}

func (s *writeCounter) ClearAttempt(ctx context.Context, id string) error {
	s.count(&s.clears)
	return s.Store.ClearAttempt(ctx, id)
}

func (s *writeCounter) Apply(ctx context.Context, cal string, b *calsync.Batch) (*calsync.ApplyResult, error) {
	s.count(&s.applies)
	if s.ignoreComplete {
		c := *b
		c.Complete = nil
		b = &c
	}
	ar, err := s.Store.Apply(ctx, cal, b)
	if err == nil && ar.Completed {
		s.count(&s.appliesWithCompleteWritten)
	}
	return ar, err
}

func (s *writeCounter) snapshot() [6]int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return [6]int{s.begins, s.completes, s.fails, s.clears, s.applies, s.appliesWithCompleteWritten}
}

// A notification costs two writes: the ledger claim and the sync's Apply,
// which completes the ledger entry in its transaction; no attempt is
// cleared when none was recorded. A redelivery afterwards is a duplicate
// (the entry is done), and a retry record is cleared by the Apply of the
// sync that succeeds.
func TestNotificationWrites(t *testing.T) {
	ctx := context.Background()
	p := newFakeProvider(3)
	st := &writeCounter{Store: memory.New()}
	e, _ := newTestEngine(t, p, st, calsync.Config{})
	connectFake(t, e)
	n := calsync.Notification{Kind: calsync.Changed, Provider: "fake", CalendarID: fakeCal.ID, SubscriptionID: "s", MessageID: "s/1", Received: time.Now()}

	p.put("new")
	before := st.snapshot()
	if err := e.Process(ctx, n); err != nil {
		t.Fatal(err)
	}
	got := diff(st.snapshot(), before)
	if want := [6]int{1, 0, 0, 0, 1, 1}; got != want {
		t.Errorf("one notification: [begins completes fails clears applies completed-in-apply] = %v, want %v", got, want)
	}
	if err := e.Process(ctx, n); err != nil {
		t.Fatal(err)
	}
	if d := e.Stats().Duplicates; d != 1 {
		t.Errorf("redelivery after the completing Apply: %d duplicates, want 1", d)
	}

	// A failed sync records an attempt; the next notification's sync
	// succeeds and its Apply clears the record, with no separate DELETE.
	fault := errors.New("provider down")
	p.beforeFetch = func(int, provider.Position) error { return fault }
	n.MessageID = "s/2"
	if err := e.Process(ctx, n); !errors.Is(err, fault) {
		t.Fatalf("failing notification: %v", err)
	}
	if _, err := st.Attempt(ctx, "fake|cal-1|sync"); err != nil {
		t.Fatalf("no attempt recorded after a failure: %v", err)
	}
	p.beforeFetch = nil
	n.MessageID = "s/3"
	before = st.snapshot()
	if err := e.Process(ctx, n); err != nil {
		t.Fatal(err)
	}
	if got, want := diff(st.snapshot(), before), [6]int{1, 0, 0, 0, 1, 1}; got != want {
		t.Errorf("notification after a failure: %v, want %v", got, want)
	}
	if _, err := st.Attempt(ctx, "fake|cal-1|sync"); !errors.Is(err, calsync.ErrNotFound) {
		t.Errorf("attempt after a successful sync: err = %v, want ErrNotFound", err)
	}
	// The failed message is claimed again by a redelivery (it was marked
	// failed), and completed by its Apply.
	n.MessageID = "s/2"
	if err := e.Process(ctx, n); err != nil {
		t.Fatal(err)
	}
	dups := e.Stats().Duplicates
	if err := e.Process(ctx, n); err != nil || e.Stats().Duplicates != dups+1 {
		t.Errorf("redelivery of the retried message: err %v, duplicates %d, want %d", err, e.Stats().Duplicates, dups+1)
	}
}

// A Store that ignores Batch.Complete gets the bookkeeping as separate
// calls: the ledger entry is completed, and an attempt this Engine
// recorded is cleared, after the Apply.
func TestNotificationWritesStoreWithoutComplete(t *testing.T) {
	ctx := context.Background()
	p := newFakeProvider(3)
	st := &writeCounter{Store: memory.New(), ignoreComplete: true}
	e, _ := newTestEngine(t, p, st, calsync.Config{})
	connectFake(t, e)
	n := calsync.Notification{Kind: calsync.Changed, Provider: "fake", CalendarID: fakeCal.ID, SubscriptionID: "s", MessageID: "s/1", Received: time.Now()}
	before := st.snapshot()
	if err := e.Process(ctx, n); err != nil {
		t.Fatal(err)
	}
	if got, want := diff(st.snapshot(), before), [6]int{1, 1, 0, 0, 1, 0}; got != want {
		t.Errorf("one notification: %v, want %v", got, want)
	}
	if err := e.Process(ctx, n); err != nil || e.Stats().Duplicates != 1 {
		t.Errorf("redelivery: err %v, duplicates %d, want 1", err, e.Stats().Duplicates)
	}
	fault := errors.New("provider down")
	p.beforeFetch = func(int, provider.Position) error { return fault }
	n.MessageID = "s/2"
	if err := e.Process(ctx, n); !errors.Is(err, fault) {
		t.Fatalf("failing notification: %v", err)
	}
	p.beforeFetch = nil
	n.MessageID = "s/3"
	before = st.snapshot()
	if err := e.Process(ctx, n); err != nil {
		t.Fatal(err)
	}
	if got, want := diff(st.snapshot(), before), [6]int{1, 1, 0, 1, 1, 0}; got != want {
		t.Errorf("notification after a failure: %v, want %v", got, want)
	}
	if _, err := st.Attempt(ctx, "fake|cal-1|sync"); !errors.Is(err, calsync.ErrNotFound) {
		t.Errorf("attempt after a successful sync: err = %v, want ErrNotFound", err)
	}
}

func diff(a, b [6]int) [6]int {
	for i := range a {
		a[i] -= b[i]
	}
	return a
}
