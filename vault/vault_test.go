package vault_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/calsync/calsync"
	"github.com/calsync/calsync/store/memory"
	"github.com/calsync/calsync/vault"
	"golang.org/x/oauth2"
)

func key(b byte) vault.Key { return vault.Key(bytes.Repeat([]byte{b}, vault.KeySize)) }

func mustNew(t *testing.T, cfg vault.Config) *vault.Vault {
	t.Helper()
	v, err := vault.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

var tok = &oauth2.Token{AccessToken: "ya29.secret-access", TokenType: "Bearer", RefreshToken: "1//secret-refresh", Expiry: time.Date(2031, 1, 2, 3, 4, 5, 0, time.UTC)}

func TestSealOpen(t *testing.T) {
	v := mustNew(t, vault.Config{Keys: map[string]vault.Key{"k1": key(1)}, Current: "k1"})
	id, ct := v.Seal([]byte("hello"), []byte("acct"))
	if id != "k1" {
		t.Errorf("key id = %q", id)
	}
	if bytes.Contains(ct, []byte("hello")) {
		t.Error("ciphertext contains the plaintext")
	}
	pt, err := v.Open(id, ct, []byte("acct"))
	if err != nil || string(pt) != "hello" {
		t.Fatalf("Open = %q, %v", pt, err)
	}
	_, ct2 := v.Seal([]byte("hello"), []byte("acct"))
	if bytes.Equal(ct, ct2) {
		t.Error("two seals of the same plaintext are equal: nonce not random")
	}
	if _, err := v.Open(id, ct, []byte("other")); !errors.Is(err, vault.ErrDecrypt) {
		t.Errorf("Open with another aad: %v, want ErrDecrypt", err)
	}
	bad := bytes.Clone(ct)
	bad[len(bad)-1] ^= 1
	if _, err := v.Open(id, bad, []byte("acct")); !errors.Is(err, vault.ErrDecrypt) {
		t.Errorf("Open of a modified record: %v, want ErrDecrypt", err)
	}
	for _, short := range [][]byte{nil, {1}, ct[:10]} {
		if _, err := v.Open(id, short, []byte("acct")); !errors.Is(err, vault.ErrDecrypt) {
			t.Errorf("Open of a %d-byte record: %v, want ErrDecrypt", len(short), err)
		}
	}
}

func TestRotation(t *testing.T) {
	ctx := t.Context()
	st := memory.New()
	old := mustNew(t, vault.Config{Keys: map[string]vault.Key{"k1": key(1)}, Current: "k1"})
	if err := old.PutToken(ctx, st, "alice", tok); err != nil {
		t.Fatal(err)
	}
	if err := old.PutToken(ctx, st, "bob", tok); err != nil {
		t.Fatal(err)
	}

	// New key current, old one kept: old records still open, new ones use
	// the new key.
	v := mustNew(t, vault.Config{Keys: map[string]vault.Key{"k1": key(1), "k2": key(2)}, Current: "k2"})
	got, err := v.Token(ctx, st, "alice")
	if err != nil || !equal(got, tok) {
		t.Fatalf("Token sealed with the old key = %+v, %v", got, err)
	}
	if err := v.PutToken(ctx, st, "carol", tok); err != nil {
		t.Fatal(err)
	}
	if rec, _ := st.AccountToken(ctx, "carol"); rec.KeyID != "k2" {
		t.Errorf("new record sealed with %q, want k2", rec.KeyID)
	}
	n, err := v.Reseal(ctx, st)
	if err != nil || n != 2 {
		t.Fatalf("Reseal = %d, %v; want 2", n, err)
	}
	// The old key can now go.
	only := mustNew(t, vault.Config{Keys: map[string]vault.Key{"k2": key(2)}, Current: "k2"})
	for _, a := range []string{"alice", "bob", "carol"} {
		if got, err := only.Token(ctx, st, a); err != nil || !equal(got, tok) {
			t.Errorf("Token(%s) after Reseal without the old key = %+v, %v", a, got, err)
		}
	}
	if n, err := v.Reseal(ctx, st); err != nil || n != 0 {
		t.Errorf("second Reseal = %d, %v; want 0", n, err)
	}
}

func TestWrongOrMissingKey(t *testing.T) {
	ctx := t.Context()
	st := memory.New()
	v := mustNew(t, vault.Config{Keys: map[string]vault.Key{"k1": key(1)}, Current: "k1"})
	if err := v.PutToken(ctx, st, "alice", tok); err != nil {
		t.Fatal(err)
	}
	missing := mustNew(t, vault.Config{Keys: map[string]vault.Key{"k9": key(9)}, Current: "k9"})
	_, err := missing.Token(ctx, st, "alice")
	if !errors.Is(err, vault.ErrUnknownKey) {
		t.Errorf("Token without its key: %v, want ErrUnknownKey", err)
	}
	checkNoSecrets(t, err)
	wrong := mustNew(t, vault.Config{Keys: map[string]vault.Key{"k1": key(7)}, Current: "k1"})
	_, err = wrong.Token(ctx, st, "alice")
	if !errors.Is(err, vault.ErrDecrypt) {
		t.Errorf("Token with the wrong key material: %v, want ErrDecrypt", err)
	}
	checkNoSecrets(t, err)
	// A record copied to another account does not open.
	rec, _ := st.AccountToken(ctx, "alice")
	rec.AccountID = "mallory"
	if err := st.PutAccountToken(ctx, rec); err != nil {
		t.Fatal(err)
	}
	if _, err := v.Token(ctx, st, "mallory"); !errors.Is(err, vault.ErrDecrypt) {
		t.Errorf("Token of a record moved to another account: %v, want ErrDecrypt", err)
	}
	if _, err := v.Token(ctx, st, "nobody"); !errors.Is(err, calsync.ErrNotFound) {
		t.Errorf("Token of an unknown account: %v, want ErrNotFound", err)
	}
}

func checkNoSecrets(t *testing.T, err error) {
	t.Helper()
	msg := fmt.Sprint(err)
	for _, s := range []string{tok.AccessToken, tok.RefreshToken, string(key(1)), string(key(7)), fmt.Sprint([]byte(key(1)))} {
		if strings.Contains(msg, s) {
			t.Errorf("error %q contains a secret", msg)
		}
	}
}

// keyLeaks reports whether s shows any of key(0x41)'s bytes in a form fmt,
// encoding/json or log/slog could give them: raw, base64, hex, decimal or
// octal.
func keyLeaks(s string) bool {
	for _, form := range []string{"AAAA", "QUFB", "4141", "65 65", "65,65", "101 101", "0x41"} {
		if strings.Contains(s, form) {
			return true
		}
	}
	return false
}

// A host that prints, logs or JSON-encodes a key, a Config or a slice of
// them, by any verb or encoder, writes "[redacted]", not the key.
func TestKeyRedacted(t *testing.T) {
	k := key(0x41)
	cfg := vault.Config{Keys: map[string]vault.Key{"k1": k}, Current: "k1"}
	values := map[string]any{
		"Key": k, "*Key": &k, "Config": cfg, "*Config": &cfg,
		"[]Config": []vault.Config{cfg}, "[]Key": []vault.Key{k}, "map": cfg.Keys,
	}
	for name, v := range values {
		for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%q", "%x", "%X", "%d", "%o", "%T %[1]v"} {
			if s := fmt.Sprintf(verb, v); keyLeaks(s) {
				t.Errorf("fmt %s of %s = %q shows key material", verb, name, s)
			}
		}
		b, err := json.Marshal(v)
		if err != nil {
			t.Errorf("json.Marshal(%s): %v", name, err)
		}
		if keyLeaks(string(b)) || !strings.Contains(string(b), "[redacted]") {
			t.Errorf("json.Marshal(%s) = %s", name, b)
		}
		for hname, h := range map[string]func(*bytes.Buffer) slog.Handler{
			"json": func(b *bytes.Buffer) slog.Handler { return slog.NewJSONHandler(b, nil) },
			"text": func(b *bytes.Buffer) slog.Handler { return slog.NewTextHandler(b, nil) },
		} {
			var buf bytes.Buffer
			slog.New(h(&buf)).Info("config", "value", v)
			if keyLeaks(buf.String()) || !strings.Contains(buf.String(), "redacted") {
				t.Errorf("slog %s of %s = %s", hname, name, buf.String())
			}
		}
	}
	if b, err := k.MarshalText(); err != nil || string(b) != "[redacted]" {
		t.Errorf("MarshalText = %q, %v", b, err)
	}
	// The key itself is intact: redaction is only how it is shown.
	if len(k) != vault.KeySize || k[0] != 0x41 {
		t.Errorf("key changed: %d bytes", len(k))
	}
}

