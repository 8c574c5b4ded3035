package vault_test

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"golang.org/x/oauth2"

	"github.com/calsync/calsync/store/memory"
	"github.com/calsync/calsync/store/sqlite"
	"github.com/calsync/calsync/vault"
)

// BenchmarkTokenCached measures a token request that needs no refresh, the
// one every provider call makes: Sources reads and opens the stored token
// to check that no other instance replaced it. The baseline is the cached
// token source oauth2 gives (oauth2.ReuseTokenSource), which checks
// nothing.
func BenchmarkTokenCached(b *testing.B) {
	ctx := context.Background()
	tok := &oauth2.Token{AccessToken: "at", TokenType: "Bearer", RefreshToken: "rt", Expiry: time.Now().Add(24 * time.Hour)}
	b.Run("baseline=oauth2.ReuseTokenSource", func(b *testing.B) {
		ts := oauth2.ReuseTokenSource(nil, oauth2.StaticTokenSource(tok))
		b.ReportAllocs()
		for b.Loop() {
			if _, err := ts.Token(); err != nil {
				b.Fatal(err)
			}
		}
	})
	v, err := vault.New(vault.Config{Keys: map[string]vault.Key{"k1": vault.NewKey()}, Current: "k1"})
	if err != nil {
		b.Fatal(err)
	}
	sq, err := sqlite.Open(ctx, filepath.Join(b.TempDir(), "bench.db"), nil)
	if err != nil {
		b.Fatal(err)
	}
	defer sq.Close()
	for _, c := range []struct {
		name     string
		accounts vault.Accounts
	}{{"store=memory", memory.New()}, {"store=sqlite", sq}} {
		b.Run("Sources/"+c.name, func(b *testing.B) {
			if err := v.PutToken(ctx, c.accounts, "alice", tok); err != nil {
				b.Fatal(err)
			}
			s, err := vault.NewSources(vault.SourcesConfig{Vault: v, Accounts: c.accounts, OAuth: &oauth2.Config{Endpoint: oauth2.Endpoint{TokenURL: "http://127.0.0.1:1/token"}}})
			if err != nil {
				b.Fatal(err)
			}
			ts, err := s.TokenSource(ctx, "alice")
			if err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			for b.Loop() {
				if _, err := ts.Token(); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
