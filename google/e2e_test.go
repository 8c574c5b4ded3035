package google_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/oauth2"
	calendar "google.golang.org/api/calendar/v3"
	"google.golang.org/api/option"

	"github.com/calsync/calsync"
	"github.com/calsync/calsync/google"
	"github.com/calsync/calsync/google/googletest"
	"github.com/calsync/calsync/store/memory"
	"github.com/calsync/calsync/webhook"
)

// harness wires the real pieces end to end: the emulator pushes to a TLS
// webhook server running webhook.Google, which queues for the Engine; the
// test drains the queue synchronously so that no test needs to sleep.
type harness struct {
	t      *testing.T
	emu    *googletest.Server
	api    *calendar.Service
	store  *memory.Store
	queue  *calsync.MemoryQueue
	engine *calsync.Engine
	live   atomic.Pointer[calsync.Engine] // the Engine the webhook feeds
	hooks  *httptest.Server
	cfg    google.Config

	mu      sync.Mutex
	changes []calsync.Change
}

var staticToken = oauth2.StaticTokenSource(&oauth2.Token{AccessToken: "e2e-token"})

// newHarness runs the emulator with its harsh defaults (several pushes per
// change, 400 or 410 for a stale sync token, pushes after stop).
func newHarness(t *testing.T, cfg google.Config, calendars ...string) *harness {
	t.Helper()
	return newHarnessWith(t, googletest.Config{}, cfg, calendars...)
}

// newHarnessWith runs the emulator with emuCfg (its PushClient is set to
// the webhook server's).
func newHarnessWith(t *testing.T, emuCfg googletest.Config, cfg google.Config, calendars ...string) *harness {
	t.Helper()
	h := &harness{t: t, store: memory.New(), queue: calsync.NewMemoryQueue(0)}
	mux := http.NewServeMux()
	h.hooks = httptest.NewTLSServer(mux)
	t.Cleanup(h.hooks.Close)
	emuCfg.PushClient = h.hooks.Client()
	h.emu = googletest.NewServer(emuCfg)
	t.Cleanup(h.emu.Close)
	for _, c := range calendars {
		if err := h.emu.AddCalendar(c, "UTC"); err != nil {
			t.Fatal(err)
		}
	}
	if cfg.HTTPClient == nil {
		// No retries: the fault tests want to see each failure, with no
		// real waits. TestDefaultClientRetries covers the default client.
		cfg.HTTPClient = &http.Client{}
	}
	cfg.Endpoint = h.emu.Endpoint()
	cfg.TokenSource = func(context.Context, string) (oauth2.TokenSource, error) { return staticToken, nil }
	h.cfg = cfg
	h.engine = h.newEngine(calsync.Config{})
	api, err := calendar.NewService(context.Background(), option.WithEndpoint(h.emu.Endpoint()), option.WithTokenSource(staticToken))
	if err != nil {
		t.Fatal(err)
	}
	h.api = api
	hook, err := webhook.NewGoogle(webhook.GoogleConfig{Sink: sinkFunc{h}})
	if err != nil {
		t.Fatal(err)
	}
	mux.Handle("/hooks/google", hook)
	return h
}

// sinkFunc routes the handler to whichever Engine the harness runs now
// (tests replace it to simulate a restart).
type sinkFunc struct{ h *harness }

func (s sinkFunc) Subscription(ctx context.Context, id string) (calsync.Subscription, error) {
	return s.h.live.Load().Subscription(ctx, id)
}
func (s sinkFunc) Enqueue(ctx context.Context, n calsync.Notification) error {
	return s.h.live.Load().Enqueue(ctx, n)
}

func (h *harness) newEngine(cfg calsync.Config) *calsync.Engine {
	h.t.Helper()
	prov, err := google.New(h.cfg)
	if err != nil {
		h.t.Fatal(err)
	}
	cfg.Store, cfg.Queue, cfg.Providers = h.store, h.queue, []calsync.Provider{prov}
	cfg.OnChange = func(_ context.Context, _ calsync.Calendar, cs []calsync.Change) {
		h.mu.Lock()
		h.changes = append(h.changes, cs...)
		h.mu.Unlock()
	}
	e, err := calsync.NewEngine(cfg)
	if err != nil {
		h.t.Fatal(err)
	}
	h.live.Store(e)
	return e
}

