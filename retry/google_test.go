package retry_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"golang.org/x/oauth2"
	calendar "google.golang.org/api/calendar/v3"

	"github.com/calsync/calsync/google"
	"github.com/calsync/calsync/google/googletest"
	"github.com/calsync/calsync/provider"
	"github.com/calsync/calsync/retry"
	"github.com/calsync/calsync/retry/retrytest"
)

const calID = "alice@example.com"

var aliceCal = provider.Calendar{ID: "cal-1", Provider: google.Name, AccountID: "acct-1", RemoteID: calID}

// googleEnv is the google provider, on the official calendar client, over
// a retry.Transport with a fake clock, against the googletest emulator.
func googleEnv(t *testing.T, base http.RoundTripper) (*googletest.Server, *google.Provider, *retrytest.Clock) {
	t.Helper()
	receiver := httptest.NewTLSServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	t.Cleanup(receiver.Close)
	emu := googletest.NewServer(googletest.Config{PushClient: receiver.Client()})
	t.Cleanup(emu.Close)
	if err := emu.AddCalendar(calID, "UTC"); err != nil {
		t.Fatal(err)
	}
	if _, err := emu.InsertEvent(calID, &calendar.Event{
		Summary: "Planning",
		Start:   &calendar.EventDateTime{DateTime: "2026-03-02T10:00:00Z"},
		End:     &calendar.EventDateTime{DateTime: "2026-03-02T11:00:00Z"},
	}); err != nil {
		t.Fatal(err)
	}
	clk := retrytest.NewClock(time.Time{})
	p, err := google.New(google.Config{
		TokenSource: func(context.Context, string) (oauth2.TokenSource, error) {
			return oauth2.StaticTokenSource(&oauth2.Token{AccessToken: "retry-test"}), nil
		},
		HTTPClient: &http.Client{Transport: retry.Transport{Base: base, Policy: retry.Policy{Clock: clk}}},
		Endpoint:   emu.Endpoint(),
	})
	if err != nil {
		t.Fatal(err)
	}
	return emu, p, clk
}

func fetch(p *google.Provider) (*provider.Page, error) {
	return p.Fetch(context.Background(), aliceCal, provider.Position{})
}

func watch(p *google.Provider, id string) (*provider.Subscription, error) {
	return p.Watch(context.Background(), aliceCal, provider.WatchRequest{ID: id, Secret: "s3cret", Address: "https://hooks.example/google", TTL: time.Hour})
}

// The google provider succeeds through transient faults of the emulator,
// waiting what the emulator asked for, or the policy's backoff.
func TestGoogleProviderRidesOutTransientFaults(t *testing.T) {
	for _, tc := range []struct {
		name      string
		fault     googletest.Fault
		watch     bool // fault events.watch (a POST) instead of events.list
		wantWaits func([]time.Duration) bool
	}{
		{"429 Retry-After 0.5 twice", googletest.Fault{Status: 429, Times: 2, RetryAfter: "0.5"}, false, exactly(500*time.Millisecond, 500*time.Millisecond)},
		{"429 Retry-After 2.128", googletest.Fault{Status: 429, RetryAfter: "2.128"}, false, exactly(2128 * time.Millisecond)},
		{"403 rateLimitExceeded", googletest.Fault{Status: 403, Reason: "rateLimitExceeded"}, false, backoffs(1)},
		{"403 userRateLimitExceeded twice", googletest.Fault{Status: 403, Reason: "userRateLimitExceeded", Times: 2}, false, backoffs(2)},
		{"500 backendError x3", googletest.Fault{Status: 500, Times: 3}, false, backoffs(3)},
		{"503 on events.watch", googletest.Fault{Op: googletest.OpEventsWatch, Status: 503, Times: 2}, true, backoffs(2)},
		{"429 on events.watch", googletest.Fault{Op: googletest.OpEventsWatch, Status: 429, RetryAfter: "3"}, true, exactly(3 * time.Second)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			emu, p, clk := googleEnv(t, nil)
			emu.Fail(tc.fault)
			if tc.watch {
				sub, err := watch(p, "ch-1")
				if err != nil || sub.ResourceID == "" {
					t.Fatalf("Watch = %+v, %v", sub, err)
				}
				if n := len(emu.Channels(calID)); n != 1 {
					t.Fatalf("%d channels, want 1", n)
				}
			} else {
				page, err := fetch(p)
				if err != nil || len(page.Changes) != 1 || page.NextCursor == "" {
					t.Fatalf("Fetch = %+v, %v", page, err)
				}
			}
			if got := clk.Sleeps(); !tc.wantWaits(got) {
				t.Fatalf("waits = %v", got)
			}
		})
	}
}

