package throughput_test

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

	"golang.org/x/oauth2"
	gcal "google.golang.org/api/calendar/v3"

	"github.com/calsync/calsync"
	"github.com/calsync/calsync/google"
	"github.com/calsync/calsync/google/googletest"
	"github.com/calsync/calsync/provider"
	"github.com/calsync/calsync/store/sqlite"
	"github.com/calsync/calsync/webhook"
)

// TestThroughput measures the single-process pipeline on loopback: an
// Engine (default workers and queue, debounce off so that every
// notification asks for a sync and the latency is calsync's, not the
// debounce's) on store/sqlite in a temporary file, the Google emulator
// (harsh by default: 1 to 3 pushes per change) pushing to webhook.Google
// on a loopback TLS server, and CALSYNC_THROUGHPUT_CALENDARS calendars
// (default 1,000), each its own Google user.
//
// For each offered rate of CALSYNC_THROUGHPUT_RATES (changes per second,
// default 100,200,400,800,1200,1600,2400,3200) it inserts events into
// random calendars at that rate for CALSYNC_THROUGHPUT_SECONDS (default
// 10), then waits until every change reached OnChange. A rate is kept up
// with when that wait (the drain: what was still queued when the changes
// stopped) is under one second; a queue that grows without bound drains
// in proportion to the run's length. The saturation point is the highest
// rate kept up with (rates stop after two in a row that are not).
//
// Reported per rate: notifications (pushes received by the handler) per
// second, the drain, p50 and p99 from the change to OnChange, and the p99
// of the parts in the same run: one incremental Fetch (provider call) and
// one Apply (Store transaction), timed around the calls themselves.
//
// CALSYNC_THROUGHPUT_WORKERS sets Config.Workers (default
// DefaultWorkers). It is skipped unless CALSYNC_THROUGHPUT=1: it runs for
// minutes.
func TestThroughput(t *testing.T) {
	if testingSkip("CALSYNC_THROUGHPUT") {
		t.Skip("set CALSYNC_THROUGHPUT=1 to run the throughput harness (minutes)")
	}
	ncal := envInt(t, "CALSYNC_THROUGHPUT_CALENDARS", 1000)
	secs := envInt(t, "CALSYNC_THROUGHPUT_SECONDS", 10)
	rates := []int{100, 200, 400, 800, 1200, 1600, 2400, 3200}
	if s := os.Getenv("CALSYNC_THROUGHPUT_RATES"); s != "" {
		rates = nil
		for f := range strings.SplitSeq(s, ",") {
			r, err := strconv.Atoi(strings.TrimSpace(f))
			if err != nil || r <= 0 {
				t.Fatalf("CALSYNC_THROUGHPUT_RATES: %q is not a positive rate", f)
			}
			rates = append(rates, r)
		}
	}
	r := newRig(t, ncal, envInt(t, "CALSYNC_THROUGHPUT_WORKERS", calsync.DefaultWorkers))
	t.Logf("%d calendars connected", ncal)
	t.Logf("%-6s %9s %9s %9s %9s %9s %9s %9s %9s %s", "rate", "notif/s", "drain", "p50", "p99", "fetchp99", "applyp99", "parts", "p99/parts", "kept up")
	saturation, misses := 0, 0
	for _, rate := range rates {
		res := r.run(t, rate, time.Duration(secs)*time.Second)
		ok := res.drain < time.Second
		parts := res.fetch99 + res.apply99
		t.Logf("%-6d %9.0f %9s %9s %9s %9s %9s %9s %9.2f %v", rate, res.notifPerSec, ms(res.drain), ms(res.p50), ms(res.p99),
			ms(res.fetch99), ms(res.apply99), ms(parts), float64(res.p99)/float64(parts), ok)
		if ok {
			saturation, misses = rate, 0
		} else if misses++; misses == 2 {
			break
		}
	}
	t.Logf("saturation point: %d changes/s (highest rate kept up with)", saturation)
}

// testingSkip reports whether the measurement gated by env is off.
func testingSkip(env string) bool { return os.Getenv(env) != "1" }

func ms(d time.Duration) string { return fmt.Sprintf("%.1fms", float64(d.Microseconds())/1000) }