func (h *harness) connect(id string) calsync.Subscription {
	h.t.Helper()
	sub, err := h.engine.Connect(context.Background(), calsync.Calendar{ID: id, Provider: google.Name, AccountID: "acct", RemoteID: id},
		calsync.ConnectRequest{Address: h.hooks.URL + "/hooks/google"})
	if err != nil {
		h.t.Fatal(err)
	}
	return sub
}

// settle waits for every push to be delivered and processes every queued
// notification, until nothing is left.
func (h *harness) settle() {
	h.t.Helper()
	ctx := context.Background()
	for {
		if err := h.emu.WaitIdle(ctx); err != nil {
			h.t.Fatal(err)
		}
		if h.queue.Len() == 0 {
			return
		}
		for h.queue.Len() > 0 {
			n, err := h.queue.Dequeue(ctx)
			if err != nil {
				h.t.Fatal(err)
			}
			h.engine.Process(ctx, n)
		}
	}
}

// assertConverged compares the local copy (ids and etags) with what a full
// events.list of the emulator returns (in series mode that includes the
// cancelled exceptions of live series, which the local copy keeps).
func (h *harness) assertConverged(calID string) {
	h.t.Helper()
	var want, got []string
	if err := h.api.Events.List(calID).SingleEvents(h.cfg.SingleEvents).MaxResults(2500).Pages(context.Background(), func(p *calendar.Events) error {
		for _, e := range p.Items {
			want = append(want, e.Id+" "+e.Etag)
		}
		return nil
	}); err != nil {
		h.t.Fatal(err)
	}
	after := ""
	for {
		evs, err := h.store.ListEvents(context.Background(), calID, after, 7)
		if err != nil {
			h.t.Fatal(err)
		}
		if len(evs) == 0 {
			break
		}
		for _, e := range evs {
			got = append(got, e.ID+" "+e.ETag)
		}
		after = evs[len(evs)-1].ID
	}
	slices.Sort(want)
	slices.Sort(got)
	if !slices.Equal(got, want) {
		h.t.Fatalf("local copy of %s differs from the emulator's:\n local    %v\n emulator %v", calID, got, want)
	}
}

func (h *harness) insert(calID, summary string, day int) *calendar.Event {
	h.t.Helper()
	start := time.Date(2026, 12, 1+day, 9, 0, 0, 0, time.UTC)
	ev, err := h.api.Events.Insert(calID, &calendar.Event{
		Summary: summary,
		Start:   &calendar.EventDateTime{DateTime: start.Format(time.RFC3339)},
		End:     &calendar.EventDateTime{DateTime: start.Add(time.Hour).Format(time.RFC3339)},
	}).Do()
	if err != nil {
		h.t.Fatal(err)
	}
	return ev
}

func (h *harness) count(op calsync.ChangeOp) int {
	h.mu.Lock()
	defer h.mu.Unlock()
	n := 0
	for _, c := range h.changes {
		if c.Op == op {
			n++
		}
	}
	return n
}

func TestEndToEndConvergence(t *testing.T) {
	h := newHarness(t, google.Config{PageSize: 3}, "a@example.com", "b@example.com")
	for i := range 7 {
		h.insert("a@example.com", fmt.Sprint("seed ", i), i)
	}
	h.connect("a@example.com")
	h.connect("b@example.com")
	h.assertConverged("a@example.com")
	ev := h.insert("b@example.com", "new", 1)
	h.insert("a@example.com", "another", 2)
	if _, err := h.api.Events.Patch("b@example.com", ev.Id, &calendar.Event{Summary: "renamed"}).Do(); err != nil {
		t.Fatal(err)
	}
	h.settle()
	got, err := h.store.Event(context.Background(), "b@example.com", ev.Id)
	if err != nil || got.Summary != "renamed" {
		t.Fatalf("patched event = %+v, %v", got, err)
	}
	if err := h.api.Events.Delete("b@example.com", ev.Id).Do(); err != nil {
		t.Fatal(err)
	}
	h.settle()
	h.assertConverged("a@example.com")
	h.assertConverged("b@example.com")
	if _, err := h.store.Event(context.Background(), "b@example.com", ev.Id); !errors.Is(err, calsync.ErrNotFound) {
		t.Errorf("deleted event still stored: %v", err)
	}
}

