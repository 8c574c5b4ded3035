package msgraph_test

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/oauth2"

	"github.com/calsync/calsync"
	"github.com/calsync/calsync/msgraph"
	"github.com/calsync/calsync/msgraph/msgraphtest"
	"github.com/calsync/calsync/retry"
	"github.com/calsync/calsync/store/memory"
	"github.com/calsync/calsync/webhook"
)

// harness runs the real pieces end to end: the msgraphtest emulator, the
// msgraph Provider on msgraph-sdk-go, webhook.Graph behind a TLS receiver
// the emulator delivers to, an Engine on store/memory, and a queue the test
// drains itself (Process in the test goroutine, so no sleeps).
type harness struct {
	t     *testing.T
	srv   *msgraphtest.Server
	recv  *httptest.Server
	hook  *hookTransport
	p     *msgraph.Provider
	st    *memory.Store
	q     *calsync.MemoryQueue
	e     *calsync.Engine
	cal   calsync.Calendar
	sub   calsync.Subscription
	kinds []calsync.NotificationKind
}

// hookTransport lets a test act just before the next $skiptoken request
// (a page in the middle of a delta round) and counts 410 answers.
type hookTransport struct {
	base http.RoundTripper

	mu     sync.Mutex
	onSkip func()
	gone   int
	// onRequest, if set, is called before every request is sent.
	onRequest func(*http.Request)
}

func (h *hookTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	h.mu.Lock()
	hook := h.onSkip
	if hook != nil && strings.Contains(strings.ToLower(r.URL.RawQuery), "skiptoken") {
		h.onSkip = nil
	} else {
		hook = nil
	}
	onRequest := h.onRequest
	h.mu.Unlock()
	if hook != nil {
		hook()
	}
	if onRequest != nil {
		onRequest(r)
	}
	resp, err := h.base.RoundTrip(r)
	if err == nil && resp.StatusCode == http.StatusGone {
		h.mu.Lock()
		h.gone++
		h.mu.Unlock()
	}
	return resp, err
}

func (h *hookTransport) gones() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.gone
}

// harnessOptions adjust a harness for one test.
type harnessOptions struct {
	// engine is the Engine's Config; Store, Providers and Queue are set by
	// the harness, and RenewBefore when zero.
	engine calsync.Config
	// retry is the retry policy of the provider's client (default: the
	// default Policy, on the real clock).
	retry retry.Policy
	// exact turns the emulator's notification multiplicity off, for tests
	// that count notifications.
	exact bool
}

func newHarness(t *testing.T) *harness { return newHarnessWith(t, harnessOptions{}) }

func newHarnessWith(t *testing.T, opts harnessOptions) *harness {
	t.Helper()
	h := &harness{t: t, st: memory.New(), q: calsync.NewMemoryQueue(0)}
	mux := http.NewServeMux()
	h.recv = httptest.NewTLSServer(mux)
	t.Cleanup(h.recv.Close)
	h.srv = msgraphtest.NewServer(msgraphtest.Config{NotificationClient: h.recv.Client(), BatchWindow: -1, ExactNotifications: opts.exact})
	t.Cleanup(h.srv.Close)
	h.srv.AddUser("alice")

	h.hook = &hookTransport{base: h.srv.Client().Transport}
	lim, err := retry.NewLimiter(retry.GraphLimits(), nil)
	if err != nil {
		t.Fatal(err)
	}
	h.p, err = msgraph.New(msgraph.Config{
		TokenSource: func(_ context.Context, account string) (oauth2.TokenSource, error) {
			return oauth2.StaticTokenSource(&oauth2.Token{AccessToken: "token-of-" + account}), nil
		},
		// The default stack (retries over Graph's per-mailbox limits, at
		// most 4 requests in flight) over the test's hook: a response the
		// provider failed to close would hold a slot and stall the test.
		HTTPClient:  &http.Client{Transport: &retry.Transport{Policy: opts.retry, Base: &retry.LimitTransport{Limiter: lim, Base: h.hook}}},
		BaseURL:     h.srv.URL() + "/v1.0",
		MaxPageSize: 3,
	})
	if err != nil {
		t.Fatal(err)
	}
	cfg := opts.engine
	cfg.Store, cfg.Providers, cfg.Queue = h.st, []calsync.Provider{h.p}, h.q
	if cfg.RenewBefore == 0 {
		cfg.RenewBefore = 8 * 24 * time.Hour // every Graph subscription is due when the test asks
	}
	h.e, err = calsync.NewEngine(cfg)
	if err != nil {
		t.Fatal(err)
	}
	graph, err := webhook.NewGraph(webhook.GraphConfig{Sink: h.e})
	if err != nil {
		t.Fatal(err)
	}
	mux.Handle("/hooks/graph", graph)
	mux.Handle("/hooks/graph-lifecycle", graph)
	h.cal = calsync.Calendar{ID: "alice-main", Provider: msgraph.Name, AccountID: "alice"}
	return h
}

