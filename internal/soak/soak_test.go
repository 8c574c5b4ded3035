// Package soak_test runs calsync for a simulated month against the
// emulators in their harsh default mode: a few hundred calendars, two
// Engines sharing one SQLite (and, with CALSYNC_TEST_POSTGRES_URL, one
// PostgreSQL) store behind one webhook address, random changes, random
// faults and random Engine restarts, on a fake clock. At the end every
// calendar must equal its emulator, every calendar must have exactly one
// live subscription at the provider and in the Store, no event version may
// have been applied twice, and no calendar may have cost more provider
// calls than a stated bound.
//
// The short variant runs in go test ./...; CALSYNC_SOAK=long runs the long
// one. The seed is printed; CALSYNC_SOAK_SEED=<seed> reproduces a run.
package soak_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"golang.org/x/oauth2"
	gcal "google.golang.org/api/calendar/v3"
	"google.golang.org/api/option"

	"github.com/calsync/calsync"
	"github.com/calsync/calsync/google"
	"github.com/calsync/calsync/google/googletest"
	"github.com/calsync/calsync/msgraph"
	"github.com/calsync/calsync/msgraph/msgraphtest"
	"github.com/calsync/calsync/retry"
	"github.com/calsync/calsync/retry/retrytest"
	"github.com/calsync/calsync/store/postgres"
	"github.com/calsync/calsync/store/sqlite"
	"github.com/calsync/calsync/webhook"
)

// plan is the size of a run.
type plan struct {
	calendars int           // Google calendars; half as many Outlook ones
	days      int           // simulated
	step      time.Duration // simulated time between two rounds
	changes   int           // random changes per round, over all calendars
}

var (
	shortPlan = plan{calendars: 200, days: 30, step: 2 * time.Hour, changes: 6}
	longPlan  = plan{calendars: 400, days: 30, step: 20 * time.Minute, changes: 12}
)

func TestSoakSQLite(t *testing.T) {
	run(t, func(t *testing.T) calsync.Store {
		st, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "soak.db"), nil)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { st.Close() })
		return st
	})
}

func TestSoakPostgres(t *testing.T) {
	url := os.Getenv("CALSYNC_TEST_POSTGRES_URL")
	if url == "" {
		t.Skip("CALSYNC_TEST_POSTGRES_URL is not set")
	}
	run(t, func(t *testing.T) calsync.Store {
		// A schema of its own, which the Store creates, dropped at the end.
		ctx := context.Background()
		schema := "calsync_soak_" + strconv.FormatUint(rand.Uint64()>>20, 36)
		pool, err := pgxpool.New(ctx, url)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			pool.Exec(ctx, "DROP SCHEMA IF EXISTS "+schema+" CASCADE")
			pool.Close()
		})
		st, err := postgres.New(ctx, pool, &postgres.Config{Schema: schema})
		if err != nil {
			t.Fatal(err)
		}
		return st
	})
}

func run(t *testing.T, newStore func(t *testing.T) calsync.Store) {
	p := shortPlan
	if testing.Short() {
		p.calendars, p.days = 40, 10
	}
	if os.Getenv("CALSYNC_SOAK") == "long" {
		p = longPlan
	}
	seed := uint64(time.Now().UnixNano())
	if s := os.Getenv("CALSYNC_SOAK_SEED"); s != "" {
		var err error
		if seed, err = strconv.ParseUint(s, 10, 64); err != nil {
			t.Fatalf("CALSYNC_SOAK_SEED: %v", err)
		}
	}
	t.Logf("seed %d (CALSYNC_SOAK_SEED=%d reproduces the random choices); %d calendars, %d days, a round every %s",
		seed, seed, p.calendars, p.days, p.step)
	w := newWorld(t, seed, newStore(t), p)
	w.connectAll()
	rounds := int(time.Duration(p.days) * 24 * time.Hour / p.step)
	for r := range rounds {
		w.round(r)
	}
	w.finish()
	w.check()
}

