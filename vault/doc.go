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
// # Token sources
//
// [Sources] is the token source to give the providers: one per OAuth
// client (so one for Google, one for Microsoft), shared by every worker
// goroutine, with its method value as the provider's TokenSource.
//
//	sources, err := vault.NewSources(vault.SourcesConfig{
//		Vault:    v,
//		Accounts: store, // the calsync Store
//		Leases:   store, // one refresh across instances sharing it
//		OAuth:    googleOAuth, // *oauth2.Config with the client id, secret, endpoint
//	})
//	p, err := google.New(google.Config{TokenSource: sources.TokenSource})
//
// It hands out an account's cached access token while it is fresh and
// refreshes it once when many goroutines need it together; with Leases,
// one instance refreshes (under the lease "token/"+account id) while the
// others wait and read its result from the store. Every refreshed token is
// stored sealed before it is handed out, so a rotated refresh token
// (Microsoft rotates them) is never lost, and a refresh always starts from
// the stored token, so a token another instance refreshed or stored is
// used rather than a dead one.
//
// When the user connects an account again, store the new token with
// [Sources.PutToken] (or [Vault.PutToken] followed by [Sources.Forget]):
// this instance then drops its cached token at once, and the others pick
// the new token up before their next refresh. A grant the token endpoint
// refuses (invalid_grant and the like) is a [*RefreshError] wrapping
// provider.ErrReauthRequired, whose text never holds the endpoint's body.
//
// [Vault.TokenSource] is the lower-level piece: it wraps an
// oauth2.TokenSource of the host's and stores each new token it yields,
// without the single refresh.
package vault
