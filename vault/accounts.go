package vault

import (
	"context"
	"time"
)

// SealedToken is an account's OAuth token as an [Accounts] store keeps it:
// encrypted. Stores never see the plaintext; [Vault.SealToken] seals it and
// [Vault.OpenToken] opens it.
type SealedToken struct {
	// AccountID is the host's account id (calsync.Calendar.AccountID).
	AccountID string
	// KeyID names the key that sealed Ciphertext, so that keys can rotate.
	KeyID string
	// Ciphertext is the sealed token. Stores keep it byte for byte.
	Ciphertext []byte
	// Updated is when the token was last stored.
	Updated time.Time
}

// Accounts stores accounts' encrypted OAuth tokens. It is an optional
// capability of a calsync.Store: store/memory, store/sqlite and
// store/postgres implement it, and store/storetest checks any Store that
// does. Every method must be safe for concurrent use, and a lookup of an
// account without a token returns an error wrapping calsync.ErrNotFound.
type Accounts interface {
	// PutAccountToken creates or replaces the token of t.AccountID.
	PutAccountToken(ctx context.Context, t SealedToken) error
	// AccountToken returns the token of an account.
	AccountToken(ctx context.Context, accountID string) (SealedToken, error)
	// ListAccountTokens returns up to limit tokens whose AccountID sorts
	// after afterID (byte order), ordered by AccountID; used to re-seal
	// every token after a key rotation.
	ListAccountTokens(ctx context.Context, afterID string, limit int) ([]SealedToken, error)
	// DeleteAccountToken deletes the token of an account.
	DeleteAccountToken(ctx context.Context, accountID string) error
}
