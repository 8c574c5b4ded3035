package calsync_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"

	"github.com/calsync/calsync"
	"github.com/calsync/calsync/provider"
	"github.com/calsync/calsync/store/memory"
	"github.com/calsync/calsync/vault"
)

// A revoked grant parks the account: one OnAccountStatus, one OnError, then
// no provider call at all over a simulated day (notifications, every
// sweep, renewals), no retries, no dead letters; ResumeAccount renews the
// subscriptions that lapsed meanwhile and syncs incrementally from the
// stored cursor.
func TestRevokedAccountParkedForADay(t *testing.T) {
	ctx := context.Background()
	clock := newFakeClock()
	p := newFakeProvider(10)
	p.now = clock.Now
	p.put("a")
	st := memory.New()
	type statusChange struct {
		id       string
		from, to calsync.AccountStatus
	}
	var (
		reported []error
		changes  []statusChange
	)
	e, _ := newTestEngine(t, p, st, calsync.Config{Now: clock.Now, RenewBefore: time.Hour,
		OnError: func(_ context.Context, _ calsync.Calendar, err error) { reported = append(reported, err) },
		OnAccountStatus: func(_ context.Context, a calsync.Account, prev calsync.AccountStatus) {
			changes = append(changes, statusChange{a.ID, prev, a.Status})
		}})
	cal2 := calsync.Calendar{ID: "cal-2", Provider: "fake", AccountID: fakeCal.AccountID, RemoteID: "other"}
	for _, c := range []calsync.Calendar{fakeCal, cal2} {
		if _, err := e.Connect(ctx, c, calsync.ConnectRequest{Address: "https://example.com/hook", TTL: 2 * time.Hour}); err != nil {
			t.Fatal(err)
		}
	}
	fullBefore := e.Stats().FullSyncs

	// The user revokes access: every call is refused from now on.
	revoked := &provider.Error{Provider: "fake", Op: "list", StatusCode: 400, Reason: "invalid_grant", Err: provider.ErrReauthRequired}
	calls := 0
	p.beforeFetch = func(int, provider.Position) error { calls++; return revoked }
	p.onWatch = func(provider.WatchRequest) error { calls++; return revoked }
	p.onStop = func(*provider.Subscription) error { calls++; return revoked }
	p.put("b") // made before the revocation, announced by a push

	n := calsync.Notification{Kind: calsync.Changed, Provider: "fake", CalendarID: fakeCal.ID, MessageID: "m0"}
	if err := e.Process(ctx, n); !errors.Is(err, calsync.ErrReauthRequired) {
		t.Fatalf("Process = %v, want ErrReauthRequired", err)
	}
	if calls != 1 || len(reported) != 1 || len(changes) != 1 || changes[0] != (statusChange{"acct", calsync.AccountActive, calsync.AccountNeedsReauth}) {
		t.Fatalf("after the refusal: calls %d, OnError %d, status changes %v; want 1, 1, [acct active→needs_reauth]", calls, len(reported), changes)
	}
	a, err := e.Account(ctx, "acct")
	if err != nil || a.Status != calsync.AccountNeedsReauth || a.Reason != "invalid_grant (HTTP 400)" || a.Provider != "fake" {
		t.Fatalf("Account = %+v, %v", a, err)
	}
	if h, err := e.CalendarHealth(ctx, cal2.ID); err != nil || h.AccountStatus != calsync.AccountNeedsReauth {
		t.Errorf("CalendarHealth.AccountStatus = %q, %v; want needs_reauth", h.AccountStatus, err)
	}

	// One simulated day: a push every hour on each calendar (Google keeps
	// delivering to a channel whose grant was revoked), every sweep every
	// ten minutes, renewal due after an hour.
	for step := range 24 * 6 {
		clock.Advance(10 * time.Minute)
		if step%6 == 0 {
			for _, c := range []string{fakeCal.ID, cal2.ID} {
				n := calsync.Notification{Kind: calsync.Changed, Provider: "fake", CalendarID: c, MessageID: "m" + time.Duration(step).String() + c}
				if err := e.Process(ctx, n); err != nil {
					t.Errorf("Process on a parked account = %v", err)
				}
			}
			for _, k := range []calsync.NotificationKind{calsync.SubscriptionRemoved, calsync.ReauthorizationRequired, calsync.Resync} {
				_ = e.Process(ctx, calsync.Notification{Kind: k, Provider: "fake", CalendarID: cal2.ID})
			}
		}
		for _, s := range calsync.Sweeps() {
			if _, err := e.RunSweep(ctx, s); err != nil {
				t.Errorf("RunSweep(%s) = %v", s, err)
			}
		}
	}
	if _, err := e.Sync(ctx, cal2.ID); !errors.Is(err, calsync.ErrReauthRequired) {
		t.Errorf("Sync of a parked account's calendar = %v, want ErrReauthRequired", err)
	}
	if _, err := e.Connect(ctx, cal2, calsync.ConnectRequest{Address: "https://example.com/hook"}); !errors.Is(err, calsync.ErrReauthRequired) {
		t.Errorf("Connect on a parked account = %v, want ErrReauthRequired", err)
	}
	if calls != 1 || len(reported) != 1 || len(changes) != 1 {
		t.Errorf("over a day parked: provider calls %d, OnError %d, status changes %d; want 1, 1, 1", calls, len(reported), len(changes))
	}
	if dls, _ := e.DeadLetters(ctx, "", 10); len(dls) != 0 {
		t.Errorf("dead letters = %+v, want none", dls)
	}
	// The calendar's health still shows the refusal, not a day of
	// non-syncs.
	if h, _ := e.Health(fakeCal.ID); !errors.Is(h.LastError, calsync.ErrReauthRequired) || strings.Contains(h.LastError.Error(), "parked") || h.ConsecutiveFailures != 1 {
		t.Errorf("Health = last error %v, %d consecutive failures; want the refusal, 1", h.LastError, h.ConsecutiveFailures)
	}

	// The user completes the connect flow again.
	p.beforeFetch, p.onWatch, p.onStop = nil, nil, nil
	watches := len(p.watches)
	if err := e.ResumeAccount(ctx, "acct", "fake"); err != nil {
		t.Fatal(err)
	}
	if len(changes) != 2 || changes[1] != (statusChange{"acct", calsync.AccountNeedsReauth, calsync.AccountActive}) {
		t.Errorf("status changes = %v, want a second one needs_reauth→active", changes)
	}
	for _, c := range []string{fakeCal.ID, cal2.ID} {
		if got := storedIDs(t, st, c); !slices.Equal(got, []string{"a", "b"}) {
			t.Errorf("%s after resuming = %v, want a b", c, got)
		}
		subs, _ := st.ListSubscriptions(ctx, c)
		if len(subs) != 1 || !subs[0].Expiration.After(clock.Now().Add(time.Hour)) {
			t.Errorf("%s subscriptions after resuming = %+v, want one renewed", c, subs)
		}
	}
	if got := len(p.watches) - watches; got != 2 {
		t.Errorf("lapsed subscriptions recreated: %d, want 2", got)
	}
	if full := e.Stats().FullSyncs - fullBefore; full != 0 {
		t.Errorf("full syncs after resuming = %d, want 0 (the cursors are still valid)", full)
	}
	if err := e.ResumeAccount(ctx, "acct", "fake"); err != nil || len(changes) != 2 {
		t.Errorf("ResumeAccount of an active account = %v, status changes %d; want no new change", err, len(changes))
	}
}

