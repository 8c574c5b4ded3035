package memory

import (
	"context"
	"time"

	"github.com/calsync/calsync"
)

type ledgerState uint8

const (
	ledgerBegun ledgerState = iota + 1
	ledgerDone
	ledgerFailed
)

type ledgerEntry struct {
	state ledgerState
	begun time.Time
}

// BeginNotification implements [calsync.Ledger].
func (s *Store) BeginNotification(ctx context.Context, key string, now time.Time) (bool, error) {
	if err := ctx.Err(); err != nil {
		return false, err
	}
	x := s.lock()
	defer x.mu.Unlock()
	if e, ok := x.ledger[key]; ok && e.state != ledgerFailed {
		return true, nil
	}
	x.ledger[key] = ledgerEntry{state: ledgerBegun, begun: now}
	return false, nil
}

func (s *Store) endNotification(ctx context.Context, key string, st ledgerState) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	x := s.lock()
	defer x.mu.Unlock()
	e, ok := x.ledger[key]
	if !ok {
		return notFound("notification", key)
	}
	e.state = st
	x.ledger[key] = e
	return nil
}

// CompleteNotification implements [calsync.Ledger].
func (s *Store) CompleteNotification(ctx context.Context, key string, now time.Time) error {
	return s.endNotification(ctx, key, ledgerDone)
}

// FailNotification implements [calsync.Ledger].
func (s *Store) FailNotification(ctx context.Context, key string, now time.Time) error {
	return s.endNotification(ctx, key, ledgerFailed)
}

// PruneNotifications implements [calsync.Ledger].
func (s *Store) PruneNotifications(ctx context.Context, olderThan time.Time) (int, error) {
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	x := s.lock()
	defer x.mu.Unlock()
	n := 0
	for k, e := range x.ledger {
		if e.begun.Before(olderThan) {
			delete(x.ledger, k)
			n++
		}
	}
	return n, nil
}

// complete commits an Apply's [calsync.Completion]; the caller holds s.mu,
// so no reader sees the changes without it.
func (s *Store) complete(c *calsync.Completion) {
	x := s.lock()
	defer x.mu.Unlock()
	for _, key := range c.Notifications {
		if e, ok := x.ledger[key]; ok {
			e.state = ledgerDone
			x.ledger[key] = e
		}
	}
	if c.ClearAttempt != "" {
		delete(x.attempts, c.ClearAttempt)
	}
}
