package postgres

import (
	"context"
	"errors"
	"fmt"

	"github.com/calsync/calsync/vault"
	"github.com/jackc/pgx/v5"
)

// PutAccountToken implements [vault.Accounts].
func (s *Store) PutAccountToken(ctx context.Context, t vault.SealedToken) error {
	if t.AccountID == "" {
		return errors.New("postgres: PutAccountToken: empty account ID")
	}
	ct := t.Ciphertext
	if ct == nil {
		ct = []byte{}
	}
	_, err := s.pool.Exec(ctx, s.sql(`INSERT INTO {schema}.account_tokens (account_id, key_id, ciphertext, updated) VALUES ($1, $2, $3, $4)
		ON CONFLICT (account_id) DO UPDATE SET key_id = excluded.key_id, ciphertext = excluded.ciphertext, updated = excluded.updated`),
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
	t, err := scanToken(s.pool.QueryRow(ctx, s.sql(`SELECT account_id, key_id, ciphertext, updated FROM {schema}.account_tokens WHERE account_id = $1`), accountID))
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
	rows, _ := s.pool.Query(ctx, s.sql(`SELECT account_id, key_id, ciphertext, updated FROM {schema}.account_tokens WHERE account_id > $1 ORDER BY account_id LIMIT $2`), afterID, limit)
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (vault.SealedToken, error) { return scanToken(r) })
	if err != nil {
		return nil, wrap("ListAccountTokens", err)
	}
	return out, nil
}

// DeleteAccountToken implements [vault.Accounts].
func (s *Store) DeleteAccountToken(ctx context.Context, accountID string) error {
	tag, err := s.pool.Exec(ctx, s.sql(`DELETE FROM {schema}.account_tokens WHERE account_id = $1`), accountID)
	if err != nil {
		return wrap("DeleteAccountToken", err)
	}
	if tag.RowsAffected() == 0 {
		return notFound("account", accountID)
	}
	return nil
}
