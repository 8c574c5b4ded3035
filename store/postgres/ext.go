package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/calsync/calsync"
	"github.com/calsync/calsync/vault"
	"github.com/jackc/pgx/v5"
)

// Ledger states.
const (
	ledgerDone   = 2
	ledgerFailed = 3
)

// BeginNotification implements [calsync.Ledger]: one upsert that claims a
// new or failed key and reports whether it claimed it. Concurrent callers
// serialise on the key's row; exactly one claims it.
func (s *Store) BeginNotification(ctx context.Context, key string, now time.Time) (bool, error) {
	var k string
	err := s.pool.QueryRow(ctx, `INSERT INTO notification_ledger AS l (key, state, begun, ended) VALUES ($1, 1, $2, '0001-01-01 00:00:00+00')
		ON CONFLICT (key) DO UPDATE SET state = 1, begun = excluded.begun, ended = excluded.ended
		WHERE l.state = 3
		RETURNING key`, key, now).Scan(&k)
	if errors.Is(err, pgx.ErrNoRows) {
		return true, nil
	}
	if err != nil {
		return false, wrap("BeginNotification", err)
	}
	return false, nil
}

func (s *Store) endNotification(ctx context.Context, op, key string, state int, now time.Time) error {
	tag, err := s.pool.Exec(ctx, `UPDATE notification_ledger SET state = $1, ended = $2 WHERE key = $3`, state, now, key)
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
	tag, err := s.pool.Exec(ctx, `DELETE FROM notification_ledger WHERE begun < $1`, olderThan)
	if err != nil {
		return 0, wrap("PruneNotifications", err)
	}
	return int(tag.RowsAffected()), nil
}

const attemptColumns = `id, kind, provider, subscription_id, calendar_id, message_id, received,
	attempts, last_error, first_failed, last_failed, next_attempt`

const deadColumns = `id, kind, provider, subscription_id, calendar_id, message_id, received,
	attempts, last_error, first_failed, last_failed`

// RecordAttempt implements [calsync.DeadLetters].
func (s *Store) RecordAttempt(ctx context.Context, id string, n calsync.Notification, lastErr string, at, next time.Time) (calsync.Attempt, error) {
	if id == "" {
		return calsync.Attempt{}, errors.New("postgres: RecordAttempt: empty id")
	}
	a, err := scanAttempt(s.pool.QueryRow(ctx, `INSERT INTO attempts AS a (`+attemptColumns+`)
		VALUES ($1, $2, $3, $4, $5, $6, $7, 1, $8, $9, $9, $10)
		ON CONFLICT (id) DO UPDATE SET kind = excluded.kind, provider = excluded.provider,
			subscription_id = excluded.subscription_id, calendar_id = excluded.calendar_id,
			message_id = excluded.message_id, received = excluded.received,
			attempts = a.attempts + 1, last_error = excluded.last_error,
			last_failed = excluded.last_failed, next_attempt = excluded.next_attempt
		RETURNING `+attemptColumns,
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
	a, err := scanAttempt(s.pool.QueryRow(ctx, `SELECT `+attemptColumns+` FROM attempts WHERE id = $1`, id))
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
	rows, _ := s.pool.Query(ctx, `SELECT `+attemptColumns+` FROM attempts WHERE next_attempt <= $1 ORDER BY next_attempt, id LIMIT $2`, t, limit)
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (calsync.Attempt, error) { return scanAttempt(r) })
	if err != nil {
		return nil, wrap("DueAttempts", err)
	}
	return out, nil
}

// ClearAttempt implements [calsync.DeadLetters].
func (s *Store) ClearAttempt(ctx context.Context, id string) error {
	_, err := s.pool.Exec(ctx, `DELETE FROM attempts WHERE id = $1`, id)
	return wrap("ClearAttempt", err)
}

// AddDeadLetter implements [calsync.DeadLetters].
func (s *Store) AddDeadLetter(ctx context.Context, d calsync.DeadLetter) error {
	if d.ID == "" {
		return errors.New("postgres: AddDeadLetter: empty id")
	}
	n := d.Notification
	return pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `INSERT INTO dead_letters (`+deadColumns+`) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)
			ON CONFLICT (id) DO UPDATE SET kind = excluded.kind, provider = excluded.provider,
				subscription_id = excluded.subscription_id, calendar_id = excluded.calendar_id,
				message_id = excluded.message_id, received = excluded.received, attempts = excluded.attempts,
				last_error = excluded.last_error, first_failed = excluded.first_failed, last_failed = excluded.last_failed`,
			d.ID, int16(n.Kind), n.Provider, n.SubscriptionID, n.CalendarID, n.MessageID, n.Received, d.Attempts, d.LastError, d.FirstFailed, d.LastFailed); err != nil {
			return wrap("AddDeadLetter", err)
		}
		_, err := tx.Exec(ctx, `DELETE FROM attempts WHERE id = $1`, d.ID)
		return wrap("AddDeadLetter", err)
	})
}