func (h *harness) connect() {
	h.t.Helper()
	sub, err := h.e.Connect(context.Background(), h.cal, calsync.ConnectRequest{
		Address: h.recv.URL + "/hooks/graph", LifecycleAddress: h.recv.URL + "/hooks/graph-lifecycle",
	})
	if err != nil {
		h.t.Fatal(err)
	}
	h.sub = sub
}

// settle waits until the emulator has delivered every notification, then
// processes what the handler queued. It returns how many were processed.
func (h *harness) settle() int {
	h.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := h.srv.WaitIdle(ctx); err != nil {
		h.t.Fatal(err)
	}
	n := 0
	for h.q.Len() > 0 {
		note, err := h.q.Dequeue(ctx)
		if err != nil {
			h.t.Fatal(err)
		}
		h.kinds = append(h.kinds, note.Kind)
		if err := h.e.Process(ctx, note); err != nil {
			h.t.Fatalf("Process(%v): %v", note.Kind, err)
		}
		n++
	}
	return n
}

// mustSettle is settle that insists at least one notification arrived:
// the change reached the Store through the webhook, not by chance.
func (h *harness) mustSettle(step string) {
	h.t.Helper()
	if h.settle() == 0 {
		h.t.Fatalf("%s: no notification was delivered", step)
	}
}

func (h *harness) create(ev msgraphtest.Event) msgraphtest.Event {
	h.t.Helper()
	got, err := h.srv.CreateEvent("alice", "", ev)
	if err != nil {
		h.t.Fatal(err)
	}
	return got
}

// describe renders an event the same way from both sides.
func describe(subject, start, series string) string {
	return subject + " @ " + start + " of " + series
}

// assertInSync compares the Store with a fresh calendarView of the
// emulator over the Provider's window.
func (h *harness) assertInSync(step string) {
	h.t.Helper()
	now := time.Now()
	remote, err := h.srv.Events("alice", "", now.Add(-msgraph.DefaultWindowBefore), now.Add(msgraph.DefaultWindowAfter))
	if err != nil {
		h.t.Fatal(err)
	}
	want := map[string]string{}
	for _, ev := range remote {
		start := ev.Start.UTC().Format(time.RFC3339)
		if ev.IsAllDay {
			start = ev.Start.Format(time.DateOnly)
		}
		want[ev.ID] = describe(ev.Subject, start, ev.SeriesMasterID)
	}
	got := map[string]string{}
	after := ""
	for {
		evs, err := h.st.ListEvents(context.Background(), h.cal.ID, after, 50)
		if err != nil {
			h.t.Fatal(err)
		}
		if len(evs) == 0 {
			break
		}
		for _, ev := range evs {
			got[ev.ID] = describe(ev.Summary, ev.Start.String(), ev.RecurringEventID)
			after = ev.ID
		}
	}
	if !maps.Equal(got, want) {
		for _, id := range slices.Sorted(maps.Keys(want)) {
			if got[id] != want[id] {
				h.t.Errorf("%s: event %s: local %q, emulator %q", step, id, got[id], want[id])
			}
		}
		for _, id := range slices.Sorted(maps.Keys(got)) {
			if _, ok := want[id]; !ok {
				h.t.Errorf("%s: event %s (%q) is local only", step, id, got[id])
			}
		}
		h.t.FailNow()
	}
}

func (h *harness) liveSubs() []msgraphtest.Subscription {
	return h.srv.Subscriptions()
}

