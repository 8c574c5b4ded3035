package retrytest

import (
	"context"
	"slices"
	"sync"

	"github.com/calsync/calsync/retry"
)

// Limiter is a retry.AccountLimiter that admits every request at once and
// records the accounts it admitted and how many releases it got, so a test
// checks that requests go through the limiter it configured and that each
// is released once. It is safe for concurrent use.
type Limiter struct {
	mu       sync.Mutex
	accounts []string
	released int
}

var _ retry.AccountLimiter = (*Limiter)(nil)

// Acquire records account and admits it.
func (l *Limiter) Acquire(_ context.Context, account string) (func(), error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.accounts = append(l.accounts, account)
	return func() {
		l.mu.Lock()
		l.released++
		l.mu.Unlock()
	}, nil
}

// Acquired returns the accounts admitted so far, in order.
func (l *Limiter) Acquired() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.Clone(l.accounts)
}

// Released returns how many times a release function was called.
func (l *Limiter) Released() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.released
}
