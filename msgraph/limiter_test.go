package msgraph_test

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"golang.org/x/oauth2"

	"github.com/calsync/calsync/msgraph"
	"github.com/calsync/calsync/msgraph/msgraphtest"
	"github.com/calsync/calsync/retry/retrytest"
)

// Config.Limiter becomes the default client's limiter: a call of an
// account goes through it (a cluster-wide limiter sits there). The default
// client does not trust the emulator's test certificate, so the call
// fails after the limiter admitted it; that is enough here.
func TestConfigLimiter(t *testing.T) {
	srv := msgraphtest.NewServer(msgraphtest.Config{})
	t.Cleanup(srv.Close)
	lim := &retrytest.Limiter{}
	cfg := msgraph.Config{
		Limiter: lim,
		BaseURL: srv.URL() + "/v1.0",
		TokenSource: func(context.Context, string) (oauth2.TokenSource, error) {
			return oauth2.StaticTokenSource(&oauth2.Token{AccessToken: "t"}), nil
		},
	}
	if d := cfg.WithDefaults(); d.Limiter != nil || d.HTTPClient == nil {
		t.Fatalf("WithDefaults: Limiter %v, HTTPClient %v; want the limiter moved into a client", d.Limiter, d.HTTPClient)
	}
	p, err := msgraph.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	_, _ = p.ListCalendars(context.Background(), "alice")
	if got := lim.Acquired(); len(got) == 0 || got[0] != "alice" || lim.Released() != len(got) {
		t.Errorf("limiter saw accounts %v and %d releases, want alice's call, released", lim.Acquired(), lim.Released())
	}

	cfg.HTTPClient = &http.Client{}
	if _, err := msgraph.New(cfg); err == nil || !strings.Contains(err.Error(), "Config.Limiter applies to the default client only") {
		t.Fatalf("New with Limiter and HTTPClient = %v, want an error", err)
	}
}