// Duplicated and reordered deliveries carry no data, so they end in the
// same state; a redelivered notification costs at most a cheap incremental
// sync that changes nothing.
//
// One push per change (MaxPushesPerChange 1): the test counts the
// duplicates it asked for.
func TestEndToEndDuplicateAndReorderedNotifications(t *testing.T) {
	h := newHarnessWith(t, googletest.Config{MaxPushesPerChange: 1}, google.Config{}, "cal@example.com")
	h.connect("cal@example.com")
	h.emu.DuplicateNextNotifications(4)
	h.emu.ReorderNotifications(3)
	var ids []string
	for i := range 6 {
		ids = append(ids, h.insert("cal@example.com", fmt.Sprint("e", i), i).Id)
	}
	if _, err := h.api.Events.Patch("cal@example.com", ids[0], &calendar.Event{Summary: "changed"}).Do(); err != nil {
		t.Fatal(err)
	}
	if err := h.api.Events.Delete("cal@example.com", ids[1]).Do(); err != nil {
		t.Fatal(err)
	}
	h.emu.ReorderNotifications(0) // release anything still held
	h.settle()
	h.assertConverged("cal@example.com")
	// All changes happen before the first sync, so one incremental sync
	// sees each event's final version: e0 (patched), e2..e5, and e1's
	// deletion. Redeliveries must add nothing.
	if got := h.count(calsync.Upsert); got != 5 {
		t.Errorf("upserts reported = %d, want 5, none duplicated", got)
	}
	if got := h.count(calsync.Delete); got != 1 {
		t.Errorf("deletes reported = %d, want 1", got)
	}
	var dup int
	for _, d := range h.emu.Deliveries() {
		if d.OK() && d.Duplicate {
			dup++
		}
	}
	if dup != 4 {
		t.Errorf("%d duplicate deliveries acknowledged, want 4", dup)
	}
}

// A stale sync token in the middle of the chain, answered with 410 or with
// Google's other answer, 400 "Invalid sync token value.": events deleted
// while the token was expiring must be deleted locally by the full resync.
func TestEndToEndExpiredSyncTokenReconciles(t *testing.T) {
	for _, answer := range []googletest.StaleTokenAnswer{googletest.StaleToken410, googletest.StaleToken400} {
		t.Run(answer.String(), func(t *testing.T) { testExpiredSyncTokenReconciles(t, answer) })
	}
}

func testExpiredSyncTokenReconciles(t *testing.T, answer googletest.StaleTokenAnswer) {
	h := newHarnessWith(t, googletest.Config{StaleSyncToken: answer}, google.Config{PageSize: 2}, "cal@example.com")
	var ids []string
	for i := range 5 {
		ids = append(ids, h.insert("cal@example.com", fmt.Sprint("e", i), i).Id)
	}
	h.connect("cal@example.com")
	h.insert("cal@example.com", "after connect", 6)
	h.settle()
	// Deletions whose notifications are lost, then the token expires.
	h.emu.DropNextNotifications(2)
	for _, id := range ids[:2] {
		if err := h.api.Events.Delete("cal@example.com", id).Do(); err != nil {
			t.Fatal(err)
		}
	}
	if err := h.emu.ExpireSyncTokens("cal@example.com"); err != nil {
		t.Fatal(err)
	}
	h.insert("cal@example.com", "triggers the sync", 7)
	h.settle()
	h.assertConverged("cal@example.com")
	for _, id := range ids[:2] {
		if _, err := h.store.Event(context.Background(), "cal@example.com", id); !errors.Is(err, calsync.ErrNotFound) {
			t.Errorf("event %s deleted at the provider is still stored (%v)", id, err)
		}
	}
	if got := h.engine.Stats().FullSyncs; got != 2 {
		t.Errorf("full syncs = %d, want 2 (connect + resync after %v)", got, answer)
	}
	if got := h.count(calsync.Delete); got != 2 {
		t.Errorf("deletions reported = %d, want 2", got)
	}
	// The chain continues incrementally afterwards.
	h.insert("cal@example.com", "later", 8)
	h.settle()
	h.assertConverged("cal@example.com")
	if got := h.engine.Stats().FullSyncs; got != 2 {
		t.Errorf("full syncs after the resync = %d, want still 2", got)
	}
}

// cancelOnList cancels a context when the n-th events.list request starts:
// the process "dies" in the middle of a full sync.
type cancelOnList struct {
	n      int32
	seen   atomic.Int32
	cancel context.CancelFunc
}