func envInt(t *testing.T, name string, def int) int {
	s := os.Getenv(name)
	if s == "" {
		return def
	}
	n, err := strconv.Atoi(s)
	if err != nil || n <= 0 {
		t.Fatalf("%s: %q is not a positive number", name, s)
	}
	return n
}

// sinkOf routes the webhook handler to the Engine made after it.
type sinkOf struct{ e *calsync.Engine }

func (s *sinkOf) Subscription(ctx context.Context, id string) (calsync.Subscription, error) {
	return s.e.Subscription(ctx, id)
}
func (s *sinkOf) Enqueue(ctx context.Context, n calsync.Notification) error {
	return s.e.Enqueue(ctx, n)
}

// timings collects durations of one kind.
type timings struct {
	mu sync.Mutex
	on bool
	ds []time.Duration
}

func (t *timings) add(d time.Duration) {
	t.mu.Lock()
	if t.on {
		t.ds = append(t.ds, d)
	}
	t.mu.Unlock()
}

func (t *timings) start() { t.mu.Lock(); t.on, t.ds = true, nil; t.mu.Unlock() }

func (t *timings) stop() []time.Duration {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.on = false
	return t.ds
}

// timedStore is the SQLite Store with Apply timed; embedding the pointer
// keeps every optional capability (Ledger, DeadLetters, …).
type timedStore struct {
	*sqlite.Store
	apply *timings
}

func (s timedStore) Apply(ctx context.Context, calendarID string, b *calsync.Batch) (*calsync.ApplyResult, error) {
	t0 := time.Now()
	ar, err := s.Store.Apply(ctx, calendarID, b)
	s.apply.add(time.Since(t0))
	return ar, err
}

// timedProvider is the Google provider with incremental fetches timed.
type timedProvider struct {
	*google.Provider
	fetch *timings
}

func (p timedProvider) Fetch(ctx context.Context, cal provider.Calendar, pos provider.Position) (*provider.Page, error) {
	t0 := time.Now()
	page, err := p.Provider.Fetch(ctx, cal, pos)
	if pos.Cursor != "" {
		p.fetch.add(time.Since(t0))
	}
	return page, err
}

type rig struct {
	emu    *googletest.Server
	e      *calsync.Engine
	cals   []string
	pushes atomic.Int64
	fetch  timings
	apply  timings

	mu      sync.Mutex
	changed map[string]time.Time // event id → first OnChange
}

var token = oauth2.StaticTokenSource(&oauth2.Token{AccessToken: "t"})

func newRig(t *testing.T, ncal, workers int) *rig {
	r := &rig{changed: map[string]time.Time{}}
	sink := &sinkOf{}
	hook, err := webhook.NewGoogle(webhook.GoogleConfig{Sink: sink})
	if err != nil {
		t.Fatal(err)
	}
	hooks := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		r.pushes.Add(1)
		hook.ServeHTTP(w, req)
	}))
	t.Cleanup(hooks.Close)
	// The emulator's pushes get enough keep-alive connections not to be
	// the bottleneck of what is measured.
	pushTr := hooks.Client().Transport.(*http.Transport).Clone()
	pushTr.MaxIdleConnsPerHost = 256
	emu := googletest.NewServer(googletest.Config{PushClient: &http.Client{Transport: pushTr}})
	t.Cleanup(emu.Close)
	r.emu = emu
	gp, err := google.New(google.Config{Endpoint: emu.Endpoint(),
		TokenSource: func(context.Context, string) (oauth2.TokenSource, error) { return token, nil }})
	if err != nil {
		t.Fatal(err)
	}
	st, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "calsync.db"), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	e, err := calsync.NewEngine(calsync.Config{
		Store:       timedStore{Store: st, apply: &r.apply},
		Providers:   []calsync.Provider{timedProvider{Provider: gp, fetch: &r.fetch}},
		Debounce:    -1,
		SkipCatchUp: true,
		Workers:     workers,
		OnChange: func(_ context.Context, _ calsync.Calendar, changes []calsync.Change) {
			now := time.Now()
			r.mu.Lock()
			for _, c := range changes {
				if _, ok := r.changed[c.EventID]; !ok {
					r.changed[c.EventID] = now
				}
			}
			r.mu.Unlock()
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	sink.e = e
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); e.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
	r.e = e
	// Connect with a few goroutines: 1,000 watches and empty full syncs.
	var wg sync.WaitGroup
	errs := make(chan error, ncal)
	ids := make(chan string)
	for range 8 {
		wg.Go(func() {
			for cal := range ids {
				if _, err := e.Connect(ctx, calsync.Calendar{ID: cal, Provider: google.Name, AccountID: cal, RemoteID: cal},
					calsync.ConnectRequest{Address: hooks.URL}); err != nil {
					errs <- err
				}
			}
		})
	}
	for i := range ncal {
		cal := fmt.Sprintf("tp%05d@example.com", i)
		if err := emu.AddCalendar(cal, "UTC"); err != nil {
			t.Fatal(err)
		}
		r.cals = append(r.cals, cal)
		ids <- cal
	}
	close(ids)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	r.settle(t)
	return r
}

// settle waits until the emulator has delivered everything and the Engine
// has handled it.
func (r *rig) settle(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Minute)
	defer cancel()
	for {
		if err := r.emu.WaitIdle(ctx); err != nil {
			t.Fatal(err)
		}
		before := r.e.Stats().Handled
		if err := r.e.WaitIdle(ctx); err != nil {
			t.Fatal(err)
		}
		if r.e.Stats().Handled == before {
			return
		}
	}
}

