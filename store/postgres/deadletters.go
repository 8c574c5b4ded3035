package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/calsync/calsync"
	"github.com/jackc/pgx/v5"
)

const deadColumns = `id, kind, provider, subscription_id, calendar_id, message_id, received,
	attempts, last_error, first_failed, last_failed`

// attemptColumns are a dead letter's columns and when to try again.
const attemptColumns = deadColumns + `, next_attempt`

// RecordAttempt implements [calsync.DeadLetters].
func (s *Store) RecordAttempt(ctx context.Context, id string, n calsync.Notification, lastErr string, at, next time.Time) (calsync.Attempt, error) {
	if id == "" {
		return calsync.Attempt{}, errors.New("postgres: RecordAttempt: empty id")
	}
	a, err := scanAttempt(s.pool.QueryRow(ctx, s.sql(`INSERT INTO {schema}.attempts AS a (`+attemptColumns+`)
		VALUES ($1, $2, $3, $4, $5, $6, $7, 1, $8, $9, $9, $10)
		ON CONFLICT (id) DO UPDATE SET kind = excluded.kind, provider = excluded.provider,
			subscription_id = excluded.subscription_id, calendar_id = excluded.calendar_id,
			message_id = excluded.message_id, received = excluded.received,
			attempts = a.attempts + 1, last_error = excluded.last_error,
			last_failed = excluded.last_failed, next_attempt = excluded.next_attempt
		RETURNING `+attemptColumns),
		id, int16(n.Kind), n.Provider, n.SubscriptionID, n.CalendarID, n.MessageID, n.Received, lastErr, at, next))
	if err != nil {
		return calsync.Attempt{}, wrap("RecordAttempt", err)
	}
	return a, nil
}

func scanAttempt(row pgx.Row) (calsync.Attempt, error) {
	var a calsync.Attempt
	var kind int16
	if err := row.Scan(&a.ID, &kind, &a.Notification.Provider, &a.Notification.SubscriptionID, &a.Notification.CalendarID,
		&a.Notification.MessageID, &a.Notification.Received, &a.Attempts, &a.LastError, &a.FirstFailed, &a.LastFailed, &a.NextAttempt); err != nil {
		return calsync.Attempt{}, err
	}
	a.Notification.Kind = calsync.NotificationKind(kind)
	a.Notification.Received, a.FirstFailed, a.LastFailed, a.NextAttempt = utc(a.Notification.Received), utc(a.FirstFailed), utc(a.LastFailed), utc(a.NextAttempt)
	return a, nil
}

func scanDead(row pgx.Row) (calsync.DeadLetter, error) {
	var d calsync.DeadLetter
	var kind int16
	if err := row.Scan(&d.ID, &kind, &d.Notification.Provider, &d.Notification.SubscriptionID, &d.Notification.CalendarID,
		&d.Notification.MessageID, &d.Notification.Received, &d.Attempts, &d.LastError, &d.FirstFailed, &d.LastFailed); err != nil {
		return calsync.DeadLetter{}, err
	}
	d.Notification.Kind = calsync.NotificationKind(kind)
	d.Notification.Received, d.FirstFailed, d.LastFailed = utc(d.Notification.Received), utc(d.FirstFailed), utc(d.LastFailed)
	return d, nil
}

// Attempt implements [calsync.DeadLetters].
func (s *Store) Attempt(ctx context.Context, id string) (calsync.Attempt, error) {
	a, err := scanAttempt(s.pool.QueryRow(ctx, s.sql(`SELECT `+attemptColumns+` FROM {schema}.attempts WHERE id = $1`), id))
	if errors.Is(err, pgx.ErrNoRows) {
		return calsync.Attempt{}, notFound("attempt", id)
	}
	return a, wrap("Attempt", err)
}

// DueAttempts implements [calsync.DeadLetters].
func (s *Store) DueAttempts(ctx context.Context, t time.Time, limit int) ([]calsync.Attempt, error) {
	if limit <= 0 {
		return nil, fmt.Errorf("postgres: DueAttempts: limit %d is not positive", limit)
	}
	rows, _ := s.pool.Query(ctx, s.sql(`SELECT `+attemptColumns+` FROM {schema}.attempts WHERE next_attempt <= $1 ORDER BY next_attempt, id LIMIT $2`), t, limit)
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (calsync.Attempt, error) { return scanAttempt(r) })
	if err != nil {
		return nil, wrap("DueAttempts", err)
	}
	return out, nil
}

// ClearAttempt implements [calsync.DeadLetters].
func (s *Store) ClearAttempt(ctx context.Context, id string) error {
	_, err := s.pool.Exec(ctx, s.sql(`DELETE FROM {schema}.attempts WHERE id = $1`), id)
	return wrap("ClearAttempt", err)
}

// AddDeadLetter implements [calsync.DeadLetters].
func (s *Store) AddDeadLetter(ctx context.Context, d calsync.DeadLetter) error {
	if d.ID == "" {
		return errors.New("postgres: AddDeadLetter: empty id")
	}
	n := d.Notification
	return pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, s.sql(`INSERT INTO {schema}.dead_letters (`+deadColumns+`) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)
			ON CONFLICT (id) DO UPDATE SET kind = excluded.kind, provider = excluded.provider,
				subscription_id = excluded.subscription_id, calendar_id = excluded.calendar_id,
				message_id = excluded.message_id, received = excluded.received, attempts = excluded.attempts,
				last_error = excluded.last_error, first_failed = excluded.first_failed, last_failed = excluded.last_failed`),
			d.ID, int16(n.Kind), n.Provider, n.SubscriptionID, n.CalendarID, n.MessageID, n.Received, d.Attempts, d.LastError, d.FirstFailed, d.LastFailed); err != nil {
			return wrap("AddDeadLetter", err)
		}
		_, err := tx.Exec(ctx, s.sql(`DELETE FROM {schema}.attempts WHERE id = $1`), d.ID)
		return wrap("AddDeadLetter", err)
	})
}

// DeadLetter implements [calsync.DeadLetters].
func (s *Store) DeadLetter(ctx context.Context, id string) (calsync.DeadLetter, error) {
	d, err := scanDead(s.pool.QueryRow(ctx, s.sql(`SELECT `+deadColumns+` FROM {schema}.dead_letters WHERE id = $1`), id))
	if errors.Is(err, pgx.ErrNoRows) {
		return calsync.DeadLetter{}, notFound("dead letter", id)
	}
	return d, wrap("DeadLetter", err)
}

// ListDeadLetters implements [calsync.DeadLetters].
func (s *Store) ListDeadLetters(ctx context.Context, afterID string, limit int) ([]calsync.DeadLetter, error) {
	if limit <= 0 {
		return nil, fmt.Errorf("postgres: ListDeadLetters: limit %d is not positive", limit)
	}
	rows, _ := s.pool.Query(ctx, s.sql(`SELECT `+deadColumns+` FROM {schema}.dead_letters WHERE id > $1 ORDER BY id LIMIT $2`), afterID, limit)
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (calsync.DeadLetter, error) { return scanDead(r) })
	if err != nil {
		return nil, wrap("ListDeadLetters", err)
	}
	return out, nil
}

// DeleteDeadLetter implements [calsync.DeadLetters].
func (s *Store) DeleteDeadLetter(ctx context.Context, id string) error {
	tag, err := s.pool.Exec(ctx, s.sql(`DELETE FROM {schema}.dead_letters WHERE id = $1`), id)
	if err != nil {
		return wrap("DeleteDeadLetter", err)
	}
	if tag.RowsAffected() == 0 {
		return notFound("dead letter", id)
	}
	return nil
}
