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
	"github.com/calsync/calsync/store/memory"
)

// renewingProvider is the fake provider with Graph's optional capabilities:
// renewal in place and reauthorization. Errors set on it make the calls
// fail; calls records them in order.
type renewingProvider struct {
	*fakeProvider
	now func() time.Time

	mu        sync.Mutex
	calls     []string
	renewErr  error
	reauthErr error
}

var (
	_ provider.Renewer      = (*renewingProvider)(nil)
	_ provider.Reauthorizer = (*renewingProvider)(nil)
)

func (r *renewingProvider) Renew(_ context.Context, _ provider.Calendar, sub *provider.Subscription, ttl time.Duration) (*provider.Subscription, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.calls = append(r.calls, fmt.Sprintf("renew %s %v", sub.ID, ttl))
	if r.renewErr != nil {
		return nil, r.renewErr
	}
	out := *sub
	out.Created, out.Expiration = r.now(), r.now().Add(ttl)
	return &out, nil
}

func (r *renewingProvider) Reauthorize(_ context.Context, _ provider.Calendar, sub *provider.Subscription) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.calls = append(r.calls, "reauthorize "+sub.ID)
	return r.reauthErr
}

func (r *renewingProvider) log() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.calls)
}

// gone is what the msgraph provider returns for a 404 on PATCH.
var gone = &provider.Error{Provider: "fake", Op: "subscriptions.update", StatusCode: 404, Err: provider.ErrSubscriptionGone}

// renewFixture connects fakeCal to a renewing provider holding events a,
// b and c, with a 3-hour subscription, at a fake clock the test moves.
type renewFixture struct {
	p    *renewingProvider
	st   *memory.Store
	e    *calsync.Engine
	now  *time.Time
	sub  calsync.Subscription
	errs []error
}