// start is the simulated month's first instant.
var start = time.Date(2027, 3, 1, 8, 0, 0, 0, time.UTC)

// world is one run: the emulator, the shared store, two instances of the
// host app behind one webhook address, and what the checks need.
type world struct {
	t     *testing.T
	plan  plan
	rng   *rand.Rand
	clock *retrytest.Clock
	store calsync.Store
	gemu  *googletest.Server
	gapi  *gcal.Service
	memu  *msgraphtest.Server
	hooks *httptest.Server
	cals  []string  // Google calendar ids (= remote ids)
	mcals []outlook // Outlook calendars
	insts [2]*instance

	// applied records, per calendar|event|etag (one version of the event
	// at the provider), the Store versions OnChange reported for it, across
	// both instances. Two Store versions of one provider version mean it
	// was applied twice: a bug. The same Store version reported again is an
	// at-least-once redelivery, allowed and counted.
	mu          sync.Mutex
	applied     map[string]map[int64]bool
	redelivered int
	changes     map[string]int // random changes made per calendar
	faults      map[string]int // faults injected, by kind
	restart     int
}

// outlook is one Outlook calendar: the primary calendar of its user, or
// (every third user) a secondary one, synced through the beta delta path.
type outlook struct {
	id, user, remote string // calsync id, mailbox, Graph calendar id ("" = primary)
}

// instance is one copy of the host app: an Engine with its own queue and
// workers, and its webhook handler. A restart replaces the Engine.
type instance struct {
	name   string
	engine atomic.Pointer[calsync.Engine]
	stop   func()
	hook   http.Handler
	ghook  http.Handler // Graph notifications and lifecycle notifications
}

// Sink: the handler always talks to the instance's current Engine.
func (in *instance) Subscription(ctx context.Context, id string) (calsync.Subscription, error) {
	return in.engine.Load().Subscription(ctx, id)
}

func (in *instance) Enqueue(ctx context.Context, n calsync.Notification) error {
	return in.engine.Load().Enqueue(ctx, n)
}

var token = oauth2.StaticTokenSource(&oauth2.Token{AccessToken: "soak-token"})

func newWorld(t *testing.T, seed uint64, st calsync.Store, p plan) *world {
	w := &world{
		t: t, plan: p, rng: rand.New(rand.NewPCG(seed, seed^0x5eed)), clock: retrytest.NewClock(start), store: st,
		applied: make(map[string]map[int64]bool), changes: make(map[string]int), faults: make(map[string]int),
	}
	// One webhook address, as behind a load balancer: each push goes to
	// one instance at random.
	var lb atomic.Uint64
	lb.Store(seed)
	w.hooks = httptest.NewUnstartedServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		in := w.insts[lb.Add(0x9e3779b97f4a7c15)>>63]
		if r.URL.Path == "/hooks/google" {
			in.hook.ServeHTTP(rw, r)
		} else {
			in.ghook.ServeHTTP(rw, r)
		}
	}))
	w.hooks.StartTLS()
	t.Cleanup(w.hooks.Close)
	w.gemu = googletest.NewServer(googletest.Config{Now: w.clock.Now, PushClient: w.hooks.Client(), Seed: seed})
	t.Cleanup(w.gemu.Close)
	api, err := gcal.NewService(context.Background(), option.WithEndpoint(w.gemu.Endpoint()), option.WithTokenSource(token))
	if err != nil {
		t.Fatal(err)
	}
	w.gapi = api
	for i := range p.calendars {
		id := fmt.Sprintf("user%03d@example.com", i)
		if err := w.gemu.AddCalendar(id, "Europe/Berlin"); err != nil {
			t.Fatal(err)
		}
		w.cals = append(w.cals, id)
	}
	w.memu = msgraphtest.NewServer(msgraphtest.Config{Now: w.clock.Now, NotificationClient: w.hooks.Client(), Seed: seed})
	t.Cleanup(w.memu.Close)
	for i := range p.calendars / 2 {
		o := outlook{user: fmt.Sprintf("mbx%03d", i)}
		w.memu.AddUser(o.user)
		w.memu.MapToken(graphToken(o.user), o.user)
		o.id = o.user + "/calendar"
		if i%3 == 2 {
			o.remote = "work-" + o.user
			w.memu.AddCalendar(o.user, o.remote)
			o.id = o.user + "/" + o.remote
		}
		w.mcals = append(w.mcals, o)
	}
	for i := range w.insts {
		w.insts[i] = &instance{name: string(rune('A' + i))}
		w.startInstance(w.insts[i])
	}
	t.Cleanup(func() {
		for _, in := range w.insts {
			in.stop()
		}
	})
	return w
}

