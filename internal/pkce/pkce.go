// Package pkce checks PKCE code verifiers (RFC 7636) for the emulated
// identity providers of googletest and msgraphtest.
package pkce

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
)

// Matches reports whether verifier answers challenge under method ("S256"
// or "plain"; RFC 7636 section 4.6), in constant time. An empty verifier
// never matches.
func Matches(method, challenge, verifier string) bool {
	if verifier == "" {
		return false
	}
	want := verifier
	if method == "S256" {
		sum := sha256.Sum256([]byte(verifier))
		want = base64.RawURLEncoding.EncodeToString(sum[:])
	}
	return subtle.ConstantTimeCompare([]byte(want), []byte(challenge)) == 1
}
