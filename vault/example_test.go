package vault_test

import (
	"context"
	"fmt"
	"log"
	"time"

	"golang.org/x/oauth2"

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
