package memory

import (
	"context"
	"errors"
	"slices"
	"strings"

	"github.com/calsync/calsync"
)

// Account implements [calsync.AccountStore].
func (s *Store) Account(ctx context.Context, id string) (calsync.Account, error) {
	if err := ctx.Err(); err != nil {
		return calsync.Account{}, err
	}
	x := s.lock()
	defer x.mu.Unlock()
	a, ok := x.accounts[id]
	if !ok {
		return calsync.Account{}, notFound("account", id)
	}
	a.Calendars = slices.Clone(a.Calendars)
	return a, nil
}

// ListAccounts implements [calsync.AccountStore].
func (s *Store) ListAccounts(ctx context.Context) ([]calsync.Account, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	x := s.lock()
	defer x.mu.Unlock()
	out := make([]calsync.Account, 0, len(x.accounts))
	for _, a := range x.accounts {
		a.Calendars = slices.Clone(a.Calendars)
		out = append(out, a)
	}
	slices.SortFunc(out, func(a, b calsync.Account) int { return strings.Compare(a.ID, b.ID) })
	return out, nil
}

// SwapAccount implements [calsync.AccountStore].
func (s *Store) SwapAccount(ctx context.Context, a calsync.Account, expect calsync.AccountStatus) (bool, error) {
	if err := ctx.Err(); err != nil {
		return false, err
	}
	if a.ID == "" {
		return false, errors.New("memory: SwapAccount: empty account ID")
	}
	x := s.lock()
	defer x.mu.Unlock()
	cur, ok := x.accounts[a.ID]
	if (expect == "" && ok) || (expect != "" && (!ok || cur.Status != expect)) {
		return false, nil
	}
	a.Calendars = slices.Clone(a.Calendars)
	x.accounts[a.ID] = a
	return true, nil
}

// DeleteAccount implements [calsync.AccountStore].
func (s *Store) DeleteAccount(ctx context.Context, id string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	x := s.lock()
	defer x.mu.Unlock()
	if _, ok := x.accounts[id]; !ok {
		return notFound("account", id)
	}
	delete(x.accounts, id)
	return nil
}

var _ calsync.AccountStore = (*Store)(nil)
