package calsync_test

import (
	"context"
	"fmt"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/calsync/calsync"
	"github.com/calsync/calsync/provider"
	"github.com/calsync/calsync/store/memory"
	"github.com/calsync/calsync/store/sqlite"
)

// Renewal by several Engines sharing one Store: with a Store that
// implements calsync.Leases, each expiring subscription is renewed by
// exactly one of them.

// seedT0 is when the seeded subscriptions were created; they live
// seedTTL, and the sweeps run at sweepAt, when all of them expire within
// sweepRenewBefore.
var seedT0 = time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)

const (
	seedTTL          = 3 * time.Hour
	sweepRenewBefore = time.Hour
)

var sweepAt = seedT0.Add(150 * time.Minute)

func seedSubID(i int) string { return fmt.Sprintf("sub-%05d", i) }
func seedCalID(i int) string { return fmt.Sprintf("cal-%05d", i) }

// seedExpiring stores n calendars of the fake provider with one
// subscription each, as Connect leaves them, all created at seedT0.
func seedExpiring(tb testing.TB, st calsync.Store, n int) {
	tb.Helper()
	ctx := context.Background()
	for i := range n {
		cal := calsync.Calendar{ID: seedCalID(i), Provider: "fake", AccountID: fmt.Sprintf("acct-%05d", i), RemoteID: "primary"}
		if err := st.PutCalendar(ctx, cal); err != nil {
			tb.Fatal(err)
		}
		sub := calsync.Subscription{ID: seedSubID(i), CalendarID: cal.ID, Provider: "fake", ResourceID: "res-" + cal.ID,
			Address: "https://example.com/hook", Secret: "secret", Created: seedT0, Expiration: seedT0.Add(seedTTL)}
		if err := st.PutSubscription(ctx, sub); err != nil {
			tb.Fatal(err)
		}
	}
}

// sweepEngine returns an Engine on st and p whose clock stands at sweepAt
// and that renews what expires within renewBefore.
func sweepEngine(tb testing.TB, st calsync.Store, p calsync.Provider, renewBefore time.Duration) *calsync.Engine {
	tb.Helper()
	e, err := calsync.NewEngine(calsync.Config{
		Store: st, Providers: []calsync.Provider{p}, RenewBefore: renewBefore,
		Now: func() time.Time { return sweepAt },
	})
	if err != nil {
		tb.Fatal(err)
	}
	return e
}

// sweepTogether runs RenewExpiring on every engine at once (released
// together by closing a channel) and returns what each reported.
func sweepTogether(engines ...*calsync.Engine) ([]int, []error) {
	start := make(chan struct{})
	ns, errs := make([]int, len(engines)), make([]error, len(engines))
	var wg sync.WaitGroup
	for i, e := range engines {
		wg.Go(func() {
			<-start
			ns[i], errs[i] = e.RunSweep(context.Background(), calsync.SweepRenew)
		})
	}
	close(start)
	wg.Wait()
	return ns, errs
}

// noLeases hides every optional capability of a Store, Leases included:
// the Engine renews as it did before leases existed.
type noLeases struct{ calsync.Store }

// checkReplacedOnce checks that each of the n seeded subscriptions was
// replaced exactly once: one Watch and one Stop per subscription, the old
// one stopped, the new one stored, and no channel left delivering that is
// neither stored nor stopped.
func checkReplacedOnce(t *testing.T, st calsync.Store, p *fakeProvider, n int) {
	t.Helper()
	p.mu.Lock()
	watched := make([]string, len(p.watches))
	for i, w := range p.watches {
		watched[i] = w.ID
	}
	stopped := make(map[string]int, len(p.stopped))
	for _, id := range p.stopped {
		stopped[id]++
	}
	p.mu.Unlock()
	if len(watched) != n {
		t.Errorf("%d Watch calls for %d expiring subscriptions, want %d", len(watched), n, n)
	}
	for i := range n {
		if c := stopped[seedSubID(i)]; c != 1 {
			t.Errorf("old subscription %s stopped %d times, want 1", seedSubID(i), c)
		}
	}
	if len(stopped) != n {
		t.Errorf("%d distinct subscriptions stopped, want %d (the old ones)", len(stopped), n)
	}
	stored := make(map[string]bool, n)
	for i := range n {
		subs, err := st.ListSubscriptions(context.Background(), seedCalID(i))
		if err != nil {
			t.Fatal(err)
		}
		if len(subs) != 1 || subs[0].ID == seedSubID(i) || !subs[0].Expiration.Equal(sweepAt.Add(seedTTL)) {
			t.Errorf("calendar %s: subscriptions after the sweeps = %+v, want one new one expiring at %s", seedCalID(i), subs, sweepAt.Add(seedTTL))
			continue
		}
		stored[subs[0].ID] = true
	}
	for _, id := range watched {
		if !stored[id] && stopped[id] == 0 {
			t.Errorf("channel %s was created but is neither stored nor stopped (orphaned)", id)
		}
	}
}

func checkSweeps(t *testing.T, ns []int, errs []error, n int) {
	t.Helper()
	total := 0
	for i := range ns {
		if errs[i] != nil {
			t.Errorf("RenewExpiring of engine %d: %v", i, errs[i])
		}
		total += ns[i]
	}
	if total != n {
		t.Errorf("engines renewed %v subscriptions, %d in all; want %d in all", ns, total, n)
	}
	t.Logf("renewals per engine: %v", ns)
}

