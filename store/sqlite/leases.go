package sqlite

import (
	"context"
	"errors"
	"time"
)

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
