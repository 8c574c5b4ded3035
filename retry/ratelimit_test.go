package retry_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/calsync/calsync/retry"
	"github.com/calsync/calsync/retry/retrytest"
)

func TestLimitsDefaults(t *testing.T) {
	g := retry.GoogleLimits().WithDefaults()
	if g.Requests != 600 || g.Per != time.Minute || g.Burst != 60 || g.Concurrency != 0 {
		t.Fatalf("GoogleLimits = %+v", g)
	}
	m := retry.GraphLimits().WithDefaults()
	if m.Concurrency != 4 || m.Requests != 10000 || m.Per != 10*time.Minute {
		t.Fatalf("GraphLimits = %+v", m)
	}
	for _, bad := range []retry.Limits{{Requests: -1}, {Concurrency: -1}, {Requests: 10, Burst: 10}, {Requests: 10, Per: -time.Second}} {
		if _, err := retry.NewLimiter(bad, nil); err == nil || !strings.HasPrefix(err.Error(), "retry: invalid Limits") {
			t.Errorf("NewLimiter(%+v) = %v, want an error", bad, err)
		}
	}
}

func mustLimiter(t *testing.T, l retry.Limits, clk retry.Clock) *retry.Limiter {
	t.Helper()
	lim, err := retry.NewLimiter(l, clk)
	if err != nil {
		t.Fatal(err)
	}
	return lim
}

// Google's 600 a minute: a burst of 60, then one every 1/9 s, and no
// sliding minute ever sees more than 600 requests.
func TestLimiterGoogleRate(t *testing.T) {
	clk := retrytest.NewClock(time.Time{})
	lim := mustLimiter(t, retry.GoogleLimits(), clk)
	ctx := context.Background()
	var starts []time.Time
	for i := 0; i < 3000; i++ {
		release, err := lim.Acquire(ctx, "alice")
		if err != nil {
			t.Fatal(err)
		}
		starts = append(starts, clk.Now())
		release()
		if i == 59 && len(clk.Sleeps()) != 0 {
			t.Fatalf("the first 60 requests waited: %v", clk.Sleeps())
		}
	}
	if first := clk.Sleeps()[0]; first < 111*time.Millisecond || first > 112*time.Millisecond {
		t.Fatalf("61st request waited %v, want 1/9 s", first)
	}
	for i, j := 0, 0; j < len(starts); j++ {
		for starts[j].Sub(starts[i]) >= time.Minute {
			i++
		}
		if n := j - i + 1; n > retry.DefaultGoogleRequestsPerMinute {
			t.Fatalf("%d requests within one minute ending at request %d", n, j)
		}
	}
	// A steady 540/min over 3000 requests: a bit over 5 minutes of waiting.
	if total := clk.Total(); total < 5*time.Minute || total > 6*time.Minute {
		t.Fatalf("total wait %v", total)
	}
}

func TestLimiterPerAccount(t *testing.T) {
	clk := retrytest.NewClock(time.Time{})
	lim := mustLimiter(t, retry.Limits{Requests: 2, Per: time.Minute, Burst: 1}, clk)
	ctx := context.Background()
	acquire := func(account string) {
		t.Helper()
		release, err := lim.Acquire(ctx, account)
		if err != nil {
			t.Fatal(err)
		}
		release()
	}
	acquire("alice")
	acquire("bob") // another account's bucket is full
	sleepsEqual(t, clk)
	acquire("alice")
	sleepsEqual(t, clk, time.Minute)
}

// A wait abandoned by its caller gives its token back.
func TestLimiterCancelRefunds(t *testing.T) {
	clk := retrytest.NewManualClock(time.Time{})
	lim := mustLimiter(t, retry.Limits{Requests: 2, Per: time.Minute, Burst: 1}, clk)
	release, err := lim.Acquire(context.Background(), "alice")
	if err != nil {
		t.Fatal(err)
	}
	release()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { _, err := lim.Acquire(ctx, "alice"); done <- err }()
	wctx, wcancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer wcancel()
	if !clk.WaitSleepers(wctx, 1) {
		t.Fatal("Acquire never waited")
	}
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v", err)
	}
	clk.Advance(time.Minute)
	// Had the cancelled reservation kept its token, this would wait
	// another minute.
	quick, qcancel := context.WithCancel(context.Background())
	qcancel()
	if _, err := lim.Acquire(quick, "alice"); err != nil {
		t.Fatalf("token not refunded: %v", err)
	}
}

