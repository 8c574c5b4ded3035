package calsync

import (
	"context"
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// Leases are named, time-limited locks that instances sharing the Store
// take so that a piece of work runs in exactly one of them. The Engine
// takes the lease "subscriptions/"+calendar id whenever it creates, renews,
// replaces or removes a calendar's subscriptions (see [RenewLeaseTTL]), so
// that two instances (or two goroutines: each acquisition has an owner of
// its own) never both do it.
//
// A lease is held by one owner until it expires or its owner releases it;
// an owner that dies simply lets it expire. Expiry is decided with the
// callers' clocks (the now they pass), so the instances' clocks must agree
// to well within the lease lengths they use.
type Leases interface {
	// AcquireLease takes the lease name for owner until now+ttl and
	// reports whether it did. It succeeds when nobody holds name, when the
	// lease has expired (its expiry is not after now), or when owner
	// already holds it (the lease is then extended to now+ttl). Otherwise
	// another owner holds it: it reports false and changes nothing. Of
	// several concurrent callers with different owners for a lease that is
	// free, exactly one gets true. An empty name or owner is an error.
	AcquireLease(ctx context.Context, name, owner string, now time.Time, ttl time.Duration) (acquired bool, err error)
	// ReleaseLease gives up the lease name if owner holds it (expired or
	// not), so that another owner can take it at once. Releasing a lease
	// that owner does not hold (never taken, released already, or taken
	// over by another owner after it expired) is not an error and changes
	// nothing.
	ReleaseLease(ctx context.Context, name, owner string) error
}

// RenewLeaseTTL is how long the lease an Engine takes before changing a
// calendar's subscriptions lasts (Stores that implement [Leases]). The
// lease makes one instance of several sharing the Store do it; it is
// released as soon as the renewal is done, so the length only matters when
// an instance dies mid-renewal (the others wait this long before taking
// over) or a renewal outlasts it (another instance might then renew the
// subscription again). Five minutes is well above a renewal's provider
// calls with all their retries.
const RenewLeaseTTL = 5 * time.Minute

// leaseWait bounds how long Connect and Disconnect wait for a calendar's
// subscription lease that someone else holds, before they give up with
// ErrConflict.
const leaseWait = 30 * time.Second

// subscriptionsLease names the lease held while a calendar's subscriptions
// are created, renewed, replaced or removed. Every change to a calendar's
// subscriptions (Connect, the renewal sweep, lifecycle notifications,
// Disconnect) happens under it, in whatever instance or goroutine, so that
// a calendar never ends up with two live subscriptions.
func subscriptionsLease(calendarID string) string { return "subscriptions/" + calendarID }

// localLeases are the leases this Engine's goroutines hold, so that they
// exclude each other whatever the Store (the Store's leases only exclude
// other owners, and a Store may have none).
type localLeases struct {
	mu   sync.Mutex
	held map[string]bool
	seq  atomic.Uint64
}

// tryLease takes lease name for one holder in this Engine, in the process
// and (when the Store has Leases) in the Store, under an owner unique to
// this acquisition. held is true, and nothing is held, when another
// goroutine or instance holds it. Otherwise the caller must call release.
func (e *Engine) tryLease(ctx context.Context, name string) (release func(), held bool, err error) {
	ll := &e.leases
	ll.mu.Lock()
	if ll.held[name] {
		ll.mu.Unlock()
		return nil, true, nil
	}
	if ll.held == nil {
		ll.held = make(map[string]bool)
	}
	ll.held[name] = true
	ll.mu.Unlock()
	local := func() {
		ll.mu.Lock()
		delete(ll.held, name)
		ll.mu.Unlock()
	}
	l, ok := e.cfg.Store.(Leases)
	if !ok {
		return local, false, nil
	}
	owner := e.cfg.InstanceID + "/" + strconv.FormatUint(ll.seq.Add(1), 10)
	got, err := l.AcquireLease(ctx, name, owner, e.cfg.Now(), RenewLeaseTTL)
	if err != nil || !got {
		local()
		if err != nil {
			return nil, false, fmt.Errorf("lease: %w", err)
		}
		return nil, true, nil
	}
	return func() {
		if err := l.ReleaseLease(context.WithoutCancel(ctx), name, owner); err != nil {
			// The lease expires on its own.
			e.log.WarnContext(ctx, "calsync: cannot release lease", "lease", name, "err", err)
		}
		local()
	}, false, nil
}

// waitLease takes lease name like tryLease, waiting while someone else
// holds it (polling, 50 ms doubling to 1 s), for at most leaseWait; then it
// returns an error wrapping ErrConflict.
func (e *Engine) waitLease(ctx context.Context, name string) (release func(), err error) {
	deadline := time.Now().Add(leaseWait)
	pause := 50 * time.Millisecond
	for {
		release, held, err := e.tryLease(ctx, name)
		if err != nil || !held {
			return release, err
		}
		if time.Now().After(deadline) {
			return nil, fmt.Errorf("lease %s is held by another goroutine or instance: %w", name, ErrConflict)
		}
		t := time.NewTimer(pause)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil, ctx.Err()
		case <-t.C:
		}
		pause = min(2*pause, time.Second)
	}
}

// leaseSubscription takes the subscription lease of the calendar that
// subscription id feeds and reads the subscription under it, so that what
// the caller decides from it holds until release. held is true, and
// nothing is held, when another goroutine or instance holds the lease. If
// the subscription is gone the error wraps ErrNotFound and nothing is
// held. Otherwise the caller must call release.
func (e *Engine) leaseSubscription(ctx context.Context, id string) (sub Subscription, release func(), held bool, err error) {
	sub, err = e.cfg.Store.Subscription(ctx, id)
	if err != nil {
		return Subscription{}, nil, false, err
	}
	release, held, err = e.tryLease(ctx, subscriptionsLease(sub.CalendarID))
	if err != nil || held {
		return Subscription{}, nil, held, err
	}
	sub, err = e.cfg.Store.Subscription(ctx, id)
	if err != nil {
		release()
		return Subscription{}, nil, false, err
	}
	return sub, release, false, nil
}
