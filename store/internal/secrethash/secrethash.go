// Package secrethash is the column form of [calsync.Subscription.SecretHash]
// that store/sqlite and store/postgres keep in secret_hash, so that the two
// encode and check it alike.
package secrethash

import (
	"crypto/sha256"
	"fmt"
)

// Column is the column value of a SecretHash: its 32 bytes, or none for
// the zero hash (a subscription without a secret).
func Column(h [sha256.Size]byte) []byte {
	if h == ([sha256.Size]byte{}) {
		return []byte{}
	}
	return h[:]
}

// Parse returns the SecretHash that column b holds for subscription id:
// the zero hash for none, an error for a length that is not 32 bytes.
// prefix starts the message ("sqlite").
func Parse(prefix, id string, b []byte) ([sha256.Size]byte, error) {
	var h [sha256.Size]byte
	if len(b) != 0 && len(b) != len(h) {
		return h, fmt.Errorf("%s: subscription %q: secret_hash is %d bytes, want %d", prefix, id, len(b), len(h))
	}
	copy(h[:], b)
	return h, nil
}
