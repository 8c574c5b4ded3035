package riverqueue_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"sort"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"
	"golang.org/x/oauth2"
	calendar "google.golang.org/api/calendar/v3"

	"github.com/calsync/calsync"
	"github.com/calsync/calsync/google"
	"github.com/calsync/calsync/google/googletest"
	"github.com/calsync/calsync/internal/pgtest"
	"github.com/calsync/calsync/provider"
	"github.com/calsync/calsync/riverqueue"
	"github.com/calsync/calsync/store/postgres"
	"github.com/calsync/calsync/webhook"
)

// rig is one host: a PostgreSQL schema of its own holding calsync's
// store and River's tables, the Google emulator, a webhook server, and
// an Engine on the River queue.
type rig struct {
	t      testing.TB
	schema string
	pool   *pgxpool.Pool
	store  *postgres.Store
	queue  *riverqueue.Queue
	emu    *googletest.Server
	hooks  *httptest.Server
	engine *calsync.Engine
	prov   calsync.Provider

	mu   sync.Mutex
	errs []error // OnError's
}

func newRig(t testing.TB, tweak func(*calsync.Config)) *rig {
	t.Helper()
	ctx := context.Background()
	r := &rig{t: t, schema: pgtest.Schema(t, "rq_")}
	var err error
	r.pool = r.newPool(ctx)
	if r.store, err = postgres.New(ctx, r.pool, &postgres.Config{Schema: r.schema}); err != nil {
		t.Fatal(err)
	}
	if r.queue, err = riverqueue.New(ctx, r.pool, &riverqueue.Config{Schema: r.schema, River: fastRiver}); err != nil {
		t.Fatal(err)
	}

	mux := http.NewServeMux()
	r.hooks = httptest.NewUnstartedServer(mux)
	r.hooks.Config.ErrorLog = log.New(io.Discard, "", 0)
	r.hooks.StartTLS()
	t.Cleanup(r.hooks.Close)
	r.emu = googletest.NewServer(googletest.Config{PushClient: r.hooks.Client()})
	t.Cleanup(r.emu.Close)
	token := oauth2.StaticTokenSource(&oauth2.Token{AccessToken: "rq-token"})
	if r.prov, err = google.New(google.Config{
		Endpoint:    r.emu.Endpoint(),
		TokenSource: func(context.Context, string) (oauth2.TokenSource, error) { return token, nil },
	}); err != nil {
		t.Fatal(err)
	}
	cfg := calsync.Config{
		Store:     r.store,
		Providers: []calsync.Provider{r.prov},
		Queue:     r.queue,
		Logger:    slog.New(slog.DiscardHandler),
		OnError: func(ctx context.Context, _ calsync.Calendar, err error) {
			r.mu.Lock()
			r.errs = append(r.errs, err)
			r.mu.Unlock()
		},
		// As a host's: the change feed's consumer runs, and WaitIdle
		// waits for its deliveries.
		OnChange: func(context.Context, calsync.Calendar, []calsync.Change) {},
	}
	if tweak != nil {
		tweak(&cfg)
	}
	if r.engine, err = calsync.NewEngine(cfg); err != nil {
		t.Fatal(err)
	}
	hook, err := webhook.NewGoogle(webhook.GoogleConfig{Sink: r.engine})
	if err != nil {
		t.Fatal(err)
	}
	mux.Handle("POST /hooks/google", hook)
	return r
}

// newPool returns a pool (an instance's) whose search_path is the rig's
// schema, for the tests' own queries; closed when the test ends.
func (r *rig) newPool(ctx context.Context) *pgxpool.Pool {
	r.t.Helper()
	pc, err := pgxpool.ParseConfig(pgtest.URL(r.t))
	if err != nil {
		r.t.Fatal(err)
	}
	pc.ConnConfig.RuntimeParams["search_path"] = r.schema
	pool, err := pgxpool.NewWithConfig(ctx, pc)
	if err != nil {
		r.t.Fatal(err)
	}
	r.t.Cleanup(pool.Close)
	return pool
}

// fastRiver makes River look for jobs often, for tests that wait for it.
func fastRiver(c *river.Config) {
	c.FetchCooldown = 5 * time.Millisecond
	c.FetchPollInterval = 20 * time.Millisecond
}

