package calsync_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/calsync/calsync"
	"github.com/calsync/calsync/provider"
	"github.com/calsync/calsync/retry/retrytest"
	"github.com/calsync/calsync/store/memory"
)

// newFakeClock returns a settable clock for Config.Now.
func newFakeClock() *retrytest.Clock {
	return retrytest.NewManualClock(time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC))
}

func connectFake(t *testing.T, e *calsync.Engine) calsync.Subscription {
	t.Helper()
	sub, err := e.Connect(context.Background(), fakeCal, calsync.ConnectRequest{Address: "https://example.com/hook"})
	if err != nil {
		t.Fatal(err)
	}
	return sub
}

// A redelivered notification (same provider message) is recognised by the
// ledger and costs no sync.
func TestDuplicateNotificationSkipped(t *testing.T) {
	ctx := context.Background()
	p := newFakeProvider(10)
	e, _ := newTestEngine(t, p, memory.New(), calsync.Config{})
	connectFake(t, e)
	n := calsync.Notification{Kind: calsync.Changed, Provider: "fake", CalendarID: fakeCal.ID, SubscriptionID: "s", MessageID: "s/42", Received: time.Now()}
	before := e.Stats().Syncs
	for range 3 {
		if err := e.Process(ctx, n); err != nil {
			t.Fatal(err)
		}
	}
	s := e.Stats()
	if s.Syncs-before != 1 || s.Duplicates != 2 {
		t.Errorf("syncs %d, duplicates %d; want 1 sync and 2 duplicates", s.Syncs-before, s.Duplicates)
	}
	// Another message of the same channel is processed.
	n.MessageID = "s/57"
	if err := e.Process(ctx, n); err != nil || e.Stats().Syncs-before != 2 {
		t.Errorf("a new message was not processed: %v, syncs %d", err, e.Stats().Syncs-before)
	}
}

// Five failing attempts, 2^attempt minutes apart, make one dead letter and
// one hook call; a replay once the fault is gone succeeds.
func TestDeadLetterAfterFiveAttempts(t *testing.T) {
	ctx := context.Background()
	clock := newFakeClock()
	p := newFakeProvider(10)
	st := memory.New()
	var hooks []calsync.DeadLetter
	e, _ := newTestEngine(t, p, st, calsync.Config{Now: clock.Now, OnDeadLetter: func(_ context.Context, d calsync.DeadLetter) { hooks = append(hooks, d) }})
	connectFake(t, e)
	fault := errors.New("provider down")
	p.beforeFetch = func(int, provider.Position) error { return fault }
	p.put("late")
	n := calsync.Notification{Kind: calsync.Changed, Provider: "fake", CalendarID: fakeCal.ID, MessageID: "ch/7", Received: clock.Now()}
	if err := e.Process(ctx, n); !errors.Is(err, fault) {
		t.Fatalf("first attempt = %v", err)
	}
	var waits []time.Duration
	for attempt := 1; attempt < 5; attempt++ {
		if k, _ := e.RunSweep(ctx, calsync.SweepRetry); k != 0 {
			t.Fatalf("attempt %d retried before it was due", attempt)
		}
		a, err := st.Attempt(ctx, "fake|cal-1|sync")
		if err != nil {
			t.Fatal(err)
		}
		wait := a.NextAttempt.Sub(clock.Now())
		waits = append(waits, wait)
		clock.Advance(wait)
		if k, err := e.RunSweep(ctx, calsync.SweepRetry); k != 1 || err != nil {
			t.Fatalf("RetryDue at attempt %d = %d, %v", attempt+1, k, err)
		}
	}
	// 2^attempt minutes, less a jitter of at most a quarter.
	for i, want := range []time.Duration{2 * time.Minute, 4 * time.Minute, 8 * time.Minute, 16 * time.Minute} {
		if waits[i] > want || waits[i] < want-want/4 {
			t.Errorf("wait before attempt %d = %v, want within [%v, %v]", i+2, waits[i], want-want/4, want)
		}
	}
	if len(hooks) != 1 || hooks[0].Attempts != 5 || hooks[0].LastError == "" {
		t.Fatalf("dead-letter hooks = %+v, want one after 5 attempts", hooks)
	}
	dls, err := e.DeadLetters(ctx, "", 10)
	if err != nil || len(dls) != 1 {
		t.Fatalf("DeadLetters = %v, %v", dls, err)
	}
	if _, err := st.Attempt(ctx, "fake|cal-1|sync"); !errors.Is(err, calsync.ErrNotFound) {
		t.Errorf("attempt record kept after dead-lettering: %v", err)
	}
	clock.Advance(time.Hour)
	if k, _ := e.RunSweep(ctx, calsync.SweepRetry); k != 0 {
		t.Errorf("a dead letter was retried automatically")
	}
	// Replay fails while the fault persists, and the dead letter stays.
	if err := e.Replay(ctx, dls[0].ID); err == nil {
		t.Fatal("replay succeeded during the fault")
	}
	p.beforeFetch = nil
	if err := e.Replay(ctx, dls[0].ID); err != nil {
		t.Fatal(err)
	}
	if dls, _ := e.DeadLetters(ctx, "", 10); len(dls) != 0 {
		t.Errorf("dead letters after replay = %v", dls)
	}
	if _, err := st.Event(ctx, fakeCal.ID, "late"); err != nil {
		t.Errorf("replay did not sync the change: %v", err)
	}
	if s := e.Stats(); s.DeadLetters != 1 {
		t.Errorf("stats = %+v", s)
	}
}

