package memory

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/calsync/calsync"
)

// RecordAttempt implements [calsync.DeadLetters].
func (s *Store) RecordAttempt(ctx context.Context, id string, n calsync.Notification, lastErr string, at, next time.Time) (calsync.Attempt, error) {
	if err := ctx.Err(); err != nil {
		return calsync.Attempt{}, err
	}
	if id == "" {
		return calsync.Attempt{}, errors.New("memory: RecordAttempt: empty id")
	}
	x := s.lock()
	defer x.mu.Unlock()
	a, ok := x.attempts[id]
	if !ok {
		a = calsync.Attempt{ID: id, FirstFailed: at}
	}
	a.Notification, a.LastError, a.LastFailed, a.NextAttempt = n, lastErr, at, next
	a.Attempts++
	x.attempts[id] = a
	return a, nil
}

// Attempt implements [calsync.DeadLetters].
func (s *Store) Attempt(ctx context.Context, id string) (calsync.Attempt, error) {
	if err := ctx.Err(); err != nil {
		return calsync.Attempt{}, err
	}
	x := s.lock()
	defer x.mu.Unlock()
	a, ok := x.attempts[id]
	if !ok {
		return calsync.Attempt{}, notFound("attempt", id)
	}
	return a, nil
}

// DueAttempts implements [calsync.DeadLetters].
func (s *Store) DueAttempts(ctx context.Context, t time.Time, limit int) ([]calsync.Attempt, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if limit <= 0 {
		return nil, fmt.Errorf("memory: DueAttempts: limit %d is not positive", limit)
	}
	x := s.lock()
	defer x.mu.Unlock()
	var out []calsync.Attempt
	for _, a := range x.attempts {
		if !a.NextAttempt.After(t) {
			out = append(out, a)
		}
	}
	slices.SortFunc(out, func(a, b calsync.Attempt) int {
		if c := a.NextAttempt.Compare(b.NextAttempt); c != 0 {
			return c
		}
		return strings.Compare(a.ID, b.ID)
	})
	return out[:min(len(out), limit)], nil
}

// ClearAttempt implements [calsync.DeadLetters].
func (s *Store) ClearAttempt(ctx context.Context, id string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	x := s.lock()
	defer x.mu.Unlock()
	delete(x.attempts, id)
	return nil
}

// AddDeadLetter implements [calsync.DeadLetters].
func (s *Store) AddDeadLetter(ctx context.Context, d calsync.DeadLetter) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if d.ID == "" {
		return errors.New("memory: AddDeadLetter: empty id")
	}
	x := s.lock()
	defer x.mu.Unlock()
	x.dead[d.ID] = d
	delete(x.attempts, d.ID)
	return nil
}

// DeadLetter implements [calsync.DeadLetters].
func (s *Store) DeadLetter(ctx context.Context, id string) (calsync.DeadLetter, error) {
	if err := ctx.Err(); err != nil {
		return calsync.DeadLetter{}, err
	}
	x := s.lock()
	defer x.mu.Unlock()
	d, ok := x.dead[id]
	if !ok {
		return calsync.DeadLetter{}, notFound("dead letter", id)
	}
	return d, nil
}

// ListDeadLetters implements [calsync.DeadLetters].
func (s *Store) ListDeadLetters(ctx context.Context, afterID string, limit int) ([]calsync.DeadLetter, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if limit <= 0 {
		return nil, fmt.Errorf("memory: ListDeadLetters: limit %d is not positive", limit)
	}
	x := s.lock()
	defer x.mu.Unlock()
	var out []calsync.DeadLetter
	for id, d := range x.dead {
		if id > afterID {
			out = append(out, d)
		}
	}
	slices.SortFunc(out, func(a, b calsync.DeadLetter) int { return strings.Compare(a.ID, b.ID) })
	return out[:min(len(out), limit)], nil
}

// DeleteDeadLetter implements [calsync.DeadLetters].
func (s *Store) DeleteDeadLetter(ctx context.Context, id string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	x := s.lock()
	defer x.mu.Unlock()
	if _, ok := x.dead[id]; !ok {
		return notFound("dead letter", id)
	}
	delete(x.dead, id)
	return nil
}