// connect adds n calendars to the emulator, each with one event, and
// connects them.
func (r *rig) connect(ctx context.Context, n int) []string {
	r.t.Helper()
	var ids []string
	for i := range n {
		id := fmt.Sprintf("cal%03d@example.com", i)
		if err := r.emu.AddCalendar(id, "UTC"); err != nil {
			r.t.Fatal(err)
		}
		if _, err := r.emu.InsertEvent(id, event(fmt.Sprintf("first %d", i), i)); err != nil {
			r.t.Fatal(err)
		}
		cal := calsync.Calendar{ID: id, Provider: google.Name, AccountID: id, RemoteID: id}
		if _, err := r.engine.Connect(ctx, cal, calsync.ConnectRequest{Address: r.hooks.URL + "/hooks/google"}); err != nil {
			r.t.Fatal(err)
		}
		ids = append(ids, id)
	}
	return ids
}

func event(summary string, hour int) *calendar.Event {
	start := time.Date(2026, 12, 1, hour%24, 0, 0, 0, time.UTC)
	return &calendar.Event{
		Summary: summary,
		Start:   &calendar.EventDateTime{DateTime: start.Format(time.RFC3339)},
		End:     &calendar.EventDateTime{DateTime: start.Add(time.Hour).Format(time.RFC3339)},
	}
}

// run starts the Engine and returns a function that stops it and waits.
func (r *rig) run(ctx context.Context) (stop func()) {
	runCtx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- r.engine.Run(runCtx) }()
	return func() {
		cancel()
		if err := <-done; err != nil && !errors.Is(err, context.Canceled) {
			r.t.Errorf("Run: %v", err)
		}
	}
}

// settle waits for the emulator's pushes, then for the queue.
func (r *rig) settle(ctx context.Context) {
	r.t.Helper()
	if err := r.emu.WaitIdle(ctx); err != nil {
		r.t.Fatal(err)
	}
	if err := r.engine.WaitIdle(ctx); err != nil {
		r.t.Fatal(err)
	}
}

// assertEqual fails unless every calendar's stored events are the
// emulator's, by id and summary.
func (r *rig) assertEqual(ctx context.Context, ids []string) {
	r.t.Helper()
	for _, id := range ids {
		want, err := r.emu.Events(id, false)
		if err != nil {
			r.t.Fatal(err)
		}
		var w []string
		for _, ev := range want {
			if ev.Status != "cancelled" {
				w = append(w, ev.Id+"="+ev.Summary)
			}
		}
		got, err := r.store.ListEvents(ctx, id, "", 10000)
		if err != nil {
			r.t.Fatal(err)
		}
		var g []string
		for _, ev := range got {
			g = append(g, ev.ID+"="+ev.Summary)
		}
		sort.Strings(w)
		sort.Strings(g)
		if fmt.Sprint(w) != fmt.Sprint(g) {
			r.t.Errorf("%s: stored %v, emulator %v", id, g, w)
		}
	}
}

func TestGoogleChangesThroughRiver(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	r := newRig(t, nil)
	ids := r.connect(ctx, 8)
	stop := r.run(ctx)
	defer stop()
	for round := range 3 {
		for i, id := range ids {
			if _, err := r.emu.InsertEvent(id, event(fmt.Sprintf("round %d cal %d", round, i), round)); err != nil {
				t.Fatal(err)
			}
		}
	}
	r.settle(ctx)
	r.assertEqual(ctx, ids)
	if n, err := r.queue.Depth(ctx); err != nil || n != 0 {
		t.Errorf("queue length after settling = %d, %v; want 0", n, err)
	}
}

// gatedProvider holds a fetch of one calendar after the provider answered
// it, until released: the sync has "already fetched" while it waits.
type gatedProvider struct {
	calsync.Provider
	mu      sync.Mutex
	armed   string        // calendar whose next fetch is held
	held    chan struct{} // closed when a fetch is held
	release chan struct{}
}

