package msgraph_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"golang.org/x/oauth2"

	"github.com/calsync/calsync/msgraph"
	"github.com/calsync/calsync/msgraph/msgraphtest"
	"github.com/calsync/calsync/provider"
	"github.com/calsync/calsync/retry"
	"github.com/calsync/calsync/retry/retrytest"
)

// rig is the Provider alone against the emulator: a TLS receiver answers
// the validation handshakes, and the Provider's client retries on a fake
// clock, so tests see every wait without sleeping.
type rig struct {
	t     *testing.T
	srv   *msgraphtest.Server
	recv  *httptest.Server
	clock *retrytest.Clock
	p     *msgraph.Provider
	cal   provider.Calendar
}

// rigOptions adjust a rig: the emulator's Config (its NotificationClient
// is set by the rig) and the Provider's (TokenSource and BaseURL are set;
// HTTPClient defaults to retry.Transport on the fake clock).
type rigOptions struct {
	emulator msgraphtest.Config
	provider msgraph.Config
}

func newRig(t *testing.T, opts rigOptions) *rig {
	t.Helper()
	r := &rig{t: t, clock: retrytest.NewClock(time.Time{})}
	r.recv = httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		if tok := req.URL.Query().Get("validationToken"); tok != "" {
			w.Header().Set("Content-Type", "text/plain")
			io.WriteString(w, tok)
			return
		}
		w.WriteHeader(http.StatusAccepted)
	}))
	t.Cleanup(r.recv.Close)
	ecfg := opts.emulator
	ecfg.NotificationClient = r.recv.Client()
	r.srv = msgraphtest.NewServer(ecfg)
	t.Cleanup(r.srv.Close)
	r.srv.AddUser("alice")

	pcfg := opts.provider
	pcfg.BaseURL = r.srv.URL() + "/v1.0"
	pcfg.TokenSource = func(_ context.Context, account string) (oauth2.TokenSource, error) {
		return oauth2.StaticTokenSource(&oauth2.Token{AccessToken: "token-of-" + account}), nil
	}
	if pcfg.ValidationRetry.Clock == nil {
		pcfg.ValidationRetry.Clock = r.clock
	}
	if pcfg.HTTPClient == nil {
		pcfg.HTTPClient = &http.Client{Transport: &retry.Transport{Base: r.srv.Client().Transport, Policy: retry.Policy{Clock: r.clock}}}
	}
	var err error
	if r.p, err = msgraph.New(pcfg); err != nil {
		t.Fatal(err)
	}
	r.cal = provider.Calendar{ID: "alice-main", Provider: msgraph.Name, AccountID: "alice"}
	return r
}

const rigSecret = "0123456789abcdef"

func (r *rig) watch(cal provider.Calendar) (*provider.Subscription, error) {
	return r.p.Watch(context.Background(), cal, provider.WatchRequest{Secret: rigSecret, Address: r.recv.URL + "/hook", LifecycleAddress: r.recv.URL + "/lifecycle"})
}

func (r *rig) mustWatch() *provider.Subscription {
	r.t.Helper()
	sub, err := r.watch(r.cal)
	if err != nil {
		r.t.Fatalf("Watch: %v", err)
	}
	return sub
}

// subscriptionWrites are the three subscription calls that carry or may
// carry a validation, with the operation the emulator logs them under.
var subscriptionWrites = []struct {
	op   string
	call func(r *rig, sub *provider.Subscription) error
}{
	{msgraphtest.OpCreateSubscription, func(r *rig, _ *provider.Subscription) error {
		_, err := r.watch(r.cal)
		return err
	}},
	{msgraphtest.OpUpdateSubscription, func(r *rig, sub *provider.Subscription) error {
		_, err := r.p.Renew(context.Background(), r.cal, sub, time.Hour)
		return err
	}},
	{msgraphtest.OpReauthorizeSubscription, func(r *rig, sub *provider.Subscription) error {
		return r.p.Reauthorize(context.Background(), r.cal, sub)
	}},
}

// Bug 11: a 429 ApplicationThrottled on create, renew or reauthorize,
// with "Retry-After: 1" or none (both are seen live), is retried: the
// SDK's request bodies have no GetBody, which made every POST and PATCH
// look unreplayable.
func TestSubscriptionWritesRetriedAfter429(t *testing.T) {
	for _, ra := range []struct {
		name string
		set  func(*msgraphtest.Fault)
		wait func(time.Duration) bool
	}{
		{"Retry-After 1", func(f *msgraphtest.Fault) { f.RetryAfter = "1" }, func(d time.Duration) bool { return d == time.Second }},
		{"no Retry-After", func(f *msgraphtest.Fault) { f.OmitRetryAfter = true }, func(d time.Duration) bool { return d >= retry.DefaultInitial }},
	} {
		for _, w := range subscriptionWrites {
			t.Run(ra.name+"/"+w.op, func(t *testing.T) {
				r := newRig(t, rigOptions{})
				sub := r.mustWatch()
				f := msgraphtest.Fault{Op: w.op, Status: http.StatusTooManyRequests, Code: "ApplicationThrottled", Message: "Application is over its MailboxConcurrency limit."}
				ra.set(&f)
				r.srv.Fail(f)
				if err := w.call(r, sub); err != nil {
					t.Fatalf("%s after one 429: %v", w.op, err)
				}
				want := 2 // the 429 and its retry
				if w.op == msgraphtest.OpCreateSubscription {
					want++ // and the rig's own Watch
				}
				if n, all := r.srv.RequestCountByStatus(w.op, http.StatusTooManyRequests), r.srv.RequestCountByStatus(w.op, 0); n != 1 || all != want {
					t.Errorf("%s: %d throttled of %d calls, want 1 of %d", w.op, n, all, want)
				}
				if waits := r.clock.Sleeps(); len(waits) != 1 || !ra.wait(waits[0]) {
					t.Errorf("waits %v", waits)
				}
			})
		}
	}
}

