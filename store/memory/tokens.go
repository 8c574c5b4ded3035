package memory

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/calsync/calsync/vault"
)

// PutAccountToken implements [vault.Accounts].
func (s *Store) PutAccountToken(ctx context.Context, t vault.SealedToken) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if t.AccountID == "" {
		return errors.New("memory: PutAccountToken: empty account ID")
	}
	t.Ciphertext = slices.Clone(t.Ciphertext)
	x := s.lock()
	defer x.mu.Unlock()
	x.tokens[t.AccountID] = t
	return nil
}

// AccountToken implements [vault.Accounts].
func (s *Store) AccountToken(ctx context.Context, accountID string) (vault.SealedToken, error) {
	if err := ctx.Err(); err != nil {
		return vault.SealedToken{}, err
	}
	x := s.lock()
	defer x.mu.Unlock()
	t, ok := x.tokens[accountID]
	if !ok {
		return vault.SealedToken{}, notFound("account", accountID)
	}
	t.Ciphertext = slices.Clone(t.Ciphertext)
	return t, nil
}

// ListAccountTokens implements [vault.Accounts].
func (s *Store) ListAccountTokens(ctx context.Context, afterID string, limit int) ([]vault.SealedToken, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if limit <= 0 {
		return nil, fmt.Errorf("memory: ListAccountTokens: limit %d is not positive", limit)
	}
	x := s.lock()
	defer x.mu.Unlock()
	var out []vault.SealedToken
	for id, t := range x.tokens {
		if id > afterID {
			t.Ciphertext = slices.Clone(t.Ciphertext)
			out = append(out, t)
		}
	}
	slices.SortFunc(out, func(a, b vault.SealedToken) int { return strings.Compare(a.AccountID, b.AccountID) })
	return out[:min(len(out), limit)], nil
}

// DeleteAccountToken implements [vault.Accounts].
func (s *Store) DeleteAccountToken(ctx context.Context, accountID string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	x := s.lock()
	defer x.mu.Unlock()
	if _, ok := x.tokens[accountID]; !ok {
		return notFound("account", accountID)
	}
	delete(x.tokens, accountID)
	return nil
}