func TestConfigValidation(t *testing.T) {
	for name, cfg := range map[string]vault.Config{
		"no keys":         {Current: "k"},
		"short key":       {Keys: map[string]vault.Key{"k": key(1)[:16]}, Current: "k"},
		"empty id":        {Keys: map[string]vault.Key{"": key(1)}, Current: ""},
		"no current":      {Keys: map[string]vault.Key{"k": key(1)}},
		"unknown current": {Keys: map[string]vault.Key{"k": key(1)}, Current: "x"},
	} {
		if _, err := vault.New(cfg); err == nil {
			t.Errorf("%s: New succeeded", name)
		}
	}
}

func TestParseKey(t *testing.T) {
	k := vault.NewKey()
	for _, s := range []string{"AQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQE=", "AQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQE"} {
		got, err := vault.ParseKey(s)
		if err != nil || !bytes.Equal(got, key(1)) {
			t.Errorf("ParseKey(%q) = %v, %v", s, []byte(got), err)
		}
	}
	if len(k) != vault.KeySize {
		t.Errorf("NewKey is %d bytes", len(k))
	}
	for _, s := range []string{"", "not base64!", "AQID"} {
		if _, err := vault.ParseKey(s); err == nil {
			t.Errorf("ParseKey(%q) succeeded", s)
		}
	}
}