// Two Engines sweeping one memory Store at the same time replace every
// expiring subscription once (Google's renewal: new channel, stop old).
func TestRenewTwoInstancesReplaceOnce(t *testing.T) {
	const n = 200
	st := memory.New()
	seedExpiring(t, st, n)
	p := newFakeProvider(10)
	p.now = func() time.Time { return sweepAt }
	ns, errs := sweepTogether(sweepEngine(t, st, p, sweepRenewBefore), sweepEngine(t, st, p, sweepRenewBefore))
	checkSweeps(t, ns, errs, n)
	checkReplacedOnce(t, st, p, n)
}

// The same with two *sqlite.Store handles of one database file, as two
// processes would have.
func TestRenewTwoInstancesReplaceOnceSQLite(t *testing.T) {
	const n = 200
	path := filepath.Join(t.TempDir(), "calsync.db")
	open := func() *sqlite.Store {
		s, err := sqlite.Open(context.Background(), path, nil)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		return s
	}
	a, b := open(), open()
	seedExpiring(t, a, n)
	p := newFakeProvider(10)
	p.now = func() time.Time { return sweepAt }
	ns, errs := sweepTogether(sweepEngine(t, a, p, sweepRenewBefore), sweepEngine(t, b, p, sweepRenewBefore))
	checkSweeps(t, ns, errs, n)
	checkReplacedOnce(t, a, p, n)
}

// Two Engines sweeping at the same time extend every expiring subscription
// once (Graph's renewal: one PATCH).
func TestRenewTwoInstancesRenewInPlaceOnce(t *testing.T) {
	const n = 200
	st := memory.New()
	seedExpiring(t, st, n)
	clock := func() time.Time { return sweepAt }
	fp := newFakeProvider(10)
	fp.now = clock
	p := &renewingProvider{fakeProvider: fp, now: clock}
	ns, errs := sweepTogether(sweepEngine(t, st, p, sweepRenewBefore), sweepEngine(t, st, p, sweepRenewBefore))
	checkSweeps(t, ns, errs, n)
	renews := make(map[string]int)
	for _, c := range p.log() {
		var id string
		var ttl time.Duration
		if _, err := fmt.Sscanf(c, "renew %s %v", &id, &ttl); err != nil {
			t.Fatalf("unexpected provider call %q", c)
		}
		renews[id]++
	}
	for i := range n {
		if c := renews[seedSubID(i)]; c != 1 {
			t.Errorf("subscription %s renewed %d times, want 1", seedSubID(i), c)
		}
		sub, err := st.Subscription(context.Background(), seedSubID(i))
		if err != nil || !sub.Expiration.Equal(sweepAt.Add(seedTTL)) {
			t.Errorf("subscription %s after the sweeps = %+v, %v; want it expiring at %s", seedSubID(i), sub, err, sweepAt.Add(seedTTL))
		}
	}
	if len(renews) != n || len(fp.watches) != 0 || len(fp.stopped) != 0 {
		t.Errorf("%d subscriptions renewed, %d watched, %d stopped; want %d, 0, 0", len(renews), len(fp.watches), len(fp.stopped), n)
	}
}

// A sweep that runs while another Engine is creating a subscription (its
// placeholder stored, the provider not yet answered) leaves the
// placeholder alone: renewing it would create a second channel.
func TestRenewSkipsSubscriptionBeingCreated(t *testing.T) {
	st := memory.New()
	p := newFakeProvider(10)
	p.now = func() time.Time { return sweepAt }
	// The placeholder Connect stores expires in an hour: due for a sweep
	// renewing what expires within two.
	connecting, sweeper := sweepEngine(t, st, p, sweepRenewBefore), sweepEngine(t, st, p, 2*time.Hour)
	var (
		swept    atomic.Bool
		n        int
		sweepErr error
		seen     []calsync.Subscription
	)
	p.onWatch = func(req provider.WatchRequest) error {
		if swept.CompareAndSwap(false, true) { // the sweep's own Watch, if any, passes
			seen, _ = st.ExpiringSubscriptions(context.Background(), sweepAt.Add(2*time.Hour))
			n, sweepErr = sweeper.RunSweep(context.Background(), calsync.SweepRenew)
		}
		return nil
	}
	sub, err := connecting.Connect(context.Background(), fakeCal, calsync.ConnectRequest{Address: "https://example.com/hook", TTL: seedTTL})
	if err != nil {
		t.Fatal(err)
	}
	if len(seen) != 1 {
		t.Fatalf("expiring subscriptions during Watch = %+v, want the placeholder", seen)
	}
	if n != 0 || sweepErr != nil {
		t.Errorf("sweep during Watch: RenewExpiring = %d, %v; want 0, nil", n, sweepErr)
	}
	if len(p.watches) != 1 || len(p.stopped) != 0 {
		t.Errorf("Watch calls %d, Stop calls %d; want 1 and 0", len(p.watches), len(p.stopped))
	}
	subs, err := st.ListSubscriptions(context.Background(), fakeCal.ID)
	if err != nil || len(subs) != 1 || subs[0].ID != sub.ID {
		t.Errorf("stored subscriptions = %+v, %v; want only %s", subs, err, sub.ID)
	}
}