// Permanent faults come back at once, as the provider.Errors the Engine
// branches on; a 500 on a POST is not resent (the channel may exist).
func TestGoogleProviderPermanentFaults(t *testing.T) {
	for _, tc := range []struct {
		name       string
		fault      googletest.Fault
		watch      bool
		wantStatus int
	}{
		{"403 forbiddenForNonOrganizer", googletest.Fault{Status: 403, Reason: "forbiddenForNonOrganizer"}, false, 403},
		{"403 quotaExceeded", googletest.Fault{Status: 403, Reason: "quotaExceeded"}, false, 403},
		{"400", googletest.Fault{Status: 400, Reason: "timeRangeEmpty"}, false, 400},
		{"404", googletest.Fault{Status: 404}, false, 404},
		{"410", googletest.Fault{Status: 410}, false, 410},
		{"500 on events.watch", googletest.Fault{Op: googletest.OpEventsWatch, Status: 500}, true, 500},
	} {
		t.Run(tc.name, func(t *testing.T) {
			emu, p, clk := googleEnv(t, nil)
			emu.Fail(tc.fault)
			var err error
			if tc.watch {
				_, err = watch(p, "ch-1")
			} else {
				_, err = fetch(p)
			}
			var pe *provider.Error
			if !errors.As(err, &pe) || pe.StatusCode != tc.wantStatus {
				t.Fatalf("err = %v, want a provider.Error %d", err, tc.wantStatus)
			}
			if len(clk.Sleeps()) != 0 {
				t.Fatalf("waited %v", clk.Sleeps())
			}
			// The fault was consumed by one call: the next one succeeds.
			if _, err := fetch(p); err != nil {
				t.Fatalf("the fault was not consumed by one call: %v", err)
			}
		})
	}
	t.Run("410 maps to ErrFullSyncRequired", func(t *testing.T) {
		emu, p, _ := googleEnv(t, nil)
		emu.Fail(googletest.Fault{Status: 410})
		if _, err := fetch(p); !errors.Is(err, provider.ErrFullSyncRequired) {
			t.Fatalf("err = %v", err)
		}
	})
}

// Six 429s outlast five retries: the caller gets the last 429 as a
// provider.Error carrying the Retry-After, after five waits of 2.128 s.
func TestGoogleProviderRetriesExhausted(t *testing.T) {
	emu, p, clk := googleEnv(t, nil)
	emu.Fail(googletest.Fault{Status: 429, Times: 6, RetryAfter: "2.128"})
	_, err := fetch(p)
	var pe *provider.Error
	if !errors.As(err, &pe) || pe.StatusCode != 429 || pe.Reason != "rateLimitExceeded" || pe.RetryAfter != 2128*time.Millisecond {
		t.Fatalf("err = %#v", err)
	}
	w := 2128 * time.Millisecond
	if !exactly(w, w, w, w, w)(clk.Sleeps()) {
		t.Fatalf("waits = %v", clk.Sleeps())
	}
}

// The provider puts the calendar's account on every request, so the rate
// limiter below the retries keys on it.
func TestGoogleProviderKeysRequestsByAccount(t *testing.T) {
	spy := &accountSpy{base: http.DefaultTransport}
	lim, err := retry.NewLimiter(retry.GoogleLimits(), nil)
	if err != nil {
		t.Fatal(err)
	}
	emu, p, _ := googleEnv(t, &retry.LimitTransport{Base: spy, Limiter: lim})
	emu.Fail(googletest.Fault{Status: 503}) // the retried attempt is keyed too
	if _, err := fetch(p); err != nil {
		t.Fatal(err)
	}
	sub, err := watch(p, "ch-2")
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Stop(context.Background(), aliceCal, sub); err != nil {
		t.Fatal(err)
	}
	if got := spy.list(); len(got) != 4 || got[0] != "acct-1" || got[1] != "acct-1" || got[2] != "acct-1" || got[3] != "acct-1" {
		t.Fatalf("accounts seen = %q, want acct-1 on 4 requests", got)
	}
}

type accountSpy struct {
	base http.RoundTripper
	mu   sync.Mutex
	seen []string
}

func (s *accountSpy) RoundTrip(req *http.Request) (*http.Response, error) {
	id, ok := retry.Account(req.Context())
	if !ok {
		id = "<none>"
	}
	s.mu.Lock()
	s.seen = append(s.seen, id)
	s.mu.Unlock()
	return s.base.RoundTrip(req)
}

func (s *accountSpy) list() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.seen...)
}

func exactly(want ...time.Duration) func([]time.Duration) bool {
	return func(got []time.Duration) bool {
		if len(got) != len(want) {
			return false
		}
		for i := range got {
			if got[i] != want[i] {
				return false
			}
		}
		return true
	}
}

// backoffs accepts n waits of the default policy: 1 s, 2 s, ... each
// lengthened by at most 30 %.
func backoffs(n int) func([]time.Duration) bool {
	return func(got []time.Duration) bool {
		if len(got) != n {
			return false
		}
		base := time.Second
		for _, d := range got {
			if d < base || d >= base*13/10 {
				return false
			}
			base *= 2
		}
		return true
	}
}
