package vault_test

import (
	"context"
	"fmt"
	"log"
	"time"

	"golang.org/x/oauth2"

	"github.com/calsync/calsync/google"
	"github.com/calsync/calsync/store/memory"
	"github.com/calsync/calsync/vault"
)

func Example_rotation() {
	ctx := context.Background()
	accounts := memory.New() // any Store implementing vault.Accounts

	// In production the keys come from a secret store, e.g.
	// vault.ParseKey(os.Getenv("CALSYNC_TOKEN_KEY_2026_11")).
	oldKey, newKey := vault.NewKey(), vault.NewKey()
	v1, err := vault.New(vault.Config{Keys: map[string]vault.Key{"2026-01": oldKey}, Current: "2026-01"})
	if err != nil {
		log.Fatal(err)
	}
	tok := &oauth2.Token{AccessToken: "ya29.example", RefreshToken: "1//example", Expiry: time.Now().Add(time.Hour)}
	if err := v1.PutToken(ctx, accounts, "user-42", tok); err != nil {
		log.Fatal(err)
	}

	// Rotate: the new key seals, the old one still opens, Reseal moves
	// every record to the new key.
	v2, err := vault.New(vault.Config{Keys: map[string]vault.Key{"2026-01": oldKey, "2026-11": newKey}, Current: "2026-11"})
	if err != nil {
		log.Fatal(err)
	}
	n, err := v2.Reseal(ctx, accounts)
	if err != nil {
		log.Fatal(err)
	}
	rec, _ := accounts.AccountToken(ctx, "user-42")
	got, err := v2.Token(ctx, accounts, "user-42")
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("resealed", n, "now under", rec.KeyID, "refresh token kept:", got.RefreshToken == tok.RefreshToken)
	// Output: resealed 1 now under 2026-11 refresh token kept: true
}

func ExampleSources() {
	ctx := context.Background()
	store := memory.New() // any Store implementing vault.Accounts (and leases)
	v, err := vault.New(vault.Config{Keys: map[string]vault.Key{"2026-11": vault.NewKey()}, Current: "2026-11"})
	if err != nil {
		log.Fatal(err)
	}
	sources, err := vault.NewSources(vault.SourcesConfig{
		Vault:    v,
		Accounts: store,
		Leases:   store,
		OAuth: &oauth2.Config{
			ClientID:     "client-id.apps.googleusercontent.com",
			ClientSecret: "from your secret store",
			Endpoint:     oauth2.Endpoint{TokenURL: "https://oauth2.googleapis.com/token"},
		},
	})
	if err != nil {
		log.Fatal(err)
	}
	// The provider asks for tokens through the method value.
	if _, err := google.New(google.Config{TokenSource: sources.TokenSource}); err != nil {
		log.Fatal(err)
	}

	// The connect flow stores the account's token.
	connected := &oauth2.Token{AccessToken: "ya29.example", TokenType: "Bearer", RefreshToken: "1//example", Expiry: time.Now().Add(time.Hour)}
	if err := sources.PutToken(ctx, "user-42", connected); err != nil {
		log.Fatal(err)
	}
	// Fresh, so no refresh: the stored token is handed out.
	ts, err := sources.TokenSource(ctx, "user-42")
	if err != nil {
		log.Fatal(err)
	}
	tok, err := ts.Token()
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(tok.AccessToken, tok.RefreshToken == "")
	// Output: ya29.example true
}
