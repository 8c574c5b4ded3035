package calsync_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/calsync/calsync"
	"github.com/calsync/calsync/provider"
	"github.com/calsync/calsync/store/memory"
)

// A queue that keeps its own attempts (riverqueue) gets the error back
// until the final attempt, which becomes one dead letter and one hook
// call; no attempt record is kept by the Engine meanwhile, and a replay
// works as with the memory queue.
func TestProcessAttemptDeadLettersTheFinalFailure(t *testing.T) {
	ctx := context.Background()
	p := newFakeProvider(10)
	st := memory.New()
	var hooks []calsync.DeadLetter
	e, _ := newTestEngine(t, p, st, calsync.Config{OnDeadLetter: func(_ context.Context, d calsync.DeadLetter) { hooks = append(hooks, d) }})
	connectFake(t, e)
	fault := errors.New("provider down")
	p.beforeFetch = func(int, provider.Position) error { return fault }
	n := calsync.Notification{Kind: calsync.Changed, Provider: "fake", CalendarID: fakeCal.ID, MessageID: "ch/9", Received: time.Now()}
	for attempt := 1; attempt < 3; attempt++ {
		if err := e.ProcessAttempt(ctx, n, attempt, false); !errors.Is(err, fault) {
			t.Fatalf("attempt %d = %v, want the fault back for a retry", attempt, err)
		}
		if _, err := st.Attempt(ctx, "fake|cal-1|sync"); !errors.Is(err, calsync.ErrNotFound) {
			t.Fatalf("attempt %d left an Engine retry record (%v): the queue keeps attempts", attempt, err)
		}
	}
	if len(hooks) != 0 {
		t.Fatalf("dead-lettered before the final attempt: %+v", hooks)
	}
	if err := e.ProcessAttempt(ctx, n, 3, true); err != nil {
		t.Fatalf("final attempt = %v, want nil (dead-lettered, nothing to retry)", err)
	}
	if len(hooks) != 1 || hooks[0].Attempts != 3 || hooks[0].LastError == "" || hooks[0].Notification.CalendarID != fakeCal.ID {
		t.Fatalf("dead-letter hooks = %+v, want one after 3 attempts", hooks)
	}
	dls, err := e.DeadLetters(ctx, "", 10)
	if err != nil || len(dls) != 1 {
		t.Fatalf("DeadLetters = %v, %v", dls, err)
	}
	p.beforeFetch = nil
	if err := e.Replay(ctx, dls[0].ID); err != nil {
		t.Fatal(err)
	}
	if dls, _ := e.DeadLetters(ctx, "", 10); len(dls) != 0 {
		t.Errorf("dead letters after replay = %v", dls)
	}
}

// A calendar the provider refused for good is not retried by the queue:
// ProcessAttempt returns nil at once, and nothing is dead-lettered.
func TestProcessAttemptDoesNotRetryAnUnavailableCalendar(t *testing.T) {
	ctx := context.Background()
	p := newFakeProvider(10)
	var hooks int
	e, _ := newTestEngine(t, p, memory.New(), calsync.Config{OnDeadLetter: func(context.Context, calsync.DeadLetter) { hooks++ }})
	connectFake(t, e)
	p.beforeFetch = func(int, provider.Position) error {
		return &provider.Error{Provider: "fake", Op: "events.list", StatusCode: 404, Err: calsync.ErrCalendarUnavailable}
	}
	n := calsync.Notification{Kind: calsync.Changed, Provider: "fake", CalendarID: fakeCal.ID, MessageID: "ch/10", Received: time.Now()}
	if err := e.ProcessAttempt(ctx, n, 1, false); err != nil {
		t.Fatalf("ProcessAttempt = %v, want nil: no retry can succeed", err)
	}
	if err := e.ProcessAttempt(ctx, n, 5, true); err != nil || hooks != 0 {
		t.Fatalf("final attempt = %v with %d dead letters, want nil and none", err, hooks)
	}
}

// A shutdown cutting an attempt short is not a failure: ctx's error comes
// back and nothing is recorded.
func TestProcessAttemptShutdownRecordsNothing(t *testing.T) {
	p := newFakeProvider(10)
	var hooks int
	e, _ := newTestEngine(t, p, memory.New(), calsync.Config{OnDeadLetter: func(context.Context, calsync.DeadLetter) { hooks++ }})
	connectFake(t, e)
	ctx, cancel := context.WithCancel(context.Background())
	p.beforeFetch = func(int, provider.Position) error { cancel(); return ctx.Err() }
	n := calsync.Notification{Kind: calsync.Changed, Provider: "fake", CalendarID: fakeCal.ID, MessageID: "ch/11", Received: time.Now()}
	if err := e.ProcessAttempt(ctx, n, 5, true); !errors.Is(err, context.Canceled) {
		t.Fatalf("ProcessAttempt = %v, want context.Canceled", err)
	}
	if hooks != 0 {
		t.Errorf("a shutdown was dead-lettered")
	}
}

// A deadline that passes (a queue's job timeout) is a failure, not a
// shutdown: the final attempt is dead-lettered.
func TestProcessAttemptDeadlineIsAFailure(t *testing.T) {
	p := newFakeProvider(10)
	var hooks []calsync.DeadLetter
	e, _ := newTestEngine(t, p, memory.New(), calsync.Config{OnDeadLetter: func(_ context.Context, d calsync.DeadLetter) { hooks = append(hooks, d) }})
	connectFake(t, e)
	ctx, cancel := context.WithTimeout(context.Background(), time.Millisecond)
	defer cancel()
	p.beforeFetch = func(int, provider.Position) error { <-ctx.Done(); return ctx.Err() }
	n := calsync.Notification{Kind: calsync.Changed, Provider: "fake", CalendarID: fakeCal.ID, MessageID: "ch/12", Received: time.Now()}
	if err := e.ProcessAttempt(ctx, n, 5, true); err != nil {
		t.Fatalf("final attempt past its deadline = %v, want nil (dead-lettered)", err)
	}
	if len(hooks) != 1 {
		t.Errorf("dead letters = %d, want 1: a job that never fits its timeout must not snooze for ever", len(hooks))
	}
}

// failingRunner is a QueueRunner whose RunQueue fails at once.
type failingRunner struct{ calsync.Queue }

var errRunnerDown = errors.New("queue database unreachable")

func (failingRunner) RunQueue(context.Context, *calsync.Engine) error { return errRunnerDown }
func (failingRunner) Unfinished(context.Context) (int, error)         { return 0, nil }

// A QueueRunner that fails ends Run with its error, and the change-feed
// consumer Run started with it stops too (Run does not hang on it).
func TestRunReturnsWhenTheQueueRunnerFails(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	p := newFakeProvider(10)
	e, _ := newTestEngine(t, p, memory.New(), calsync.Config{Queue: failingRunner{calsync.NewMemoryQueue(1)}})
	if err := e.Run(ctx); !errors.Is(err, errRunnerDown) {
		t.Fatalf("Run = %v, want the queue's error", err)
	}
}