// The safety net syncs calendars that have not synced for SafetyNetAfter,
// so a dropped push is recovered.
func TestSafetyNetRecoversDroppedNotification(t *testing.T) {
	ctx := context.Background()
	clock := newFakeClock()
	p := newFakeProvider(10)
	st := memory.New()
	e, _ := newTestEngine(t, p, st, calsync.Config{Now: clock.Now, SafetyNetAfter: 6 * time.Hour})
	connectFake(t, e)
	p.put("pushed-but-dropped")
	clock.Advance(5 * time.Hour)
	if k, err := e.RunSweep(ctx, calsync.SweepSafetyNet); k != 0 || err != nil {
		t.Fatalf("SafetyNet before 6 h synced %d (%v)", k, err)
	}
	clock.Advance(time.Hour + time.Second)
	if k, err := e.RunSweep(ctx, calsync.SweepSafetyNet); k != 1 || err != nil {
		t.Fatalf("SafetyNet after 6 h = %d, %v", k, err)
	}
	if _, err := st.Event(ctx, fakeCal.ID, "pushed-but-dropped"); err != nil {
		t.Fatalf("dropped change not recovered: %v", err)
	}
	if k, _ := e.RunSweep(ctx, calsync.SweepSafetyNet); k != 0 {
		t.Errorf("SafetyNet synced again right after a sync")
	}
}

// A change made while no process ran is picked up by the catch-up of the
// next Engine on the same Store.
func TestRestartCatchUp(t *testing.T) {
	ctx := context.Background()
	p := newFakeProvider(10)
	st := memory.New()
	e1, _ := newTestEngine(t, p, st, calsync.Config{})
	connectFake(t, e1)
	p.put("while-down")
	e2, rec := newTestEngine(t, p, st, calsync.Config{})
	if k, err := e2.RunSweep(ctx, calsync.SweepCatchUp); k != 1 || err != nil {
		t.Fatalf("CatchUp = %d, %v", k, err)
	}
	if !slices.Equal(storedIDs(t, st, fakeCal.ID), p.ids()) || rec.count(calsync.Upsert) != 1 {
		t.Fatalf("after catch-up stored %v, provider %v", storedIDs(t, st, fakeCal.ID), p.ids())
	}
}