// Disconnect works with a dead grant: the provider's refusal to stop the
// subscription is reported, and the local state is removed all the same.
func TestDisconnectWithDeadGrant(t *testing.T) {
	ctx := context.Background()
	p := newFakeProvider(10)
	st := memory.New()
	var reported []error
	var changes []calsync.AccountStatus
	e, _ := newTestEngine(t, p, st, calsync.Config{
		OnError: func(_ context.Context, _ calsync.Calendar, err error) { reported = append(reported, err) },
		OnAccountStatus: func(_ context.Context, a calsync.Account, _ calsync.AccountStatus) {
			changes = append(changes, a.Status)
		},
	})
	if _, err := e.Connect(ctx, fakeCal, calsync.ConnectRequest{Address: "https://example.com/hook"}); err != nil {
		t.Fatal(err)
	}
	if err := st.PutAccountToken(ctx, vault.SealedToken{AccountID: "acct", KeyID: "k1", Ciphertext: []byte("sealed")}); err != nil {
		t.Fatal(err)
	}
	p.onStop = func(*provider.Subscription) error {
		return &provider.Error{Provider: "fake", Op: "stop", StatusCode: 401, Err: provider.ErrReauthRequired}
	}
	if err := e.DisconnectAccount(ctx, "acct"); err != nil {
		t.Fatalf("DisconnectAccount with a dead grant = %v", err)
	}
	if _, err := st.Calendar(ctx, fakeCal.ID); !errors.Is(err, calsync.ErrNotFound) {
		t.Errorf("calendar still stored: %v", err)
	}
	if subs, _ := st.ExpiringSubscriptions(ctx, time.Now().Add(365*24*time.Hour)); len(subs) != 0 {
		t.Errorf("subscriptions still stored: %+v", subs)
	}
	if _, err := st.AccountToken(ctx, "acct"); !errors.Is(err, calsync.ErrNotFound) {
		t.Errorf("token still stored: %v", err)
	}
	if len(reported) != 1 || !errors.Is(reported[0], calsync.ErrReauthRequired) {
		t.Errorf("OnError = %v, want the refused stop reported once", reported)
	}
	if !slices.Equal(changes, []calsync.AccountStatus{calsync.AccountDisconnected}) {
		t.Errorf("status changes = %v, want [disconnected]", changes)
	}
}

