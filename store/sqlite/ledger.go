package sqlite

import (
	"context"
	"database/sql"
	"time"

	"github.com/calsync/calsync"
)

// Ledger states.
const (
	ledgerBegun  = 1
	ledgerDone   = 2
	ledgerFailed = 3
)

// BeginNotification implements [calsync.Ledger]: one upsert that claims a
// new or failed key, and reports the key seen when it did not claim it.
func (s *Store) BeginNotification(ctx context.Context, key string, now time.Time) (bool, error) {
	t, err := enc(now)
	if err != nil {
		return false, err
	}
	rows, err := s.queryW(ctx, nil, qBeginNotification, key, t, zeroTime, ledgerBegun, ledgerFailed)
	if err != nil {
		return false, wrap("BeginNotification", err)
	}
	defer rows.Close()
	claimed := rows.Next()
	if err := rows.Err(); err != nil {
		return false, wrap("BeginNotification", err)
	}
	return !claimed, nil
}

func (s *Store) endNotification(ctx context.Context, op, key string, state int, now time.Time) error {
	t, err := enc(now)
	if err != nil {
		return err
	}
	r, err := s.execW(ctx, nil, qEndNotification, state, t, key)
	if err != nil {
		return wrap(op, err)
	}
	if n, _ := r.RowsAffected(); n == 0 {
		return notFound("notification", key)
	}
	return nil
}

// CompleteNotification implements [calsync.Ledger].
func (s *Store) CompleteNotification(ctx context.Context, key string, now time.Time) error {
	return s.endNotification(ctx, "CompleteNotification", key, ledgerDone, now)
}

// FailNotification implements [calsync.Ledger].
func (s *Store) FailNotification(ctx context.Context, key string, now time.Time) error {
	return s.endNotification(ctx, "FailNotification", key, ledgerFailed, now)
}

// PruneNotifications implements [calsync.Ledger].
func (s *Store) PruneNotifications(ctx context.Context, olderThan time.Time) (int, error) {
	t, err := encClamp(olderThan)
	if err != nil {
		return 0, err
	}
	r, err := s.w.ExecContext(ctx, `DELETE FROM notification_ledger WHERE begun < ?`, t)
	if err != nil {
		return 0, wrap("PruneNotifications", err)
	}
	n, err := r.RowsAffected()
	return int(n), wrap("PruneNotifications", err)
}

// complete writes an Apply's [calsync.Completion] in the Apply's
// transaction: the ledger keys marked done (keys not held are ignored) and
// the retry record deleted (if there is one).
func (s *Store) complete(ctx context.Context, tx *sql.Tx, c *calsync.Completion) error {
	if len(c.Notifications) > 0 {
		t, err := enc(c.At)
		if err != nil {
			return err
		}
		for _, key := range c.Notifications {
			if _, err := s.execW(ctx, tx, qEndNotification, ledgerDone, t, key); err != nil {
				return wrap("Apply: complete notification", err)
			}
		}
	}
	if c.ClearAttempt != "" {
		if _, err := s.execW(ctx, tx, qClearAttempt, c.ClearAttempt); err != nil {
			return wrap("Apply: clear attempt", err)
		}
	}
	return nil
}