func TestEndToEnd(t *testing.T) {
	h := newHarness(t)
	ctx := context.Background()
	base := time.Now().UTC().Truncate(time.Hour).Add(24 * time.Hour)

	standup := h.create(msgraphtest.Event{Subject: "Standup", Start: base, End: base.Add(15 * time.Minute)})
	h.create(msgraphtest.Event{Subject: "Offsite", Start: base.Truncate(24 * time.Hour).Add(48 * time.Hour), End: base.Truncate(24 * time.Hour).Add(72 * time.Hour), IsAllDay: true})
	for i := range 4 {
		h.create(msgraphtest.Event{Subject: fmt.Sprintf("Review %d", i), Start: base.Add(time.Duration(i+2) * time.Hour), End: base.Add(time.Duration(i+3) * time.Hour)})
	}

	t.Run("connect", func(t *testing.T) {
		h.connect()
		h.assertInSync("connect")
		live := h.liveSubs()
		if len(live) != 1 || live[0].ID != h.sub.ID || live[0].ChangeType != msgraph.ChangeTypes || !h.sub.VerifySecret(live[0].ClientState) ||
			live[0].LifecycleNotificationURL != h.recv.URL+"/hooks/graph-lifecycle" {
			t.Fatalf("emulator subscriptions %+v, engine %v", live, h.sub)
		}
		if d := h.sub.Expiration.Sub(time.Now()); d < msgraph.DefaultSubscriptionTTL-time.Minute || d > msgraph.DefaultSubscriptionTTL {
			t.Errorf("subscription lifetime %v", d)
		}
	})

	t.Run("create update delete", func(t *testing.T) {
		ev := h.create(msgraphtest.Event{Subject: "Lunch", Start: base.Add(3 * time.Hour), End: base.Add(4 * time.Hour)})
		h.mustSettle("create")
		h.assertInSync("create")
		if _, err := h.srv.UpdateEvent("alice", "", ev.ID, msgraphtest.Event{Subject: "Lunch with Bob", Start: base.Add(4 * time.Hour), End: base.Add(5 * time.Hour)}); err != nil {
			t.Fatal(err)
		}
		h.mustSettle("update")
		h.assertInSync("update")
		if err := h.srv.DeleteEvent("alice", "", standup.ID); err != nil {
			t.Fatal(err)
		}
		h.mustSettle("delete")
		h.assertInSync("delete")
		if _, err := h.st.Event(ctx, h.cal.ID, standup.ID); !errors.Is(err, calsync.ErrNotFound) {
			t.Errorf("deleted event still stored: %v", err)
		}
	})

	t.Run("recurring series, exception, cancelled occurrence", func(t *testing.T) {
		master := h.create(msgraphtest.Event{Subject: "Daily sync", Start: base.Add(30 * time.Minute), End: base.Add(45 * time.Minute),
			Recurrence: &msgraphtest.PatternedRecurrence{
				Pattern: msgraphtest.RecurrencePattern{Type: "daily", Interval: 1},
				Range:   msgraphtest.RecurrenceRange{Type: "numbered", NumberOfOccurrences: 5},
			}})
		h.mustSettle("series")
		h.assertInSync("series")
		occ := h.occurrences(master.ID)
		if len(occ) != 5 {
			t.Fatalf("%d occurrences stored, want 5", len(occ))
		}
		moved, cancelled := occ[1], occ[3]
		if _, err := h.srv.UpdateEvent("alice", "", moved.ID, msgraphtest.Event{Subject: "Daily sync (moved)",
			Start: moved.Start.DateTime.Add(2 * time.Hour), End: moved.End.DateTime.Add(2 * time.Hour)}); err != nil {
			t.Fatal(err)
		}
		h.mustSettle("exception")
		h.assertInSync("exception")
		if err := h.srv.DeleteEvent("alice", "", cancelled.ID); err != nil {
			t.Fatal(err)
		}
		h.mustSettle("cancel occurrence")
		h.assertInSync("cancel occurrence")
		occ = h.occurrences(master.ID)
		if len(occ) != 4 {
			t.Fatalf("%d occurrences after the cancellation, want 4", len(occ))
		}
		for _, ev := range occ {
			if ev.ID == cancelled.ID {
				t.Errorf("cancelled occurrence %s still stored", ev.ID)
			}
			if ev.OriginalStart == nil {
				t.Errorf("occurrence %s without OriginalStart", ev.ID)
			}
			if ev.Summary == "Daily sync (moved)" && !ev.OriginalStart.DateTime.Equal(moved.Start.DateTime) {
				t.Errorf("exception's OriginalStart %v, want %v", ev.OriginalStart, moved.Start)
			}
		}
	})

	t.Run("410 mid-chain, deletions reconciled", func(t *testing.T) {
		// Changes whose notifications are lost (a throttled endpoint):
		// two deletions and four creations, more than one page.
		local := h.stored()
		h.srv.DropAllNotifications(true)
		for _, id := range local[:2] {
			if err := h.srv.DeleteEvent("alice", "", id); err != nil {
				t.Fatal(err)
			}
		}
		for i := range 4 {
			h.create(msgraphtest.Event{Subject: fmt.Sprintf("Quiet %d", i), Start: base.Add(time.Duration(10+i) * time.Hour), End: base.Add(time.Duration(11+i) * time.Hour)})
		}
		if n := h.settle(); n != 0 {
			t.Fatalf("%d notifications arrived although dropped", n)
		}
		h.srv.DropAllNotifications(false)
		// The sync state expires while the next round is between pages.
		h.hook.mu.Lock()
		h.hook.onSkip = func() {
			if err := h.srv.ExpireDeltaTokens("alice", "", ""); err != nil {
				t.Error(err)
			}
		}
		h.hook.mu.Unlock()
		res, err := h.e.Sync(ctx, h.cal.ID)
		if err != nil {
			t.Fatal(err)
		}
		if h.hook.gones() != 1 || res.Resyncs != 1 || !res.Full || res.Pages < 2 {
			t.Errorf("410s %d, result %+v", h.hook.gones(), res)
		}
		h.assertInSync("after 410")
		for _, id := range local[:2] {
			if _, err := h.st.Event(ctx, h.cal.ID, id); !errors.Is(err, calsync.ErrNotFound) {
				t.Errorf("event %s deleted while notifications were lost is still stored", id)
			}
		}
	})

	t.Run("lifecycle missed", func(t *testing.T) {
		h.srv.DropAllNotifications(true)
		h.create(msgraphtest.Event{Subject: "Missed me", Start: base.Add(20 * time.Hour), End: base.Add(21 * time.Hour)})
		if n := h.settle(); n != 0 {
			t.Fatalf("%d notifications arrived although dropped", n)
		}
		h.srv.DropAllNotifications(false)
		if err := h.srv.SendLifecycle(h.sub.ID, msgraphtest.LifecycleMissed); err != nil {
			t.Fatal(err)
		}
		h.mustSettle("missed")
		if h.kinds[len(h.kinds)-1] != calsync.Resync {
			t.Errorf("last kind %v", h.kinds[len(h.kinds)-1])
		}
		h.assertInSync("missed")
	})

	// A second missed on the same subscription (same expiration, nothing
	// renewed in between) is a new message, not a redelivery of the first:
	// it must resync too.
	t.Run("lifecycle missed again", func(t *testing.T) {
		h.srv.DropAllNotifications(true)
		h.create(msgraphtest.Event{Subject: "Missed me too", Start: base.Add(22 * time.Hour), End: base.Add(23 * time.Hour)})
		if n := h.settle(); n != 0 {
			t.Fatalf("%d notifications arrived although dropped", n)
		}
		h.srv.DropAllNotifications(false)
		if err := h.srv.SendLifecycle(h.sub.ID, msgraphtest.LifecycleMissed); err != nil {
			t.Fatal(err)
		}
		h.mustSettle("missed again")
		h.assertInSync("missed again")
	})

	t.Run("lifecycle reauthorizationRequired", func(t *testing.T) {
		before := h.liveSubs()[0]
		if err := h.srv.SendLifecycle(h.sub.ID, msgraphtest.LifecycleReauthorizationRequired); err != nil {
			t.Fatal(err)
		}
		h.mustSettle("reauthorizationRequired")
		live := h.liveSubs()
		if len(live) != 1 || live[0].ID != h.sub.ID || live[0].ReauthorizationRequired || live[0].ExpirationDateTime.Before(before.ExpirationDateTime) {
			t.Fatalf("after reauthorization: %+v", live)
		}
		stored, err := h.st.Subscription(ctx, h.sub.ID)
		if err != nil || !stored.Expiration.Equal(live[0].ExpirationDateTime) {
			t.Errorf("stored %v (%v), emulator expiration %v", stored, err, live[0].ExpirationDateTime)
		}
	})

	t.Run("renewal in place", func(t *testing.T) {
		if n, err := h.e.RunSweep(ctx, calsync.SweepRenew); n != 1 || err != nil {
			t.Fatalf("RenewExpiring = %d, %v", n, err)
		}
		live := h.liveSubs()
		stored, _ := h.st.ListSubscriptions(ctx, h.cal.ID)
		if len(live) != 1 || live[0].ID != h.sub.ID || len(stored) != 1 || stored[0].ID != h.sub.ID || !stored[0].Expiration.Equal(live[0].ExpirationDateTime) {
			t.Fatalf("emulator %+v, store %v", live, stored)
		}
	})

	t.Run("renewal of a vanished subscription", func(t *testing.T) {
		// Graph forgot the subscription (no lifecycle event came), and an
		// event was deleted meanwhile.
		if err := h.p.Stop(ctx, h.cal, &h.sub); err != nil {
			t.Fatal(err)
		}
		victim := h.stored()[0]
		if err := h.srv.DeleteEvent("alice", "", victim); err != nil {
			t.Fatal(err)
		}
		if n, err := h.e.RunSweep(ctx, calsync.SweepRenew); n != 1 || err != nil {
			t.Fatalf("RenewExpiring = %d, %v", n, err)
		}
		h.expectOneNewSubscription("after 404")
		h.assertInSync("after 404")
	})

	t.Run("lifecycle subscriptionRemoved", func(t *testing.T) {
		if err := h.srv.SendLifecycle(h.sub.ID, msgraphtest.LifecycleSubscriptionRemoved); err != nil {
			t.Fatal(err)
		}
		h.mustSettle("subscriptionRemoved")
		h.expectOneNewSubscription("after subscriptionRemoved")
		h.create(msgraphtest.Event{Subject: "After recreate", Start: base.Add(30 * time.Hour), End: base.Add(31 * time.Hour)})
		h.mustSettle("change on the new subscription")
		h.assertInSync("after subscriptionRemoved")
	})

	t.Run("disconnect", func(t *testing.T) {
		if err := h.e.Disconnect(ctx, h.cal.ID); err != nil {
			t.Fatal(err)
		}
		if live := h.liveSubs(); len(live) != 0 {
			t.Errorf("subscriptions left after Disconnect: %+v", live)
		}
		// A late notification for the forgotten subscription is
		// acknowledged and dropped.
		h.create(msgraphtest.Event{Subject: "Nobody listens", Start: base, End: base.Add(time.Hour)})
		if n := h.settle(); n != 0 {
			t.Errorf("%d notifications queued after Disconnect", n)
		}
	})
}