// listingProvider is a fakeProvider that lists calendars.
type listingProvider struct {
	*fakeProvider
	cals  []calsync.CalendarInfo
	err   error
	lists int
}

func (l *listingProvider) ListCalendars(context.Context, string) ([]calsync.CalendarInfo, error) {
	l.lists++
	return slices.Clone(l.cals), l.err
}

// The discovery sweep tells the host of calendars added to and removed
// from an account, and does not ask the provider for a parked account.
func TestDiscoverySweep(t *testing.T) {
	ctx := context.Background()
	p := &listingProvider{fakeProvider: newFakeProvider(10), cals: []calsync.CalendarInfo{{ID: "primary", Primary: true}, {ID: "team"}}}
	type event struct{ added, removed []string }
	var events []event
	ids := func(cs []calsync.CalendarInfo) (out []string) {
		for _, c := range cs {
			out = append(out, c.ID)
		}
		return out
	}
	e, err := calsync.NewEngine(calsync.Config{Store: memory.New(), Providers: []calsync.Provider{p},
		OnCalendarsChanged: func(_ context.Context, a calsync.Account, added, removed []calsync.CalendarInfo) {
			events = append(events, event{ids(added), ids(removed)})
		}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.ListCalendars(ctx, "fake", "acct"); err != nil {
		t.Fatal(err)
	}
	if n, err := e.RunSweep(ctx, calsync.SweepDiscover); err != nil || n != 1 || len(events) != 0 {
		t.Fatalf("unchanged: RunSweep = %d, %v; events %v", n, err, events)
	}
	p.cals = []calsync.CalendarInfo{{ID: "primary", Primary: true}, {ID: "holidays"}}
	if _, err := e.RunSweep(ctx, calsync.SweepDiscover); err != nil {
		t.Fatal(err)
	}
	if len(events) != 1 || !slices.Equal(events[0].added, []string{"holidays"}) || !slices.Equal(events[0].removed, []string{"team"}) {
		t.Fatalf("events = %+v, want holidays added and team removed", events)
	}
	if a, _ := e.Account(ctx, "acct"); !slices.Equal(ids(a.Calendars), []string{"primary", "holidays"}) {
		t.Errorf("remembered calendars = %v", ids(a.Calendars))
	}
	// A refused grant parks the account; the sweep leaves it alone.
	p.err = &provider.Error{Provider: "fake", Op: "calendarList", StatusCode: 401, Err: provider.ErrReauthRequired}
	if _, err := e.RunSweep(ctx, calsync.SweepDiscover); !errors.Is(err, calsync.ErrReauthRequired) {
		t.Fatalf("RunSweep with a refused grant = %v", err)
	}
	lists := p.lists
	if _, err := e.RunSweep(ctx, calsync.SweepDiscover); err != nil || p.lists != lists {
		t.Errorf("sweep of a parked account: %v, %d listings; want none", err, p.lists-lists)
	}
	if _, err := e.ListCalendars(ctx, "fake", "acct"); !errors.Is(err, calsync.ErrReauthRequired) || p.lists != lists {
		t.Errorf("ListCalendars of a parked account = %v after %d listings; want ErrReauthRequired and none", err, p.lists-lists)
	}
}

// The gauge calsync.accounts.needs_reauth counts the parked accounts.
func TestNeedsReauthGauge(t *testing.T) {
	ctx := context.Background()
	reader := sdkmetric.NewManualReader()
	meters := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
	defer meters.Shutdown(ctx)
	p := newFakeProvider(10)
	e, _ := newTestEngine(t, p, memory.New(), calsync.Config{MeterProvider: meters})
	gauge := func() int64 {
		var rm metricdata.ResourceMetrics
		if err := reader.Collect(ctx, &rm); err != nil {
			t.Fatal(err)
		}
		for _, sm := range rm.ScopeMetrics {
			for _, m := range sm.Metrics {
				if g, ok := m.Data.(metricdata.Gauge[int64]); ok && m.Name == "calsync.accounts.needs_reauth" && len(g.DataPoints) == 1 {
					return g.DataPoints[0].Value
				}
			}
		}
		t.Fatal("no calsync.accounts.needs_reauth gauge")
		return 0
	}
	for _, id := range []string{"a1", "a2"} {
		if _, err := e.Connect(ctx, calsync.Calendar{ID: id + "/cal", Provider: "fake", AccountID: id}, calsync.ConnectRequest{Address: "https://example.com/hook"}); err != nil {
			t.Fatal(err)
		}
	}
	if g := gauge(); g != 0 {
		t.Errorf("gauge = %d before any refusal, want 0", g)
	}
	p.beforeFetch = func(int, provider.Position) error {
		return &provider.Error{Provider: "fake", StatusCode: 400, Reason: "invalid_grant", Err: provider.ErrReauthRequired}
	}
	_ = e.Process(ctx, calsync.Notification{Kind: calsync.Changed, Provider: "fake", CalendarID: "a1/cal"})
	if g := gauge(); g != 1 {
		t.Errorf("gauge = %d with one account refused, want 1", g)
	}
	p.beforeFetch = nil
	if err := e.ResumeAccount(ctx, "a1", "fake"); err != nil {
		t.Fatal(err)
	}
	if g := gauge(); g != 0 {
		t.Errorf("gauge = %d after the account resumed, want 0", g)
	}
}

// Two instances on one Store that both meet the refused grant report the
// transition once between them.
func TestReauthTransitionOnceAcrossInstances(t *testing.T) {
	ctx := context.Background()
	p := newFakeProvider(10)
	st := memory.New()
	var (
		mu      sync.Mutex
		changes int
		errs    int
	)
	cfg := calsync.Config{
		OnAccountStatus: func(context.Context, calsync.Account, calsync.AccountStatus) { mu.Lock(); changes++; mu.Unlock() },
		OnError:         func(context.Context, calsync.Calendar, error) { mu.Lock(); errs++; mu.Unlock() },
	}
	a, _ := newTestEngine(t, p, st, cfg)
	b, _ := newTestEngine(t, p, st, cfg)
	cal2 := calsync.Calendar{ID: "cal-2", Provider: "fake", AccountID: fakeCal.AccountID, RemoteID: "other"}
	for _, c := range []calsync.Calendar{fakeCal, cal2} {
		if _, err := a.Connect(ctx, c, calsync.ConnectRequest{Address: "https://example.com/hook"}); err != nil {
			t.Fatal(err)
		}
	}
	p.beforeFetch = func(int, provider.Position) error {
		return &provider.Error{Provider: "fake", StatusCode: 401, Err: provider.ErrReauthRequired}
	}
	var wg sync.WaitGroup
	for i, e := range []*calsync.Engine{a, b, a, b} {
		wg.Go(func() {
			c := []string{fakeCal.ID, cal2.ID}[i%2]
			_ = e.Process(ctx, calsync.Notification{Kind: calsync.Changed, Provider: "fake", CalendarID: c, MessageID: fmt.Sprint("m", i)})
		})
	}
	wg.Wait()
	if changes != 1 || errs != 1 {
		t.Errorf("OnAccountStatus %d times, OnError %d times across two instances; want 1 and 1", changes, errs)
	}
}
