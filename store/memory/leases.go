package memory

import (
	"context"
	"errors"
	"time"
)

type lease struct {
	owner   string
	expires time.Time
}

// AcquireLease implements [calsync.Leases].
func (s *Store) AcquireLease(ctx context.Context, name, owner string, now time.Time, ttl time.Duration) (bool, error) {
	if err := ctx.Err(); err != nil {
		return false, err
	}
	if name == "" || owner == "" {
		return false, errors.New("memory: AcquireLease: empty name or owner")
	}
	x := s.lock()
	defer x.mu.Unlock()
	if l, ok := x.leases[name]; ok && l.owner != owner && l.expires.After(now) {
		return false, nil
	}
	x.leases[name] = lease{owner: owner, expires: now.Add(ttl)}
	return true, nil
}

// ReleaseLease implements [calsync.Leases].
func (s *Store) ReleaseLease(ctx context.Context, name, owner string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	x := s.lock()
	defer x.mu.Unlock()
	if l, ok := x.leases[name]; ok && l.owner == owner {
		delete(x.leases, name)
	}
	return nil
}
