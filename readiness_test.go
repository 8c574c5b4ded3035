package calsync_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"slices"
	"testing"
	"time"

	"github.com/calsync/calsync"
	"github.com/calsync/calsync/provider"
	"github.com/calsync/calsync/retry/retrytest"
	"github.com/calsync/calsync/store/memory"
)

// probe asks h with method and returns the status and the decoded body
// (zero for HEAD).
func probe(t *testing.T, h http.Handler, method string) (int, calsync.Readiness) {
	t.Helper()
	rr := httptest.NewRecorder()
	h.ServeHTTP(rr, httptest.NewRequest(method, "/readyz", nil))
	var rd calsync.Readiness
	if method == http.MethodGet && rr.Code != http.StatusMethodNotAllowed {
		if err := json.Unmarshal(rr.Body.Bytes(), &rd); err != nil {
			t.Fatalf("body %q: %v", rr.Body.String(), err)
		}
	}
	if method == http.MethodHead && rr.Body.Len() != 0 {
		t.Errorf("HEAD answered a body: %q", rr.Body.String())
	}
	return rr.Code, rd
}

// expectFailing checks a GET answers 503 naming exactly the checks want,
// and a HEAD the same status.
func expectFailing(t *testing.T, h http.Handler, want ...string) calsync.Readiness {
	t.Helper()
	code, rd := probe(t, h, http.MethodGet)
	wantCode := http.StatusServiceUnavailable
	if len(want) == 0 {
		wantCode = http.StatusOK
	}
	if code != wantCode || rd.Ready != (len(want) == 0) || !slices.Equal(rd.Failing, want) {
		t.Errorf("GET = %d, ready %v, failing %v; want %d failing %v (%+v)", code, rd.Ready, rd.Failing, wantCode, want, rd)
	}
	if code, _ := probe(t, h, http.MethodHead); code != wantCode {
		t.Errorf("HEAD = %d, want %d", code, wantCode)
	}
	return rd
}

func readinessEngine(t *testing.T, st calsync.Store, cfg calsync.Config) (*calsync.Engine, *fakeProvider, *retrytest.Clock) {
	t.Helper()
	clock := newFakeClock()
	p := newFakeProvider(10)
	p.now = clock.Now
	cfg.Now = clock.Now
	e, _ := newTestEngine(t, p, st, cfg)
	return e, p, clock
}

// A healthy Engine answers 200 to GET and HEAD, 405 to anything else.
func TestReadinessMethods(t *testing.T) {
	e, _, _ := readinessEngine(t, memory.New(), calsync.Config{})
	connectFake(t, e)
	h := e.ReadinessHandler(calsync.ReadinessConfig{})
	expectFailing(t, h)
	for _, m := range []string{http.MethodPost, http.MethodPut, http.MethodDelete} {
		rr := httptest.NewRecorder()
		h.ServeHTTP(rr, httptest.NewRequest(m, "/readyz", nil))
		if rr.Code != http.StatusMethodNotAllowed || rr.Header().Get("Allow") != "GET, HEAD" {
			t.Errorf("%s = %d, Allow %q", m, rr.Code, rr.Header().Get("Allow"))
		}
	}
}

// brokenStore fails the reads of the readiness check.
type brokenStore struct{ *memory.Store }

func (brokenStore) ExpiringSubscriptions(context.Context, time.Time) ([]calsync.Subscription, error) {
	return nil, errors.New("connection refused")
}

// A Store that does not answer fails the store check (and leaves the
// subscriptions unknown, not failing).
func TestReadinessStoreUnreachable(t *testing.T) {
	e, _, _ := readinessEngine(t, brokenStore{memory.New()}, calsync.Config{})
	rd := expectFailing(t, e.ReadinessHandler(calsync.ReadinessConfig{}), "store")
	if rd.Store.Error == "" || rd.Subscriptions.OK {
		t.Errorf("store check %+v, subscriptions %+v", rd.Store, rd.Subscriptions)
	}
}

// opaqueQueue hides MemoryQueue's Depth: the check counts what the Engine
// enqueued instead.
type opaqueQueue struct{ q *calsync.MemoryQueue }

func (o opaqueQueue) Enqueue(ctx context.Context, n calsync.Notification) error {
	return o.q.Enqueue(ctx, n)
}
func (o opaqueQueue) Dequeue(ctx context.Context) (calsync.Notification, error) {
	return o.q.Dequeue(ctx)
}

// Notifications waiting while no worker takes any (Run is not running)
// fail the queue check once QueueStallAfter has passed; a worker taking
// them makes it pass again.
func TestReadinessQueueStuck(t *testing.T) {
	for name, q := range map[string]calsync.Queue{
		"depth":  calsync.NewMemoryQueue(10),
		"counts": opaqueQueue{calsync.NewMemoryQueue(10)},
	} {
		t.Run(name, func(t *testing.T) {
			e, _, clock := readinessEngine(t, memory.New(), calsync.Config{Queue: q, SkipCatchUp: true, ManualSweeps: true, Workers: 1})
			connectFake(t, e)
			h := e.ReadinessHandler(calsync.ReadinessConfig{QueueStallAfter: time.Minute})
			if err := e.Enqueue(context.Background(), calsync.Notification{Kind: calsync.Changed, Provider: "fake", CalendarID: fakeCal.ID, MessageID: "m1"}); err != nil {
				t.Fatal(err)
			}
			expectFailing(t, h) // waiting, but not for long
			clock.Advance(2 * time.Minute)
			rd := expectFailing(t, h, "queue")
			if rd.Queue.Waiting != 1 || rd.Queue.Error == "" {
				t.Errorf("queue check %+v", rd.Queue)
			}
			stop := runEngine(t, e)
			if err := e.WaitIdle(context.Background()); err != nil {
				t.Fatal(err)
			}
			stop()
			expectFailing(t, h)
		})
	}
}

// An expired subscription fails the check, unless its calendar is parked
// (the provider refused it: nothing renews it until the host acts).
func TestReadinessSubscriptionExpired(t *testing.T) {
	ctx := context.Background()
	e, p, clock := readinessEngine(t, memory.New(), calsync.Config{})
	sub, err := e.Connect(ctx, fakeCal, calsync.ConnectRequest{Address: "https://example.com/hook", TTL: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	h := e.ReadinessHandler(calsync.ReadinessConfig{})
	expectFailing(t, h)
	clock.Advance(2 * time.Hour)
	rd := expectFailing(t, h, "subscriptions")
	if rd.Subscriptions.Expired != 1 || !slices.Equal(rd.Subscriptions.IDs, []string{sub.ID}) {
		t.Errorf("subscriptions check %+v, want %s", rd.Subscriptions, sub.ID)
	}
	p.beforeFetch = func(int, provider.Position) error {
		return &provider.Error{Provider: "fake", Op: "list", StatusCode: 404, Err: errors.Join(provider.ErrNotFound, provider.ErrCalendarUnavailable)}
	}
	if _, err := e.Sync(ctx, fakeCal.ID); !errors.Is(err, calsync.ErrCalendarUnavailable) {
		t.Fatalf("Sync = %v", err)
	}
	expectFailing(t, h) // parked: its expiry is the host's matter now
}
