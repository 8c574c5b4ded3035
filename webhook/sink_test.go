package webhook_test

import (
	"context"
	"fmt"
	"sync"

	"github.com/calsync/calsync"
	"github.com/calsync/calsync/provider"
)

// fakeSink is a Sink over a fixed set of subscriptions that records what is
// queued. lookupErr and enqueueErr, if set, make the calls fail.
type fakeSink struct {
	subs       map[string]calsync.Subscription
	plaintext  map[string]string // subscription id → secret
	lookupErr  error
	enqueueErr error

	mu      sync.Mutex
	queued  []calsync.Notification
	lookups int
}

func (s *fakeSink) Subscription(ctx context.Context, id string) (calsync.Subscription, error) {
	s.mu.Lock()
	s.lookups++
	s.mu.Unlock()
	if s.lookupErr != nil {
		return calsync.Subscription{}, s.lookupErr
	}
	sub, ok := s.subs[id]
	if !ok {
		return calsync.Subscription{}, fmt.Errorf("fake store: subscription %q: %w", id, calsync.ErrNotFound)
	}
	return sub, nil
}

func (s *fakeSink) Enqueue(ctx context.Context, n calsync.Notification) error {
	if s.enqueueErr != nil {
		return s.enqueueErr
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.queued = append(s.queued, n)
	return nil
}

func (s *fakeSink) notifications() []calsync.Notification {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]calsync.Notification(nil), s.queued...)
}

// hashed returns sub as a Store holds it: with the SHA-256 of secret (none
// for an empty one) and no plaintext.
func hashed(sub calsync.Subscription, secret string) calsync.Subscription {
	sub.Secret = ""
	if secret != "" {
		sub.SecretHash = provider.HashSecret(secret)
	}
	return sub
}

// secret returns the plaintext secret the sender of a genuine notification
// on subscription id presents, or "" if there is none. The sink's
// subscriptions hold only its hash, as the Engine's do.
func (s *fakeSink) secret(id string) string {
	return s.plaintext[id]
}
