package retry

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/cenkalti/backoff/v4"
)

// Defaults of [Policy]'s fields: up to 5 retries, from 1 s, doubling, with
// 0–30 % jitter; a server's Retry-After wins, up to DefaultMaxRetryAfter.
const (
	// DefaultMaxRetries is how many times a failed call is retried (so at
	// most DefaultMaxRetries+1 attempts).
	DefaultMaxRetries = 5
	// DefaultInitial is the wait before the first retry.
	DefaultInitial = time.Second
	// DefaultMultiplier is the growth factor of the wait between retries.
	DefaultMultiplier = 2.0
	// DefaultJitter is the largest random fraction added to a computed
	// wait: a wait of d becomes d..d×1.3.
	DefaultJitter = 0.3
	// DefaultMaxDelay caps the exponential part of a computed wait.
	DefaultMaxDelay = time.Minute
	// DefaultMaxRetryAfter caps a server's Retry-After, so a hostile or
	// broken header cannot park a worker for hours.
	DefaultMaxRetryAfter = 5 * time.Minute

	// NoRetries, as Policy.MaxRetries, turns retrying off.
	NoRetries = -1
	// NoJitter, as Policy.Jitter, makes waits deterministic.
	NoJitter = -1
)

// Policy says how often and how long to wait between attempts. The zero
// Policy is the default policy; a Policy is a value, safe to copy and to use
// from many goroutines once built.
//
// The n-th retry (n = 1, 2, ...) waits
//
//	min(Initial × Multiplier^(n-1), MaxDelay) × (1 + Jitter × U[0,1))
//
// so jitter only ever lengthens a wait (at most MaxDelay × (1+Jitter)), unless
// the response carries a Retry-After, which wins (capped at MaxRetryAfter).
type Policy struct {
	// MaxRetries is the number of retries after the first attempt.
	// Default: DefaultMaxRetries; NoRetries (-1) disables retrying.
	MaxRetries int
	// Initial is the wait before the first retry. Default: DefaultInitial.
	Initial time.Duration
	// Multiplier is the growth factor per retry, ≥ 1. Default:
	// DefaultMultiplier.
	Multiplier float64
	// Jitter is the largest fraction added at random to each computed wait,
	// in (0, 1]. Default: DefaultJitter; NoJitter (-1) disables it.
	Jitter float64
	// MaxDelay caps the exponential part of a computed wait (jitter comes on
	// top). Default: DefaultMaxDelay.
	MaxDelay time.Duration
	// MaxRetryAfter caps a Retry-After sent by the server. Default:
	// DefaultMaxRetryAfter.
	MaxRetryAfter time.Duration
	// Clock tells the time and waits. Default: SystemClock. Tests inject a
	// fake (package retrytest).
	Clock Clock
	// Rand returns a uniform random number in [0, 1) for the jitter; it must
	// be safe for concurrent use if the Policy is shared. Default:
	// math/rand/v2's Float64.
	Rand func() float64
}

// WithDefaults returns a copy of p with zero fields set to their defaults.
func (p Policy) WithDefaults() Policy {
	if p.MaxRetries == 0 {
		p.MaxRetries = DefaultMaxRetries
	}
	if p.Initial == 0 {
		p.Initial = DefaultInitial
	}
	if p.Multiplier == 0 {
		p.Multiplier = DefaultMultiplier
	}
	if p.Jitter == 0 {
		p.Jitter = DefaultJitter
	}
	if p.MaxDelay == 0 {
		p.MaxDelay = max(DefaultMaxDelay, p.Initial)
	}
	if p.MaxRetryAfter == 0 {
		p.MaxRetryAfter = DefaultMaxRetryAfter
	}
	if p.Clock == nil {
		p.Clock = SystemClock
	}
	if p.Rand == nil {
		p.Rand = rand.Float64
	}
	return p
}

// Validate reports whether p, with defaults applied, is usable. A
// [Transport] with an invalid Policy fails every request with this error.
func (p Policy) Validate() error {
	p = p.WithDefaults()
	var errs []error
	if p.MaxRetries < NoRetries {
		errs = append(errs, fmt.Errorf("MaxRetries %d is negative (use NoRetries to disable retries)", p.MaxRetries))
	}
	if p.Initial < 0 {
		errs = append(errs, fmt.Errorf("Initial %v is negative", p.Initial))
	}
	if p.Multiplier < 1 {
		errs = append(errs, fmt.Errorf("Multiplier %v is below 1", p.Multiplier))
	}
	if p.Jitter != NoJitter && (p.Jitter < 0 || p.Jitter > 1) {
		errs = append(errs, fmt.Errorf("Jitter %v is outside (0, 1] (use NoJitter to disable it)", p.Jitter))
	}
	if p.MaxDelay < p.Initial {
		errs = append(errs, fmt.Errorf("MaxDelay %v is below Initial %v", p.MaxDelay, p.Initial))
	}
	if p.MaxRetryAfter < 0 {
		errs = append(errs, fmt.Errorf("MaxRetryAfter %v is negative", p.MaxRetryAfter))
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("retry: invalid Policy: %w", err)
	}
	return nil
}

// Stop is what [BackOff.NextBackOff] returns when no retry remains. It
// equals backoff.Stop of github.com/cenkalti/backoff/v4.
const Stop time.Duration = backoff.Stop

// BackOff is a retry schedule: the wait before each retry. It has the
// method set of backoff.BackOff (github.com/cenkalti/backoff/v4), so a
// BackOff can be passed to that package's Retry, but callers need not
// import it.
type BackOff interface {
	// NextBackOff returns the wait before the next retry, or [Stop] when
	// no retry remains.
	NextBackOff() time.Duration
	// Reset starts the schedule over, as before the first retry.
	Reset()
}

var _ backoff.BackOff = BackOff(nil)

// NewBackOff returns the policy's schedule as a [BackOff] for code that
// retries whole operations. It returns [Stop] after MaxRetries waits.
// Defaults are applied; it is not safe for concurrent use.
func (p Policy) NewBackOff() BackOff {
	p = p.WithDefaults()
	b := &policyBackOff{p: p, exp: backoff.ExponentialBackOff{
		InitialInterval:     p.Initial,
		RandomizationFactor: 0, // jitter is ours: 0..+Jitter, never shorter
		Multiplier:          p.Multiplier,
		MaxInterval:         p.MaxDelay,
		MaxElapsedTime:      0, // MaxRetries bounds the schedule instead
		Stop:                backoff.Stop,
		Clock:               p.Clock,
	}}
	b.Reset()
	return b
}

type policyBackOff struct {
	p   Policy
	exp backoff.ExponentialBackOff
	n   int
}

func (b *policyBackOff) Reset() {
	b.exp.Reset()
	b.n = 0
}

func (b *policyBackOff) NextBackOff() time.Duration {
	if b.n >= max(b.p.MaxRetries, 0) {
		return Stop
	}
	b.n++
	return b.p.jitter(b.exp.NextBackOff())
}

// jitter lengthens d by a random fraction in [0, Jitter).
func (p Policy) jitter(d time.Duration) time.Duration {
	if p.Jitter <= 0 || d <= 0 {
		return d
	}
	return d + time.Duration(p.Rand()*p.Jitter*float64(d))
}