func TestLimiterConcurrency(t *testing.T) {
	lim := mustLimiter(t, retry.GraphLimits(), retrytest.NewClock(time.Time{}))
	ctx := context.Background()
	var releases []func()
	for range 4 {
		r, err := lim.Acquire(ctx, "mailbox-1")
		if err != nil {
			t.Fatal(err)
		}
		releases = append(releases, r)
	}
	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := lim.Acquire(cancelled, "mailbox-1"); !errors.Is(err, context.Canceled) {
		t.Fatalf("5th concurrent request: err = %v, want to wait (cancelled)", err)
	}
	if r, err := lim.Acquire(cancelled, "mailbox-2"); err != nil {
		t.Fatalf("another mailbox waited: %v", err)
	} else {
		r()
	}
	got := make(chan error, 1)
	go func() {
		r, err := lim.Acquire(ctx, "mailbox-1")
		if err == nil {
			r()
		}
		got <- err
	}()
	releases[0]()
	releases[0]() // idempotent: must not free a second slot
	if err := <-got; err != nil {
		t.Fatal(err)
	}
	if _, err := lim.Acquire(cancelled, "mailbox-1"); err != nil {
		t.Fatalf("the released slot is not free: %v", err)
	}
	if _, err := lim.Acquire(cancelled, "mailbox-1"); err == nil {
		t.Fatal("a double release freed a second slot")
	}
}

func TestLimitTransport(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok") }))
	defer srv.Close()
	lim := mustLimiter(t, retry.Limits{Concurrency: 1}, nil)
	tr := &retry.LimitTransport{Limiter: lim}
	get := func(ctx context.Context) (*http.Response, error) {
		req, _ := http.NewRequestWithContext(ctx, "GET", srv.URL, nil)
		return tr.RoundTrip(req)
	}
	alice := retry.WithAccount(context.Background(), "alice")
	cancelled, cancel := context.WithCancel(alice)
	cancel()

	free := func() bool { // whether alice has a free slot, without waiting
		r, err := lim.Acquire(cancelled, "alice")
		if err == nil {
			r()
		}
		return err == nil
	}

	held, err := get(alice)
	if err != nil {
		t.Fatal(err)
	}
	if free() {
		t.Fatal("the slot is free while the first body is open")
	}
	if _, err := get(cancelled); !errors.Is(err, context.Canceled) {
		t.Fatalf("second request while the first body is open: %v", err)
	}
	if resp, err := get(context.Background()); err != nil {
		t.Fatalf("request without an account: %v", err)
	} else {
		resp.Body.Close()
	}
	held.Body.Close()
	if !free() {
		t.Fatal("Close did not free the slot")
	}
	resp, err := get(alice)
	if err != nil {
		t.Fatal(err)
	}
	if b, _ := io.ReadAll(resp.Body); string(b) != "ok" {
		t.Fatalf("body %q", b)
	}
	if !free() {
		t.Fatal("reading to EOF did not free the slot")
	}
	resp.Body.Close()
	if !free() {
		t.Fatal("Close after EOF broke the slot count")
	}
	if _, err := (&retry.LimitTransport{}).RoundTrip(httptest.NewRequest("GET", srv.URL, nil)); err == nil {
		t.Fatal("nil Limiter accepted")
	}
}

// Idle accounts are forgotten, so memory follows the active accounts.
func TestLimiterForgetsIdleAccounts(t *testing.T) {
	clk := retrytest.NewClock(time.Time{})
	lim := mustLimiter(t, retry.GoogleLimits(), clk)
	for i := range 5000 {
		release, err := lim.Acquire(context.Background(), "user-"+strings.Repeat("x", i%7)+string(rune('a'+i%26))+time.Duration(i).String())
		if err != nil {
			t.Fatal(err)
		}
		release()
		if i%100 == 0 {
			clk.Sleep(context.Background(), time.Minute)
		}
	}
	if n := lim.AccountsTracked(); n > 2000 {
		t.Fatalf("%d accounts tracked after 5000 one-off accounts", n)
	}
}

// LimitTransport takes any AccountLimiter and calls each release exactly
// once, whether the body is read to its end, closed, or both.
func TestLimitTransportReleasesOnce(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, "hello")
	}))
	defer srv.Close()
	lim := &retrytest.Limiter{}
	client := &http.Client{Transport: &retry.LimitTransport{Limiter: lim}}
	ctx := retry.WithAccount(context.Background(), "alice")
	for _, readAll := range []bool{true, false} {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, srv.URL, nil)
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		if readAll {
			_, _ = io.ReadAll(resp.Body)
			_, _ = resp.Body.Read(make([]byte, 1)) // EOF again
		}
		resp.Body.Close()
		resp.Body.Close()
	}
	if a, r := len(lim.Acquired()), lim.Released(); a != 2 || r != 2 {
		t.Fatalf("acquired %d, released %d; want 2 and 2", a, r)
	}
}
