package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/calsync/calsync"
)

const deadColumns = `id, kind, provider, subscription_id, calendar_id, message_id, received,
	attempts, last_error, first_failed, last_failed`

// attemptColumns are a dead letter's columns and when to try again.
const attemptColumns = deadColumns + `, next_attempt`

// RecordAttempt implements [calsync.DeadLetters].
func (s *Store) RecordAttempt(ctx context.Context, id string, n calsync.Notification, lastErr string, at, next time.Time) (calsync.Attempt, error) {
	if id == "" {
		return calsync.Attempt{}, errors.New("sqlite: RecordAttempt: empty id")
	}
	ts, err := encAll(n.Received, at, next)
	if err != nil {
		return calsync.Attempt{}, err
	}
	a, err := scanAttempt(s.w.QueryRowContext(ctx, `INSERT INTO attempts (`+attemptColumns+`)
		VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, 1, ?8, ?9, ?9, ?10)
		ON CONFLICT (id) DO UPDATE SET kind = excluded.kind, provider = excluded.provider,
			subscription_id = excluded.subscription_id, calendar_id = excluded.calendar_id,
			message_id = excluded.message_id, received = excluded.received,
			attempts = attempts.attempts + 1, last_error = excluded.last_error,
			last_failed = excluded.last_failed, next_attempt = excluded.next_attempt
		RETURNING `+attemptColumns,
		id, int(n.Kind), n.Provider, n.SubscriptionID, n.CalendarID, n.MessageID, ts[0], lastErr, ts[1], ts[2]))
	if err != nil {
		return calsync.Attempt{}, wrap("RecordAttempt", err)
	}
	return a, nil
}

func scanAttempt(sc scanner) (calsync.Attempt, error) {
	var a calsync.Attempt
	var kind int
	var recv, first, last, next int64
	if err := sc.Scan(&a.ID, &kind, &a.Notification.Provider, &a.Notification.SubscriptionID, &a.Notification.CalendarID,
		&a.Notification.MessageID, &recv, &a.Attempts, &a.LastError, &first, &last, &next); err != nil {
		return calsync.Attempt{}, err
	}
	a.Notification.Kind = calsync.NotificationKind(kind)
	a.Notification.Received, a.FirstFailed, a.LastFailed, a.NextAttempt = dec(recv), dec(first), dec(last), dec(next)
	return a, nil
}

func scanDead(sc scanner) (calsync.DeadLetter, error) {
	var d calsync.DeadLetter
	var kind int
	var recv, first, last int64
	if err := sc.Scan(&d.ID, &kind, &d.Notification.Provider, &d.Notification.SubscriptionID, &d.Notification.CalendarID,
		&d.Notification.MessageID, &recv, &d.Attempts, &d.LastError, &first, &last); err != nil {
		return calsync.DeadLetter{}, err
	}
	d.Notification.Kind = calsync.NotificationKind(kind)
	d.Notification.Received, d.FirstFailed, d.LastFailed = dec(recv), dec(first), dec(last)
	return d, nil
}

// Attempt implements [calsync.DeadLetters].
func (s *Store) Attempt(ctx context.Context, id string) (calsync.Attempt, error) {
	a, err := scanAttempt(s.r.QueryRowContext(ctx, `SELECT `+attemptColumns+` FROM attempts WHERE id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return calsync.Attempt{}, notFound("attempt", id)
	}
	return a, wrap("Attempt", err)
}

// DueAttempts implements [calsync.DeadLetters].
func (s *Store) DueAttempts(ctx context.Context, t time.Time, limit int) ([]calsync.Attempt, error) {
	if limit <= 0 {
		return nil, fmt.Errorf("sqlite: DueAttempts: limit %d is not positive", limit)
	}
	n, err := encClamp(t)
	if err != nil {
		return nil, err
	}
	rows, err := s.r.QueryContext(ctx, `SELECT `+attemptColumns+` FROM attempts WHERE next_attempt <= ? ORDER BY next_attempt, id LIMIT ?`, n, limit)
	if err != nil {
		return nil, wrap("DueAttempts", err)
	}
	defer rows.Close()
	var out []calsync.Attempt
	for rows.Next() {
		a, err := scanAttempt(rows)
		if err != nil {
			return nil, wrap("DueAttempts", err)
		}
		out = append(out, a)
	}
	return out, wrap("DueAttempts", rows.Err())
}

// ClearAttempt implements [calsync.DeadLetters].
func (s *Store) ClearAttempt(ctx context.Context, id string) error {
	_, err := s.execW(ctx, nil, qClearAttempt, id)
	return wrap("ClearAttempt", err)
}

// AddDeadLetter implements [calsync.DeadLetters].
func (s *Store) AddDeadLetter(ctx context.Context, d calsync.DeadLetter) error {
	if d.ID == "" {
		return errors.New("sqlite: AddDeadLetter: empty id")
	}
	ts, err := encAll(d.Notification.Received, d.FirstFailed, d.LastFailed)
	if err != nil {
		return err
	}
	n := d.Notification
	return s.tx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `INSERT OR REPLACE INTO dead_letters (`+deadColumns+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			d.ID, int(n.Kind), n.Provider, n.SubscriptionID, n.CalendarID, n.MessageID, ts[0], d.Attempts, d.LastError, ts[1], ts[2]); err != nil {
			return wrap("AddDeadLetter", err)
		}
		_, err := tx.ExecContext(ctx, `DELETE FROM attempts WHERE id = ?`, d.ID)
		return wrap("AddDeadLetter", err)
	})
}

// DeadLetter implements [calsync.DeadLetters].
func (s *Store) DeadLetter(ctx context.Context, id string) (calsync.DeadLetter, error) {
	d, err := scanDead(s.r.QueryRowContext(ctx, `SELECT `+deadColumns+` FROM dead_letters WHERE id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return calsync.DeadLetter{}, notFound("dead letter", id)
	}
	return d, wrap("DeadLetter", err)
}

// ListDeadLetters implements [calsync.DeadLetters].
func (s *Store) ListDeadLetters(ctx context.Context, afterID string, limit int) ([]calsync.DeadLetter, error) {
	if limit <= 0 {
		return nil, fmt.Errorf("sqlite: ListDeadLetters: limit %d is not positive", limit)
	}
	rows, err := s.r.QueryContext(ctx, `SELECT `+deadColumns+` FROM dead_letters WHERE id > ? ORDER BY id LIMIT ?`, afterID, limit)
	if err != nil {
		return nil, wrap("ListDeadLetters", err)
	}
	defer rows.Close()
	var out []calsync.DeadLetter
	for rows.Next() {
		d, err := scanDead(rows)
		if err != nil {
			return nil, wrap("ListDeadLetters", err)
		}
		out = append(out, d)
	}
	return out, wrap("ListDeadLetters", rows.Err())
}

// DeleteDeadLetter implements [calsync.DeadLetters].
func (s *Store) DeleteDeadLetter(ctx context.Context, id string) error {
	r, err := s.w.ExecContext(ctx, `DELETE FROM dead_letters WHERE id = ?`, id)
	if err != nil {
		return wrap("DeleteDeadLetter", err)
	}
	if n, _ := r.RowsAffected(); n == 0 {
		return notFound("dead letter", id)
	}
	return nil
}
