package provider_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/calsync/calsync/provider"
)

const subSecret = "c1ient-st4te-0f-th3-subscr1pt10n"

func testSubscription() provider.Subscription {
	return provider.Subscription{
		ID: "sub-1", CalendarID: "cal-1", Provider: "msgraph", ResourceID: "me/events",
		Address: "https://hooks.example/graph", Secret: subSecret, SecretHash: provider.HashSecret(subSecret),
		Expiration: time.Date(2031, 1, 2, 3, 4, 5, 0, time.UTC), Created: time.Date(2031, 1, 1, 0, 0, 0, 0, time.UTC),
	}
}

// A Subscription's Secret never shows, however a host prints, logs or
// encodes it: alone, through a pointer or in a slice; with any fmt verb,
// encoding/json, or either slog handler. The field itself keeps its value.
func TestSubscriptionRedactsSecret(t *testing.T) {
	s := testSubscription()
	values := map[string]any{"Subscription": s, "*Subscription": &s, "[]Subscription": []provider.Subscription{s, s}, "[]*Subscription": []*provider.Subscription{&s}}
	for name, v := range values {
		for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%q", "%x", "%X", "%d", "%T %[1]v"} {
			out := fmt.Sprintf(verb, v)
			if strings.Contains(out, subSecret) || strings.Contains(out, fmt.Sprintf("%x", subSecret)) || strings.Contains(out, fmt.Sprintf("%X", subSecret)) {
				t.Errorf("fmt %s of %s = %q shows the secret", verb, name, out)
			}
			// fmt prints the pointers of a []*Subscription as addresses
			// under %#v and %d: nothing to show, nothing to leak.
			pointers := name == "[]*Subscription" && (verb == "%#v" || verb == "%d")
			if verb != "%q" && verb != "%x" && verb != "%X" && !pointers && !strings.Contains(out, "sub-1") {
				t.Errorf("fmt %s of %s = %q does not show the id", verb, name, out)
			}
		}
		b, err := json.Marshal(v)
		if err != nil {
			t.Errorf("json.Marshal(%s): %v", name, err)
		}
		if strings.Contains(string(b), subSecret) || !strings.Contains(string(b), `"ID":"sub-1"`) {
			t.Errorf("json.Marshal(%s) = %s", name, b)
		}
		for hname, h := range map[string]func(*bytes.Buffer) slog.Handler{
			"json": func(b *bytes.Buffer) slog.Handler { return slog.NewJSONHandler(b, nil) },
			"text": func(b *bytes.Buffer) slog.Handler { return slog.NewTextHandler(b, nil) },
		} {
			var buf bytes.Buffer
			slog.New(h(&buf)).Info("subscription", "value", v)
			if strings.Contains(buf.String(), subSecret) || !strings.Contains(buf.String(), "sub-1") {
				t.Errorf("slog %s of %s = %s", hname, name, buf.String())
			}
		}
	}
	if got := fmt.Sprintf("%#v", s); !strings.HasPrefix(got, "provider.Subscription{") || !strings.Contains(got, `Secret:"[redacted]"`) {
		t.Errorf("%%#v = %s", got)
	}
	if s.Secret != subSecret {
		t.Errorf("Secret changed to %q", s.Secret)
	}
}

// The JSON form keeps every field but the secret, so that it decodes back
// to the same subscription without it; an empty secret stays empty rather
// than reading "[redacted]".
func TestSubscriptionJSON(t *testing.T) {
	s := testSubscription()
	b, err := json.Marshal(s)
	if err != nil {
		t.Fatal(err)
	}
	var got provider.Subscription
	if err := json.Unmarshal(b, &got); err != nil {
		t.Fatal(err)
	}
	want := s
	want.Secret = "[redacted]"
	if fmt.Sprintf("%#v", got) != fmt.Sprintf("%#v", want) || got.Secret != want.Secret || !got.Expiration.Equal(want.Expiration) {
		t.Errorf("round trip = %#v, want %#v", got, want)
	}
	s.Secret = ""
	if b, _ := json.Marshal(s); !strings.Contains(string(b), `"Secret":""`) {
		t.Errorf("empty secret: %s", b)
	}
}

func TestVerifySecret(t *testing.T) {
	s := provider.Subscription{ID: "sub-1", SecretHash: provider.HashSecret(subSecret)}
	if !s.VerifySecret(subSecret) {
		t.Error("the secret itself does not verify")
	}
	for _, token := range []string{"", subSecret[:len(subSecret)-1], subSecret + "0", strings.ToUpper(subSecret), " " + subSecret} {
		if s.VerifySecret(token) {
			t.Errorf("token %q verifies", token)
		}
	}
	var none provider.Subscription
	for _, token := range []string{"", "x", subSecret} {
		if none.VerifySecret(token) {
			t.Errorf("a subscription without SecretHash verifies %q", token)
		}
	}
	if h := provider.HashSecret(subSecret); h == provider.HashSecret(subSecret+"0") || h == ([32]byte{}) {
		t.Errorf("HashSecret = %x", h)
	}
}

// VerifySecret runs for every notification on the webhook handlers'
// acknowledgement path: a secret of the Engine's size (64 hex digits), or
// a token up to the handlers' cap, is checked without a heap allocation.
func TestVerifySecretDoesNotAllocate(t *testing.T) {
	for _, token := range []string{strings.Repeat("9f", 32), strings.Repeat("t", 256)} {
		s := provider.Subscription{SecretHash: provider.HashSecret(token)}
		var ok bool
		if n := testing.AllocsPerRun(100, func() { ok = s.VerifySecret(token) }); n != 0 || !ok {
			t.Errorf("token of %d bytes: verified %v with %v allocations, want true with 0", len(token), ok, n)
		}
		long := strings.Repeat("t", 300)
		if s.VerifySecret(long) || !(&provider.Subscription{SecretHash: provider.HashSecret(long)}).VerifySecret(long) {
			t.Errorf("a token longer than the stack copy is not verified by its hash")
		}
	}
}
