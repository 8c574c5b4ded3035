package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/calsync/calsync"
	"github.com/calsync/calsync/vault"
)

// Ledger states.
const (
	ledgerBegun  = 1
	ledgerDone   = 2
	ledgerFailed = 3
)

// BeginNotification implements [calsync.Ledger]: one upsert that claims a
// new or failed key and reports whether it claimed it.
func (s *Store) BeginNotification(ctx context.Context, key string, now time.Time) (bool, error) {
	t, err := enc(now)
	if err != nil {
		return false, err
	}
	rows, err := s.w.QueryContext(ctx, `INSERT INTO notification_ledger (key, state, begun, ended) VALUES (?1, 1, ?2, ?3)
		ON CONFLICT (key) DO UPDATE SET state = 1, begun = excluded.begun, ended = excluded.ended
		WHERE notification_ledger.state = 3
		RETURNING key`, key, t, zeroTime)
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
	r, err := s.w.ExecContext(ctx, `UPDATE notification_ledger SET state = ?, ended = ? WHERE key = ?`, state, t, key)
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

const attemptColumns = `id, kind, provider, subscription_id, calendar_id, message_id, received,
	attempts, last_error, first_failed, last_failed, next_attempt`

const deadColumns = `id, kind, provider, subscription_id, calendar_id, message_id, received,
	attempts, last_error, first_failed, last_failed`

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

func encAll(ts ...time.Time) ([]int64, error) {
	out := make([]int64, len(ts))
	for i, t := range ts {
		n, err := enc(t)
		if err != nil {
			return nil, err
		}
		out[i] = n
	}
	return out, nil
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
	_, err := s.w.ExecContext(ctx, `DELETE FROM attempts WHERE id = ?`, id)
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

// PutAccountToken implements [vault.Accounts].
func (s *Store) PutAccountToken(ctx context.Context, t vault.SealedToken) error {
	if t.AccountID == "" {
		return errors.New("sqlite: PutAccountToken: empty account ID")
	}
	upd, err := enc(t.Updated)
	if err != nil {
		return err
	}
	_, err = s.w.ExecContext(ctx, `INSERT OR REPLACE INTO account_tokens (account_id, key_id, ciphertext, updated) VALUES (?, ?, ?, ?)`,
		t.AccountID, t.KeyID, append([]byte{}, t.Ciphertext...), upd)
	return wrap("PutAccountToken", err)
}

func scanToken(sc scanner) (vault.SealedToken, error) {
	var t vault.SealedToken
	var upd int64
	if err := sc.Scan(&t.AccountID, &t.KeyID, &t.Ciphertext, &upd); err != nil {
		return vault.SealedToken{}, err
	}
	t.Updated = dec(upd)
	return t, nil
}

// AccountToken implements [vault.Accounts].
func (s *Store) AccountToken(ctx context.Context, accountID string) (vault.SealedToken, error) {
	t, err := scanToken(s.r.QueryRowContext(ctx, `SELECT account_id, key_id, ciphertext, updated FROM account_tokens WHERE account_id = ?`, accountID))
	if errors.Is(err, sql.ErrNoRows) {
		return vault.SealedToken{}, notFound("account", accountID)
	}
	return t, wrap("AccountToken", err)
}

// ListAccountTokens implements [vault.Accounts].
func (s *Store) ListAccountTokens(ctx context.Context, afterID string, limit int) ([]vault.SealedToken, error) {
	if limit <= 0 {
		return nil, fmt.Errorf("sqlite: ListAccountTokens: limit %d is not positive", limit)
	}
	rows, err := s.r.QueryContext(ctx, `SELECT account_id, key_id, ciphertext, updated FROM account_tokens WHERE account_id > ? ORDER BY account_id LIMIT ?`, afterID, limit)
	if err != nil {
		return nil, wrap("ListAccountTokens", err)
	}
	defer rows.Close()
	var out []vault.SealedToken
	for rows.Next() {
		t, err := scanToken(rows)
		if err != nil {
			return nil, wrap("ListAccountTokens", err)
		}
		out = append(out, t)
	}
	return out, wrap("ListAccountTokens", rows.Err())
}

// DeleteAccountToken implements [vault.Accounts].
func (s *Store) DeleteAccountToken(ctx context.Context, accountID string) error {
	r, err := s.w.ExecContext(ctx, `DELETE FROM account_tokens WHERE account_id = ?`, accountID)
	if err != nil {
		return wrap("DeleteAccountToken", err)
	}
	if n, _ := r.RowsAffected(); n == 0 {
		return notFound("account", accountID)
	}
	return nil
}

// AcquireLease implements [calsync.Leases]: one upsert that takes a free,
// expired or own lease and reports whether it did. Writes are serialised,
// so exactly one of concurrent callers (in this process or another) takes a
// free lease.
func (s *Store) AcquireLease(ctx context.Context, name, owner string, now time.Time, ttl time.Duration) (bool, error) {
	if name == "" || owner == "" {
		return false, errors.New("sqlite: AcquireLease: empty name or owner")
	}
	ts, err := encAll(now, now.Add(ttl))
	if err != nil {
		return false, err
	}
	rows, err := s.w.QueryContext(ctx, `INSERT INTO leases (name, owner, expires) VALUES (?1, ?2, ?3)
		ON CONFLICT (name) DO UPDATE SET owner = excluded.owner, expires = excluded.expires
		WHERE leases.expires <= ?4 OR leases.owner = excluded.owner
		RETURNING name`, name, owner, ts[1], ts[0])
	if err != nil {
		return false, wrap("AcquireLease", err)
	}
	defer rows.Close()
	acquired := rows.Next()
	if err := rows.Err(); err != nil {
		return false, wrap("AcquireLease", err)
	}
	return acquired, nil
}

// ReleaseLease implements [calsync.Leases].
func (s *Store) ReleaseLease(ctx context.Context, name, owner string) error {
	_, err := s.w.ExecContext(ctx, `DELETE FROM leases WHERE name = ? AND owner = ?`, name, owner)
	return wrap("ReleaseLease", err)
}