// Bug 6: Graph's 400 "Subscription validation request timed out." on
// create, renew or reauthorize is retried with backoff; after three tries
// the call fails with it.
func TestValidationTimeoutRetried(t *testing.T) {
	for _, w := range subscriptionWrites {
		t.Run(w.op, func(t *testing.T) {
			r := newRig(t, rigOptions{})
			sub := r.mustWatch()
			r.srv.ResetRequests()

			r.srv.TimeOutNextValidations(2)
			if err := w.call(r, sub); err != nil {
				t.Fatalf("after two timed-out validations: %v", err)
			}
			if n, all := r.srv.RequestCountByStatus(w.op, http.StatusBadRequest), r.srv.RequestCountByStatus(w.op, 0); n != 2 || all != 3 {
				t.Errorf("%d timed out of %d calls, want 2 of 3", n, all)
			}
			if waits := r.clock.Sleeps(); len(waits) != 2 || waits[0] < retry.DefaultInitial || waits[1] <= waits[0] {
				t.Errorf("waits %v, want two growing backoff waits", waits)
			}

			r.srv.ResetRequests()
			r.srv.TimeOutNextValidations(3)
			err := w.call(r, sub)
			pe, ok := errors.AsType[*provider.Error](err)
			if !ok || pe.StatusCode != http.StatusBadRequest || !strings.Contains(err.Error(), "timed out 3 times") {
				t.Fatalf("after three timed-out validations: %v", err)
			}
			if n := r.srv.RequestCountByStatus(w.op, 0); n != 3 {
				t.Errorf("%d calls, want 3 tries", n)
			}
		})
	}
}

// Bug 7: a lower lifetime ceiling (400 ExtensionError "Subscription
// expiration can only be N minutes in the future.") is retried once
// within N, on create and on renew, and remembered.
func TestLifetimeCeilingRetried(t *testing.T) {
	const ceiling = 4230 * time.Minute
	r := newRig(t, rigOptions{})
	r.srv.SetMaxSubscriptionLifetime(ceiling)
	before := time.Now()
	sub := r.mustWatch()
	if d := sub.Expiration.Sub(before); d > ceiling || d < ceiling-ceiling/10-time.Minute {
		t.Errorf("granted lifetime %v, want just under %v", d, ceiling)
	}
	if n, all := r.srv.RequestCountByStatus(msgraphtest.OpCreateSubscription, http.StatusBadRequest), r.srv.RequestCountByStatus(msgraphtest.OpCreateSubscription, 0); n != 1 || all != 2 {
		t.Errorf("create: %d refused of %d calls, want 1 of 2", n, all)
	}
	if _, err := r.p.Renew(context.Background(), r.cal, sub, 0); err != nil {
		t.Fatal(err)
	}
	if n := r.srv.RequestCountByStatus(msgraphtest.OpUpdateSubscription, 0); n != 1 {
		t.Errorf("renew took %d calls; the ceiling was not remembered", n)
	}

	// A ceiling that drops after the subscription was made is found by
	// the renewal.
	r = newRig(t, rigOptions{})
	sub = r.mustWatch()
	r.srv.SetMaxSubscriptionLifetime(ceiling)
	renewed, err := r.p.Renew(context.Background(), r.cal, sub, 0)
	if err != nil {
		t.Fatal(err)
	}
	if d := time.Until(renewed.Expiration); d > ceiling {
		t.Errorf("renewed for %v, beyond the ceiling", d)
	}
	if n, all := r.srv.RequestCountByStatus(msgraphtest.OpUpdateSubscription, http.StatusBadRequest), r.srv.RequestCountByStatus(msgraphtest.OpUpdateSubscription, 0); n != 1 || all != 2 {
		t.Errorf("renew: %d refused of %d calls, want 1 of 2", n, all)
	}

	// Refused again within the reported ceiling: the error, no third try.
	r = newRig(t, rigOptions{})
	r.srv.Fail(msgraphtest.Fault{Op: msgraphtest.OpCreateSubscription, Times: 2, Status: http.StatusBadRequest,
		Code: "ExtensionError", Message: "Subscription expiration can only be 10 minutes in the future."})
	if _, err := r.watch(r.cal); err == nil || !strings.Contains(err.Error(), "can only be 10 minutes") {
		t.Errorf("Watch refused twice = %v", err)
	}
	if n := r.srv.RequestCountByStatus(msgraphtest.OpCreateSubscription, 0); n != 2 {
		t.Errorf("%d creates, want 2", n)
	}
}
