package google_test

import (
	"context"
	"net/http"
	"strings"
	"sync"
	"testing"

	"golang.org/x/oauth2"

	"github.com/calsync/calsync/google"
	"github.com/calsync/calsync/google/googletest"
	"github.com/calsync/calsync/retry"
)

// recordingLimiter admits everything and records whom it admitted.
type recordingLimiter struct {
	mu       sync.Mutex
	accounts []string
	released int
}

func (l *recordingLimiter) Acquire(_ context.Context, account string) (func(), error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.accounts = append(l.accounts, account)
	return func() { l.mu.Lock(); l.released++; l.mu.Unlock() }, nil
}

// Config.Limiter becomes the default client's limiter: every call of an
// account goes through it (a cluster-wide limiter sits there).
func TestConfigLimiter(t *testing.T) {
	emu := googletest.NewServer(googletest.Config{})
	t.Cleanup(emu.Close)
	if err := emu.AddCalendar("alice@example.com", "UTC"); err != nil {
		t.Fatal(err)
	}
	lim := &recordingLimiter{}
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
	lim.mu.Lock()
	defer lim.mu.Unlock()
	if len(lim.accounts) == 0 || lim.accounts[0] != "acct-1" || lim.released != len(lim.accounts) {
		t.Fatalf("limiter saw accounts %v and %d releases, want acct-1's calls, each released", lim.accounts, lim.released)
	}

	// With a client of the host's own, the limiter would be ignored: refused.
	cfg.HTTPClient = &http.Client{}
	if _, err := google.New(cfg); err == nil || !strings.Contains(err.Error(), "Config.Limiter applies to the default client only") {
		t.Fatalf("New with Limiter and HTTPClient = %v, want an error", err)
	}
	var _ retry.AccountLimiter = lim
}