// expectOneNewSubscription checks that the engine replaced h.sub with one
// new subscription that the emulator and the Store agree on.
func (h *harness) expectOneNewSubscription(step string) {
	h.t.Helper()
	live := h.liveSubs()
	stored, err := h.st.ListSubscriptions(context.Background(), h.cal.ID)
	if err != nil {
		h.t.Fatal(err)
	}
	if len(live) != 1 || len(stored) != 1 || live[0].ID == h.sub.ID || stored[0].ID != live[0].ID || !stored[0].VerifySecret(live[0].ClientState) {
		h.t.Fatalf("%s: emulator %+v, store %v (old %s)", step, live, stored, h.sub.ID)
	}
	h.sub = stored[0]
}

// stored returns the ids of the stored events, sorted.
func (h *harness) stored() []string {
	h.t.Helper()
	evs, err := h.st.ListEvents(context.Background(), h.cal.ID, "", 1000)
	if err != nil {
		h.t.Fatal(err)
	}
	var ids []string
	for _, ev := range evs {
		if ev.RecurringEventID == "" {
			ids = append(ids, ev.ID)
		}
	}
	return ids
}

// occurrences returns the stored instances of a series, by start.
func (h *harness) occurrences(masterID string) []calsync.Event {
	h.t.Helper()
	evs, err := h.st.ListEvents(context.Background(), h.cal.ID, "", 1000)
	if err != nil {
		h.t.Fatal(err)
	}
	var out []calsync.Event
	for _, ev := range evs {
		if ev.RecurringEventID == masterID {
			out = append(out, ev)
		}
	}
	slices.SortFunc(out, func(a, b calsync.Event) int { return a.Start.DateTime.Compare(b.Start.DateTime) })
	return out
}
