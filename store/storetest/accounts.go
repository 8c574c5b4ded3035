package storetest

import (
	"bytes"
	"fmt"
	"slices"
	"strings"

	"github.com/calsync/calsync/vault"
)

func testAccounts(h *harness) {
	acc := as[vault.Accounts](h)
	id := h.ns + "user-42"
	// Ciphertext is opaque bytes: zero bytes and invalid UTF-8 included.
	ct := []byte{0, 1, 2, 0xff, 0xfe, 0, 'x'}
	t := vault.SealedToken{AccountID: id, KeyID: "k1", Ciphertext: ct, Updated: h.at(1)}
	if err := acc.PutAccountToken(h.ctx, t); err != nil {
		h.Fatalf("PutAccountToken: %v", err)
	}
	ct[0] = 99 // the store must have copied it
	got, err := acc.AccountToken(h.ctx, id)
	if err != nil {
		h.Fatalf("AccountToken: %v", err)
	}
	if got.AccountID != id || got.KeyID != "k1" || !bytes.Equal(got.Ciphertext, []byte{0, 1, 2, 0xff, 0xfe, 0, 'x'}) || !got.Updated.Equal(h.at(1)) {
		h.Errorf("AccountToken = %+v", got)
	}
	got.Ciphertext[1] = 99 // nor share what it returns
	if again, _ := acc.AccountToken(h.ctx, id); again.Ciphertext[1] != 1 {
		h.Errorf("modifying a returned Ciphertext changed the stored one")
	}

	// Replacing (a refreshed token, a rotated key).
	if err := acc.PutAccountToken(h.ctx, vault.SealedToken{AccountID: id, KeyID: "k2", Ciphertext: []byte("new"), Updated: h.at(2)}); err != nil {
		h.Fatalf("PutAccountToken: %v", err)
	}
	if got, err := acc.AccountToken(h.ctx, id); err != nil || got.KeyID != "k2" || string(got.Ciphertext) != "new" || !got.Updated.Equal(h.at(2)) {
		h.Errorf("AccountToken after replace = %+v, %v", got, err)
	}

	var want []string
	for i := range 5 {
		x := fmt.Sprintf("%sacct-%d", h.ns, i)
		want = append(want, x)
		if err := acc.PutAccountToken(h.ctx, vault.SealedToken{AccountID: x, KeyID: "k1", Ciphertext: []byte{byte(i)}, Updated: h.at(i)}); err != nil {
			h.Fatal(err)
		}
	}
	want = append(want, id)
	var listed []string
	after := h.ns
	for {
		page, err := acc.ListAccountTokens(h.ctx, after, 2)
		if err != nil {
			h.Fatalf("ListAccountTokens: %v", err)
		}
		var mine int
		for _, x := range page {
			if strings.HasPrefix(x.AccountID, h.ns) {
				listed = append(listed, x.AccountID)
				mine++
			}
		}
		if len(page) == 0 || mine < len(page) {
			break
		}
		after = page[len(page)-1].AccountID
	}
	if !slices.Equal(listed, want) {
		h.Errorf("ListAccountTokens pages = %q, want %q", listed, want)
	}

	if err := acc.DeleteAccountToken(h.ctx, id); err != nil {
		h.Fatalf("DeleteAccountToken: %v", err)
	}
	_, err = acc.AccountToken(h.ctx, id)
	h.notFound(err, "AccountToken after DeleteAccountToken")
	h.notFound(acc.DeleteAccountToken(h.ctx, id), "DeleteAccountToken of a deleted account")
	_, err = acc.AccountToken(h.ctx, h.ns+"nobody")
	h.notFound(err, "AccountToken of an unknown account")
}
