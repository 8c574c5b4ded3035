package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/calsync/calsync/vault"
)

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
