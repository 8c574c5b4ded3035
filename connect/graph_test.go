package connect_test

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"testing"
	"time"

	"golang.org/x/oauth2"

	"github.com/calsync/calsync"
	"github.com/calsync/calsync/connect"
	"github.com/calsync/calsync/msgraph"
	"github.com/calsync/calsync/msgraph/msgraphtest"
	"github.com/calsync/calsync/vault"
	"github.com/calsync/calsync/webhook"
)

// newGraphHost is newGoogleHost for Outlook: the Graph emulator with its
// identity platform, the host's flow and webhook. The emulator serves TLS
// with its own certificate: the browser and the token calls use its
// client, which also reaches the host's plain-HTTP pages. It returns a
// browser signed in as u1.
func newGraphHost(t *testing.T) (*host, *msgraphtest.Server, *http.Client) {
	t.Helper()
	h := newHost(t)
	emu := msgraphtest.NewServer(msgraphtest.Config{Now: h.clock.Now, NotificationClient: h.hooks.Client()})
	t.Cleanup(emu.Close)
	emu.AddUser("ana@contoso.example")
	emu.RegisterClient("host-app", "host-secret", h.callback())
	h.client = emu.Client()
	mp := connect.Microsoft(msgraph.Name, oauth2.Config{ClientID: "host-app", ClientSecret: "host-secret",
		Endpoint: emu.OAuthEndpoint("common"), RedirectURL: h.callback()}, false)
	h.start(mp, func(sources *vault.Sources) (calsync.Provider, error) {
		return msgraph.New(msgraph.Config{BaseURL: emu.URL() + "/v1.0", HTTPClient: h.client, TokenSource: sources.TokenSource})
	}, "/hooks/graph", func(e *calsync.Engine, log *slog.Logger) (http.Handler, error) {
		return webhook.NewGraph(webhook.GraphConfig{Sink: e, Logger: log})
	})
	return h, emu, h.browser("u1")
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

// The same for Graph: a refused access token of a live grant is refreshed
// (Microsoft rotates the refresh token meanwhile) and the call succeeds.
func TestGraphRefusedAccessTokenIsRefreshed(t *testing.T) {
	ctx := context.Background()
	h, emu, browser := newGraphHost(t)
	if status, _ := get(t, browser, h.srv.URL+"/connect/start?provider="+msgraph.Name); status != http.StatusOK {
		t.Fatal(status)
	}
	res := h.results[0]
	cal := calsync.Calendar{ID: "msgraph:u1/main", Provider: msgraph.Name, AccountID: res.AccountID, RemoteID: res.Calendars[0].ID}
	hook := h.hooks.URL + "/hooks/graph"
	if _, err := h.engine.Connect(ctx, cal, calsync.ConnectRequest{Address: hook, LifecycleAddress: hook}); err != nil {
		t.Fatal(err)
	}
	st, _ := h.store.AccountToken(ctx, res.AccountID)
	tok, err := h.vault.OpenToken(st)
	if err != nil {
		t.Fatal(err)
	}
	emu.RevokeToken(tok.AccessToken)
	_, before := emu.TokenRequests()
	if _, err := h.engine.Sync(ctx, cal.ID); err != nil {
		t.Fatalf("Sync with a refused access token = %v, want a refresh and success", err)
	}
	if _, after := emu.TokenRequests(); after-before != 1 {
		t.Errorf("%d refreshes, want 1", after-before)
	}
	if a, _ := h.engine.Account(ctx, res.AccountID); a.Status != calsync.AccountActive {
		t.Errorf("account status = %q, want active", a.Status)
	}
}