func (p *gatedProvider) Fetch(ctx context.Context, cal calsync.Calendar, pos provider.Position) (*provider.Page, error) {
	page, err := p.Provider.Fetch(ctx, cal, pos)
	p.mu.Lock()
	hold := p.armed == cal.ID
	if hold {
		p.armed = ""
	}
	p.mu.Unlock()
	if hold {
		close(p.held)
		select {
		case <-p.release:
		case <-ctx.Done():
		}
	}
	return page, err
}

// heldSync starts a rig (tweak applied) with one calendar whose provider
// holds the next fetch after answering it, makes a change, and returns
// once the sync job for it is running and held: it has fetched already.
// Close gate.release to let it go on.
func heldSync(ctx context.Context, t *testing.T, summary string, tweak func(*calsync.Config)) (r *rig, gate *gatedProvider, ids []string, stop func()) {
	t.Helper()
	gate = &gatedProvider{held: make(chan struct{}), release: make(chan struct{})}
	r = newRig(t, func(c *calsync.Config) {
		gate.Provider = c.Providers[0]
		c.Providers = []calsync.Provider{gate}
		if tweak != nil {
			tweak(c)
		}
	})
	ids = r.connect(ctx, 1)
	stop = r.run(ctx)
	gate.mu.Lock()
	gate.armed = ids[0]
	gate.mu.Unlock()
	if _, err := r.emu.InsertEvent(ids[0], event(summary, 9)); err != nil {
		t.Fatal(err)
	}
	select {
	case <-gate.held:
	case <-ctx.Done():
		t.Fatal("no sync fetched the calendar")
	}
	return r, gate, ids, stop
}

// A notification that arrives while its calendar's sync job runs (and has
// fetched already) queues the next sync: it is not folded into the
// running one, which would lose the change until the safety net.
func TestNotificationDuringRunningSyncIsNotFolded(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	r, gate, ids, stop := heldSync(ctx, t, "before the fetch", nil)
	defer stop()
	// The sync job is running and has fetched: this change is not in it.
	if _, err := r.emu.InsertEvent(ids[0], event("during the sync", 10)); err != nil {
		t.Fatal(err)
	}
	if err := r.emu.WaitIdle(ctx); err != nil { // its pushes are queued
		t.Fatal(err)
	}
	close(gate.release)
	r.settle(ctx)
	r.assertEqual(ctx, ids)
}

// A burst of notifications for a calendar whose sync job waits costs one
// job; lifecycle notifications are not folded.
func TestBurstFoldsIntoOneWaitingJob(t *testing.T) {
	ctx := context.Background()
	r := newRig(t, nil)
	n := calsync.Notification{Kind: calsync.Changed, Provider: google.Name, CalendarID: "c1", SubscriptionID: "s1", Received: time.Now()}
	var folded int
	for i := range 5 {
		n.MessageID = fmt.Sprint(i)
		err := r.queue.Enqueue(ctx, n)
		switch {
		case errors.Is(err, calsync.ErrAlreadyQueued):
			folded++
		case err != nil:
			t.Fatal(err)
		}
	}
	life := calsync.Notification{Kind: calsync.SubscriptionRemoved, Provider: google.Name, CalendarID: "c1", SubscriptionID: "s1"}
	for range 2 {
		if err := r.queue.Enqueue(ctx, life); err != nil {
			t.Fatalf("lifecycle notification: %v", err)
		}
	}
	if folded != 4 {
		t.Errorf("%d of 5 notifications folded, want 4", folded)
	}
	if n, err := r.queue.Depth(ctx); err != nil || n != 3 {
		t.Errorf("queue length = %d, %v; want 3 (one sync, two lifecycle)", n, err)
	}
	// Another calendar is not folded into c1's job.
	n.CalendarID = "c2"
	if err := r.queue.Enqueue(ctx, n); err != nil {
		t.Errorf("c2: %v", err)
	}
}

// failingProvider fails every fetch while down is set.
type failingProvider struct {
	calsync.Provider
	down atomic.Bool
}

func (p *failingProvider) Fetch(ctx context.Context, cal calsync.Calendar, pos provider.Position) (*provider.Page, error) {
	if p.down.Load() {
		return nil, errors.New("provider down")
	}
	return p.Provider.Fetch(ctx, cal, pos)
}

