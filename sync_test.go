package calsync_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/calsync/calsync"
	"github.com/calsync/calsync/provider"
	"github.com/calsync/calsync/store/memory"
)

// fakeProvider is a provider over an in-memory calendar with a change log:
// cursors are "v<seq>", page tokens "<cursor>|<offset>". Hooks inject faults.
type fakeProvider struct {
	mu       sync.Mutex
	seq      int
	events   map[string]int // id -> seq of last write
	log      []logEntry
	minValid int // cursors below this seq are expired (410)
	pageSize int
	fetches  int
	watches  []provider.WatchRequest
	stopped  []string
	// hooks, called without mu held
	beforeFetch func(n int, pos provider.Position) error
	onWatch     func(req provider.WatchRequest) error
	onStop      func(sub *provider.Subscription) error
	// now is the provider's clock for expirations; default time.Now.
	now func() time.Time
}

type logEntry struct {
	seq     int
	id      string
	deleted bool
}

func newFakeProvider(pageSize int) *fakeProvider {
	return &fakeProvider{events: map[string]int{}, pageSize: pageSize}
}

func (f *fakeProvider) Name() string { return "fake" }

func (f *fakeProvider) put(ids ...string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, id := range ids {
		f.seq++
		f.events[id] = f.seq
		f.log = append(f.log, logEntry{seq: f.seq, id: id})
	}
}

func (f *fakeProvider) del(ids ...string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, id := range ids {
		f.seq++
		delete(f.events, id)
		f.log = append(f.log, logEntry{seq: f.seq, id: id, deleted: true})
	}
}

// expire invalidates every cursor issued so far, like a Google 410.
func (f *fakeProvider) expire() {
	f.mu.Lock()
	f.minValid = f.seq + 1
	f.mu.Unlock()
}

// delSilently removes events without a log entry: only a full sync can
// notice (what a 410 exists to recover from).
func (f *fakeProvider) delSilently(ids ...string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, id := range ids {
		delete(f.events, id)
	}
}

func (f *fakeProvider) ids() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	var ids []string
	for id := range f.events {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	return ids
}

func (f *fakeProvider) event(cal provider.Calendar, id string, seq int) *provider.Event {
	return &provider.Event{ID: id, CalendarID: cal.ID, Status: "confirmed", Summary: "event " + id,
		ETag: strconv.Itoa(seq), Updated: time.Unix(int64(seq), 0).UTC()}
}