// refresher is a base TokenSource that returns the tokens it is given in
// turn.
type refresher struct{ toks []*oauth2.Token }

func (r *refresher) Token() (*oauth2.Token, error) {
	t := r.toks[0]
	if len(r.toks) > 1 {
		r.toks = r.toks[1:]
	}
	return t, nil
}

// countingStore counts token writes and can fail them.
type countingStore struct {
	*memory.Store
	puts int
	fail bool
}

func (s *countingStore) PutAccountToken(ctx context.Context, t vault.SealedToken) error {
	if s.fail {
		return errors.New("disk full")
	}
	s.puts++
	return s.Store.PutAccountToken(ctx, t)
}

func TestTokenSourcePersistsRefreshes(t *testing.T) {
	ctx := t.Context()
	st := &countingStore{Store: memory.New()}
	v := mustNew(t, vault.Config{Keys: map[string]vault.Key{"k1": key(1)}, Current: "k1"})
	if err := v.PutToken(ctx, st, "alice", tok); err != nil {
		t.Fatal(err)
	}
	st.puts = 0
	refreshed := &oauth2.Token{AccessToken: "ya29.new", TokenType: "Bearer", RefreshToken: "1//rotated", Expiry: tok.Expiry.Add(time.Hour)}
	base := &refresher{toks: []*oauth2.Token{tok, tok, refreshed, refreshed}}
	ts := v.TokenSource(ctx, base, "alice", st)

	// Unchanged token (the one stored): no write.
	for range 2 {
		if got, err := ts.Token(); err != nil || got.AccessToken != tok.AccessToken {
			t.Fatalf("Token = %+v, %v", got, err)
		}
	}
	if st.puts != 0 {
		t.Errorf("%d writes for an unchanged token, want 0", st.puts)
	}
	// A refresh is stored once, and survives a "restart".
	st.fail = true
	if _, err := ts.Token(); err == nil || !strings.Contains(err.Error(), "disk full") {
		t.Errorf("Token when storing fails: %v, want the store's error", err)
	}
	st.fail = false
	for range 2 {
		if got, err := ts.Token(); err != nil || got.AccessToken != "ya29.new" {
			t.Fatalf("Token after refresh = %+v, %v", got, err)
		}
	}
	if st.puts != 1 {
		t.Errorf("%d writes for one refresh, want 1", st.puts)
	}
	got, err := v.Token(ctx, st, "alice")
	if err != nil || !equal(got, refreshed) {
		t.Errorf("stored token after refresh = %+v, %v; want the refreshed one", got, err)
	}
}

func equal(a, b *oauth2.Token) bool {
	return a.AccessToken == b.AccessToken && a.RefreshToken == b.RefreshToken && a.TokenType == b.TokenType && a.Expiry.Equal(b.Expiry)
}
