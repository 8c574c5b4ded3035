package postgres

import (
	"context"
	"errors"

	"github.com/calsync/calsync"
	"github.com/calsync/calsync/store/internal/accountrec"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

var _ calsync.AccountStore = (*Store)(nil)

const accountCols = `id, provider, status, reason, changed, calendars`

func scanAccount(row pgx.Row) (calsync.Account, error) {
	var (
		a      calsync.Account
		status string
		cals   []byte
	)
	if err := row.Scan(&a.ID, &a.Provider, &status, &a.Reason, &a.Changed, &cals); err != nil {
		return calsync.Account{}, err
	}
	a.Status, a.Changed = calsync.AccountStatus(status), utc(a.Changed)
	var err error
	a.Calendars, err = accountrec.Decode(cals)
	return a, err
}

// Account implements [calsync.AccountStore].
func (s *Store) Account(ctx context.Context, id string) (calsync.Account, error) {
	a, err := scanAccount(s.pool.QueryRow(ctx, s.sql(`SELECT `+accountCols+` FROM {schema}.accounts WHERE id = $1`), id))
	if errors.Is(err, pgx.ErrNoRows) {
		return calsync.Account{}, notFound("account", id)
	}
	return a, wrap("Account", err)
}

// ListAccounts implements [calsync.AccountStore].
func (s *Store) ListAccounts(ctx context.Context) ([]calsync.Account, error) {
	rows, err := s.pool.Query(ctx, s.sql(`SELECT `+accountCols+` FROM {schema}.accounts ORDER BY id`))
	if err != nil {
		return nil, wrap("ListAccounts", err)
	}
	defer rows.Close()
	var out []calsync.Account
	for rows.Next() {
		a, err := scanAccount(rows)
		if err != nil {
			return nil, wrap("ListAccounts", err)
		}
		out = append(out, a)
	}
	return out, wrap("ListAccounts", rows.Err())
}

// SwapAccount implements [calsync.AccountStore].
func (s *Store) SwapAccount(ctx context.Context, a calsync.Account, expect calsync.AccountStatus) (bool, error) {
	if a.ID == "" {
		return false, errors.New("postgres: SwapAccount: empty account ID")
	}
	cals, err := accountrec.Encode(a.Calendars)
	if err != nil {
		return false, wrap("SwapAccount", err)
	}
	var calsArg any // NULL for nil, never listed
	if cals != nil {
		calsArg = string(cals)
	}
	var tag pgconn.CommandTag
	if expect == "" {
		tag, err = s.pool.Exec(ctx, s.sql(`INSERT INTO {schema}.accounts (`+accountCols+`) VALUES ($1, $2, $3, $4, $5, $6::jsonb) ON CONFLICT (id) DO NOTHING`),
			a.ID, a.Provider, string(a.Status), a.Reason, a.Changed, calsArg)
	} else {
		tag, err = s.pool.Exec(ctx, s.sql(`UPDATE {schema}.accounts SET provider = $2, status = $3, reason = $4, changed = $5, calendars = $6::jsonb WHERE id = $1 AND status = $7`),
			a.ID, a.Provider, string(a.Status), a.Reason, a.Changed, calsArg, string(expect))
	}
	if err != nil {
		return false, wrap("SwapAccount", err)
	}
	return tag.RowsAffected() == 1, nil
}

// DeleteAccount implements [calsync.AccountStore].
func (s *Store) DeleteAccount(ctx context.Context, id string) error {
	tag, err := s.pool.Exec(ctx, s.sql(`DELETE FROM {schema}.accounts WHERE id = $1`), id)
	if err != nil {
		return wrap("DeleteAccount", err)
	}
	if tag.RowsAffected() == 0 {
		return notFound("account", id)
	}
	return nil
}
