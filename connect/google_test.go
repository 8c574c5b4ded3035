package connect_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/oauth2"
	calendar "google.golang.org/api/calendar/v3"

	"github.com/calsync/calsync"
	"github.com/calsync/calsync/connect"
	"github.com/calsync/calsync/google"
	"github.com/calsync/calsync/google/googletest"
	"github.com/calsync/calsync/retry/retrytest"
	"github.com/calsync/calsync/store/memory"
	"github.com/calsync/calsync/vault"
	"github.com/calsync/calsync/webhook"
)

// host is a host application: its signed-in user comes from a cookie, the
// connect flow and the webhook are mounted on one server, and the log is
// kept to be searched for secrets.
type host struct {
	t      *testing.T
	clock  *retrytest.Clock
	store  *memory.Store
	vault  *vault.Vault
	engine *calsync.Engine
	flow   *connect.Flow
	srv    *httptest.Server
	hooks  *httptest.Server
	log    *bytes.Buffer
	logger *slog.Logger
	// mux serves the host's pages, hookMux its webhooks.
	mux, hookMux *http.ServeMux
	// client reaches the emulator (and the host): the browser's transport
	// and the token calls. Nil: the default.
	client *http.Client

	mu      sync.Mutex
	results []connect.Result
	errs    []error
}

func (h *host) done(w http.ResponseWriter, _ *http.Request, res connect.Result) {
	h.mu.Lock()
	h.results = append(h.results, res)
	h.mu.Unlock()
	io.WriteString(w, "picker: "+res.AccountID)
}

func (h *host) failed(w http.ResponseWriter, r *http.Request, err error) {
	h.mu.Lock()
	h.errs = append(h.errs, err)
	h.mu.Unlock()
	status, title, msg := connect.UserMessage(err)
	w.WriteHeader(status)
	io.WriteString(w, title+": "+msg)
}

func (h *host) lastErr() error {
	h.mu.Lock()
	defer h.mu.Unlock()
	if len(h.errs) == 0 {
		return nil
	}
	return h.errs[len(h.errs)-1]
}

// browser is a user agent with a cookie jar, signed in to the host as
// user, that follows redirects.
func (h *host) browser(user string) *http.Client {
	jar, _ := cookiejar.New(nil)
	u, _ := url.Parse(h.srv.URL)
	jar.SetCookies(u, []*http.Cookie{{Name: "user", Value: user}})
	b := &http.Client{Jar: jar}
	if h.client != nil {
		b.Transport = h.client.Transport
	}
	return b
}

// stopAtCallback is a browser that stops before the callback, to tamper
// with it.
func (h *host) stopAtCallback(user string) *http.Client {
	b := h.browser(user)
	b.CheckRedirect = func(r *http.Request, _ []*http.Request) error {
		if strings.HasPrefix(r.URL.String(), h.srv.URL+"/connect/callback") {
			return http.ErrUseLastResponse
		}
		return nil
	}
	return b
}