func (c *cancelOnList) RoundTrip(r *http.Request) (*http.Response, error) {
	if r.Method == http.MethodGet && c.seen.Add(1) == c.n {
		c.cancel()
		return nil, r.Context().Err()
	}
	return http.DefaultTransport.RoundTrip(r)
}

func TestEndToEndCrashMidFullSyncResumes(t *testing.T) {
	ctx := context.Background()
	h := newHarness(t, google.Config{PageSize: 4}, "cal@example.com")
	for i := range 17 {
		h.insert("cal@example.com", fmt.Sprint("e", i), i%28)
	}
	crashCtx, crash := context.WithCancel(ctx)
	h.cfg.HTTPClient = &http.Client{Transport: &cancelOnList{n: 3, cancel: crash}}
	h.engine = h.newEngine(calsync.Config{})
	if _, err := h.engine.Connect(crashCtx, calsync.Calendar{ID: "cal@example.com", Provider: google.Name, AccountID: "acct", RemoteID: "cal@example.com"},
		calsync.ConnectRequest{Address: h.hooks.URL + "/hooks/google"}); !errors.Is(err, context.Canceled) {
		t.Fatalf("Connect = %v, want the crash", err)
	}
	st, err := h.store.SyncState(ctx, "cal@example.com")
	if err != nil || st.Cursor != "" || st.PageToken == "" {
		t.Fatalf("state after crash = %+v %v, want a full sync under way", st, err)
	}
	// While the process is down the calendar changes.
	h.insert("cal@example.com", "while down", 3)
	// Restart: a new Engine on the same Store resumes from the page token.
	h.cfg.HTTPClient = &http.Client{}
	h.engine = h.newEngine(calsync.Config{})
	res, err := h.engine.Sync(ctx, "cal@example.com")
	if err != nil {
		t.Fatal(err)
	}
	if !res.Full || res.Pages != 3 {
		t.Errorf("resumed sync = %+v, want the 3 remaining pages of the full sync", res)
	}
	h.settle()
	if _, err := h.engine.Sync(ctx, "cal@example.com"); err != nil {
		t.Fatal(err)
	}
	h.assertConverged("cal@example.com")
	if got := h.count(calsync.Upsert); got != 18 {
		t.Errorf("upserts reported = %d, want each of the 18 events once", got)
	}
}

// singleEvents=true: a recurring series arrives as occurrences, and a
// cancelled occurrence is deleted locally.
func TestEndToEndRecurringSingleEvents(t *testing.T) {
	for _, single := range []bool{false, true} {
		t.Run(fmt.Sprint("singleEvents=", single), func(t *testing.T) {
			h := newHarness(t, google.Config{SingleEvents: single}, "cal@example.com")
			h.connect("cal@example.com")
			start := time.Date(2026, 12, 1, 8, 0, 0, 0, time.UTC)
			series, err := h.api.Events.Insert("cal@example.com", &calendar.Event{
				Summary:    "standup",
				Start:      &calendar.EventDateTime{DateTime: start.Format(time.RFC3339), TimeZone: "UTC"},
				End:        &calendar.EventDateTime{DateTime: start.Add(15 * time.Minute).Format(time.RFC3339), TimeZone: "UTC"},
				Recurrence: []string{"RRULE:FREQ=DAILY;COUNT=4"},
			}).Do()
			if err != nil {
				t.Fatal(err)
			}
			h.settle()
			h.assertConverged("cal@example.com")
			second := series.Id + "_" + start.AddDate(0, 0, 1).Format("20060102T150405Z")
			third := series.Id + "_" + start.AddDate(0, 0, 2).Format("20060102T150405Z")
			if _, err := h.api.Events.Patch("cal@example.com", second, &calendar.Event{Summary: "standup (late)"}).Do(); err != nil {
				t.Fatal(err)
			}
			if err := h.api.Events.Delete("cal@example.com", third).Do(); err != nil {
				t.Fatal(err)
			}
			h.settle()
			h.assertConverged("cal@example.com")
			got, err := h.store.Event(context.Background(), "cal@example.com", second)
			if err != nil || got.RecurringEventID != series.Id || got.OriginalStart == nil || got.Summary != "standup (late)" {
				t.Fatalf("exception = %+v, %v", got, err)
			}
			if single {
				if _, err := h.store.Event(context.Background(), "cal@example.com", third); !errors.Is(err, calsync.ErrNotFound) {
					t.Errorf("cancelled occurrence still stored: %v", err)
				}
			} else {
				// Series mode keeps the cancelled exception, linked to its
				// series and original start, for whoever expands the series.
				got, err := h.store.Event(context.Background(), "cal@example.com", third)
				if err != nil || got.Status != "cancelled" || got.RecurringEventID != series.Id || got.OriginalStart == nil ||
					!got.OriginalStart.DateTime.Equal(start.AddDate(0, 0, 2)) {
					t.Errorf("cancelled exception stored as %+v, %v", got, err)
				}
			}
			// Told once: a Delete of the occurrence with singleEvents, an
			// upsert of the cancelled exception in series mode.
			cancels := func() int {
				h.mu.Lock()
				defer h.mu.Unlock()
				n := 0
				for _, c := range h.changes {
					if c.EventID == third && c.Event != nil && c.Event.RecurringEventID == series.Id &&
						(c.Op == calsync.Delete) == single && c.Event.Status == "cancelled" {
						n++
					}
				}
				return n
			}
			if n := cancels(); n != 1 {
				t.Errorf("the host was told of the cancelled occurrence %d times, want once", n)
			}
			// A full resync lists the cancelled exception again: unchanged,
			// it is not reported again.
			if err := h.emu.ExpireSyncTokens("cal@example.com"); err != nil {
				t.Fatal(err)
			}
			if _, err := h.engine.Sync(context.Background(), "cal@example.com"); err != nil {
				t.Fatal(err)
			}
			h.assertConverged("cal@example.com")
			if n := cancels(); n != 1 {
				t.Errorf("after a full resync the host was told of the cancelled occurrence %d times, want once", n)
			}
		})
	}
}