func (f *fakeProvider) Watch(_ context.Context, cal provider.Calendar, req provider.WatchRequest) (*provider.Subscription, error) {
	if f.onWatch != nil {
		if err := f.onWatch(req); err != nil {
			return nil, err
		}
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.watches = append(f.watches, req)
	now, ttl := time.Now, req.TTL
	if f.now != nil {
		now = f.now
	}
	if ttl <= 0 {
		ttl = 7 * 24 * time.Hour
	}
	return &provider.Subscription{ID: req.ID, CalendarID: cal.ID, Provider: "fake", ResourceID: "res-" + cal.ID,
		Secret: req.Secret, Expiration: now().Add(ttl)}, nil
}

func (f *fakeProvider) Stop(_ context.Context, _ provider.Calendar, sub *provider.Subscription) error {
	if f.onStop != nil {
		if err := f.onStop(sub); err != nil {
			return err
		}
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.stopped = append(f.stopped, sub.ID)
	return nil
}

func (f *fakeProvider) Fetch(_ context.Context, cal provider.Calendar, pos provider.Position) (*provider.Page, error) {
	f.mu.Lock()
	f.fetches++
	n := f.fetches
	f.mu.Unlock()
	if f.beforeFetch != nil {
		if err := f.beforeFetch(n, pos); err != nil {
			return nil, err
		}
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	// Page tokens are "<cursor>|<position>|<snapshot seq>": the position is
	// the last id listed for a full listing (so deletions between pages do
	// not shift it) and an offset into the log for an incremental one.
	cursor, after, snapshot := pos.Cursor, "", f.seq
	if pos.PageToken != "" {
		parts := strings.Split(pos.PageToken, "|")
		cursor, after = parts[0], parts[1]
		snapshot, _ = strconv.Atoi(parts[2])
		if snapshot < f.minValid-1 {
			return nil, fmt.Errorf("fake: page token: %w", provider.ErrFullSyncRequired)
		}
	}
	var changes []provider.Change
	offset := 0
	if cursor == "" {
		ids := make([]string, 0, len(f.events))
		for id := range f.events {
			if id > after {
				ids = append(ids, id)
			}
		}
		slices.Sort(ids)
		for _, id := range ids {
			changes = append(changes, provider.Change{Op: provider.Upsert, EventID: id, Event: f.event(cal, id, f.events[id])})
		}
	} else {
		from, err := strconv.Atoi(strings.TrimPrefix(cursor, "v"))
		if err != nil || from < f.minValid-1 {
			return nil, fmt.Errorf("fake: cursor %s: %w", cursor, provider.ErrFullSyncRequired)
		}
		for _, e := range f.log {
			if e.seq > from && e.seq <= snapshot {
				if e.deleted {
					changes = append(changes, provider.Change{Op: provider.Delete, EventID: e.id})
				} else {
					changes = append(changes, provider.Change{Op: provider.Upsert, EventID: e.id, Event: f.event(cal, e.id, e.seq)})
				}
			}
		}
		offset, _ = strconv.Atoi(after)
	}
	end := min(offset+f.pageSize, len(changes))
	page := &provider.Page{Changes: changes[offset:end]}
	if end < len(changes) {
		next := strconv.Itoa(end)
		if cursor == "" {
			next = changes[end-1].EventID
		}
		page.NextPageToken = fmt.Sprintf("%s|%s|%d", cursor, next, snapshot)
	} else {
		page.NextCursor = "v" + strconv.Itoa(snapshot)
	}
	return page, nil
}

type recorder struct {
	mu      sync.Mutex
	changes []provider.Change
}

func (r *recorder) onChange(_ context.Context, _ calsync.Calendar, cs []calsync.Change) {
	r.mu.Lock()
	r.changes = append(r.changes, cs...)
	r.mu.Unlock()
}

func (r *recorder) count(op calsync.ChangeOp) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := 0
	for _, c := range r.changes {
		if c.Op == op {
			n++
		}
	}
	return n
}

var fakeCal = calsync.Calendar{ID: "cal-1", Provider: "fake", AccountID: "acct", RemoteID: "primary"}

func newTestEngine(t *testing.T, p *fakeProvider, st calsync.Store, cfg calsync.Config) (*calsync.Engine, *recorder) {
	t.Helper()
	rec := &recorder{}
	cfg.Store, cfg.Providers, cfg.OnChange = st, []calsync.Provider{p}, rec.onChange
	e, err := calsync.NewEngine(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return e, rec
}

func storedIDs(t *testing.T, st calsync.Store, calID string) []string {
	t.Helper()
	var ids []string
	after := ""
	for {
		evs, err := st.ListEvents(context.Background(), calID, after, 3)
		if err != nil {
			t.Fatal(err)
		}
		if len(evs) == 0 {
			return ids
		}
		for _, e := range evs {
			ids = append(ids, e.ID)
		}
		after = evs[len(evs)-1].ID
	}
}

func ids(prefix string, n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("%s%03d", prefix, i)
	}
	return out
}

func TestConnectFullSyncThenIncremental(t *testing.T) {
	ctx := context.Background()
	p := newFakeProvider(4)
	p.put(ids("a", 10)...)
	st := memory.New()
	e, rec := newTestEngine(t, p, st, calsync.Config{})
	sub, err := e.Connect(ctx, fakeCal, calsync.ConnectRequest{Address: "https://example.com/hook", TTL: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	if sub.SecretHash == ([32]byte{}) || sub.Secret != "" || sub.ID == "" || len(sub.ID) > 64 {
		t.Errorf("subscription id %q: has SecretHash %v, has Secret %v", sub.ID, sub.SecretHash != [32]byte{}, sub.Secret != "")
	}
	if got, _ := st.Subscription(ctx, sub.ID); got.SecretHash != sub.SecretHash || got.ResourceID != "res-cal-1" {
		t.Errorf("stored subscription = %v", got)
	}
	if !slices.Equal(storedIDs(t, st, fakeCal.ID), p.ids()) || rec.count(calsync.Upsert) != 10 {
		t.Fatalf("after full sync stored %v, callback upserts %d", storedIDs(t, st, fakeCal.ID), rec.count(calsync.Upsert))
	}
	p.put("b1")
	p.del("a003")
	res, err := e.Sync(ctx, fakeCal.ID)
	if err != nil {
		t.Fatal(err)
	}
	if res.Full || res.Applied != 2 {
		t.Errorf("incremental result = %+v", res)
	}
	if !slices.Equal(storedIDs(t, st, fakeCal.ID), p.ids()) {
		t.Errorf("stored %v, provider %v", storedIDs(t, st, fakeCal.ID), p.ids())
	}
}

// A 410 in the middle of the chain: the Engine resyncs from scratch and
// deletes what the provider no longer has, reporting the deletions.
func TestExpiredCursorReconcilesDeletions(t *testing.T) {
	ctx := context.Background()
	p := newFakeProvider(3)
	p.put(ids("a", 8)...)
	st := memory.New()
	e, rec := newTestEngine(t, p, st, calsync.Config{})
	if _, err := e.Connect(ctx, fakeCal, calsync.ConnectRequest{Address: "https://example.com/hook"}); err != nil {
		t.Fatal(err)
	}
	p.put("a100")
	if _, err := e.Sync(ctx, fakeCal.ID); err != nil {
		t.Fatal(err)
	}
	p.delSilently("a001", "a005")
	p.put("a200")
	p.expire()
	res, err := e.Sync(ctx, fakeCal.ID)
	if err != nil {
		t.Fatal(err)
	}
	if !res.Full || res.Resyncs != 1 {
		t.Errorf("result = %+v, want a full resync", res)
	}
	if !slices.Equal(storedIDs(t, st, fakeCal.ID), p.ids()) {
		t.Fatalf("stored %v, provider %v", storedIDs(t, st, fakeCal.ID), p.ids())
	}
	if rec.count(calsync.Delete) != 2 {
		t.Errorf("deletions reported = %d, want 2", rec.count(calsync.Delete))
	}
	// And incremental sync works again afterwards.
	p.put("a300")
	if res, err := e.Sync(ctx, fakeCal.ID); err != nil || res.Full {
		t.Fatalf("after resync: %+v %v", res, err)
	}
}

// A crash in the middle of a full sync (the context is cancelled while the
// third page is fetched) resumes from the last committed page.
func TestFullSyncResumesAfterCrash(t *testing.T) {
	ctx := context.Background()
	p := newFakeProvider(5)
	p.put(ids("a", 23)...)
	st := memory.New()
	if err := st.PutCalendar(ctx, fakeCal); err != nil {
		t.Fatal(err)
	}
	crashCtx, crash := context.WithCancel(ctx)
	p.beforeFetch = func(n int, _ provider.Position) error {
		if n == 3 {
			crash()
			return crashCtx.Err()
		}
		return nil
	}
	e1, rec1 := newTestEngine(t, p, st, calsync.Config{})
	if _, err := e1.Sync(crashCtx, fakeCal.ID); !errors.Is(err, context.Canceled) {
		t.Fatalf("first sync err = %v, want context.Canceled", err)
	}
	state, _ := st.SyncState(ctx, fakeCal.ID)
	if state.Cursor != "" || state.PageToken == "" || state.Generation == 0 {
		t.Fatalf("state after crash = %+v, want a full sync under way", state)
	}
	if got := len(storedIDs(t, st, fakeCal.ID)); got != 10 {
		t.Fatalf("events after crash = %d, want the 2 committed pages (10)", got)
	}
	p.beforeFetch = func(_ int, pos provider.Position) error {
		if pos.PageToken == "" {
			return errors.New("resumed sync restarted from the first page")
		}
		return nil
	}
	// A change made while the process was down is picked up by the resumed
	// sync or the next incremental one, and an event deleted then too.
	p.del("a001")
	e2, rec2 := newTestEngine(t, p, st, calsync.Config{})
	res, err := e2.Sync(ctx, fakeCal.ID)
	if err != nil {
		t.Fatal(err)
	}
	if !res.Full || res.Pages != 3 {
		t.Errorf("resumed result = %+v, want 3 more pages of the full sync", res)
	}
	p.beforeFetch = nil
	if _, err := e2.Sync(ctx, fakeCal.ID); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(storedIDs(t, st, fakeCal.ID), p.ids()) {
		t.Fatalf("stored %v, provider %v", storedIDs(t, st, fakeCal.ID), p.ids())
	}
	if up := rec1.count(calsync.Upsert) + rec2.count(calsync.Upsert); up != 23 {
		t.Errorf("upserts reported = %d, want each of the 23 events exactly once", up)
	}
}

// A burst of notifications during a sync costs exactly one follow-up sync:
// those that wait in the queue are folded there (one waiting sync per
// calendar), those taken by a worker into the running sync.
func TestBurstCoalesces(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	p := newFakeProvider(100)
	p.put("a")
	st := memory.New()
	e, _ := newTestEngine(t, p, st, calsync.Config{Workers: 4, SkipCatchUp: true}) // catch-up would add a sync of its own
	if _, err := e.Connect(ctx, fakeCal, calsync.ConnectRequest{Address: "https://example.com/hook"}); err != nil {
		t.Fatal(err)
	}
	entered := make(chan struct{})
	release := make(chan struct{})
	var once sync.Once
	p.beforeFetch = func(int, provider.Position) error {
		once.Do(func() { close(entered); <-release })
		return nil
	}
	before := e.Stats().Syncs
	go e.Run(ctx)
	n := calsync.Notification{Kind: calsync.Changed, Provider: "fake", CalendarID: fakeCal.ID}
	if err := e.Enqueue(ctx, n); err != nil {
		t.Fatal(err)
	}
	<-entered // the first sync is under way and blocked
	const burst = 1000
	for range burst {
		if err := e.Enqueue(ctx, n); err != nil {
			t.Fatal(err)
		}
	}
	for e.Stats().Handled < burst {
		// Every notification of the burst is folded, in the queue or into
		// the running sync; wait on the stats without sleeping on a timer.
		runtimeGosched()
	}
	close(release)
	if err := e.WaitIdle(ctx); err != nil {
		t.Fatal(err)
	}
	if got := e.Stats().Syncs - before; got != 2 {
		t.Errorf("syncs for a burst of %d = %d, want 2", burst+1, got)
	}
}

// A full resync at the same clock reading as the full sync before it (a
// fake or coarse Config.Now) must still delete what the provider no longer
// has: its generation mark must differ from the stamps the earlier full
// sync left on the events.
func TestExpiredCursorReconcilesDeletionsWithStoppedClock(t *testing.T) {
	ctx := context.Background()
	clock := newFakeClock()
	p := newFakeProvider(3)
	p.put(ids("a", 8)...)
	st := memory.New()
	e, rec := newTestEngine(t, p, st, calsync.Config{Now: clock.Now})
	if _, err := e.Connect(ctx, fakeCal, calsync.ConnectRequest{Address: "https://example.com/hook"}); err != nil {
		t.Fatal(err)
	}
	p.delSilently("a001", "a005")
	p.put("a200")
	p.expire()
	res, err := e.Sync(ctx, fakeCal.ID)
	if err != nil {
		t.Fatal(err)
	}
	if !res.Full {
		t.Errorf("result = %+v, want a full resync", res)
	}
	if !slices.Equal(storedIDs(t, st, fakeCal.ID), p.ids()) {
		t.Fatalf("stored %v, provider %v", storedIDs(t, st, fakeCal.ID), p.ids())
	}
	if rec.count(calsync.Delete) != 2 {
		t.Errorf("deletions reported = %d, want 2", rec.count(calsync.Delete))
	}
}

// A burst that arrives while no worker runs (a Graph batch of 10,000
// notifications for one subscription) waits in the queue as one sync.
func TestQueuedBurstOneSync(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	p := newFakeProvider(100)
	st := memory.New()
	e, _ := newTestEngine(t, p, st, calsync.Config{Workers: 4, SkipCatchUp: true})
	if _, err := e.Connect(ctx, fakeCal, calsync.ConnectRequest{Address: "https://example.com/hook"}); err != nil {
		t.Fatal(err)
	}
	p.put("a")
	before := e.Stats().Syncs
	const burst = 10000
	for i := range burst {
		n := calsync.Notification{Kind: calsync.Changed, Provider: "fake", CalendarID: fakeCal.ID, MessageID: strconv.Itoa(i)}
		if err := e.Enqueue(ctx, n); err != nil {
			t.Fatal(err)
		}
	}
	go e.Run(ctx)
	if err := e.WaitIdle(ctx); err != nil {
		t.Fatal(err)
	}
	s := e.Stats()
	if got := s.Syncs - before; got != 1 {
		t.Errorf("syncs for %d queued notifications = %d, want 1", burst, got)
	}
	if s.Enqueued != burst || s.Handled != burst {
		t.Errorf("enqueued %d, handled %d; want %d each", s.Enqueued, s.Handled, burst)
	}
	if got := storedIDs(t, st, fakeCal.ID); !slices.Equal(got, []string{"a"}) {
		t.Errorf("stored %v, want a", got)
	}
	h, _ := e.Health(fakeCal.ID)
	if h.Syncs != 2 || h.ProviderCalls != 3 { // Connect: watch + fetch; the burst: fetch
		t.Errorf("health = %+v; want 2 syncs and 3 provider calls", h)
	}
}

// Resync lists the calendar whole although its cursor works: what the
// provider deleted without a trace (no tombstone) goes, and events that
// did not change are not reported again.
func TestResync(t *testing.T) {
	ctx := context.Background()
	p := newFakeProvider(2)
	p.put("a", "b", "c")
	st := memory.New()
	e, rec := newTestEngine(t, p, st, calsync.Config{})
	connectFake(t, e)
	upserts := rec.count(calsync.Upsert)
	p.delSilently("b")
	if res, err := e.Sync(ctx, fakeCal.ID); err != nil || res.Full {
		t.Fatalf("Sync = %+v, %v", res, err)
	}
	if got := storedIDs(t, st, fakeCal.ID); !slices.Equal(got, []string{"a", "b", "c"}) {
		t.Fatalf("an incremental sync saw the silent deletion: %v", got)
	}
	res, err := e.Resync(ctx, fakeCal.ID)
	if err != nil || !res.Full {
		t.Fatalf("Resync = %+v, %v; want a full sync", res, err)
	}
	if got := storedIDs(t, st, fakeCal.ID); !slices.Equal(got, []string{"a", "c"}) {
		t.Errorf("after Resync: %v, want a c", got)
	}
	if rec.count(calsync.Upsert) != upserts || rec.count(calsync.Delete) != 1 {
		t.Errorf("Resync reported %d upserts and %d deletes, want 0 and 1", rec.count(calsync.Upsert)-upserts, rec.count(calsync.Delete))
	}
	if _, err := e.Resync(ctx, "nope"); !errors.Is(err, calsync.ErrNotFound) {
		t.Errorf("Resync of an unknown calendar = %v", err)
	}
}
