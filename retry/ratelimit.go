package retry

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/time/rate"
)

// Provider quotas the default limits keep under: Google Calendar's usage
// limits (https://developers.google.com/workspace/calendar/api/guides/quota)
// and Outlook's in Microsoft Graph's throttling limits
// (https://learn.microsoft.com/en-us/graph/throttling).
const (
	// DefaultGoogleRequestsPerMinute is Google Calendar's per-user quota:
	// 600 requests per minute per user per project.
	DefaultGoogleRequestsPerMinute = 600
	// DefaultGraphConcurrency is Microsoft Graph's Outlook limit of 4
	// concurrent requests per app per mailbox.
	DefaultGraphConcurrency = 4
	// DefaultGraphRequestsPer10Minutes is Graph's Outlook limit of 10,000
	// requests per 10 minutes per app per mailbox.
	DefaultGraphRequestsPer10Minutes = 10000
)

// Limits are the client-side limits of one account at one provider. The
// zero Limits limits nothing.
//
// The rate is a token bucket of Burst tokens refilled at
// (Requests−Burst)/Per, so that no window of length Per carries more than
// Requests requests even when it starts with a full bucket (Google counts
// in a sliding minute).
type Limits struct {
	// Requests is how many requests may start per Per; 0 means no rate
	// limit.
	Requests int
	// Per is the window of Requests. Default: one minute.
	Per time.Duration
	// Burst is how many requests may start at once after a quiet spell,
	// 1..Requests−1. Default: Requests/10 (at least 1).
	Burst int
	// Concurrency is how many requests may be in flight at once (from
	// sending to the response body being closed or read to its end); 0
	// means no limit.
	Concurrency int
}

// GoogleLimits are the default limits for a Google account:
// DefaultGoogleRequestsPerMinute per minute, no concurrency limit.
func GoogleLimits() Limits {
	return Limits{Requests: DefaultGoogleRequestsPerMinute, Per: time.Minute}
}

// GraphLimits are the default limits for a Microsoft Graph mailbox:
// DefaultGraphConcurrency in flight and DefaultGraphRequestsPer10Minutes
// per 10 minutes.
func GraphLimits() Limits {
	return Limits{Requests: DefaultGraphRequestsPer10Minutes, Per: 10 * time.Minute, Concurrency: DefaultGraphConcurrency}
}

// WithDefaults returns a copy of l with zero fields set to their defaults.
func (l Limits) WithDefaults() Limits {
	if l.Requests > 0 {
		if l.Per == 0 {
			l.Per = time.Minute
		}
		if l.Burst == 0 {
			l.Burst = max(1, l.Requests/10)
		}
	}
	return l
}

// Validate reports whether l (defaults applied first, as [NewLimiter]
// does) is valid: no negative field, a positive Per and a Burst of
// 1..Requests−1 when Requests is set. Other [AccountLimiter]s use it to
// accept the same Limits as [Limiter].
func (l Limits) Validate() error {
	return l.WithDefaults().validate()
}

func (l Limits) validate() error {
	var errs []error
	if l.Requests < 0 || l.Concurrency < 0 {
		errs = append(errs, fmt.Errorf("Requests %d and Concurrency %d must not be negative", l.Requests, l.Concurrency))
	}
	if l.Requests > 0 {
		if l.Per <= 0 {
			errs = append(errs, fmt.Errorf("Per %v must be positive", l.Per))
		}
		if l.Burst < 1 || (l.Requests > 1 && l.Burst >= l.Requests) {
			errs = append(errs, fmt.Errorf("Burst %d out of range 1..%d", l.Burst, max(1, l.Requests-1)))
		}
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("retry: invalid Limits: %w", err)
	}
	return nil
}

// Limiter enforces [Limits] per account, for one provider: give each
// provider client its own Limiter. It is safe for concurrent use. Idle
// accounts are forgotten, so memory follows the accounts active within
// about one Per.
type Limiter struct {
	limits Limits
	every  rate.Limit
	clock  Clock

	mu       sync.Mutex
	accounts map[string]*accountState
	acquires int
}

type accountState struct {
	bucket *rate.Limiter // nil without a rate limit
	slots  chan struct{} // nil without a concurrency limit
	refs   int           // callers between lookup and release, under Limiter.mu
}

// NewLimiter returns a Limiter for l (defaults applied) on clock
// (nil: SystemClock), or an error if l is invalid.
func NewLimiter(l Limits, clock Clock) (*Limiter, error) {
	l = l.WithDefaults()
	if err := l.validate(); err != nil {
		return nil, err
	}
	if clock == nil {
		clock = SystemClock
	}
	lim := &Limiter{limits: l, clock: clock, accounts: make(map[string]*accountState)}
	if l.Requests > 0 {
		lim.every = rate.Limit(float64(max(l.Requests-l.Burst, 1)) / l.Per.Seconds())
	}
	return lim, nil
}

// Limits returns the limiter's limits, defaults applied.
func (l *Limiter) Limits() Limits { return l.limits }

// sweepEvery is how many acquisitions pass between sweeps of idle accounts.
const sweepEvery = 1024