// Renewal replaces the channel: the new one exists before the old one is
// stopped, and notifications keep flowing.
func TestEndToEndRenewal(t *testing.T) {
	h := newHarness(t, google.Config{}, "cal@example.com")
	now := time.Now()
	h.engine = h.newEngine(calsync.Config{Now: func() time.Time { return now }})
	old := h.connect("cal@example.com")
	now = now.Add(6*24*time.Hour + time.Hour) // within a day of the 7-day expiry
	if n, err := h.engine.RunSweep(context.Background(), calsync.SweepRenew); n != 1 || err != nil {
		t.Fatalf("RenewExpiring = %d, %v", n, err)
	}
	chans := h.emu.Channels("cal@example.com")
	if len(chans) != 1 || chans[0].ID == old.ID {
		t.Fatalf("channels after renewal = %+v, want only a new one", chans)
	}
	ev := h.insert("cal@example.com", "after renewal", 1)
	h.settle()
	if _, err := h.store.Event(context.Background(), "cal@example.com", ev.Id); err != nil {
		t.Fatalf("change after renewal not synced: %v", err)
	}
}

// Without retries, a rate-limited list fails the sync with the provider's
// status; the next notification syncs normally. One push per change
// (MaxPushesPerChange 1), so that no second push of the change syncs
// before the health is read.
func TestEndToEndRateLimited(t *testing.T) {
	h := newHarnessWith(t, googletest.Config{MaxPushesPerChange: 1}, google.Config{}, "cal@example.com")
	h.connect("cal@example.com")
	h.emu.Fail(googletest.Fault{Op: googletest.OpEventsList, Status: 429})
	h.insert("cal@example.com", "x", 1)
	h.settle()
	hl, _ := h.engine.Health("cal@example.com")
	var pe *calsync.ProviderError
	if !errors.As(hl.LastError, &pe) || pe.StatusCode != 429 || pe.Reason != "rateLimitExceeded" {
		t.Fatalf("last error = %v, want the 429", hl.LastError)
	}
	h.insert("cal@example.com", "y", 2)
	h.settle()
	h.assertConverged("cal@example.com")
}

// The default client retries a 429, honouring its Retry-After, so the sync
// succeeds without the host noticing.
func TestDefaultClientRetries(t *testing.T) {
	h := newHarness(t, google.Config{HTTPClient: google.DefaultHTTPClient()}, "cal@example.com")
	h.connect("cal@example.com")
	h.emu.Fail(googletest.Fault{Op: googletest.OpEventsList, Status: 429, Times: 2, RetryAfter: "0.01"})
	h.insert("cal@example.com", "x", 1)
	h.settle()
	if hl, _ := h.engine.Health("cal@example.com"); hl.LastError != nil {
		t.Fatalf("sync failed despite retries: %v", hl.LastError)
	}
	h.assertConverged("cal@example.com")
}
