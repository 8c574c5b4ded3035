// Package vault encrypts the OAuth tokens calsync keeps for host accounts,
// with AES-256-GCM, and stores them through a Store that implements
// [Accounts].
//
// # Keys and rotation
//
// A [Vault] holds named 32-byte keys and seals with the current one. Each
// sealed record carries the id of the key that sealed it, so keys rotate
// without a flag day: add the new key, make it current, keep the old one
// until [Vault.Reseal] has re-sealed every record (or until the tokens have
// all been refreshed), then drop it.
//
//	v, err := vault.New(vault.Config{
//		Keys:    map[string]vault.Key{"2026-11": k2, "2026-01": k1},
//		Current: "2026-11",
//	})
//
// A record sealed with a key the Vault does not hold fails with
// [ErrUnknownKey]; one that does not authenticate (wrong key material
// under the right id, a modified ciphertext, a record moved to another
// account) fails with [ErrDecrypt]. Errors name key ids and account ids,
// never key material or tokens.
//
// # Tokens
//
// [Vault.TokenSource] wraps the oauth2.TokenSource that refreshes an
// account's token (usually oauth2.Config.TokenSource) and stores each new
// token, sealed, when it changes, so a rotated refresh token survives a
// restart.
package vault
