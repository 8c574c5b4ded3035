package pglimit_test

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/calsync/calsync/retry"
	"github.com/calsync/calsync/retry/pglimit"
)

func TestConfigErrors(t *testing.T) {
	for _, tc := range []struct {
		cfg  pglimit.Config
		want string
	}{
		{pglimit.Config{}, "Config.Provider is required"},
		{pglimit.Config{Provider: "g", Limits: retry.Limits{Requests: 10, Burst: 10}}, "Burst 10 out of range"},
		{pglimit.Config{Provider: "g", Limits: retry.Limits{Concurrency: -1}}, "must not be negative"},
		{pglimit.Config{Provider: "g", PollMin: time.Second, PollMax: time.Millisecond}, "PollMin"},
		{pglimit.Config{Provider: "g"}, "pool is nil"}, // valid: the missing pool is next
	} {
		_, err := pglimit.New(context.Background(), nil, tc.cfg)
		if err == nil || !strings.HasPrefix(err.Error(), "pglimit: ") || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("New(%+v) = %v, want an error with %q", tc.cfg, err, tc.want)
		}
	}
}

// Two instances (two pools, two limiters) hammer one mailbox limited to 4
// in flight: the observed number in flight across both never exceeds 4,
// and reaches 4.
func TestConcurrencyAcrossInstances(t *testing.T) {
	schema := testSchema(t)
	limits := retry.Limits{Concurrency: 4}
	a := newLimiter(t, newPool(t, 12), schema, pglimit.Config{Limits: limits})
	b := newLimiter(t, newPool(t, 12), schema, pglimit.Config{Limits: limits})
	var inFlight, most atomic.Int64
	var wg sync.WaitGroup
	errs := make(chan error, 16)
	start := make(chan struct{})
	for i := range 16 {
		lim := a
		if i%2 == 1 {
			lim = b
		}
		wg.Go(func() {
			<-start
			for range 8 {
				release, err := lim.Acquire(t.Context(), "mailbox@example.com")
				if err != nil {
					errs <- err
					return
				}
				n := inFlight.Add(1)
				for m := most.Load(); n > m && !most.CompareAndSwap(m, n); m = most.Load() {
				}
				time.Sleep(10 * time.Millisecond) // the request's duration, not a synchronisation
				inFlight.Add(-1)
				release()
			}
		})
	}
	close(start)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	if got := most.Load(); got != 4 {
		t.Fatalf("most in flight across both instances = %d, want 4", got)
	}
	// Another account is not held up by this one's slots.
	release, err := a.Acquire(t.Context(), "other@example.com")
	if err != nil {
		t.Fatal(err)
	}
	release()
}

// TestHelperHolder is not a test: TestKilledHolderFreesSlots runs the test
// binary with it as a process that takes slots and is then killed.
func TestHelperHolder(t *testing.T) {
	schema := os.Getenv("PGLIMIT_HELPER_SCHEMA")
	if schema == "" {
		t.Skip("helper process of TestKilledHolderFreesSlots")
	}
	lim := newLimiter(t, newPool(t, 4), schema, pglimit.Config{Limits: retry.Limits{Concurrency: 2}})
	for range 2 {
		if _, err := lim.Acquire(context.Background(), "mailbox"); err != nil {
			fmt.Println("error:", err)
			os.Exit(1)
		}
	}
	fmt.Println("held")
	select {} // until killed
}

// A process killed with SIGKILL while it holds both slots of an account
// does not keep them: PostgreSQL drops its session's locks.
func TestKilledHolderFreesSlots(t *testing.T) {
	schema := testSchema(t)
	lim := newLimiter(t, newPool(t, 4), schema, pglimit.Config{Limits: retry.Limits{Concurrency: 2}})
	cmd := exec.Command(os.Args[0], "-test.run=^TestHelperHolder$", "-test.count=1")
	cmd.Env = append(os.Environ(), "PGLIMIT_HELPER_SCHEMA="+schema)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }()
	sc := bufio.NewScanner(out)
	held := false
	for sc.Scan() {
		if sc.Text() == "held" {
			held = true
			break
		}
		t.Log("helper:", sc.Text())
	}
	if !held {
		t.Fatal("the helper process did not take its slots")
	}
	go func() { _, _ = io.Copy(io.Discard, out) }()

	// While it lives, its slots are taken.
	ctx, cancel := context.WithTimeout(t.Context(), 300*time.Millisecond)
	release, err := lim.Acquire(ctx, "mailbox")
	cancel()
	if err == nil {
		release() // or the pool's Close would wait for it
	}
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Acquire while another process holds every slot = %v, want DeadlineExceeded", err)
	}

	if err := cmd.Process.Kill(); err != nil { // SIGKILL
		t.Fatal(err)
	}
	_ = cmd.Wait()
	ctx, cancel = context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	for i := range 2 {
		release, err := lim.Acquire(ctx, "mailbox")
		if err != nil {
			t.Fatalf("slot %d after the holder was killed: %v", i, err)
		}
		defer release()
	}
}

