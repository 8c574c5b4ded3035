package calsync

import (
	"context"
	"fmt"
	"time"
)

// Leases are named, time-limited locks that instances sharing the Store
// take so that a piece of work runs in exactly one of them. The Engine
// takes the lease "renew/"+subscription id before renewing a subscription
// (see [RenewLeaseTTL]), so that two instances sweeping at the same time do
// not both renew it.
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

// RenewLeaseTTL is how long the lease an Engine takes before renewing a
// subscription lasts (Stores that implement [Leases]). The lease makes one
// instance of several sharing the Store renew the subscription; it is
// released as soon as the renewal is done, so the length only matters when
// an instance dies mid-renewal (the others wait this long before taking
// over) or a renewal outlasts it (another instance might then renew the
// subscription again). Five minutes is well above a renewal's provider
// calls with all their retries.
const RenewLeaseTTL = 5 * time.Minute

// renewLease names the lease held while subscription id is renewed (or
// created).
func renewLease(id string) string { return "renew/" + id }

// leaseSubscription takes the renewal lease of subscription id (when the
// Store has Leases) and reads the subscription under it, so that what the
// caller decides from it holds until release. held is true, and nothing is
// held, when another instance holds the lease. If the subscription is gone
// the error wraps ErrNotFound and nothing is held. Otherwise the caller must
// call release. Without Leases it only reads the subscription.
func (e *Engine) leaseSubscription(ctx context.Context, id string) (sub Subscription, release func(), held bool, err error) {
	release = func() {}
	if l, ok := e.cfg.Store.(Leases); ok {
		name := renewLease(id)
		got, err := l.AcquireLease(ctx, name, e.cfg.InstanceID, e.cfg.Now(), RenewLeaseTTL)
		if err != nil {
			return Subscription{}, nil, false, fmt.Errorf("lease: %w", err)
		}
		if !got {
			return Subscription{}, nil, true, nil
		}
		release = func() { e.releaseLease(ctx, l, name) }
	}
	sub, err = e.cfg.Store.Subscription(ctx, id)
	if err != nil {
		release()
		return Subscription{}, nil, false, err
	}
	return sub, release, false, nil
}

// releaseLease gives up a lease this Engine holds. A failure is only
// logged: the lease expires on its own.
func (e *Engine) releaseLease(ctx context.Context, l Leases, name string) {
	if err := l.ReleaseLease(context.WithoutCancel(ctx), name, e.cfg.InstanceID); err != nil {
		e.log.WarnContext(ctx, "calsync: cannot release lease", "lease", name, "err", err)
	}
}
