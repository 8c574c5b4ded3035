package connect_test

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"testing"
	"time"

	"golang.org/x/oauth2"

	"github.com/calsync/calsync"
	"github.com/calsync/calsync/connect"
	"github.com/calsync/calsync/msgraph"
	"github.com/calsync/calsync/msgraph/msgraphtest"
	"github.com/calsync/calsync/store/memory"
	"github.com/calsync/calsync/vault"
	"github.com/calsync/calsync/webhook"
)

// newGraphHost is newGoogleHost for Outlook: the Graph emulator with its
// identity platform, the host's flow and webhook. The emulator serves TLS
// with its own certificate: the browser and the token calls use its
// client, which also reaches the host's plain-HTTP pages.
func newGraphHost(t *testing.T) (*host, *msgraphtest.Server, *http.Client) {
	t.Helper()
	h := &host{t: t, clock: &clock{now: time.Date(2026, 11, 30, 9, 0, 0, 0, time.UTC)}, store: memory.New(), log: &bytes.Buffer{}}
	logger := slog.New(slog.NewTextHandler(&lockedWriter{w: h.log}, &slog.HandlerOptions{Level: slog.LevelDebug}))
	mux := http.NewServeMux()
	h.srv = httptest.NewServer(mux)
	t.Cleanup(h.srv.Close)
	hookMux := http.NewServeMux()
	h.hooks = httptest.NewTLSServer(hookMux)
	t.Cleanup(h.hooks.Close)

	emu := msgraphtest.NewServer(msgraphtest.Config{Now: h.clock.Now, NotificationClient: h.hooks.Client()})
	t.Cleanup(emu.Close)
	emu.AddUser("ana@contoso.example")
	emu.RegisterClient("host-app", "host-secret", h.srv.URL+"/connect/callback")
	client := emu.Client()

	v, err := vault.New(vault.Config{Keys: map[string]vault.Key{"k1": vault.NewKey()}, Current: "k1"})
	if err != nil {
		t.Fatal(err)
	}
	h.vault = v
	mp := connect.Microsoft(msgraph.Name, oauth2.Config{ClientID: "host-app", ClientSecret: "host-secret",
		Endpoint: emu.OAuthEndpoint("common"), RedirectURL: h.srv.URL + "/connect/callback"}, false)
	sources, err := vault.NewSources(vault.SourcesConfig{Vault: v, Accounts: h.store, Leases: h.store, OAuth: &mp.OAuth, Now: h.clock.Now, HTTPClient: client})
	if err != nil {
		t.Fatal(err)
	}
	p, err := msgraph.New(msgraph.Config{BaseURL: emu.URL() + "/v1.0", HTTPClient: client, TokenSource: sources.TokenSource})
	if err != nil {
		t.Fatal(err)
	}
	h.engine, err = calsync.NewEngine(calsync.Config{Store: h.store, Providers: []calsync.Provider{p}, Logger: logger, Now: h.clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	gh, err := webhook.NewGraph(webhook.GraphConfig{Sink: h.engine, Logger: logger})
	if err != nil {
		t.Fatal(err)
	}
	hookMux.Handle("POST /hooks/graph", gh)
	h.flow, err = connect.New(connect.Config{
		Engine: h.engine, Vault: v, Tokens: h.store, Providers: []connect.Provider{mp},
		Sources: map[string]*vault.Sources{msgraph.Name: sources},
		User:    cookieUser,
		Done:    h.done, Failed: h.failed, Now: h.clock.Now, Logger: logger, HTTPClient: client,
	})
	if err != nil {
		t.Fatal(err)
	}
	mux.Handle("GET /connect/start", h.flow.Start())
	mux.Handle("GET /connect/callback", h.flow.Callback())
	browser := func() *http.Client {
		jar, _ := cookiejar.New(nil)
		u, _ := url.Parse(h.srv.URL)
		jar.SetCookies(u, []*http.Cookie{{Name: "user", Value: "u1"}})
		return &http.Client{Jar: jar, Transport: client.Transport}
	}
	return h, emu, browser()
}

// The whole flow against the Graph emulator: consent, callback, token
// stored sealed, the default calendar chosen, subscribed (Graph validates
// the webhook), first sync done; then Microsoft's rotating refresh token
// is stored on refresh, a revoked grant parks the account, and the flow
// again resumes it without a full sync.
func TestGraphConnectFlow(t *testing.T) {
	ctx := context.Background()
	h, emu, browser := newGraphHost(t)
	if _, err := emu.CreateEvent("ana@contoso.example", "", msgraphtest.Event{Subject: "Review",
		Start: h.clock.Now().Add(24 * time.Hour), End: h.clock.Now().Add(25 * time.Hour)}); err != nil {
		t.Fatal(err)
	}
	status, body := get(t, browser, h.srv.URL+"/connect/start?provider="+msgraph.Name)
	if status != http.StatusOK || body != "picker: msgraph:u1" || len(h.results) != 1 {
		t.Fatalf("flow ended with %d %q (host error %v)", status, body, h.lastErr())
	}
	res := h.results[0]
	if len(res.Calendars) == 0 || !res.Calendars[0].Primary || res.Calendars[0].AccessRole != "owner" || res.Calendars[0].TimeZone == "" {
		t.Fatalf("calendars = %+v, want the default calendar first, owned, with a time zone", res.Calendars)
	}
	st, err := h.store.AccountToken(ctx, "msgraph:u1")
	if err != nil {
		t.Fatal(err)
	}
	tok, err := h.vault.OpenToken(st)
	if err != nil || tok.RefreshToken == "" {
		t.Fatalf("stored token: %v", err)
	}
	cal := calsync.Calendar{ID: connect.CalendarID(res.AccountID, res.Calendars[0].ID), Provider: msgraph.Name, AccountID: res.AccountID, RemoteID: res.Calendars[0].ID}
	hook := h.hooks.URL + "/hooks/graph"
	if _, err := h.engine.Connect(ctx, cal, calsync.ConnectRequest{Address: hook, LifecycleAddress: hook}); err != nil {
		t.Fatal(err)
	}
	if evs, _ := h.store.ListEvents(ctx, cal.ID, "", 10); len(evs) != 1 || evs[0].Summary != "Review" {
		t.Fatalf("events after the first sync = %+v", evs)
	}

	// An hour later the access token has expired: the refresh rotates the
	// refresh token, and the rotated one is what the store keeps (the old
	// one is refused from now on).
	h.clock.Advance(time.Hour)
	if _, err := h.engine.Sync(ctx, cal.ID); err != nil {
		t.Fatalf("Sync after the access token expired = %v", err)
	}
	if _, refreshes := emu.TokenRequests(); refreshes != 1 {
		t.Errorf("%d refreshes, want 1", refreshes)
	}
	st2, _ := h.store.AccountToken(ctx, "msgraph:u1")
	tok2, err := h.vault.OpenToken(st2)
	if err != nil || tok2.RefreshToken == "" || tok2.RefreshToken == tok.RefreshToken {
		t.Fatalf("the rotated refresh token was not stored (%v)", err)
	}
	checkNoSecrets(t, h, tok)
	checkNoSecrets(t, h, tok2)

	// The user's sessions are revoked: parked, then resumed by the flow.
	emu.RevokeGrants("ana@contoso.example")
	h.clock.Advance(time.Hour)
	if _, err := h.engine.Sync(ctx, cal.ID); !errors.Is(err, calsync.ErrReauthRequired) {
		t.Fatalf("Sync after revocation = %v, want ErrReauthRequired", err)
	}
	if a, _ := h.engine.Account(ctx, "msgraph:u1"); a.Status != calsync.AccountNeedsReauth {
		t.Fatalf("account status = %q, want needs_reauth", a.Status)
	}
	full := h.engine.Stats().FullSyncs
	if status, _ := get(t, browser, h.srv.URL+"/connect/start?provider="+msgraph.Name); status != http.StatusOK {
		t.Fatalf("reconnect: %d (%v)", status, h.lastErr())
	}
	if !h.results[len(h.results)-1].Reconnected {
		t.Error("Result.Reconnected is false after a reconnect")
	}
	if _, err := h.engine.Sync(ctx, cal.ID); err != nil {
		t.Errorf("Sync after reconnecting = %v", err)
	}
	if n := h.engine.Stats().FullSyncs - full; n != 0 {
		t.Errorf("%d full syncs after reconnecting, want 0", n)
	}
}

// Denied consent at Microsoft's page gives the user the page and the host
// ErrDenied.
func TestGraphConnectDenied(t *testing.T) {
	h, emu, browser := newGraphHost(t)
	emu.DenyConsent(true)
	status, _ := get(t, browser, h.srv.URL+"/connect/start?provider="+msgraph.Name)
	if status != http.StatusForbidden || !errors.Is(h.lastErr(), connect.ErrDenied) {
		t.Errorf("denied: %d, host error %v", status, h.lastErr())
	}
}
