package google_test

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"golang.org/x/oauth2"

	"github.com/calsync/calsync/google"
	"github.com/calsync/calsync/google/googletest"
	"github.com/calsync/calsync/retry/retrytest"
)

// Config.Limiter becomes the default client's limiter: every call of an
// account goes through it (a cluster-wide limiter sits there).
func TestConfigLimiter(t *testing.T) {
	emu := googletest.NewServer(googletest.Config{})
	t.Cleanup(emu.Close)
	if err := emu.AddCalendar("alice@example.com", "UTC"); err != nil {
		t.Fatal(err)
	}
	lim := &retrytest.Limiter{}
	cfg := google.Config{
		Limiter:     lim,
		Endpoint:    emu.Endpoint(),
		TokenSource: func(context.Context, string) (oauth2.TokenSource, error) { return staticToken, nil },
	}
	if d := cfg.WithDefaults(); d.Limiter != nil || d.HTTPClient == nil {
		t.Fatalf("WithDefaults: Limiter %v, HTTPClient %v; want the limiter moved into a client", d.Limiter, d.HTTPClient)
	}
	p, err := google.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.ListCalendars(context.Background(), "acct-1"); err != nil {
		t.Fatal(err)
	}
	if got := lim.Acquired(); len(got) == 0 || got[0] != "acct-1" || lim.Released() != len(got) {
		t.Fatalf("limiter saw accounts %v and %d releases, want acct-1's calls, each released", lim.Acquired(), lim.Released())
	}

	// With a client of the host's own, the limiter would be ignored: refused.
	cfg.HTTPClient = &http.Client{}
	if _, err := google.New(cfg); err == nil || !strings.Contains(err.Error(), "Config.Limiter applies to the default client only") {
		t.Fatalf("New with Limiter and HTTPClient = %v, want an error", err)
	}
}
