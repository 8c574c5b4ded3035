package memory

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/calsync/calsync"
	"github.com/calsync/calsync/vault"
)

// ext is the state of the optional capabilities: [calsync.Ledger],
// [calsync.DeadLetters], [vault.Accounts] and [calsync.Leases]. Its maps
// are made on first use.
type ext struct {
	mu       sync.Mutex
	ledger   map[string]ledgerEntry
	attempts map[string]calsync.Attempt
	dead     map[string]calsync.DeadLetter
	tokens   map[string]vault.SealedToken
	leases   map[string]lease
}

type lease struct {
	owner   string
	expires time.Time
}

type ledgerState uint8

const (
	ledgerBegun ledgerState = iota + 1
	ledgerDone
	ledgerFailed
)

type ledgerEntry struct {
	state ledgerState
	begun time.Time
}

// lock locks the capabilities' state, making its maps if needed.
func (s *Store) lock() *ext {
	x := &s.ext
	x.mu.Lock()
	if x.ledger == nil {
		x.ledger = make(map[string]ledgerEntry)
		x.attempts = make(map[string]calsync.Attempt)
		x.dead = make(map[string]calsync.DeadLetter)
		x.tokens = make(map[string]vault.SealedToken)
		x.leases = make(map[string]lease)
	}
	return x
}

// BeginNotification implements [calsync.Ledger].
func (s *Store) BeginNotification(ctx context.Context, key string, now time.Time) (bool, error) {
	if err := ctx.Err(); err != nil {
		return false, err
	}
	x := s.lock()
	defer x.mu.Unlock()
	if e, ok := x.ledger[key]; ok && e.state != ledgerFailed {
		return true, nil
	}
	x.ledger[key] = ledgerEntry{state: ledgerBegun, begun: now}
	return false, nil
}

func (s *Store) endNotification(ctx context.Context, key string, st ledgerState) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	x := s.lock()
	defer x.mu.Unlock()
	e, ok := x.ledger[key]
	if !ok {
		return notFound("notification", key)
	}
	e.state = st
	x.ledger[key] = e
	return nil
}

// CompleteNotification implements [calsync.Ledger].
func (s *Store) CompleteNotification(ctx context.Context, key string, now time.Time) error {
	return s.endNotification(ctx, key, ledgerDone)
}

// FailNotification implements [calsync.Ledger].
func (s *Store) FailNotification(ctx context.Context, key string, now time.Time) error {
	return s.endNotification(ctx, key, ledgerFailed)
}

// PruneNotifications implements [calsync.Ledger].
func (s *Store) PruneNotifications(ctx context.Context, olderThan time.Time) (int, error) {
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	x := s.lock()
	defer x.mu.Unlock()
	n := 0
	for k, e := range x.ledger {
		if e.begun.Before(olderThan) {
			delete(x.ledger, k)
			n++
		}
	}
	return n, nil
}

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