// startInstance starts (or restarts) an instance with a new Engine: a new
// InstanceID and an empty queue, as after a deploy or a crash.
func (w *world) startInstance(in *instance) {
	prov, err := google.New(google.Config{
		Endpoint:    w.gemu.Endpoint(),
		TokenSource: func(context.Context, string) (oauth2.TokenSource, error) { return token, nil },
		// Retries wait on the fake clock: no real sleeping.
		HTTPClient: &http.Client{Transport: &retry.Transport{Policy: retry.Policy{Clock: w.clock}}},
		Now:        w.clock.Now,
	})
	if err != nil {
		w.t.Fatal(err)
	}
	mprov, err := msgraph.New(msgraph.Config{
		BaseURL: w.memu.URL() + "/v1.0",
		TokenSource: func(_ context.Context, account string) (oauth2.TokenSource, error) {
			return oauth2.StaticTokenSource(&oauth2.Token{AccessToken: graphToken(account)}), nil
		},
		HTTPClient:      &http.Client{Transport: &retry.Transport{Policy: retry.Policy{Clock: w.clock}, Base: w.memu.Client().Transport}},
		ValidationRetry: retry.Policy{Clock: w.clock},
		Now:             w.clock.Now,
	})
	if err != nil {
		w.t.Fatal(err)
	}
	e, err := calsync.NewEngine(calsync.Config{
		Store: w.store, Providers: []calsync.Provider{prov, mprov},
		Workers: 2, ManualSweeps: true, Now: w.clock.Now, Debounce: 20 * time.Millisecond,
		// The soak's days are simulated; the catch-up's real-time pace
		// (50 calendars/s by default, TestCatchUpPaced) would make each
		// restart wait seconds of wall time for nothing the soak checks.
		CatchUpRate: 1e6,
		OnChange: func(_ context.Context, cal calsync.Calendar, cs []calsync.Change) {
			w.mu.Lock()
			defer w.mu.Unlock()
			for _, c := range cs {
				if c.Op == calsync.Upsert {
					k := cal.ID + "|" + c.EventID + "|" + c.Event.ETag
					if w.applied[k] == nil {
						w.applied[k] = make(map[int64]bool)
					}
					if w.applied[k][c.Event.Version] {
						w.redelivered++
					}
					w.applied[k][c.Event.Version] = true
				}
			}
		},
	})
	if err != nil {
		w.t.Fatal(err)
	}
	if in.hook == nil {
		h, err := webhook.NewGoogle(webhook.GoogleConfig{Sink: in})
		if err != nil {
			w.t.Fatal(err)
		}
		in.hook = h
		g, err := webhook.NewGraph(webhook.GraphConfig{Sink: in})
		if err != nil {
			w.t.Fatal(err)
		}
		in.ghook = g
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { e.Run(ctx); close(done) }()
	in.engine.Store(e)
	in.stop = func() { cancel(); <-done }
}

func (w *world) connectAll() {
	for i, id := range w.cals {
		// Half the calendars are connected through each instance, while
		// the other runs its renewal sweep.
		e := w.insts[i%2].engine.Load()
		if _, err := e.Connect(context.Background(), calsync.Calendar{ID: id, Provider: google.Name, AccountID: id, RemoteID: id},
			calsync.ConnectRequest{Address: w.hooks.URL + "/hooks/google"}); err != nil {
			w.t.Fatalf("Connect %s: %v", id, err)
		}
	}
	for i, o := range w.mcals {
		e := w.insts[i%2].engine.Load()
		if _, err := e.Connect(context.Background(), calsync.Calendar{ID: o.id, Provider: msgraph.Name, AccountID: o.user, RemoteID: o.remote},
			calsync.ConnectRequest{Address: w.hooks.URL + "/hooks/graph", LifecycleAddress: w.hooks.URL + "/hooks/graph-lifecycle"}); err != nil {
			w.t.Fatalf("Connect %s: %v", o.id, err)
		}
	}
	w.settle()
}

// round is one step of simulated time: changes, faults, sweeps, maybe a
// restart, then everything settles.
func (w *world) round(r int) {
	for range w.plan.changes {
		w.change(w.cals[w.rng.IntN(len(w.cals))])
	}
	for range w.plan.changes / 2 {
		w.changeOutlook(w.mcals[w.rng.IntN(len(w.mcals))])
	}
	w.inject()
	w.injectGraph()
	w.clock.Advance(w.plan.step)
	// Both instances sweep, as both would run their schedulers; leases
	// and compare-and-swap keep them from doubling the work.
	var wg sync.WaitGroup
	for _, in := range w.insts {
		wg.Go(func() {
			for _, s := range calsync.Sweeps() {
				if s == calsync.SweepCatchUp {
					continue
				}
				in.engine.Load().RunSweep(context.Background(), s)
			}
		})
	}
	wg.Wait()
	if w.rng.IntN(20) == 0 {
		in := w.insts[w.rng.IntN(2)]
		in.stop()
		w.startInstance(in)
		w.restart++
		in.engine.Load().RunSweep(context.Background(), calsync.SweepCatchUp)
	}
	w.settle()
	if r%50 == 0 {
		w.t.Logf("round %d at %s: %d restarts, faults %v", r, w.clock.Now().Format(time.DateTime), w.restart, w.faults)
	}
}

// change makes one random change to a calendar through the API: insert,
// patch or delete, now and then a recurring series or an exception of one.
func (w *world) change(cal string) {
	w.changes[cal]++
	evs, err := w.gemu.Events(cal, false)
	if err != nil {
		w.t.Fatal(err)
	}
	day := start.Add(time.Duration(w.rng.IntN(60)) * 24 * time.Hour).Add(time.Duration(w.rng.IntN(10)) * time.Hour)
	switch k := w.rng.IntN(10); {
	case k < 4 || len(evs) == 0:
		ev := &gcal.Event{
			Summary: fmt.Sprintf("meeting %d", w.rng.IntN(1000)),
			Start:   &gcal.EventDateTime{DateTime: day.Format(time.RFC3339), TimeZone: "Europe/Berlin"},
			End:     &gcal.EventDateTime{DateTime: day.Add(time.Hour).Format(time.RFC3339), TimeZone: "Europe/Berlin"},
		}
		if k == 0 {
			ev.Recurrence = []string{"RRULE:FREQ=WEEKLY;COUNT=" + strconv.Itoa(2+w.rng.IntN(6))}
		}
		if _, err := w.gapi.Events.Insert(cal, ev).Do(); err != nil {
			w.t.Fatalf("insert into %s: %v", cal, err)
		}
	case k < 8:
		ev := evs[w.rng.IntN(len(evs))]
		if _, err := w.gapi.Events.Patch(cal, ev.Id, &gcal.Event{Summary: fmt.Sprintf("moved %d", w.rng.IntN(1000))}).Do(); err != nil {
			w.t.Fatalf("patch %s/%s: %v", cal, ev.Id, err)
		}
	default:
		ev := evs[w.rng.IntN(len(evs))]
		if len(ev.Recurrence) > 0 && w.rng.IntN(2) == 0 {
			// Cancel one occurrence: a cancelled exception.
			inst, err := w.gapi.Events.Instances(cal, ev.Id).Do()
			if err == nil && len(inst.Items) > 0 {
				ev = inst.Items[w.rng.IntN(len(inst.Items))]
			}
		}
		if err := w.gapi.Events.Delete(cal, ev.Id).Do(); err != nil {
			w.t.Fatalf("delete %s/%s: %v", cal, ev.Id, err)
		}
	}
}

// inject adds random faults for the round.
func (w *world) inject() {
	cal := w.cals[w.rng.IntN(len(w.cals))]
	switch k := w.rng.IntN(12); k {
	case 0:
		w.gemu.Fail(googletest.Fault{Op: googletest.OpEventsList, CalendarID: cal, Times: 1 + w.rng.IntN(3), Status: http.StatusTooManyRequests,
			Reason: "rateLimitExceeded", RetryAfterIn: time.Duration(1+w.rng.IntN(30)) * time.Second})
		w.faults["429"]++
	case 1:
		w.gemu.Fail(googletest.Fault{Op: googletest.OpEventsList, CalendarID: cal, Times: 1 + w.rng.IntN(8), Status: []int{500, 502, 503}[w.rng.IntN(3)]})
		w.faults["5xx"]++
	case 2:
		if err := w.gemu.ExpireSyncTokens(cal); err != nil {
			w.t.Fatal(err)
		}
		w.faults["stale token"]++
	case 3:
		w.gemu.DropNextNotifications(1 + w.rng.IntN(3))
		w.faults["dropped"]++
	case 4:
		w.gemu.DuplicateNextNotifications(1 + w.rng.IntN(3))
		w.faults["duplicated"]++
	case 5:
		w.gemu.ReorderNotifications(2 + w.rng.IntN(3))
		w.faults["reordered"]++
	case 6:
		w.gemu.Fail(googletest.Fault{Op: googletest.OpEventsWatch, Times: 1, Status: http.StatusServiceUnavailable})
		w.faults["watch 503"]++
	}
}

// settle waits until the emulator has delivered every push and both
// instances have handled every notification, until nothing moves.
func (w *world) settle() {
	engines := []*calsync.Engine{w.insts[0].engine.Load(), w.insts[1].engine.Load()}
	if err := settleAll(2*time.Minute, []func(context.Context) error{w.gemu.WaitIdle, w.memu.WaitIdle}, engines...); err != nil {
		w.t.Fatalf("did not settle: %v", err)
	}
}

// settleAll waits, within timeout, until every emulator has delivered
// what it holds (waits) and every Engine has handled it, over and over
// until no Engine handled anything new.
func settleAll(timeout time.Duration, waits []func(context.Context) error, engines ...*calsync.Engine) error {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	for {
		for _, wait := range waits {
			if err := wait(ctx); err != nil {
				return fmt.Errorf("emulator: %w", err)
			}
		}
		moved := false
		for _, e := range engines {
			before := e.Stats().Handled
			if err := e.WaitIdle(ctx); err != nil {
				return fmt.Errorf("engine: %w", err)
			}
			moved = moved || e.Stats().Handled != before
		}
		if !moved {
			return nil
		}
	}
}

// finish ends the faults and lets the sweeps run their course for one
// renewal period: retries come due, the safety net runs past its six
// hours, and every subscription is renewed once, which is when a Graph
// subscription removed without its lifecycle notification reaching us
// (and not noticed by a safety-net sync, because nothing changed in its
// calendar) is found and replaced.
func (w *world) finish() {
	w.gemu.ClearFaults()
	w.memu.ClearFaults()
	for range 8 * 24 / 7 {
		w.clock.Advance(7 * time.Hour)
		for _, in := range w.insts {
			for _, s := range []calsync.Sweep{calsync.SweepRetry, calsync.SweepSafetyNet, calsync.SweepRenew, calsync.SweepPruneFeed} {
				in.engine.Load().RunSweep(context.Background(), s)
			}
		}
		w.settle()
	}
}

func (w *world) check() {
	t := w.t
	ctx := context.Background()
	var maxCalls, calls int
	var worst string
	for _, cal := range w.cals {
		// The local copy equals a full listing (series mode: cancelled
		// exceptions of live series included).
		var want []string
		if err := w.gapi.Events.List(cal).MaxResults(2500).Pages(ctx, func(p *gcal.Events) error {
			for _, e := range p.Items {
				want = append(want, e.Id+" "+e.Etag)
			}
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		w.compare(cal, want, func(e calsync.Event) string { return e.ID + " " + e.ETag })
		// One live subscription, the same at the provider and in the
		// Store; no orphan channel.
		subs, err := w.store.ListSubscriptions(ctx, cal)
		if err != nil {
			t.Fatal(err)
		}
		live := w.gemu.Channels(cal)
		if len(subs) != 1 || len(live) != 1 || subs[0].ID != live[0].ID {
			var ids []string
			for _, c := range live {
				ids = append(ids, c.ID)
			}
			t.Errorf("%s: subscriptions in the Store %d, live channels %v; want one, the same", cal, len(subs), ids)
		}
		// No hot loop: provider calls per calendar within a bound.
		n := w.gemu.RequestCount("", cal)
		calls += n
		if bound := callBound(w.changes[cal], w.plan.days, w.restart); n > bound {
			t.Errorf("%s: %d provider calls for %d changes over %d days, above the bound %d", cal, n, w.changes[cal], w.plan.days, bound)
		}
		if n > maxCalls {
			maxCalls, worst = n, cal
		}
	}
	calls += w.checkOutlook()
	w.mu.Lock()
	defer w.mu.Unlock()
	for k, versions := range w.applied {
		if len(versions) > 1 {
			t.Errorf("event version %s applied %d times (Store versions %v)", k, len(versions), versions)
		}
	}
	total := 0
	for _, n := range w.changes {
		total += n
	}
	t.Logf("%d changes, %d restarts, %d changes redelivered to OnChange, faults %v; provider calls %d in all, at most %d for one calendar (%s, %d changes)",
		total, w.restart, w.redelivered, w.faults, calls, maxCalls, worst, w.changes[worst])
}

// callBound is the most provider calls a calendar may cost: per change a
// few calls (its pushes fold into at most two syncs; a fault or a stale
// token adds a retry or a full resync of a page or two); per day the
// safety net (a sync every 6 hours, in each of the two instances: the
// sweep takes no lease) and its share of channel renewals (a watch and a
// stop a week); a catch-up sync per restart.
func callBound(changes, days, restarts int) int {
	return 20 + 8*changes + 10*days + restarts
}

func graphToken(user string) string { return "graph-token-of-" + user }

// changeOutlook makes one random change to an Outlook calendar: create
// (now and then a weekly series), update or delete, or change one
// occurrence of a series.
func (w *world) changeOutlook(o outlook) {
	w.changes[o.id]++
	now := w.clock.Now()
	evs, err := w.memu.Events(o.user, o.remote, now.Add(-msgraph.DefaultWindowBefore), now.Add(msgraph.DefaultWindowAfter))
	if err != nil {
		w.t.Fatal(err)
	}
	day := now.Truncate(time.Hour).Add(time.Duration(1+w.rng.IntN(60)) * 24 * time.Hour).Add(time.Duration(w.rng.IntN(10)) * time.Hour)
	switch k := w.rng.IntN(10); {
	case k < 4 || len(evs) == 0:
		ev := msgraphtest.Event{Subject: fmt.Sprintf("meeting %d", w.rng.IntN(1000)), Start: day, End: day.Add(time.Hour)}
		if k == 0 {
			ev.Recurrence = &msgraphtest.PatternedRecurrence{
				Pattern: msgraphtest.RecurrencePattern{Type: "weekly", Interval: 1, DaysOfWeek: []string{strings.ToLower(day.Weekday().String())}},
				Range:   msgraphtest.RecurrenceRange{Type: "numbered", StartDate: day.Format(time.DateOnly), NumberOfOccurrences: 2 + w.rng.IntN(5)},
			}
		}
		if _, err := w.memu.CreateEvent(o.user, o.remote, ev); err != nil {
			w.t.Fatalf("create in %s: %v", o.id, err)
		}
	case k < 8:
		ev := evs[w.rng.IntN(len(evs))]
		upd := ev
		upd.Subject = fmt.Sprintf("moved %d", w.rng.IntN(1000))
		if _, err := w.memu.UpdateEvent(o.user, o.remote, ev.ID, upd); err != nil {
			w.t.Fatalf("update %s/%s: %v", o.id, ev.ID, err)
		}
	default:
		ev := evs[w.rng.IntN(len(evs))]
		if err := w.memu.DeleteEvent(o.user, o.remote, ev.ID); err != nil {
			w.t.Fatalf("delete %s/%s: %v", o.id, ev.ID, err)
		}
	}
}

// injectGraph adds random Graph faults for the round.
func (w *world) injectGraph() {
	o := w.mcals[w.rng.IntN(len(w.mcals))]
	subs := w.liveGraphSubs(o)
	switch k := w.rng.IntN(14); k {
	case 0:
		w.memu.Fail(msgraphtest.Fault{Op: msgraphtest.OpDelta, Times: 1 + w.rng.IntN(3), Status: http.StatusTooManyRequests,
			Code: "ApplicationThrottled", OmitRetryAfter: w.rng.IntN(2) == 0})
		w.faults["graph 429"]++
	case 1:
		w.memu.Fail(msgraphtest.Fault{Op: msgraphtest.OpDelta, Times: 1 + w.rng.IntN(8), Status: []int{500, 503, 504}[w.rng.IntN(3)]})
		w.faults["graph 5xx"]++
	case 2:
		if err := w.memu.ExpireDeltaTokens(o.user, o.remote, ""); err != nil {
			w.t.Fatal(err)
		}
		w.faults["graph 410"]++
	case 3:
		w.memu.DropNextNotifications(1 + w.rng.IntN(3))
		w.faults["graph dropped"]++
	case 4:
		w.memu.DuplicateNextNotifications(1 + w.rng.IntN(3))
		w.faults["graph duplicated"]++
	case 5, 6, 7:
		if len(subs) > 0 {
			ev := []string{msgraphtest.LifecycleSubscriptionRemoved, msgraphtest.LifecycleReauthorizationRequired, msgraphtest.LifecycleMissed}[k-5]
			if err := w.memu.SendLifecycle(subs[0].ID, ev); err != nil {
				w.t.Fatal(err)
			}
			w.faults["lifecycle "+ev]++
		}
	case 8:
		w.memu.TimeOutNextValidations(1 + w.rng.IntN(2))
		w.faults["validation timeout"]++
	case 9:
		w.memu.Fail(msgraphtest.Fault{Op: msgraphtest.OpUpdateSubscription, Times: 1, Status: http.StatusTooManyRequests, Code: "ApplicationThrottled", RetryAfter: "1"})
		w.faults["graph renew 429"]++
	}
}

// liveGraphSubs returns the emulator's subscriptions on o's calendar.
func (w *world) liveGraphSubs(o outlook) []msgraphtest.Subscription {
	cal := o.remote
	if cal == "" {
		cal = w.memu.PrimaryCalendar(o.user)
	}
	var out []msgraphtest.Subscription
	for _, s := range w.memu.Subscriptions() {
		if s.User == o.user && (s.Calendar == cal || s.Calendar == o.remote) {
			out = append(out, s)
		}
	}
	return out
}

// checkOutlook checks the Outlook calendars and returns their provider
// calls.
func (w *world) checkOutlook() int {
	t := w.t
	ctx := context.Background()
	perUser := make(map[string]int)
	for _, r := range w.memu.Requests() {
		perUser[r.User]++
	}
	calls := 0
	for _, o := range w.mcals {
		// The local copy holds the calendarView window of the calendar's
		// last full sync, which moves (msgraph.Window.Slide): a full sync
		// after a 410, or the slide itself, sets it to [Before, After]
		// around its own time, and the sweep removes what fell out of it.
		// An event that ended more than Before before that time is rightly
		// gone, though the mailbox still has it.
		st, err := w.store.SyncState(ctx, o.id)
		if err != nil {
			t.Fatal(err)
		}
		if set, ok := windowSet(st.Cursor); !ok {
			t.Errorf("%s: cursor %.20q… at the end: want a calendarView cursor that says when its window was set", o.id, st.Cursor)
		} else {
			remote, err := w.memu.Events(o.user, o.remote, set.Add(-msgraph.DefaultWindowBefore), set.Add(msgraph.DefaultWindowAfter))
			if err != nil {
				t.Fatal(err)
			}
			var want []string
			for _, e := range remote {
				want = append(want, e.ID+" "+e.Subject)
			}
			w.compare(o.id, want, func(e calsync.Event) string { return e.ID + " " + e.Summary })
		}
		subs, err := w.store.ListSubscriptions(ctx, o.id)
		if err != nil {
			t.Fatal(err)
		}
		live := w.liveGraphSubs(o)
		if len(subs) != 1 || len(live) != 1 || subs[0].ID != live[0].ID {
			var ids []string
			for _, s := range live {
				ids = append(ids, s.ID)
			}
			t.Errorf("%s: subscriptions in the Store %v, live at Graph %v; want one, the same", o.id, subIDs(subs), ids)
			for _, d := range w.memu.Deliveries() {
				for _, s := range subs {
					if d.Kind == msgraphtest.KindLifecycle && slices.Contains(d.SubscriptionIDs, s.ID) {
						t.Logf("  lifecycle delivery for %s: %s status %d dropped %v duplicate %v", s.ID, d.Body, d.StatusCode, d.Dropped, d.Duplicate)
					}
				}
			}
		}
		n := perUser[o.user]
		calls += n
		if bound := callBound(w.changes[o.id], w.plan.days, w.restart); n > bound {
			t.Errorf("%s: %d provider calls for %d changes over %d days, above the bound %d", o.id, n, w.changes[o.id], w.plan.days, bound)
		}
	}
	return calls
}

// windowSet returns when the calendarView window of a Graph cursor was
// set: msgraph cursors read "mg2v:<unix seconds>:<deltaLink>" (see
// msgraph/delta.go), and the window is [set − Before, set + After].
func windowSet(cursor string) (time.Time, bool) {
	rest, ok := strings.CutPrefix(cursor, "mg2v:")
	if !ok {
		return time.Time{}, false
	}
	unix, _, ok := strings.Cut(rest, ":")
	if !ok {
		return time.Time{}, false
	}
	n, err := strconv.ParseInt(unix, 10, 64)
	if err != nil {
		return time.Time{}, false
	}
	return time.Unix(n, 0), true
}

// compare checks the local copy of cal, each event described by describe,
// against want, the emulator's events described the same way.
func (w *world) compare(cal string, want []string, describe func(calsync.Event) string) {
	var got []string
	for after := ""; ; {
		evs, err := w.store.ListEvents(context.Background(), cal, after, 500)
		if err != nil {
			w.t.Fatal(err)
		}
		if len(evs) == 0 {
			break
		}
		for _, e := range evs {
			got = append(got, describe(e))
		}
		after = evs[len(evs)-1].ID
	}
	slices.Sort(want)
	slices.Sort(got)
	if !slices.Equal(got, want) {
		w.t.Errorf("%s: local copy differs from the emulator:\n local    %v\n emulator %v", cal, got, want)
	}
}

func subIDs(subs []calsync.Subscription) []string {
	var ids []string
	for _, s := range subs {
		ids = append(ids, s.ID)
	}
	return ids
}