type result struct {
	notifPerSec      float64
	drain            time.Duration
	p50, p99         time.Duration
	fetch99, apply99 time.Duration
}

// run offers rate changes per second for d, then waits for every change
// to reach OnChange.
func (r *rig) run(t *testing.T, rate int, d time.Duration) result {
	const tick = 10 * time.Millisecond
	made := map[string]time.Time{}
	rnd := rand.New(rand.NewPCG(uint64(rate), 1))
	day := time.Date(2027, 3, 1, 9, 0, 0, 0, time.UTC)
	ev := &gcal.Event{Summary: "x", Start: &gcal.EventDateTime{DateTime: day.Format(time.RFC3339)},
		End: &gcal.EventDateTime{DateTime: day.Add(time.Hour).Format(time.RFC3339)}}
	r.fetch.start()
	r.apply.start()
	pushes0 := r.pushes.Load()
	start := time.Now()
	total := int(float64(rate) * d.Seconds())
	for i := 0; i < total; {
		// Changes due by now, paced on the wall clock so that a slow
		// insert does not lower the offered rate.
		due := min(total, int(time.Since(start).Seconds()*float64(rate))+1)
		for ; i < due; i++ {
			t0 := time.Now()
			got, err := r.emu.InsertEvent(r.cals[rnd.IntN(len(r.cals))], ev)
			if err != nil {
				t.Fatal(err)
			}
			made[got.Id] = t0
		}
		if i < total {
			time.Sleep(tick)
		}
	}
	stopped := time.Now()
	// Wait for every change to be seen (polling the OnChange map: this is
	// a measurement, not a unit test).
	var last time.Time
	deadline := time.Now().Add(5 * time.Minute)
	for {
		r.mu.Lock()
		missing := 0
		last = time.Time{}
		for id := range made {
			c, ok := r.changed[id]
			if !ok {
				missing++
			} else if c.After(last) {
				last = c
			}
		}
		r.mu.Unlock()
		if missing == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("rate %d: %d changes never reached OnChange", rate, missing)
		}
		time.Sleep(20 * time.Millisecond)
	}
	r.settle(t)
	pushes := r.pushes.Load() - pushes0
	var res result
	res.notifPerSec = float64(pushes) / stopped.Sub(start).Seconds()
	if last.After(stopped) {
		res.drain = last.Sub(stopped)
	}
	var lat []time.Duration
	r.mu.Lock()
	for id, t0 := range made {
		lat = append(lat, r.changed[id].Sub(t0))
	}
	r.mu.Unlock()
	res.p50, res.p99 = percentile(lat, 50), percentile(lat, 99)
	res.fetch99, res.apply99 = percentile(r.fetch.stop(), 99), percentile(r.apply.stop(), 99)
	return res
}

func percentile(ds []time.Duration, p int) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	return s[(len(s)-1)*p/100]
}
