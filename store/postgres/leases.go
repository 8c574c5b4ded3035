package postgres

import (
	"context"
	"errors"
	"time"

	"github.com/jackc/pgx/v5"
)

// AcquireLease implements [calsync.Leases]: one upsert that takes a free,
// expired or own lease and reports whether it did. Concurrent callers
// serialise on the lease's row and the loser sees the winner's expiry, so
// exactly one takes a free lease.
func (s *Store) AcquireLease(ctx context.Context, name, owner string, now time.Time, ttl time.Duration) (bool, error) {
	if name == "" || owner == "" {
		return false, errors.New("postgres: AcquireLease: empty name or owner")
	}
	var n string
	err := s.pool.QueryRow(ctx, s.sql(`INSERT INTO {schema}.leases AS l (name, owner, expires) VALUES ($1, $2, $3)
		ON CONFLICT (name) DO UPDATE SET owner = excluded.owner, expires = excluded.expires
		WHERE l.expires <= $4 OR l.owner = excluded.owner
		RETURNING name`), name, owner, now.Add(ttl), now).Scan(&n)
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
	_, err := s.pool.Exec(ctx, s.sql(`DELETE FROM {schema}.leases WHERE name = $1 AND owner = $2`), name, owner)
	return wrap("ReleaseLease", err)
}
