package postgres

import (
	"context"
	"errors"
	"time"

	"github.com/jackc/pgx/v5"

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
// Concurrent callers serialise on the key's row; exactly one claims it.
func (s *Store) BeginNotification(ctx context.Context, key string, now time.Time) (bool, error) {
	var k string
	err := s.pool.QueryRow(ctx, s.sql(`INSERT INTO {schema}.notification_ledger AS l (key, state, begun, ended) VALUES ($1, $3, $2, '0001-01-01 00:00:00+00')
		ON CONFLICT (key) DO UPDATE SET state = excluded.state, begun = excluded.begun, ended = excluded.ended
		WHERE l.state = $4
		RETURNING key`), key, now, ledgerBegun, ledgerFailed).Scan(&k)
	if errors.Is(err, pgx.ErrNoRows) {
		return true, nil
	}
	if err != nil {
		return false, wrap("BeginNotification", err)
	}
	return false, nil
}

func (s *Store) endNotification(ctx context.Context, op, key string, state int, now time.Time) error {
	tag, err := s.pool.Exec(ctx, s.sql(`UPDATE {schema}.notification_ledger SET state = $1, ended = $2 WHERE key = $3`), state, now, key)
	if err != nil {
		return wrap(op, err)
	}
	if tag.RowsAffected() == 0 {
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
	tag, err := s.pool.Exec(ctx, s.sql(`DELETE FROM {schema}.notification_ledger WHERE begun < $1`), olderThan)
	if err != nil {
		return 0, wrap("PruneNotifications", err)
	}
	return int(tag.RowsAffected()), nil
}

// complete writes an Apply's [calsync.Completion] in the Apply's
// transaction: the ledger keys marked done (keys not held are ignored) and
// the retry record deleted (if there is one).
func (s *Store) complete(ctx context.Context, tx pgx.Tx, c *calsync.Completion) error {
	if len(c.Notifications) > 0 {
		if _, err := tx.Exec(ctx, s.sql(`UPDATE {schema}.notification_ledger SET state = $1, ended = $2 WHERE key = ANY($3)`), ledgerDone, c.At, c.Notifications); err != nil {
			return wrap("Apply: complete notification", err)
		}
	}
	if c.ClearAttempt != "" {
		if _, err := tx.Exec(ctx, s.sql(`DELETE FROM {schema}.attempts WHERE id = $1`), c.ClearAttempt); err != nil {
			return wrap("Apply: clear attempt", err)
		}
	}
	return nil
}
