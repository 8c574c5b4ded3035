package vault

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"slices"
	"strings"
)

// KeySize is the size of a key: AES-256.
const KeySize = 32

var (
	// ErrUnknownKey means a record was sealed with a key id the Vault does
	// not hold.
	ErrUnknownKey = errors.New("vault: unknown key id")
	// ErrDecrypt means a record did not authenticate: the key under its id
	// is not the one that sealed it, or the record was modified or moved.
	ErrDecrypt = errors.New("vault: cannot decrypt: wrong key or modified record")
)

// Key is a 32-byte AES-256 key. However a host shows it — fmt with any
// verb (%v, %+v, %#v, %s, %x, %d …), encoding/json, any encoder that uses
// encoding.TextMarshaler, log/slog with any handler, alone, in a Config or
// in a slice — it appears as "[redacted]", so that printing, logging or
// dumping a Config as JSON does not leak it. Encoding is one way: a
// redacted Key does not decode back (read keys with [ParseKey]). The
// bytes themselves are unchanged; code that needs them uses the slice.
type Key []byte

// redacted is how a Key shows.
const redacted = "[redacted]"

// String returns "[redacted]".
func (Key) String() string { return redacted }

// GoString returns "[redacted]", for %#v.
func (Key) GoString() string { return redacted }

// Format implements fmt.Formatter: every verb prints "[redacted]". Without
// it %d, %o and %x would print the bytes, which fmt formats before looking
// for String.
func (Key) Format(f fmt.State, _ rune) { io.WriteString(f, redacted) }

// LogValue implements slog.LogValuer.
func (Key) LogValue() slog.Value { return slog.StringValue(redacted) }

// MarshalText implements encoding.TextMarshaler: it returns "[redacted]".
func (Key) MarshalText() ([]byte, error) { return []byte(redacted), nil }

// MarshalJSON implements json.Marshaler: it returns the JSON string
// "[redacted]", where encoding/json would give a []byte's base64.
func (Key) MarshalJSON() ([]byte, error) { return []byte(`"` + redacted + `"`), nil }

// ParseKey decodes a key from standard or URL-safe base64 (with or without
// padding), the form it takes in an environment variable or secret store.
func ParseKey(s string) (Key, error) {
	s = strings.TrimSpace(s)
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
		if b, err := enc.DecodeString(s); err == nil {
			if len(b) != KeySize {
				return nil, fmt.Errorf("vault: ParseKey: key is %d bytes, want %d", len(b), KeySize)
			}
			return Key(b), nil
		}
	}
	return nil, errors.New("vault: ParseKey: key is not base64")
}

// NewKey returns a new random key.
func NewKey() Key {
	k := make(Key, KeySize)
	_, _ = rand.Read(k) // never fails (crypto/rand)
	return k
}

// Config configures a Vault.
type Config struct {
	// Keys maps key ids to keys. Required; every key is KeySize bytes and
	// every id non-empty. Keep retired keys here until no record uses them.
	Keys map[string]Key
	// Current is the id of the key that seals new records. Required.
	Current string
}

func (c Config) validate() error {
	if len(c.Keys) == 0 {
		return errors.New("vault: Config.Keys is empty")
	}
	for _, id := range slices.Sorted(maps.Keys(c.Keys)) {
		if id == "" {
			return errors.New("vault: Config.Keys has an empty key id")
		}
		if n := len(c.Keys[id]); n != KeySize {
			return fmt.Errorf("vault: Config.Keys[%q] is %d bytes, want %d", id, n, KeySize)
		}
	}
	if c.Current == "" {
		return errors.New("vault: Config.Current is required")
	}
	if _, ok := c.Keys[c.Current]; !ok {
		return fmt.Errorf("vault: Config.Current %q is not in Config.Keys", c.Current)
	}
	return nil
}

// Vault seals and opens records. It is safe for concurrent use.
type Vault struct {
	current string
	aeads   map[string]cipher.AEAD
}

// New returns a Vault with cfg's keys. It copies what it needs.
func New(cfg Config) (*Vault, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	v := &Vault{current: cfg.Current, aeads: make(map[string]cipher.AEAD, len(cfg.Keys))}
	for id, k := range cfg.Keys {
		block, err := aes.NewCipher(k)
		if err != nil {
			return nil, fmt.Errorf("vault: key %q: %w", id, err)
		}
		aead, err := cipher.NewGCM(block)
		if err != nil {
			return nil, fmt.Errorf("vault: key %q: %w", id, err)
		}
		v.aeads[id] = aead
	}
	return v, nil
}

// CurrentKeyID returns the id of the key that seals new records.
func (v *Vault) CurrentKeyID() string { return v.current }

// format is the first byte of every sealed record: version 1 is
// nonce (12 bytes) || AES-256-GCM ciphertext and tag.
const format = 1

// Seal encrypts plaintext with the current key and a random nonce. aad is
// authenticated but not encrypted: pass what the record belongs to (an
// account id) so that it cannot be moved to another. It returns the key id
// to store with the ciphertext.
func (v *Vault) Seal(plaintext, aad []byte) (keyID string, ciphertext []byte) {
	aead := v.aeads[v.current]
	out := make([]byte, 1+aead.NonceSize(), 1+aead.NonceSize()+len(plaintext)+aead.Overhead())
	out[0] = format
	_, _ = rand.Read(out[1:]) // never fails (crypto/rand)
	return v.current, aead.Seal(out, out[1:], plaintext, aad)
}

// Open decrypts a record sealed with the key keyID and the same aad. It
// fails with [ErrUnknownKey] or [ErrDecrypt].
func (v *Vault) Open(keyID string, ciphertext, aad []byte) ([]byte, error) {
	aead, ok := v.aeads[keyID]
	if !ok {
		return nil, fmt.Errorf("%w %q", ErrUnknownKey, keyID)
	}
	n := aead.NonceSize()
	if len(ciphertext) < 1+n+aead.Overhead() || ciphertext[0] != format {
		return nil, fmt.Errorf("%w (key %q): not a vault record", ErrDecrypt, keyID)
	}
	pt, err := aead.Open(nil, ciphertext[1:1+n], ciphertext[1+n:], aad)
	if err != nil {
		return nil, fmt.Errorf("%w (key %q)", ErrDecrypt, keyID)
	}
	return pt, nil
}