// A notification that keeps failing is retried by River and, at calsync's
// MaxAttempts, lands in calsync's dead letters with one OnDeadLetter call;
// Engine.Replay works on it.
func TestFailingNotificationIsDeadLettered(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	dead := make(chan calsync.DeadLetter, 1)
	fp := &failingProvider{}
	r := newRig(t, func(c *calsync.Config) {
		c.MaxAttempts = 2
		c.RetryUnit = time.Millisecond
		c.OnDeadLetter = func(_ context.Context, d calsync.DeadLetter) { dead <- d }
		fp.Provider = c.Providers[0]
		c.Providers = []calsync.Provider{fp}
	})
	ids := r.connect(ctx, 1)
	fp.down.Store(true)
	stop := r.run(ctx)
	defer stop()
	if err := r.engine.Enqueue(ctx, calsync.Notification{Kind: calsync.Changed, Provider: google.Name, CalendarID: ids[0], MessageID: "m1"}); err != nil {
		t.Fatal(err)
	}
	var d calsync.DeadLetter
	select {
	case d = <-dead:
	case <-ctx.Done():
		t.Fatal("no dead letter")
	}
	if d.Attempts != 2 || d.Notification.CalendarID != ids[0] {
		t.Errorf("dead letter %+v, want 2 attempts of %s", d, ids[0])
	}
	dls, err := r.engine.DeadLetters(ctx, "", 10)
	if err != nil || len(dls) != 1 {
		t.Fatalf("DeadLetters = %v, %v", dls, err)
	}
	fp.down.Store(false)
	if _, err := r.emu.InsertEvent(ids[0], event("after the outage", 11)); err != nil {
		t.Fatal(err)
	}
	if err := r.emu.WaitIdle(ctx); err != nil {
		t.Fatal(err)
	}
	if err := r.engine.Replay(ctx, dls[0].ID); err != nil {
		t.Fatal(err)
	}
	r.settle(ctx)
	r.assertEqual(ctx, ids)
	if n, err := r.queue.Unfinished(ctx); err != nil || n != 0 {
		t.Errorf("unfinished jobs = %d, %v", n, err)
	}
}

// Two Engines on one store and one River schema (two instances): each
// periodic sweep runs once per period in the pair, not once per Engine.
func TestSweepsRunOncePerPeriodAcrossInstances(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	const every = time.Second
	short := func(c *calsync.Config) {
		c.RenewInterval = every
		c.SafetyNetInterval = every
	}
	r := newRig(t, short)
	r.connect(ctx, 2)
	// The second instance: its own pool, queue and Engine on the same
	// schema, emulator and webhook server.
	pool2 := r.newPool(ctx)
	store2, err := postgres.New(ctx, pool2, &postgres.Config{Schema: r.schema})
	if err != nil {
		t.Fatal(err)
	}
	queue2, err := riverqueue.New(ctx, pool2, &riverqueue.Config{Schema: r.schema, River: fastRiver})
	if err != nil {
		t.Fatal(err)
	}
	cfg2 := calsync.Config{Store: store2, Providers: []calsync.Provider{r.prov}, Queue: queue2, Logger: slog.New(slog.DiscardHandler)}
	short(&cfg2)
	e2, err := calsync.NewEngine(cfg2)
	if err != nil {
		t.Fatal(err)
	}
	stop := r.run(ctx)
	defer stop()
	ctx2, cancel2 := context.WithCancel(ctx)
	done2 := make(chan error, 1)
	go func() { done2 <- e2.Run(ctx2) }()
	defer func() { cancel2(); <-done2 }()

	type run struct {
		first, last time.Time
		n           int
	}
	count := func() map[string]run {
		rows, err := r.pool.Query(ctx, `SELECT args->>'sweep', min(created_at), max(created_at), count(*) FROM river_job
			WHERE kind = 'calsync_sweep' AND state = 'completed' GROUP BY 1`)
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		out := map[string]run{}
		for rows.Next() {
			var s string
			var x run
			if err := rows.Scan(&s, &x.first, &x.last, &x.n); err != nil {
				t.Fatal(err)
			}
			out[s] = x
		}
		return out
	}
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for count()[string(calsync.SweepRenew)].n < 5 {
		select {
		case <-tick.C:
		case <-ctx.Done():
			t.Fatalf("the renewal sweep did not run 5 times: %v", count())
		}
	}
	for _, s := range []calsync.Sweep{calsync.SweepRenew, calsync.SweepSafetyNet, calsync.SweepPruneLedger} {
		x := count()[string(s)]
		// Once per period: no more runs than periods in the span they
		// cover (to the nearest, as River's timer fires a little early or
		// late), plus the first.
		if limit := int((x.last.Sub(x.first)+every/2)/every) + 1; x.n < 2 || x.n > limit {
			t.Errorf("sweep %s ran %d times between %s and %s; want 2..%d (once per %v in the cluster)",
				s, x.n, x.first.Format(time.StampMilli), x.last.Format(time.StampMilli), limit, every)
		}
	}
	if x := count()[string(calsync.SweepCatchUp)]; x.n != 1 {
		t.Errorf("catch-up ran %d times with two instances starting together, want 1", x.n)
	}
}