// Run catches up on start without being told.
func TestRunCatchesUpOnStart(t *testing.T) {
	p := newFakeProvider(10)
	st := memory.New()
	e1, _ := newTestEngine(t, p, st, calsync.Config{})
	connectFake(t, e1)
	p.put("while-down")
	done := make(chan struct{})
	var once sync.Once
	rec := &recorder{}
	cfg := calsync.Config{Store: st, Providers: []calsync.Provider{p}, OnChange: func(ctx context.Context, c calsync.Calendar, cs []calsync.Change) {
		rec.onChange(ctx, c, cs)
		once.Do(func() { close(done) })
	}}
	e3, err := calsync.NewEngine(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() { errc <- e3.Run(ctx) }()
	<-done
	cancel()
	if err := <-errc; !errors.Is(err, context.Canceled) {
		t.Errorf("Run = %v", err)
	}
	if rec.count(calsync.Upsert) != 1 {
		t.Errorf("catch-up upserts = %d", rec.count(calsync.Upsert))
	}
}

func TestFailureRateAlert(t *testing.T) {
	ctx := context.Background()
	clock := newFakeClock()
	p := newFakeProvider(10)
	var alerts []calsync.Alert
	e, _ := newTestEngine(t, p, memory.New(), calsync.Config{Now: clock.Now, Alerts: calsync.AlertConfig{OnAlert: func(_ context.Context, a calsync.Alert) { alerts = append(alerts, a) }}})
	connectFake(t, e)
	fail := false
	p.beforeFetch = func(int, provider.Position) error {
		if fail {
			return errors.New("boom")
		}
		return nil
	}
	for i := range 30 {
		fail = i%4 == 0 // 8 of 30 fail: 27 %
		clock.Advance(time.Second)
		e.Process(ctx, calsync.Notification{Kind: calsync.Changed, Provider: "fake", CalendarID: fakeCal.ID, Received: clock.Now()})
	}
	var rate []calsync.Alert
	for _, a := range alerts {
		if a.Kind == calsync.AlertFailureRate {
			rate = append(rate, a)
		}
	}
	if len(rate) != 1 || rate[0].Value <= 0.10 || rate[0].Threshold != 0.10 {
		t.Fatalf("failure-rate alerts = %+v, want exactly one above 10 %%", rate)
	}
}

func TestSubscriptionExpiringAlert(t *testing.T) {
	ctx := context.Background()
	clock := newFakeClock()
	p := newFakeProvider(10)
	p.now = clock.Now
	var alerts []calsync.Alert
	e, _ := newTestEngine(t, p, memory.New(), calsync.Config{Now: clock.Now, Alerts: calsync.AlertConfig{OnAlert: func(_ context.Context, a calsync.Alert) { alerts = append(alerts, a) }}})
	sub, err := e.Connect(ctx, fakeCal, calsync.ConnectRequest{Address: "https://example.com/hook", TTL: 3 * time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	p.onWatch = func(provider.WatchRequest) error { return errors.New("watch refused") }
	clock.Advance(2 * time.Hour)
	if _, err := e.RunSweep(ctx, calsync.SweepRenew); err == nil {
		t.Fatal("renewal succeeded although watch fails")
	}
	if len(alerts) != 1 || alerts[0].Kind != calsync.AlertSubscriptionExpiring || alerts[0].SubscriptionID != sub.ID {
		t.Fatalf("alerts = %+v", alerts)
	}
}

func TestCalendarHealth(t *testing.T) {
	ctx := context.Background()
	clock := newFakeClock()
	p := newFakeProvider(10)
	p.now = clock.Now
	e, _ := newTestEngine(t, p, memory.New(), calsync.Config{Now: clock.Now})
	sub := connectFake(t, e)
	clock.Advance(90 * time.Minute)
	h, err := e.CalendarHealth(ctx, fakeCal.ID)
	if err != nil {
		t.Fatal(err)
	}
	if h.CursorAge != 90*time.Minute || !h.SubscriptionExpiry.Equal(sub.Expiration) || h.FullSyncInProgress || h.Local.LastSuccess.IsZero() {
		t.Errorf("health = %+v", h)
	}
	if _, err := e.CalendarHealth(ctx, "nope"); !errors.Is(err, calsync.ErrNotFound) {
		t.Errorf("unknown calendar: %v", err)
	}
}

// A notification folded into a sync that Engine.Sync runs is acknowledged
// (its ledger entry done) at once; if the follow-up run made for it fails,
// the change it announced must still be retried, as it would have been had
// a worker run the sync.
func TestNotificationFoldedIntoFailedSyncIsRetried(t *testing.T) {
	ctx := context.Background()
	clock := newFakeClock()
	p := newFakeProvider(10)
	st := memory.New()
	e, _ := newTestEngine(t, p, st, calsync.Config{Now: clock.Now})
	connectFake(t, e)
	entered, release := make(chan struct{}), make(chan struct{})
	fault := errors.New("provider down")
	p.beforeFetch = func(n int, _ provider.Position) error {
		select {
		case <-entered:
			// The follow-up run: the announced change exists, the
			// provider fails.
			p.put("announced")
			return fault
		default:
			close(entered)
			<-release
			return nil
		}
	}
	errc := make(chan error, 1)
	go func() { _, err := e.Sync(ctx, fakeCal.ID); errc <- err }()
	<-entered
	n := calsync.Notification{Kind: calsync.Changed, Provider: "fake", CalendarID: fakeCal.ID, MessageID: "ch/9", Received: clock.Now()}
	if err := e.Process(ctx, n); err != nil {
		t.Fatalf("folded notification: %v", err)
	}
	close(release)
	if err := <-errc; !errors.Is(err, fault) {
		t.Fatalf("Sync = %v, want the follow-up's failure", err)
	}
	p.beforeFetch = nil
	clock.Advance(time.Hour)
	if _, err := e.RunSweep(ctx, calsync.SweepRetry); err != nil {
		t.Fatal(err)
	}
	if _, err := st.Event(ctx, fakeCal.ID, "announced"); err != nil {
		t.Fatalf("the change announced by the folded notification was never retried: %v", err)
	}
}

// A due retry runs even when the ledger entry of its notification was left
// done or in progress (a failure to record the previous outcome): the
// attempt record is the claim. Otherwise the retry would be skipped as a
// duplicate every round, never cleared and never dead-lettered.
func TestRetryNotSkippedByStaleLedgerEntry(t *testing.T) {
	ctx := context.Background()
	clock := newFakeClock()
	p := newFakeProvider(10)
	p.now = clock.Now
	st := memory.New()
	e, _ := newTestEngine(t, p, st, calsync.Config{Now: clock.Now})
	connectFake(t, e)
	p.beforeFetch = func(int, provider.Position) error { return errors.New("provider down") }
	p.put("late")
	n := calsync.Notification{Kind: calsync.Changed, Provider: "fake", CalendarID: fakeCal.ID, MessageID: "ch/9", Received: clock.Now()}
	if err := e.Process(ctx, n); err == nil {
		t.Fatal("first attempt succeeded")
	}
	// The outcome was recorded as "done" by mistake (say FailNotification
	// failed after a Begin that another path completed).
	if err := st.CompleteNotification(ctx, "fake|ch/9", clock.Now()); err != nil {
		t.Fatal(err)
	}
	p.beforeFetch = nil
	clock.Advance(2 * time.Minute)
	if k, err := e.RunSweep(ctx, calsync.SweepRetry); k != 1 || err != nil {
		t.Fatalf("RetryDue = %d, %v", k, err)
	}
	if _, err := st.Event(ctx, fakeCal.ID, "late"); err != nil {
		t.Fatalf("the retry did not sync: %v", err)
	}
	if _, err := st.Attempt(ctx, "fake|cal-1|sync"); !errors.Is(err, calsync.ErrNotFound) {
		t.Errorf("attempt record left behind: %v", err)
	}
}

// Several notifications of one calendar failing in one outage (Google
// sends up to three per change) share one retry schedule: one attempt
// record, counted by the retries only, and at most one dead letter.
func TestFailuresOfOneCalendarShareOneRetry(t *testing.T) {
	ctx := context.Background()
	clock := newFakeClock()
	p := newFakeProvider(10)
	st := memory.New()
	var dead []calsync.DeadLetter
	e, _ := newTestEngine(t, p, st, calsync.Config{Now: clock.Now, OnDeadLetter: func(_ context.Context, d calsync.DeadLetter) { dead = append(dead, d) }})
	connectFake(t, e)
	fault := errors.New("provider down")
	p.beforeFetch = func(int, provider.Position) error { return fault }
	for i := range 3 {
		n := calsync.Notification{Kind: calsync.Changed, Provider: "fake", CalendarID: fakeCal.ID, MessageID: fmt.Sprint("ch/", i)}
		if err := e.Process(ctx, n); !errors.Is(err, fault) {
			t.Fatalf("Process = %v", err)
		}
	}
	a, err := st.Attempt(ctx, "fake|cal-1|sync")
	if err != nil || a.Attempts != 1 {
		t.Fatalf("attempt record = %+v, %v; want one attempt for the three notifications", a, err)
	}
	for range 10 {
		clock.Advance(time.Hour)
		e.RunSweep(ctx, calsync.SweepRetry)
	}
	if len(dead) != 1 {
		t.Errorf("dead letters = %d, want 1", len(dead))
	}
}
