package calsync_test

import (
	"context"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/calsync/calsync"
	"github.com/calsync/calsync/provider"
	"github.com/calsync/calsync/store/memory"
)

// blockingFetch is a fakeProvider whose Fetch, while armed, tells entered
// it has started and then waits for release or for its context to end.
type blockingFetch struct {
	*fakeProvider
	mu      sync.Mutex
	armed   bool
	entered chan struct{}
	release chan struct{}
}

func (b *blockingFetch) Fetch(ctx context.Context, cal provider.Calendar, pos provider.Position) (*provider.Page, error) {
	b.mu.Lock()
	armed := b.armed
	b.armed = false
	b.mu.Unlock()
	if armed {
		close(b.entered)
		select {
		case <-b.release:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	return b.fakeProvider.Fetch(ctx, cal, pos)
}

// shutdownRig is an Engine with one connected calendar whose next fetch
// blocks, a Run to stop, and what OnError heard.
type shutdownRig struct {
	st      *memory.Store
	p       *blockingFetch
	e       *calsync.Engine
	cancel  context.CancelFunc
	runDone chan struct{}
	mu      sync.Mutex
	errs    []error
}

func newShutdownRig(t *testing.T, drain time.Duration) *shutdownRig {
	t.Helper()
	r := &shutdownRig{st: memory.New(), runDone: make(chan struct{})}
	r.p = &blockingFetch{fakeProvider: newFakeProvider(10), entered: make(chan struct{}), release: make(chan struct{})}
	var err error
	r.e, err = calsync.NewEngine(calsync.Config{Store: r.st, Providers: []calsync.Provider{r.p}, Workers: 1, Debounce: -1,
		SkipCatchUp: true, ManualSweeps: true, DrainTimeout: drain,
		OnError: func(_ context.Context, _ calsync.Calendar, err error) {
			r.mu.Lock()
			r.errs = append(r.errs, err)
			r.mu.Unlock()
		}})
	if err != nil {
		t.Fatal(err)
	}
	connectFake(t, r.e)
	r.p.put("during-shutdown")
	r.p.mu.Lock()
	r.p.armed = true
	r.p.mu.Unlock()
	ctx, cancel := context.WithCancel(context.Background())
	r.cancel = cancel
	go func() {
		defer close(r.runDone)
		r.e.Run(ctx)
	}()
	t.Cleanup(func() { cancel(); <-r.runDone })
	if err := r.e.Enqueue(context.Background(), calsync.Notification{Kind: calsync.Changed, Provider: "fake", CalendarID: fakeCal.ID, MessageID: "m1"}); err != nil {
		t.Fatal(err)
	}
	<-r.p.entered // a worker's sync waits in Fetch
	return r
}

// check verifies that the shutdown reported nothing to OnError and left
// no failed attempt.
func (r *shutdownRig) check(t *testing.T) {
	t.Helper()
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.errs) != 0 {
		t.Errorf("OnError heard %v", r.errs)
	}
	due, err := r.st.DueAttempts(context.Background(), time.Now().Add(365*24*time.Hour), 10)
	if err != nil || len(due) != 0 {
		t.Errorf("attempts recorded: %v, %v", due, err)
	}
	if s := r.e.Stats(); s.Failures != 0 || s.DeadLetters != 0 {
		t.Errorf("stats after shutdown: %+v", s)
	}
}

// A sync under way when Run's context ends finishes and commits; Run
// waits for it and nothing is reported.
func TestShutdownDrainsSyncUnderWay(t *testing.T) {
	r := newShutdownRig(t, time.Hour)
	r.cancel()
	select {
	case <-r.runDone:
		t.Fatal("Run returned while a sync was under way")
	default:
	}
	close(r.p.release)
	<-r.runDone
	if got := storedIDs(t, r.st, fakeCal.ID); !slices.Contains(got, "during-shutdown") {
		t.Errorf("stored %v: the drained sync did not commit", got)
	}
	r.check(t)
	if s := r.e.Stats(); s.Handled != s.Enqueued {
		t.Errorf("handled %d of %d enqueued", s.Handled, s.Enqueued)
	}
}

// A sync that outlives DrainTimeout is cut; Run returns, and the cut is
// neither reported to OnError nor recorded as a failed attempt.
func TestShutdownCutsAtDrainDeadline(t *testing.T) {
	r := newShutdownRig(t, time.Nanosecond)
	r.cancel()
	<-r.runDone // without release: only the drain deadline ends the sync
	if got := storedIDs(t, r.st, fakeCal.ID); slices.Contains(got, "during-shutdown") {
		t.Errorf("stored %v: the cut sync committed", got)
	}
	r.check(t)
	if h, ok := r.e.Health(fakeCal.ID); !ok || h.LastError == nil {
		t.Errorf("health after the cut = %+v, %v; want the interrupted sync's error", h, ok)
	}
}

// A caller's deadline that passes is a failure (a provider too slow for
// the host's own timeout), reported as one, unlike a cancellation.
func TestDeadlineIsReportedCancellationIsNot(t *testing.T) {
	for _, c := range []struct {
		name     string
		ctx      func() (context.Context, context.CancelFunc)
		reported bool
	}{
		// The fetch blocks until the context ends: its deadline passes, or
		// the cancel the test makes once the fetch has started.
		{"deadline", func() (context.Context, context.CancelFunc) {
			return context.WithTimeout(context.Background(), 10*time.Millisecond)
		}, true},
		{"cancel", func() (context.Context, context.CancelFunc) { return context.WithCancel(context.Background()) }, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			p := &blockingFetch{fakeProvider: newFakeProvider(10), entered: make(chan struct{}), release: make(chan struct{})}
			var reported []error
			e, err := calsync.NewEngine(calsync.Config{Store: memory.New(), Providers: []calsync.Provider{p},
				OnError: func(_ context.Context, _ calsync.Calendar, err error) { reported = append(reported, err) }})
			if err != nil {
				t.Fatal(err)
			}
			connectFake(t, e)
			p.mu.Lock()
			p.armed = true
			p.mu.Unlock()
			ctx, cancel := c.ctx()
			defer cancel()
			if !c.reported {
				go func() { <-p.entered; cancel() }()
			}
			if err := e.Process(ctx, calsync.Notification{Kind: calsync.Changed, Provider: "fake", CalendarID: fakeCal.ID, MessageID: "m"}); err == nil {
				t.Fatal("Process succeeded on a done context")
			}
			if got := len(reported) == 1; got != c.reported {
				t.Errorf("OnError calls %d, want reported %v", len(reported), c.reported)
			}
		})
	}
}
