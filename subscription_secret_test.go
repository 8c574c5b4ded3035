package calsync_test

import (
	"context"
	"testing"
	"time"

	"github.com/calsync/calsync"
	"github.com/calsync/calsync/provider"
	"github.com/calsync/calsync/store/memory"
)

// recordingStore remembers every subscription it is given, as it was given.
type recordingStore struct {
	*memory.Store
	put []calsync.Subscription
}

func (s *recordingStore) PutSubscription(ctx context.Context, sub calsync.Subscription) error {
	s.put = append(s.put, sub)
	return s.Store.PutSubscription(ctx, sub)
}

// The Engine hands the plaintext secret to the provider's Watch and to
// nothing else: every subscription it stores (the placeholder written
// before the watch call, the final one, a renewal's) carries only the
// secret's SHA-256, and so does the subscription Connect returns. The hash
// is that of the secret the provider was given, so its notifications
// authenticate; a renewal draws a new secret.
func TestStoredSubscriptionsHoldOnlyTheSecretHash(t *testing.T) {
	ctx := context.Background()
	p := newFakeProvider(3)
	st := &recordingStore{Store: memory.New()}
	now := time.Unix(0, 0)
	p.now = func() time.Time { return now }
	e, _ := newTestEngine(t, p, st, calsync.Config{Now: func() time.Time { return now }, RenewBefore: time.Hour})
	sub, err := e.Connect(ctx, fakeCal, calsync.ConnectRequest{Address: "https://example.com/hook", TTL: 3 * time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	now = now.Add(150 * time.Minute)
	if n, err := e.RunSweep(ctx, calsync.SweepRenew); n != 1 || err != nil {
		t.Fatalf("renewal sweep = %d, %v", n, err)
	}

	secrets := map[string]string{} // subscription id → the secret Watch was given
	for _, req := range p.watches {
		if req.Secret == "" {
			t.Fatalf("Watch of %s was given no secret", req.ID)
		}
		secrets[req.ID] = req.Secret
	}
	if len(secrets) != 2 || len(st.put) < 4 {
		t.Fatalf("%d watches, %d subscriptions stored", len(secrets), len(st.put))
	}
	if p.watches[0].Secret == p.watches[1].Secret {
		t.Error("the renewal's subscription reuses the old secret")
	}
	for _, s := range append(st.put, sub) {
		secret, ok := secrets[s.ID]
		if !ok {
			t.Fatalf("stored subscription %s was never watched", s.ID)
		}
		if s.Secret != "" || s.SecretHash != provider.HashSecret(secret) || !s.VerifySecret(secret) {
			t.Errorf("subscription %s: has Secret %v, SecretHash %x; want no Secret and the hash of the watched secret", s.ID, s.Secret != "", s.SecretHash)
		}
	}
}
