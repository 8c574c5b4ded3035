package vault

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"time"

	"golang.org/x/oauth2"
)

// sealedToken is what a sealed token record holds: the fields of
// oauth2.Token that matter for refreshing.
type sealedToken struct {
	AccessToken  string    `json:"access_token,omitempty"`
	TokenType    string    `json:"token_type,omitempty"`
	RefreshToken string    `json:"refresh_token,omitempty"`
	Expiry       time.Time `json:"expiry,omitzero"`
	ExpiresIn    int64     `json:"expires_in,omitempty"`
}

func aad(accountID string) []byte { return []byte("calsync/vault/token/v1\x00" + accountID) }

// SealToken seals tok for accountID with the current key. The record is
// bound to accountID: opened under another account it fails with
// [ErrDecrypt].
func (v *Vault) SealToken(accountID string, tok *oauth2.Token, now time.Time) (SealedToken, error) {
	if accountID == "" {
		return SealedToken{}, errors.New("vault: SealToken: empty account ID")
	}
	if tok == nil {
		return SealedToken{}, errors.New("vault: SealToken: nil token")
	}
	pt, err := json.Marshal(sealedToken{AccessToken: tok.AccessToken, TokenType: tok.TokenType, RefreshToken: tok.RefreshToken, Expiry: tok.Expiry, ExpiresIn: tok.ExpiresIn})
	if err != nil {
		return SealedToken{}, fmt.Errorf("vault: SealToken: %w", err)
	}
	keyID, ct := v.Seal(pt, aad(accountID))
	clear(pt)
	return SealedToken{AccountID: accountID, KeyID: keyID, Ciphertext: ct, Updated: now}, nil
}

// OpenToken opens a record made by SealToken.
func (v *Vault) OpenToken(st SealedToken) (*oauth2.Token, error) {
	pt, err := v.Open(st.KeyID, st.Ciphertext, aad(st.AccountID))
	if err != nil {
		return nil, fmt.Errorf("account %q: %w", st.AccountID, err)
	}
	defer clear(pt)
	var t sealedToken
	if err := json.Unmarshal(pt, &t); err != nil {
		return nil, fmt.Errorf("vault: account %q: malformed token record", st.AccountID)
	}
	return &oauth2.Token{AccessToken: t.AccessToken, TokenType: t.TokenType, RefreshToken: t.RefreshToken, Expiry: t.Expiry, ExpiresIn: t.ExpiresIn}, nil
}

// PutToken seals tok and stores it as accountID's token.
func (v *Vault) PutToken(ctx context.Context, accounts Accounts, accountID string, tok *oauth2.Token) error {
	st, err := v.SealToken(accountID, tok, time.Now())
	if err != nil {
		return err
	}
	if err := accounts.PutAccountToken(ctx, st); err != nil {
		return fmt.Errorf("vault: store token of account %q: %w", accountID, err)
	}
	return nil
}

// Token loads and opens accountID's token. A missing one is an error
// wrapping calsync.ErrNotFound.
func (v *Vault) Token(ctx context.Context, accounts Accounts, accountID string) (*oauth2.Token, error) {
	st, err := accounts.AccountToken(ctx, accountID)
	if err != nil {
		return nil, fmt.Errorf("vault: load token of account %q: %w", accountID, err)
	}
	return v.OpenToken(st)
}

// Reseal re-seals with the current key every stored token sealed with
// another one, so that the old key can be retired, and returns how many it
// re-sealed. Tokens sealed with a key the Vault does not hold are an error.
func (v *Vault) Reseal(ctx context.Context, accounts Accounts) (int, error) {
	n, after := 0, ""
	for {
		page, err := accounts.ListAccountTokens(ctx, after, 100)
		if err != nil {
			return n, fmt.Errorf("vault: Reseal: %w", err)
		}
		if len(page) == 0 {
			return n, nil
		}
		for _, st := range page {
			if st.KeyID == v.current {
				continue
			}
			tok, err := v.OpenToken(st)
			if err != nil {
				return n, fmt.Errorf("vault: Reseal: %w", err)
			}
			if err := v.PutToken(ctx, accounts, st.AccountID, tok); err != nil {
				return n, fmt.Errorf("vault: Reseal: %w", err)
			}
			n++
		}
		after = page[len(page)-1].AccountID
	}
}

// TokenSource returns a TokenSource that gets tokens from base and, each
// time the token changes (a refresh: new access token, refresh token,
// expiry or type), stores it sealed as accountID's token before returning
// it. If storing fails, Token returns the error (the caller's request
// fails rather than a rotated refresh token being lost silently) and tries
// again on the next call. Most hosts want [Sources] instead, which also
// refreshes once across goroutines and instances.
//
// ctx is used for the Store writes, as oauth2.Config.TokenSource uses its
// ctx for refreshes; TokenSource keeps it for the life of the returned
// source. Wrap the result in oauth2.ReuseTokenSource if base does not
// cache. Safe for concurrent use.
func (v *Vault) TokenSource(ctx context.Context, base oauth2.TokenSource, accountID string, accounts Accounts) oauth2.TokenSource {
	return &tokenSource{ctx: ctx, v: v, base: base, accountID: accountID, accounts: accounts}
}

type tokenSource struct {
	ctx       context.Context // for Store writes; oauth2.TokenSource has no ctx
	v         *Vault
	base      oauth2.TokenSource
	accountID string
	accounts  Accounts

	mu    sync.Mutex
	saved *oauth2.Token // the last token stored
}

func sameToken(a, b *oauth2.Token) bool {
	return a != nil && b != nil && a.AccessToken == b.AccessToken && a.RefreshToken == b.RefreshToken &&
		a.TokenType == b.TokenType && a.Expiry.Equal(b.Expiry)
}

func (s *tokenSource) Token() (*oauth2.Token, error) {
	tok, err := s.base.Token()
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.saved == nil {
		// First call: compare with what is stored, so that a restart does
		// not rewrite an unchanged token.
		if cur, err := s.v.Token(s.ctx, s.accounts, s.accountID); err == nil {
			s.saved = cur
		}
	}
	if sameToken(tok, s.saved) {
		return tok, nil
	}
	if err := s.v.PutToken(s.ctx, s.accounts, s.accountID, tok); err != nil {
		return nil, err
	}
	saved := *tok
	s.saved = &saved
	return tok, nil
}