// Concurrent notifications share commits; of those for one calendar
// exactly one queues a job, whichever batch they land in.
func TestConcurrentEnqueuesQueueOneJobPerCalendar(t *testing.T) {
	ctx := context.Background()
	r := newRig(t, nil)
	const calendars, per = 5, 20
	var queued, folded atomic.Int64
	var wg sync.WaitGroup
	for c := range calendars {
		for i := range per {
			wg.Go(func() {
				n := calsync.Notification{Kind: calsync.Changed, Provider: google.Name, CalendarID: fmt.Sprint("c", c), MessageID: fmt.Sprint(i), Received: time.Now()}
				switch err := r.queue.Enqueue(ctx, n); {
				case err == nil:
					queued.Add(1)
				case errors.Is(err, calsync.ErrAlreadyQueued):
					folded.Add(1)
				default:
					t.Error(err)
				}
			})
		}
	}
	wg.Wait()
	if queued.Load() != calendars || folded.Load() != calendars*(per-1) {
		t.Errorf("queued %d, folded %d; want %d and %d", queued.Load(), folded.Load(), calendars, calendars*(per-1))
	}
	if n, err := r.queue.Depth(ctx); err != nil || n != calendars {
		t.Errorf("jobs = %d, %v; want %d", n, err, calendars)
	}
}

// Ending Run's context lets a sync under way finish (within DrainTimeout)
// and commit; it is not reported to OnError.
func TestShutdownDrainsTheJobUnderWay(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	r, gate, ids, stop := heldSync(ctx, t, "while stopping", func(c *calsync.Config) { c.DrainTimeout = time.Minute })
	stopped := make(chan struct{})
	go func() { stop(); close(stopped) }()
	// The held sync goes on only now, after Run's context has ended: the
	// change is stored only if Run let the job finish rather than cut it
	// (with DrainTimeout -1 this test fails).
	close(gate.release)
	<-stopped
	r.assertEqual(ctx, ids)
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.errs) != 0 {
		t.Errorf("OnError during a drained shutdown: %v", r.errs)
	}
}

// A sync that outlives DrainTimeout is cut: not reported to OnError, not
// counted as a failed attempt, and its job runs again later.
func TestShutdownCutsAtTheDrainDeadline(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	r, _, _, stop := heldSync(ctx, t, "cut short", func(c *calsync.Config) { c.DrainTimeout = 50 * time.Millisecond })
	stop() // the gate is never released: the drain deadline cuts the sync
	var state string
	var errs int
	if err := r.pool.QueryRow(ctx, `SELECT state::text, coalesce(array_length(errors, 1), 0) FROM river_job
		WHERE kind = 'calsync_notification' ORDER BY id DESC LIMIT 1`).Scan(&state, &errs); err != nil {
		t.Fatal(err)
	}
	if state != "scheduled" && state != "available" || errs != 0 {
		t.Errorf("cut job is %s with %d errors; want it waiting to run again, with no error counted", state, errs)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.errs) != 0 {
		t.Errorf("OnError for a shutdown: %v", r.errs)
	}
}