// DeadLetter implements [calsync.DeadLetters].
func (s *Store) DeadLetter(ctx context.Context, id string) (calsync.DeadLetter, error) {
	d, err := scanDead(s.pool.QueryRow(ctx, `SELECT `+deadColumns+` FROM dead_letters WHERE id = $1`, id))
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
	rows, _ := s.pool.Query(ctx, `SELECT `+deadColumns+` FROM dead_letters WHERE id > $1 ORDER BY id LIMIT $2`, afterID, limit)
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (calsync.DeadLetter, error) { return scanDead(r) })
	if err != nil {
		return nil, wrap("ListDeadLetters", err)
	}
	return out, nil
}

// DeleteDeadLetter implements [calsync.DeadLetters].
func (s *Store) DeleteDeadLetter(ctx context.Context, id string) error {
	tag, err := s.pool.Exec(ctx, `DELETE FROM dead_letters WHERE id = $1`, id)
	if err != nil {
		return wrap("DeleteDeadLetter", err)
	}
	if tag.RowsAffected() == 0 {
		return notFound("dead letter", id)
	}
	return nil
}

// PutAccountToken implements [vault.Accounts].
func (s *Store) PutAccountToken(ctx context.Context, t vault.SealedToken) error {
	if t.AccountID == "" {
		return errors.New("postgres: PutAccountToken: empty account ID")
	}
	ct := t.Ciphertext
	if ct == nil {
		ct = []byte{}
	}
	_, err := s.pool.Exec(ctx, `INSERT INTO account_tokens (account_id, key_id, ciphertext, updated) VALUES ($1, $2, $3, $4)
		ON CONFLICT (account_id) DO UPDATE SET key_id = excluded.key_id, ciphertext = excluded.ciphertext, updated = excluded.updated`,
		t.AccountID, t.KeyID, ct, t.Updated)
	return wrap("PutAccountToken", err)
}

func scanToken(row pgx.Row) (vault.SealedToken, error) {
	var t vault.SealedToken
	if err := row.Scan(&t.AccountID, &t.KeyID, &t.Ciphertext, &t.Updated); err != nil {
		return vault.SealedToken{}, err
	}
	t.Updated = utc(t.Updated)
	return t, nil
}

// AccountToken implements [vault.Accounts].
func (s *Store) AccountToken(ctx context.Context, accountID string) (vault.SealedToken, error) {
	t, err := scanToken(s.pool.QueryRow(ctx, `SELECT account_id, key_id, ciphertext, updated FROM account_tokens WHERE account_id = $1`, accountID))
	if errors.Is(err, pgx.ErrNoRows) {
		return vault.SealedToken{}, notFound("account", accountID)
	}
	return t, wrap("AccountToken", err)
}

// ListAccountTokens implements [vault.Accounts].
func (s *Store) ListAccountTokens(ctx context.Context, afterID string, limit int) ([]vault.SealedToken, error) {
	if limit <= 0 {
		return nil, fmt.Errorf("postgres: ListAccountTokens: limit %d is not positive", limit)
	}
	rows, _ := s.pool.Query(ctx, `SELECT account_id, key_id, ciphertext, updated FROM account_tokens WHERE account_id > $1 ORDER BY account_id LIMIT $2`, afterID, limit)
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (vault.SealedToken, error) { return scanToken(r) })
	if err != nil {
		return nil, wrap("ListAccountTokens", err)
	}
	return out, nil
}

// DeleteAccountToken implements [vault.Accounts].
func (s *Store) DeleteAccountToken(ctx context.Context, accountID string) error {
	tag, err := s.pool.Exec(ctx, `DELETE FROM account_tokens WHERE account_id = $1`, accountID)
	if err != nil {
		return wrap("DeleteAccountToken", err)
	}
	if tag.RowsAffected() == 0 {
		return notFound("account", accountID)
	}
	return nil
}

// AcquireLease implements [calsync.Leases]: one upsert that takes a free,
// expired or own lease and reports whether it did. Concurrent callers
// serialise on the lease's row and the loser sees the winner's expiry, so
// exactly one takes a free lease.
func (s *Store) AcquireLease(ctx context.Context, name, owner string, now time.Time, ttl time.Duration) (bool, error) {
	if name == "" || owner == "" {
		return false, errors.New("postgres: AcquireLease: empty name or owner")
	}
	var n string
	err := s.pool.QueryRow(ctx, `INSERT INTO leases AS l (name, owner, expires) VALUES ($1, $2, $3)
		ON CONFLICT (name) DO UPDATE SET owner = excluded.owner, expires = excluded.expires
		WHERE l.expires <= $4 OR l.owner = excluded.owner
		RETURNING name`, name, owner, now.Add(ttl), now).Scan(&n)
	if errors.Is(err, pgx.ErrNoRows) {
		return false, nil
	}
	if err != nil {
		return false, wrap("AcquireLease", err)
	}
	return true, nil
}

// ReleaseLease implements [calsync.Leases].
func (s *Store) ReleaseLease(ctx context.Context, name, owner string) error {
	_, err := s.pool.Exec(ctx, `DELETE FROM leases WHERE name = $1 AND owner = $2`, name, owner)
	return wrap("ReleaseLease", err)
}