func get(t *testing.T, c *http.Client, u string) (int, string) {
	t.Helper()
	resp, err := c.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// callbackURL returns where the provider sent the browser.
func callbackURL(t *testing.T, c *http.Client, start string) string {
	t.Helper()
	resp, err := c.Get(start)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	loc := resp.Header.Get("Location")
	if resp.StatusCode != http.StatusFound || loc == "" {
		t.Fatalf("start: %d %q, want a redirect to the callback", resp.StatusCode, loc)
	}
	return loc
}

// newHost starts a host's page and webhook servers, its store, vault and
// log; start wires the rest once the emulator is known.
func newHost(t *testing.T) *host {
	t.Helper()
	h := &host{t: t, clock: retrytest.NewManualClock(time.Date(2026, 11, 30, 9, 0, 0, 0, time.UTC)), store: memory.New(), log: &bytes.Buffer{},
		mux: http.NewServeMux(), hookMux: http.NewServeMux()}
	h.logger = slog.New(slog.NewTextHandler(&lockedWriter{w: h.log}, &slog.HandlerOptions{Level: slog.LevelDebug}))
	h.srv = httptest.NewServer(h.mux)
	t.Cleanup(h.srv.Close)
	h.hooks = httptest.NewTLSServer(h.hookMux)
	t.Cleanup(h.hooks.Close)
	v, err := vault.New(vault.Config{Keys: map[string]vault.Key{"k1": vault.NewKey()}, Current: "k1"})
	if err != nil {
		t.Fatal(err)
	}
	h.vault = v
	return h
}

// callback is the host's redirect URI.
func (h *host) callback() string { return h.srv.URL + "/connect/callback" }

// start wires the Engine on the provider newProvider makes with the
// accounts' token sources, the webhook newHook makes at hookPath, and the connect
// flow for cp; opts change the flow's Config.
func (h *host) start(cp connect.Provider, newProvider func(*vault.Sources) (calsync.Provider, error),
	hookPath string, newHook func(*calsync.Engine, *slog.Logger) (http.Handler, error), opts ...func(*host, *connect.Config)) {
	t := h.t
	t.Helper()
	sources, err := vault.NewSources(vault.SourcesConfig{Vault: h.vault, Accounts: h.store, Leases: h.store, OAuth: &cp.OAuth, Now: h.clock.Now, HTTPClient: h.client})
	if err != nil {
		t.Fatal(err)
	}
	p, err := newProvider(sources)
	if err != nil {
		t.Fatal(err)
	}
	h.engine, err = calsync.NewEngine(calsync.Config{Store: h.store, Providers: []calsync.Provider{p}, Logger: h.logger, Now: h.clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	hook, err := newHook(h.engine, h.logger)
	if err != nil {
		t.Fatal(err)
	}
	h.hookMux.Handle("POST "+hookPath, hook)
	cfg := connect.Config{
		Engine: h.engine, Vault: h.vault, Tokens: h.store, Providers: []connect.Provider{cp},
		Sources: map[string]*vault.Sources{cp.Name: sources},
		User:    cookieUser,
		Done:    h.done, Failed: h.failed, Now: h.clock.Now, Logger: h.logger, HTTPClient: h.client,
	}
	for _, o := range opts {
		o(h, &cfg)
	}
	if h.flow, err = connect.New(cfg); err != nil {
		t.Fatal(err)
	}
	h.mux.Handle("GET /connect/start", h.flow.Start())
	h.mux.Handle("GET /connect/callback", h.flow.Callback())
}

func newGoogleHost(t *testing.T, opts ...func(*host, *connect.Config)) (*host, *googletest.Server) {
	t.Helper()
	h := newHost(t)
	emu := googletest.NewServer(googletest.Config{Now: h.clock.Now, PushClient: h.hooks.Client()})
	t.Cleanup(emu.Close)
	for _, c := range []string{"alice@example.com", "team@example.com"} {
		if err := emu.AddCalendar(c, "Europe/Berlin"); err != nil {
			t.Fatal(err)
		}
	}
	emu.RegisterClient("host-app", "host-secret", h.callback())
	gp := connect.Google(google.Name, oauth2.Config{ClientID: "host-app", ClientSecret: "host-secret",
		Endpoint: emu.OAuthEndpoint(), RedirectURL: h.callback()}, false)
	h.start(gp, func(sources *vault.Sources) (calsync.Provider, error) {
		return google.New(google.Config{Endpoint: emu.Endpoint(), HTTPClient: &http.Client{}, TokenSource: sources.TokenSource})
	}, "/hooks/google", func(e *calsync.Engine, log *slog.Logger) (http.Handler, error) {
		return webhook.NewGoogle(webhook.GoogleConfig{Sink: e, Logger: log})
	}, opts...)
	return h, emu
}

// cookieUser is the host's session: the signed-in user is a cookie.
func cookieUser(r *http.Request) (string, error) {
	c, err := r.Cookie("user")
	if err != nil {
		return "", err
	}
	return c.Value, nil
}

type lockedWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

// The whole flow against the Google emulator, as a browser does it:
// consent, callback, token stored sealed, a calendar chosen, subscribed,
// first sync done.
func TestGoogleConnectFlow(t *testing.T) {
	ctx := context.Background()
	h, emu := newGoogleHost(t)
	if _, err := emu.InsertEvent("team@example.com", &calendar.Event{Summary: "Standup",
		Start: &calendar.EventDateTime{DateTime: "2026-12-01T09:00:00Z"}, End: &calendar.EventDateTime{DateTime: "2026-12-01T09:15:00Z"}}); err != nil {
		t.Fatal(err)
	}
	status, body := get(t, h.browser("u1"), h.srv.URL+"/connect/start?provider="+google.Name)
	if status != http.StatusOK || body != "picker: google:u1" {
		t.Fatalf("flow ended with %d %q, want the picker", status, body)
	}
	if len(h.results) != 1 {
		t.Fatalf("Done called %d times", len(h.results))
	}
	res := h.results[0]
	if res.AccountID != "google:u1" || res.User != "u1" || res.Reconnected || len(res.Calendars) != 2 ||
		res.Calendars[0].ID != "alice@example.com" || !res.Calendars[0].Primary || res.Calendars[1].ID != "team@example.com" {
		t.Fatalf("Result = %+v", res)
	}
	// Stored sealed: the plaintext token is nowhere in the record.
	st, err := h.store.AccountToken(ctx, "google:u1")
	if err != nil {
		t.Fatal(err)
	}
	tok, err := h.vault.OpenToken(st)
	if err != nil || tok.RefreshToken == "" || tok.AccessToken == "" {
		t.Fatalf("stored token: %v (refresh token present: %v)", err, tok != nil && tok.RefreshToken != "")
	}
	if bytes.Contains(st.Ciphertext, []byte(tok.AccessToken)) || bytes.Contains(st.Ciphertext, []byte(tok.RefreshToken)) {
		t.Error("the stored record holds the token in plaintext")
	}
	if a, err := h.engine.Account(ctx, "google:u1"); err != nil || a.Status != calsync.AccountActive || len(a.Calendars) != 2 {
		t.Errorf("Account = %+v, %v", a, err)
	}
	// The user picks the team calendar.
	cal := calsync.Calendar{ID: connect.CalendarID(res.AccountID, "team@example.com"), Provider: google.Name, AccountID: res.AccountID, RemoteID: "team@example.com"}
	sub, err := h.engine.Connect(ctx, cal, calsync.ConnectRequest{Address: h.hooks.URL + "/hooks/google"})
	if err != nil {
		t.Fatal(err)
	}
	if sub.ResourceID == "" {
		t.Errorf("subscription = %+v", sub)
	}
	evs, err := h.store.ListEvents(ctx, cal.ID, "", 10)
	if err != nil || len(evs) != 1 || evs[0].Summary != "Standup" {
		t.Errorf("events after the first sync = %+v, %v", evs, err)
	}
	checkNoSecrets(t, h, tok)
}

// checkNoSecrets fails if a token, code or state appears in the log or in
// an error the host was handed.
func checkNoSecrets(t *testing.T, h *host, tok *oauth2.Token) {
	t.Helper()
	text := h.log.String()
	for _, err := range h.errs {
		text += "\n" + err.Error()
	}
	for _, s := range []string{tok.AccessToken, tok.RefreshToken, "host-secret"} {
		if s != "" && strings.Contains(text, s) {
			t.Errorf("a secret appears in the log or an error")
		}
	}
	if strings.Contains(text, "code=") || strings.Contains(text, "state=") {
		t.Errorf("a code or state appears in the log or an error:\n%s", text)
	}
}

// Each way the flow can fail gives the user a clear page and the host an
// error, and leaks nothing.
func TestGoogleConnectFlowErrors(t *testing.T) {
	h, emu := newGoogleHost(t)
	start := h.srv.URL + "/connect/start?provider=" + google.Name

	t.Run("denied", func(t *testing.T) {
		emu.DenyConsent(true)
		defer emu.DenyConsent(false)
		status, body := get(t, h.browser("u1"), start)
		if status != http.StatusForbidden || !strings.Contains(body, "declined") || !errors.Is(h.lastErr(), connect.ErrDenied) {
			t.Errorf("denied: %d %q, host error %v", status, body, h.lastErr())
		}
	})
	t.Run("reused state", func(t *testing.T) {
		b := h.stopAtCallback("u1")
		cb := callbackURL(t, b, start)
		if status, _ := get(t, h.browser("u1"), cb); status != http.StatusOK {
			t.Fatalf("first use: %d", status)
		}
		status, body := get(t, h.browser("u1"), cb)
		if status != http.StatusBadRequest || !strings.Contains(body, "expired") || !errors.Is(h.lastErr(), connect.ErrBadState) {
			t.Errorf("reused: %d %q, host error %v", status, body, h.lastErr())
		}
	})
	t.Run("expired state", func(t *testing.T) {
		cb := callbackURL(t, h.stopAtCallback("u1"), start)
		h.clock.Advance(connect.DefaultStateTTL + time.Second)
		status, _ := get(t, h.browser("u1"), cb)
		if status != http.StatusBadRequest || !errors.Is(h.lastErr(), connect.ErrBadState) || !strings.Contains(h.lastErr().Error(), "expired") {
			t.Errorf("expired: %d, host error %v", status, h.lastErr())
		}
	})
	t.Run("another user", func(t *testing.T) {
		cb := callbackURL(t, h.stopAtCallback("u1"), start)
		status, _ := get(t, h.browser("mallory"), cb)
		if status != http.StatusBadRequest || !errors.Is(h.lastErr(), connect.ErrBadState) {
			t.Errorf("other user: %d, host error %v", status, h.lastErr())
		}
	})
	t.Run("forged state", func(t *testing.T) {
		for _, s := range []string{"", "x", "a.b", strings.Repeat("A", 5000), "azE.AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"} {
			status, _ := get(t, h.browser("u1"), h.srv.URL+"/connect/callback?code=c&state="+url.QueryEscape(s))
			if status != http.StatusBadRequest || !errors.Is(h.lastErr(), connect.ErrBadState) {
				t.Errorf("state %.20q: %d, host error %v", s, status, h.lastErr())
			}
		}
	})
	t.Run("failed exchange", func(t *testing.T) {
		cb := callbackURL(t, h.stopAtCallback("u1"), start)
		u, _ := url.Parse(cb)
		q := u.Query()
		q.Set("code", q.Get("code")+"tampered")
		u.RawQuery = q.Encode()
		status, body := get(t, h.browser("u1"), u.String())
		if status != http.StatusBadGateway || !strings.Contains(body, "did not complete") || !errors.Is(h.lastErr(), connect.ErrExchange) {
			t.Errorf("exchange: %d %q, host error %v", status, body, h.lastErr())
		}
		if strings.Contains(h.lastErr().Error(), "tampered") {
			t.Errorf("the code appears in the error: %v", h.lastErr())
		}
	})
	t.Run("unknown provider", func(t *testing.T) {
		status, _ := get(t, h.browser("u1"), h.srv.URL+"/connect/start?provider=yahoo")
		if status != http.StatusBadRequest || !errors.Is(h.lastErr(), connect.ErrUnknownProvider) {
			t.Errorf("unknown provider: %d, host error %v", status, h.lastErr())
		}
	})
	t.Run("not signed in", func(t *testing.T) {
		status, _ := get(t, &http.Client{}, start)
		if status != http.StatusUnauthorized || !errors.Is(h.lastErr(), connect.ErrNoUser) {
			t.Errorf("no user: %d, host error %v", status, h.lastErr())
		}
	})
	checkNoSecrets(t, h, &oauth2.Token{})
}

// A revoked grant parks the account; completing the flow again resumes it
// with the sync state kept, and Result.Reconnected says so.
func TestGoogleReconnect(t *testing.T) {
	ctx := context.Background()
	h, emu := newGoogleHost(t)
	if status, _ := get(t, h.browser("u1"), h.srv.URL+"/connect/start?provider="+google.Name); status != http.StatusOK {
		t.Fatal(status)
	}
	cal := calsync.Calendar{ID: "google:u1/alice", Provider: google.Name, AccountID: "google:u1", RemoteID: "alice@example.com"}
	if _, err := h.engine.Connect(ctx, cal, calsync.ConnectRequest{Address: h.hooks.URL + "/hooks/google"}); err != nil {
		t.Fatal(err)
	}
	emu.RevokeGrants()
	if _, err := h.engine.Sync(ctx, cal.ID); !errors.Is(err, calsync.ErrReauthRequired) {
		t.Fatalf("Sync after revocation = %v, want ErrReauthRequired", err)
	}
	if a, _ := h.engine.Account(ctx, "google:u1"); a.Status != calsync.AccountNeedsReauth {
		t.Fatalf("account status = %q, want needs_reauth", a.Status)
	}
	// A simulated day parked: a push every hour, every sweep every ten
	// minutes. Not one request reaches the API or the token endpoint.
	apiBefore := len(emu.Requests())
	_, refreshesBefore := emu.TokenRequests()
	for step := range 24 * 6 {
		h.clock.Advance(10 * time.Minute)
		if step%6 == 0 {
			if err := h.engine.Process(ctx, calsync.Notification{Kind: calsync.Changed, Provider: google.Name, CalendarID: cal.ID,
				MessageID: fmt.Sprint("push-", step)}); err != nil {
				t.Errorf("Process on a parked account = %v", err)
			}
		}
		for _, s := range calsync.Sweeps() {
			if _, err := h.engine.RunSweep(ctx, s); err != nil {
				t.Errorf("RunSweep(%s) = %v", s, err)
			}
		}
	}
	_, refreshes := emu.TokenRequests()
	if api := len(emu.Requests()) - apiBefore; api != 0 || refreshes != refreshesBefore {
		t.Errorf("a parked account made %d API requests and %d refreshes over a day, want 0 and 0", api, refreshes-refreshesBefore)
	}
	if _, err := emu.InsertEvent("alice@example.com", &calendar.Event{Summary: "Made while parked",
		Start: &calendar.EventDateTime{DateTime: "2026-12-02T09:00:00Z"}, End: &calendar.EventDateTime{DateTime: "2026-12-02T10:00:00Z"}}); err != nil {
		t.Fatal(err)
	}
	full := h.engine.Stats().FullSyncs
	if status, _ := get(t, h.browser("u1"), h.srv.URL+"/connect/start?provider="+google.Name); status != http.StatusOK {
		t.Fatalf("reconnect: %d (%v)", status, h.lastErr())
	}
	if !h.results[len(h.results)-1].Reconnected {
		t.Error("Result.Reconnected is false after a reconnect")
	}
	if a, _ := h.engine.Account(ctx, "google:u1"); a.Status != calsync.AccountActive {
		t.Errorf("account status = %q after reconnecting, want active", a.Status)
	}
	if evs, _ := h.store.ListEvents(ctx, cal.ID, "", 10); len(evs) != 1 || evs[0].Summary != "Made while parked" {
		t.Errorf("events after reconnecting = %+v, want the one made while parked", evs)
	}
	subs, _ := h.store.ListSubscriptions(ctx, cal.ID)
	if len(subs) != 1 || !subs[0].Expiration.After(h.clock.Now().Add(calsync.DefaultRenewBefore)) {
		t.Errorf("subscriptions after reconnecting = %+v, want one live", subs)
	}
	if n := h.engine.Stats().FullSyncs - full; n != 0 {
		t.Errorf("%d full syncs after reconnecting, want 0 (the cursor is still valid)", n)
	}
}

// With ConnectPrimary the callback connects the primary calendar itself.
func TestGoogleConnectPrimary(t *testing.T) {
	ctx := context.Background()
	h, _ := newGoogleHost(t, func(h *host, c *connect.Config) {
		c.ConnectPrimary = &calsync.ConnectRequest{Address: h.hooks.URL + "/hooks/google"}
	})
	if status, _ := get(t, h.browser("u1"), h.srv.URL+"/connect/start?provider="+google.Name); status != http.StatusOK {
		t.Fatalf("flow: %d (%v)", status, h.lastErr())
	}
	res := h.results[0]
	want := calsync.Calendar{ID: "google:u1/alice@example.com", Provider: google.Name, AccountID: "google:u1", RemoteID: "alice@example.com"}
	if res.Connected == nil || *res.Connected != want {
		t.Fatalf("Result.Connected = %+v, want %+v", res.Connected, want)
	}
	if subs, err := h.store.ListSubscriptions(ctx, want.ID); err != nil || len(subs) != 1 {
		t.Errorf("subscriptions of the primary calendar = %+v, %v; want one", subs, err)
	}
}

// A 401 to an access token whose grant is alive (Google revoked just that
// token) is answered as Google documents it: refresh and try again. The
// account stays active.
func TestGoogleRefusedAccessTokenIsRefreshed(t *testing.T) {
	ctx := context.Background()
	h, emu := newGoogleHost(t)
	if status, _ := get(t, h.browser("u1"), h.srv.URL+"/connect/start?provider="+google.Name); status != http.StatusOK {
		t.Fatal(status)
	}
	cal := calsync.Calendar{ID: "google:u1/alice", Provider: google.Name, AccountID: "google:u1", RemoteID: "alice@example.com"}
	if _, err := h.engine.Connect(ctx, cal, calsync.ConnectRequest{Address: h.hooks.URL + "/hooks/google"}); err != nil {
		t.Fatal(err)
	}
	st, _ := h.store.AccountToken(ctx, "google:u1")
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
	if a, _ := h.engine.Account(ctx, "google:u1"); a.Status != calsync.AccountActive {
		t.Errorf("account status = %q, want active", a.Status)
	}
}