// Two limiters share one bucket of 10 requests per second: no window of a
// second (measured on the monotonic clock) sees more than 10 starts across
// both, and both start requests.
func TestRateAcrossInstances(t *testing.T) {
	schema := testSchema(t)
	limits := retry.Limits{Requests: 10, Per: time.Second} // Burst 1, then 9 a second
	a := newLimiter(t, newPool(t, 8), schema, pglimit.Config{Limits: limits})
	b := newLimiter(t, newPool(t, 8), schema, pglimit.Config{Limits: limits})
	var mu sync.Mutex
	starts := map[*pglimit.Limiter][]time.Time{}
	var wg sync.WaitGroup
	begin := time.Now()
	for i := range 8 {
		lim := a
		if i%2 == 1 {
			lim = b
		}
		wg.Go(func() {
			for time.Since(begin) < 2500*time.Millisecond {
				release, err := lim.Acquire(t.Context(), "alice")
				if err != nil {
					t.Error(err)
					return
				}
				now := time.Now()
				release()
				mu.Lock()
				starts[lim] = append(starts[lim], now)
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	all := slices.Concat(starts[a], starts[b])
	slices.SortFunc(all, func(x, y time.Time) int { return x.Compare(y) })
	if len(starts[a]) == 0 || len(starts[b]) == 0 {
		t.Fatalf("starts: %d by one limiter, %d by the other; want both to start requests", len(starts[a]), len(starts[b]))
	}
	most := 0
	for i, s := range all {
		n := 0
		for _, u := range all[i:] {
			if u.Sub(s) >= time.Second {
				break
			}
			n++
		}
		most = max(most, n)
	}
	if most > limits.Requests {
		t.Fatalf("%d starts within one second across both limiters, want at most %d (%d starts in all)", most, limits.Requests, len(all))
	}
	// 2.5 s hold 1 + 9 × 2.5 ≈ 23 tokens, and a limiter of each instance's
	// own would have granted twice that; more than one window's worth shows
	// the bucket refills.
	if len(all) < 15 {
		t.Fatalf("%d starts in 2.5 s at 10 a second, want at least 15", len(all))
	}
}

// A waiter whose ctx ends returns ctx's error and holds nothing: not the
// slot it waited for, not the token it reserved.
func TestCancelWhileWaiting(t *testing.T) {
	schema := testSchema(t)
	t.Run("slot", func(t *testing.T) {
		cfg := pglimit.Config{Provider: "slot", Limits: retry.Limits{Concurrency: 1}}
		a := newLimiter(t, newPool(t, 4), schema, cfg)
		b := newLimiter(t, newPool(t, 4), schema, cfg)
		release, err := a.Acquire(t.Context(), "bob")
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(t.Context())
		pglimit.SetWaitHook(b, func(string) { cancel() })
		if _, err := b.Acquire(ctx, "bob"); !errors.Is(err, context.Canceled) {
			t.Fatalf("Acquire cancelled while waiting for a slot = %v, want context.Canceled", err)
		}
		pglimit.SetWaitHook(b, nil)
		release()
		ctx, cancel = context.WithTimeout(t.Context(), 10*time.Second)
		defer cancel()
		r2, err := a.Acquire(ctx, "bob")
		if err != nil {
			t.Fatalf("the only slot after the waiter gave up: %v", err)
		}
		r2()
	})
	t.Run("rate", func(t *testing.T) {
		pool := newPool(t, 4)
		lim := newLimiter(t, pool, schema, pglimit.Config{Provider: "rate", Limits: retry.Limits{Requests: 2, Per: time.Hour, Burst: 1}})
		release, err := lim.Acquire(t.Context(), "carol") // the only token
		if err != nil {
			t.Fatal(err)
		}
		release()
		ctx, cancel := context.WithCancel(t.Context())
		waited := ""
		pglimit.SetWaitHook(lim, func(what string) { waited = what; cancel() })
		if _, err := lim.Acquire(ctx, "carol"); !errors.Is(err, context.Canceled) {
			t.Fatalf("Acquire cancelled while waiting for a token = %v, want context.Canceled", err)
		}
		if waited != "rate" {
			t.Fatalf("waited for %q, want rate", waited)
		}
		var tokens float64
		if err := pool.QueryRow(t.Context(), `SELECT tokens FROM `+schema+`.limit_buckets WHERE provider = 'rate' AND account = 'carol'`).Scan(&tokens); err != nil {
			t.Fatal(err)
		}
		// 0 after the first request; the waiter's token (−1) given back.
		// Refill at 1 an hour adds next to nothing meanwhile.
		if math.Abs(tokens) > 0.01 {
			t.Fatalf("tokens after the cancelled waiter = %v, want 0", tokens)
		}
	})
}

// LimitTransport over the PostgreSQL limiter holds a slot per request until
// its body is read: with 2 slots, a server sees at most 2 requests of one
// account at once, and a third waits.
func TestLimitTransport(t *testing.T) {
	schema := testSchema(t)
	lim := newLimiter(t, newPool(t, 8), schema, pglimit.Config{Limits: retry.Limits{Requests: 1000, Per: time.Second, Concurrency: 2}})
	var inFlight, most atomic.Int64
	arrived := make(chan struct{}, 8)
	proceed := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := inFlight.Add(1)
		defer inFlight.Add(-1)
		for m := most.Load(); n > m && !most.CompareAndSwap(m, n); m = most.Load() {
		}
		arrived <- struct{}{}
		<-proceed
		_, _ = io.WriteString(w, "ok")
	}))
	defer srv.Close()
	client := &http.Client{Transport: &retry.LimitTransport{Limiter: lim}}
	ctx := retry.WithAccount(t.Context(), "dave")
	var wg sync.WaitGroup
	errs := make(chan error, 4)
	for range 4 {
		wg.Go(func() {
			req, _ := http.NewRequestWithContext(ctx, http.MethodGet, srv.URL, nil)
			resp, err := client.Do(req)
			if err != nil {
				errs <- err
				return
			}
			defer resp.Body.Close()
			if b, err := io.ReadAll(resp.Body); err != nil || string(b) != "ok" {
				errs <- fmt.Errorf("body %q, %v", b, err)
			}
		})
	}
	<-arrived
	<-arrived
	// Both slots are held by requests in flight.
	wctx, cancel := context.WithTimeout(t.Context(), 200*time.Millisecond)
	release, err := lim.Acquire(wctx, "dave")
	cancel()
	if err == nil {
		release()
	}
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Acquire with 2 requests in flight = %v, want DeadlineExceeded", err)
	}
	close(proceed)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	if got := most.Load(); got != 2 {
		t.Fatalf("most requests in flight at the server = %d, want 2", got)
	}
	// Every body was read: both slots are free again.
	for range 2 {
		release, err := lim.Acquire(t.Context(), "dave")
		if err != nil {
			t.Fatal(err)
		}
		defer release()
	}
}

