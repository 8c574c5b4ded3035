package storetest

import (
	"fmt"
	"sync"
	"time"

	"github.com/calsync/calsync"
)

// testLeases: acquire, extend by the owner, refusal while held, takeover
// at expiry, release by the owner and (a no-op) by anyone else.
func testLeases(h *harness) {
	l := as[calsync.Leases](h)
	at := func(min int) time.Time { return base.Add(time.Duration(min) * time.Minute) }
	const ttl = 5 * time.Minute
	name := h.ns + "renew/sub-1"
	acquire := func(owner string, min int, want bool, what string) {
		h.Helper()
		got, err := l.AcquireLease(h.ctx, name, owner, at(min), ttl)
		if err != nil {
			h.Fatalf("%s: AcquireLease(%s, minute %d): %v", what, owner, min, err)
		}
		if got != want {
			h.Errorf("%s: AcquireLease(%s, minute %d) = %v, want %v", what, owner, min, got, want)
		}
	}
	release := func(owner, what string) {
		h.Helper()
		if err := l.ReleaseLease(h.ctx, name, owner); err != nil {
			h.Errorf("%s: ReleaseLease(%s): %v, want nil", what, owner, err)
		}
	}

	release("a", "release of a lease never taken")
	acquire("a", 0, true, "a free lease") // a until minute 5
	acquire("b", 1, false, "a lease another holds")
	acquire("a", 2, true, "extension by the owner") // a until minute 7
	acquire("b", 6, false, "a lease the owner extended")
	acquire("b", 7, true, "a lease at its expiry") // b until minute 12
	acquire("a", 7, false, "a lease taken over at its expiry")
	release("a", "release by a non-owner")
	acquire("a", 8, false, "a lease a non-owner released")
	release("b", "release by the owner")
	acquire("a", 8, true, "a released lease, before its expiry") // a until minute 13
	acquire("b", 13, true, "an expired lease")                   // b until minute 18
	release("a", "release by the owner whose lease was taken over")
	acquire("a", 14, false, "a lease its previous owner released after the takeover")
	release("b", "release by the owner")
	release("b", "a second release")

	// Names are exact.
	for _, other := range []string{h.ns + "renew/sub-", h.ns + "RENEW/sub-1", h.ns + "renew/sub-10"} {
		if err := func() error {
			got, err := l.AcquireLease(h.ctx, name, "c", at(20), ttl)
			if err != nil || !got {
				return fmt.Errorf("AcquireLease(%s) = %v, %v; want true", name, got, err)
			}
			got, err = l.AcquireLease(h.ctx, other, "d", at(20), ttl)
			if err != nil || !got {
				return fmt.Errorf("AcquireLease(%s) while %s is held = %v, %v; want true", other, name, got, err)
			}
			if err := l.ReleaseLease(h.ctx, other, "d"); err != nil {
				return err
			}
			return l.ReleaseLease(h.ctx, name, "c")
		}(); err != nil {
			h.Error(err)
		}
	}

	if _, err := l.AcquireLease(h.ctx, "", "a", at(0), ttl); err == nil {
		h.Errorf("AcquireLease with an empty name: err = nil")
	}
	if _, err := l.AcquireLease(h.ctx, h.ns+"renew/sub-2", "", at(0), ttl); err == nil {
		h.Errorf("AcquireLease with an empty owner: err = nil")
	}
}

// testLeasesConcurrentAcquire: of several owners racing for a free or an
// expired lease, exactly one gets it.
func testLeasesConcurrentAcquire(h *harness) {
	l := as[calsync.Leases](h)
	const (
		goroutines = 8
		rounds     = 20
		ttl        = time.Minute
	)
	for round := range rounds {
		name := fmt.Sprintf("%srace-%d", h.ns, round)
		now := base
		expired := round%2 == 1
		if expired {
			if ok, err := l.AcquireLease(h.ctx, name, "old", base, ttl); err != nil || !ok {
				h.Fatalf("round %d: AcquireLease(old) = %v, %v", round, ok, err)
			}
			now = base.Add(ttl)
		}
		start := make(chan struct{})
		var (
			mu      sync.Mutex
			winners []string
			wg      sync.WaitGroup
		)
		for g := range goroutines {
			owner := fmt.Sprintf("owner-%d", g)
			wg.Go(func() {
				<-start
				ok, err := l.AcquireLease(h.ctx, name, owner, now, ttl)
				if err != nil {
					h.Errorf("round %d: AcquireLease(%s): %v", round, owner, err)
					return
				}
				if ok {
					mu.Lock()
					winners = append(winners, owner)
					mu.Unlock()
				}
			})
		}
		close(start)
		wg.Wait()
		if len(winners) != 1 {
			h.Errorf("round %d (expired lease: %v): %d concurrent AcquireLease calls, winners %q; want exactly one", round, expired, goroutines, winners)
			continue
		}
		// The winner holds it; everyone else is still refused.
		for g := range goroutines {
			owner := fmt.Sprintf("owner-%d", g)
			ok, err := l.AcquireLease(h.ctx, name, owner, now, ttl)
			if err != nil {
				h.Fatal(err)
			}
			if ok != (owner == winners[0]) {
				h.Errorf("round %d: AcquireLease(%s) after %s won = %v", round, owner, winners[0], ok)
			}
		}
	}
}