// Acquire waits until account may start a request: first for a token of its
// rate, then for a free concurrency slot. It returns ctx.Err() if ctx ends
// first (the token is given back). On success the caller must call release
// exactly once when the request is over.
func (l *Limiter) Acquire(ctx context.Context, account string) (release func(), err error) {
	a := l.lookup(account)
	defer func() {
		if err != nil {
			l.unref(a)
		}
	}()
	if a.bucket != nil {
		now := l.clock.Now()
		r := a.bucket.ReserveN(now, 1)
		if !r.OK() {
			return nil, errors.New("retry: rate limit cannot grant a request") // Burst ≥ 1 makes this unreachable
		}
		if d := r.DelayFrom(now); d > 0 {
			if err := l.clock.Sleep(ctx, d); err != nil {
				r.CancelAt(l.clock.Now())
				return nil, err
			}
		}
	}
	if a.slots != nil {
		select {
		case a.slots <- struct{}{}:
		default:
			select {
			case a.slots <- struct{}{}:
			case <-ctx.Done():
				return nil, ctx.Err()
			}
		}
	}
	var done atomic.Bool
	return func() {
		if !done.CompareAndSwap(false, true) {
			return
		}
		if a.slots != nil {
			<-a.slots
		}
		l.unref(a)
	}, nil
}

func (l *Limiter) lookup(account string) *accountState {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.acquires++; l.acquires%sweepEvery == 0 {
		l.sweep()
	}
	a := l.accounts[account]
	if a == nil {
		a = &accountState{}
		if l.limits.Requests > 0 {
			a.bucket = rate.NewLimiter(l.every, l.limits.Burst)
		}
		if l.limits.Concurrency > 0 {
			a.slots = make(chan struct{}, l.limits.Concurrency)
		}
		l.accounts[account] = a
	}
	a.refs++
	return a
}

func (l *Limiter) unref(a *accountState) {
	l.mu.Lock()
	a.refs--
	l.mu.Unlock()
}

// sweep forgets accounts nobody is using whose bucket is full again: a new
// state for them behaves the same. Called with l.mu held.
func (l *Limiter) sweep() {
	now := l.clock.Now()
	for id, a := range l.accounts {
		if a.refs == 0 && (a.bucket == nil || a.bucket.TokensAt(now) >= float64(l.limits.Burst)) {
			delete(l.accounts, id)
		}
	}
}

// AccountLimiter admits requests of one provider per account. [Limiter]
// implements it in process memory; package retry/pglimit implements it on
// PostgreSQL, so that several processes sharing a database share one
// quota. Implementations must be safe for concurrent use.
type AccountLimiter interface {
	// Acquire waits until account may start a request. It returns
	// ctx.Err() (or an error of its own) if it cannot admit the request;
	// the caller then holds nothing. On success the caller must call
	// release exactly once when the request is over ([LimitTransport]
	// does).
	Acquire(ctx context.Context, account string) (release func(), err error)
}

var _ AccountLimiter = (*Limiter)(nil)

// LimitTransport is an http.RoundTripper that waits for its Limiter (an
// [AccountLimiter], usually a [Limiter]) before sending a request, keyed by the account set with [WithAccount]
// on the request's context. A request without an account is not limited
// (it cannot be attributed to a user's quota). The concurrency slot is held
// until the response body is closed or read to its end, or the round trip
// fails. Put it under a [Transport] (as its Base), so each attempt is
// counted and a retry's wait holds no slot.
type LimitTransport struct {
	// Base sends the request. Default: http.DefaultTransport.
	Base http.RoundTripper
	// Limiter is the provider's limiter: a *[Limiter] for limits within
	// one process, or a cluster-wide one (retry/pglimit). Required.
	Limiter AccountLimiter
}

// RoundTrip implements http.RoundTripper.
func (t *LimitTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	base := t.Base
	if base == nil {
		base = http.DefaultTransport
	}
	if t.Limiter == nil {
		closeBody(req)
		return nil, errors.New("retry: LimitTransport.Limiter is nil")
	}
	account, ok := Account(req.Context())
	if !ok {
		return base.RoundTrip(req)
	}
	release, err := t.Limiter.Acquire(req.Context(), account)
	if err != nil {
		closeBody(req)
		return nil, err
	}
	resp, err := base.RoundTrip(req)
	if err != nil {
		release()
		return nil, err
	}
	if resp.Body == nil || resp.Body == http.NoBody {
		release()
		return resp, nil
	}
	resp.Body = &releasingBody{ReadCloser: resp.Body, release: release}
	return resp, nil
}

// releasingBody releases a concurrency slot at EOF or Close, whichever
// comes first, once.
type releasingBody struct {
	io.ReadCloser
	release func()
	done    atomic.Bool
}

func (b *releasingBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	if err == io.EOF {
		b.releaseOnce()
	}
	return n, err
}

func (b *releasingBody) Close() error {
	err := b.ReadCloser.Close()
	b.releaseOnce()
	return err
}

func (b *releasingBody) releaseOnce() {
	if b.done.CompareAndSwap(false, true) {
		b.release()
	}
}
