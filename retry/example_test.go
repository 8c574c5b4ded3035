package retry_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"time"

	"github.com/calsync/calsync/retry"
	"github.com/calsync/calsync/retry/retrytest"
)

func ExampleParseRetryAfter() {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for _, v := range []string{"120", "2.128", "Thu, 01 Jan 2026 00:00:10 GMT", "-1", "soon"} {
		d, ok := retry.ParseRetryAfter(v, now)
		fmt.Println(v, "→", d, ok)
	}
	// Output:
	// 120 → 2m0s true
	// 2.128 → 2.128s true
	// Thu, 01 Jan 2026 00:00:10 GMT → 10s true
	// -1 → 0s false
	// soon → 0s false
}

// A Graph-style throttle: the Transport waits the 2.128 s the server asked
// for (on a fake clock here) and returns the answer of the retry.
func ExampleTransport() {
	calls := 0
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if calls++; calls == 1 {
			w.Header().Set("Retry-After", "2.128")
			w.WriteHeader(http.StatusTooManyRequests)
			return
		}
		io.WriteString(w, "ok")
	}))
	defer srv.Close()

	clock := retrytest.NewClock(time.Time{})
	client := &http.Client{Transport: retry.Transport{
		Policy: retry.Policy{Clock: clock},
		OnRetry: func(req *http.Request, resp *http.Response, err error, attempt int, wait time.Duration) {
			fmt.Println("attempt", attempt, "got", resp.StatusCode, "waiting", wait)
		},
	}}
	req, _ := http.NewRequestWithContext(retry.WithAccount(context.Background(), "acct-1"), "GET", srv.URL, nil)
	resp, err := client.Do(req)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	fmt.Println(resp.StatusCode, string(body), "after", clock.Total())
	// Output:
	// attempt 1 got 429 waiting 2.128s
	// 200 ok after 2.128s
}
