package msgraph_test

import (
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/calsync/calsync/msgraph"
	"github.com/calsync/calsync/msgraph/msgraphtest"
	"github.com/calsync/calsync/provider"
)

// inFlight is a transport that tracks how many requests are in flight.
type inFlight struct {
	base http.RoundTripper
	mu   sync.Mutex
	now  int
	max  int
}

func (t *inFlight) RoundTrip(r *http.Request) (*http.Response, error) {
	t.mu.Lock()
	t.now++
	t.max = max(t.max, t.now)
	t.mu.Unlock()
	defer func() {
		t.mu.Lock()
		t.now--
		t.mu.Unlock()
	}()
	return t.base.RoundTrip(r)
}

// Graph allows 4 concurrent requests per mailbox (the emulator answers the
// 5th 429): the Provider keeps to that by itself,
// even over a client that neither limits nor retries.
func TestMailboxConcurrencyLimit(t *testing.T) {
	counter := &inFlight{}
	r := newRig(t, rigOptions{provider: msgraph.Config{HTTPClient: &http.Client{Transport: counter}}})
	counter.base = r.srv.Client().Transport
	r.srv.SetLatency(50 * time.Millisecond) // requests overlap for sure
	const calls = 12
	var wg sync.WaitGroup
	errs := make(chan error, calls)
	for range calls {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, _, err := r.round(r.cal, provider.Position{})
			errs <- err
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Errorf("concurrent Fetch: %v", err)
		}
	}
	if n := r.srv.RequestCountByStatus(msgraphtest.OpDelta, http.StatusTooManyRequests); n != 0 {
		t.Errorf("%d requests throttled", n)
	}
	if counter.max > msgraph.DefaultMailboxConcurrency {
		t.Errorf("%d requests in flight at once, want at most %d", counter.max, msgraph.DefaultMailboxConcurrency)
	}
	if n := r.srv.RequestCountByStatus(msgraphtest.OpDelta, http.StatusOK); n != calls {
		t.Errorf("%d deltas answered, want %d", n, calls)
	}
}
