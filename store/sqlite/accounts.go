package sqlite

import (
	"context"
	"database/sql"
	"errors"

	"github.com/calsync/calsync"
	"github.com/calsync/calsync/store/internal/accountrec"
)

var _ calsync.AccountStore = (*Store)(nil)

const accountCols = `id, provider, status, reason, changed, calendars`

func scanAccount(sc scanner) (calsync.Account, error) {
	var (
		a       calsync.Account
		status  string
		changed int64
		cals    []byte
	)
	if err := sc.Scan(&a.ID, &a.Provider, &status, &a.Reason, &changed, &cals); err != nil {
		return calsync.Account{}, err
	}
	a.Status, a.Changed = calsync.AccountStatus(status), dec(changed)
	var err error
	a.Calendars, err = accountrec.Decode(cals)
	return a, err
}

// Account implements [calsync.AccountStore].
func (s *Store) Account(ctx context.Context, id string) (calsync.Account, error) {
	a, err := scanAccount(s.r.QueryRowContext(ctx, `SELECT `+accountCols+` FROM accounts WHERE id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return calsync.Account{}, notFound("account", id)
	}
	return a, wrap("Account", err)
}

// ListAccounts implements [calsync.AccountStore].
func (s *Store) ListAccounts(ctx context.Context) ([]calsync.Account, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT `+accountCols+` FROM accounts ORDER BY id`)
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
		return false, errors.New("sqlite: SwapAccount: empty account ID")
	}
	changed, err := enc(a.Changed)
	if err != nil {
		return false, err
	}
	cals, err := accountrec.Encode(a.Calendars)
	if err != nil {
		return false, wrap("SwapAccount", err)
	}
	var calsArg any // NULL for nil, never listed
	if cals != nil {
		calsArg = string(cals)
	}
	var res sql.Result
	if expect == "" {
		res, err = s.w.ExecContext(ctx, `INSERT INTO accounts (`+accountCols+`) VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (id) DO NOTHING`,
			a.ID, a.Provider, string(a.Status), a.Reason, changed, calsArg)
	} else {
		res, err = s.w.ExecContext(ctx, `UPDATE accounts SET provider = ?, status = ?, reason = ?, changed = ?, calendars = ? WHERE id = ? AND status = ?`,
			a.Provider, string(a.Status), a.Reason, changed, calsArg, a.ID, string(expect))
	}
	if err != nil {
		return false, wrap("SwapAccount", err)
	}
	n, err := res.RowsAffected()
	return n == 1, wrap("SwapAccount", err)
}

// DeleteAccount implements [calsync.AccountStore].
func (s *Store) DeleteAccount(ctx context.Context, id string) error {
	res, err := s.w.ExecContext(ctx, `DELETE FROM accounts WHERE id = ?`, id)
	if err != nil {
		return wrap("DeleteAccount", err)
	}
	if n, err := res.RowsAffected(); err == nil && n == 0 {
		return notFound("account", id)
	}
	return nil
}