// Prune deletes the buckets that are full again and keeps the others.
func TestPrune(t *testing.T) {
	schema := testSchema(t)
	pool := newPool(t, 4)
	lim := newLimiter(t, pool, schema, pglimit.Config{Limits: retry.Limits{Requests: 10, Per: time.Hour}})
	for _, acct := range []string{"idle", "busy"} {
		release, err := lim.Acquire(t.Context(), acct)
		if err != nil {
			t.Fatal(err)
		}
		release()
	}
	// "idle" was last used a day ago (by the database's clock).
	if _, err := pool.Exec(t.Context(), `UPDATE `+schema+`.limit_buckets SET stamp = stamp - interval '1 day' WHERE account = 'idle'`); err != nil {
		t.Fatal(err)
	}
	n, err := lim.Prune(t.Context())
	if err != nil || n != 1 {
		t.Fatalf("Prune = %d, %v; want 1 row", n, err)
	}
	var left []string
	rows, _ := pool.Query(t.Context(), `SELECT account FROM `+schema+`.limit_buckets`)
	for rows.Next() {
		var a string
		if err := rows.Scan(&a); err != nil {
			t.Fatal(err)
		}
		left = append(left, a)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(left, []string{"busy"}) {
		t.Fatalf("rows after Prune: %v, want [busy]", left)
	}
}

// Migrate is idempotent and safe to run from several processes at once.
func TestMigrateConcurrently(t *testing.T) {
	schema := testSchema(t)
	var wg sync.WaitGroup
	errs := make(chan error, 4)
	for range 4 {
		pool := newPool(t, 2)
		wg.Go(func() { errs <- pglimit.Migrate(t.Context(), pool, schema) })
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
}