func newRenewFixture(t *testing.T) *renewFixture {
	t.Helper()
	now := time.Unix(0, 0)
	f := &renewFixture{now: &now, st: memory.New()}
	clock := func() time.Time { return *f.now }
	fp := newFakeProvider(2)
	fp.now = clock // the expirations Watch grants
	f.p = &renewingProvider{fakeProvider: fp, now: clock}
	f.p.put("a", "b", "c")
	e, err := calsync.NewEngine(calsync.Config{
		Store: f.st, Providers: []calsync.Provider{f.p}, RenewBefore: time.Hour,
		Now:     func() time.Time { return *f.now },
		OnError: func(_ context.Context, _ calsync.Calendar, err error) { f.errs = append(f.errs, err) },
	})
	if err != nil {
		t.Fatal(err)
	}
	f.e = e
	f.sub, err = e.Connect(context.Background(), fakeCal, calsync.ConnectRequest{Address: "https://example.com/hook", LifecycleAddress: "https://example.com/life", TTL: 3 * time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	if got := storedIDs(t, f.st, fakeCal.ID); !slices.Equal(got, []string{"a", "b", "c"}) {
		t.Fatalf("after connect: %v", got)
	}
	return f
}

func (f *renewFixture) subs(t *testing.T) []calsync.Subscription {
	t.Helper()
	subs, err := f.st.ListSubscriptions(context.Background(), fakeCal.ID)
	if err != nil {
		t.Fatal(err)
	}
	return subs
}

// A Renewer's subscription is extended in place: same id and secret, new
// expiration stored, nothing created or stopped, no resync.
func TestRenewInPlace(t *testing.T) {
	f := newRenewFixture(t)
	*f.now = f.now.Add(150 * time.Minute)
	fetches := f.p.fetches
	if n, err := f.e.RunSweep(context.Background(), calsync.SweepRenew); n != 1 || err != nil {
		t.Fatalf("RenewExpiring = %d, %v", n, err)
	}
	if got := f.p.log(); !slices.Equal(got, []string{"renew " + f.sub.ID + " 3h0m0s"}) {
		t.Errorf("calls = %v", got)
	}
	subs := f.subs(t)
	if len(subs) != 1 || subs[0].ID != f.sub.ID || subs[0].SecretHash != f.sub.SecretHash || f.sub.SecretHash == ([32]byte{}) || subs[0].LifecycleAddress != "https://example.com/life" ||
		!subs[0].Expiration.Equal(f.now.Add(3*time.Hour)) || !subs[0].Created.Equal(*f.now) {
		t.Fatalf("subscriptions after renewal = %+v", subs)
	}
	if len(f.p.watches) != 1 || len(f.p.stopped) != 0 || f.p.fetches != fetches {
		t.Errorf("watches %d, stopped %v, fetches %d → %d", len(f.p.watches), f.p.stopped, fetches, f.p.fetches)
	}
	// The lease length is kept: the next renewal asks for 3 h again.
	*f.now = f.now.Add(150 * time.Minute)
	if n, err := f.e.RunSweep(context.Background(), calsync.SweepRenew); n != 1 || err != nil {
		t.Fatalf("second RenewExpiring = %d, %v", n, err)
	}
	if got := f.p.log(); len(got) != 2 || got[1] != "renew "+f.sub.ID+" 3h0m0s" {
		t.Errorf("calls = %v", got)
	}
}

// A 404 on renewal (ErrSubscriptionGone): a new subscription replaces the
// old one and a full resync deletes what the provider lost meanwhile,
// which an incremental sync could not see.
func TestRenewGoneRecreatesAndResyncs(t *testing.T) {
	f := newRenewFixture(t)
	f.p.delSilently("b")
	f.p.put("d")
	f.p.renewErr = gone
	*f.now = f.now.Add(150 * time.Minute)
	if n, err := f.e.RunSweep(context.Background(), calsync.SweepRenew); n != 1 || err != nil {
		t.Fatalf("RenewExpiring = %d, %v", n, err)
	}
	subs := f.subs(t)
	if len(subs) != 1 || subs[0].ID == f.sub.ID || subs[0].Address != f.sub.Address || subs[0].LifecycleAddress != f.sub.LifecycleAddress {
		t.Fatalf("subscriptions = %+v", subs)
	}
	if len(f.p.watches) != 2 || f.p.watches[1].TTL != 3*time.Hour || !slices.Equal(f.p.stopped, []string{f.sub.ID}) {
		t.Errorf("watches %+v, stopped %v", f.p.watches, f.p.stopped)
	}
	if got := storedIDs(t, f.st, fakeCal.ID); !slices.Equal(got, []string{"a", "c", "d"}) {
		t.Errorf("events after resync = %v, want a c d", got)
	}
	if st, _ := f.st.SyncState(context.Background(), fakeCal.ID); st.Cursor == "" {
		t.Errorf("no cursor after the resync: %+v", st)
	}
	if len(f.errs) != 0 {
		t.Errorf("OnError got %v", f.errs)
	}
}

// Other renewal failures are reported and change nothing.
func TestRenewFailureKeepsSubscription(t *testing.T) {
	f := newRenewFixture(t)
	f.p.renewErr = &provider.Error{Provider: "fake", Op: "subscriptions.update", StatusCode: 503, RetryAfter: time.Second}
	*f.now = f.now.Add(150 * time.Minute)
	n, err := f.e.RunSweep(context.Background(), calsync.SweepRenew)
	if n != 0 || err == nil || errors.Is(err, calsync.ErrSubscriptionGone) {
		t.Fatalf("RenewExpiring = %d, %v", n, err)
	}
	if subs := f.subs(t); len(subs) != 1 || subs[0].ID != f.sub.ID || !subs[0].Expiration.Equal(f.sub.Expiration) {
		t.Errorf("subscriptions = %+v", subs)
	}
	if len(f.p.watches) != 1 || len(f.errs) != 1 {
		t.Errorf("watches %d, OnError %v", len(f.p.watches), f.errs)
	}
}

// The lifecycle notifications: reauthorizationRequired reauthorizes then
// renews in place; subscriptionRemoved recreates; missed only syncs; each
// ends with a sync that catches up the calendar.
func TestLifecycleNotifications(t *testing.T) {
	for _, tc := range []struct {
		kind      calsync.NotificationKind
		reauthErr error
		calls     func(id string) []string
		recreated bool
	}{
		{calsync.ReauthorizationRequired, nil, func(id string) []string { return []string{"reauthorize " + id, "renew " + id + " 3h0m0s"} }, false},
		{calsync.ReauthorizationRequired, gone, func(id string) []string { return []string{"reauthorize " + id} }, true},
		{calsync.SubscriptionRemoved, nil, func(string) []string { return nil }, true},
		{calsync.Resync, nil, func(string) []string { return nil }, false},
	} {
		t.Run(fmt.Sprintf("%v/%v", tc.kind, tc.reauthErr != nil), func(t *testing.T) {
			f := newRenewFixture(t)
			f.p.reauthErr = tc.reauthErr
			f.p.put("e")
			*f.now = f.now.Add(time.Minute)
			err := f.e.Process(context.Background(), calsync.Notification{
				Kind: tc.kind, Provider: "fake", SubscriptionID: f.sub.ID, CalendarID: fakeCal.ID, MessageID: "m-" + tc.kind.String(),
			})
			if err != nil {
				t.Fatal(err)
			}
			if got := f.p.log(); !slices.Equal(got, tc.calls(f.sub.ID)) {
				t.Errorf("calls = %v, want %v", got, tc.calls(f.sub.ID))
			}
			subs := f.subs(t)
			if len(subs) != 1 || (subs[0].ID != f.sub.ID) != tc.recreated {
				t.Errorf("subscriptions = %+v (recreated expected %v)", subs, tc.recreated)
			}
			if tc.recreated && !slices.Equal(f.p.stopped, []string{f.sub.ID}) {
				t.Errorf("stopped = %v", f.p.stopped)
			}
			if got := storedIDs(t, f.st, fakeCal.ID); !slices.Equal(got, []string{"a", "b", "c", "e"}) {
				t.Errorf("events = %v", got)
			}
		})
	}
}

// A second subscriptionRemoved for a subscription the first one already
// replaced (a redelivery with another message id, or two queued before
// either was processed) has nothing left to recreate: it must still sync,
// not fail until it is dead-lettered.
func TestLifecycleForReplacedSubscriptionStillSyncs(t *testing.T) {
	f := newRenewFixture(t)
	ctx := context.Background()
	n := calsync.Notification{Kind: calsync.SubscriptionRemoved, Provider: "fake", SubscriptionID: f.sub.ID, CalendarID: fakeCal.ID, MessageID: "m-1"}
	if err := f.e.Process(ctx, n); err != nil {
		t.Fatal(err)
	}
	f.p.put("e")
	n.MessageID = "m-2"
	if err := f.e.Process(ctx, n); err != nil {
		t.Fatalf("second subscriptionRemoved: %v", err)
	}
	if got := storedIDs(t, f.st, fakeCal.ID); !slices.Equal(got, []string{"a", "b", "c", "e"}) {
		t.Errorf("events = %v", got)
	}
	if subs := f.subs(t); len(subs) != 1 || subs[0].ID == f.sub.ID {
		t.Errorf("subscriptions = %+v", subs)
	}
	if len(f.errs) != 0 {
		t.Errorf("OnError got %v", f.errs)
	}
}

// When the resync a gone subscription calls for fails, it is retried like a
// failed notification (after 2 minutes), not left for the safety net.
func TestRenewGoneResyncFailureIsRetried(t *testing.T) {
	ctx := context.Background()
	f := newRenewFixture(t)
	f.p.delSilently("b")
	f.p.renewErr = gone
	down := errors.New("provider down")
	f.p.beforeFetch = func(int, provider.Position) error { return down }
	*f.now = f.now.Add(150 * time.Minute)
	if n, err := f.e.RunSweep(ctx, calsync.SweepRenew); n != 1 || err != nil {
		t.Fatalf("RenewExpiring = %d, %v", n, err)
	}
	f.p.beforeFetch = nil
	if k, _ := f.e.RunSweep(ctx, calsync.SweepRetry); k != 0 {
		t.Fatalf("retried before it was due")
	}
	*f.now = f.now.Add(2 * time.Minute)
	if k, err := f.e.RunSweep(ctx, calsync.SweepRetry); k != 1 || err != nil {
		t.Fatalf("RetryDue = %d, %v; the failed resync was not scheduled", k, err)
	}
	if got := storedIDs(t, f.st, fakeCal.ID); !slices.Equal(got, []string{"a", "c"}) {
		t.Errorf("events after the retried resync = %v, want a c", got)
	}
}

// A lifecycle notification for a subscription another instance is renewing
// (it holds the renewal lease) does not renew it a second time: it fails
// with ErrConflict, to be retried, and once the lease is free it proceeds.
func TestLifecycleWaitsForRenewalLease(t *testing.T) {
	ctx := context.Background()
	f := newRenewFixture(t)
	got, err := f.st.AcquireLease(ctx, calsync.SubscriptionsLeaseForTest(fakeCal.ID), "other-instance", *f.now, time.Minute)
	if err != nil || !got {
		t.Fatalf("AcquireLease = %v, %v", got, err)
	}
	n := calsync.Notification{Kind: calsync.SubscriptionRemoved, Provider: "fake", SubscriptionID: f.sub.ID, CalendarID: fakeCal.ID}
	if err := f.e.Process(ctx, n); !errors.Is(err, calsync.ErrConflict) {
		t.Fatalf("Process during another instance's renewal = %v, want ErrConflict", err)
	}
	if len(f.p.watches) != 1 || len(f.p.stopped) != 0 {
		t.Fatalf("renewed although another instance holds the lease: watches %d, stopped %v", len(f.p.watches), f.p.stopped)
	}
	*f.now = f.now.Add(2 * time.Minute) // the other instance's lease has expired
	if err := f.e.Process(ctx, n); err != nil {
		t.Fatal(err)
	}
	if subs := f.subs(t); len(subs) != 1 || subs[0].ID == f.sub.ID {
		t.Errorf("subscriptions after the lease expired = %+v, want a new one", subs)
	}
}

// checkingProvider is the renewing fake that can also tell whether it
// still has a subscription (as Graph's GET /subscriptions/{id} does).
type checkingProvider struct {
	*renewingProvider
	gone   map[string]bool
	checks int
}

func (c *checkingProvider) CheckSubscription(_ context.Context, _ provider.Calendar, sub *provider.Subscription) error {
	c.checks++
	if c.gone[sub.ID] {
		return gone
	}
	return nil
}

// A subscription the provider removed without a lifecycle notification
// reaching us (Graph's can be lost) is found by the safety net once its
// sync finds changes no push announced, and replaced.
func TestSafetyNetReplacesSubscriptionGoneWithoutNotice(t *testing.T) {
	ctx := context.Background()
	f := newRenewFixture(t)
	cp := &checkingProvider{renewingProvider: f.p, gone: map[string]bool{}}
	e, err := calsync.NewEngine(calsync.Config{Store: f.st, Providers: []calsync.Provider{cp}, Now: func() time.Time { return *f.now }})
	if err != nil {
		t.Fatal(err)
	}
	// A quiet calendar is synced by the safety net, and not checked.
	*f.now = f.now.Add(7 * time.Hour)
	if _, err := e.RunSweep(ctx, calsync.SweepSafetyNet); err != nil {
		t.Fatal(err)
	}
	if cp.checks != 0 {
		t.Fatalf("checks of a quiet calendar = %d, want 0", cp.checks)
	}
	cp.gone[f.sub.ID] = true
	f.p.put("d") // announced on the removed subscription: never pushed
	*f.now = f.now.Add(7 * time.Hour)
	if _, err := e.RunSweep(ctx, calsync.SweepSafetyNet); err != nil {
		t.Fatal(err)
	}
	if cp.checks != 1 {
		t.Errorf("checks = %d, want 1", cp.checks)
	}
	subs := f.subs(t)
	if len(subs) != 1 || subs[0].ID == f.sub.ID {
		t.Fatalf("subscriptions = %+v, want one new one", subs)
	}
	if got := storedIDs(t, f.st, fakeCal.ID); !slices.Equal(got, []string{"a", "b", "c", "d"}) {
		t.Errorf("events = %v", got)
	}
}
