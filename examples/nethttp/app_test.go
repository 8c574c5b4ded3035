package main

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"

	"github.com/calsync/calsync/google"
	"github.com/calsync/calsync/vault"
)

// testApp is the app in -emulate mode on an httptest.Server, its Engine
// running, and its log kept to be searched for secrets.
type testApp struct {
	*app
	srv *httptest.Server
	log *lockedBuffer
}

func startApp(t *testing.T) *testApp {
	t.Helper()
	mux := http.NewServeMux()
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	buf := &lockedBuffer{}
	a, err := newApp(t.Context(), appConfig{
		PublicURL: srv.URL,
		DB:        filepath.Join(t.TempDir(), "calsync.db"),
		Emulate:   true,
		VaultKey:  vault.NewKey(),
		Logger:    slog.New(slog.NewTextHandler(buf, &slog.HandlerOptions{Level: slog.LevelDebug})),
	})
	if err != nil {
		t.Fatal(err)
	}
	mux.Handle("/", a.Handler())
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { a.Run(ctx); close(done) }()
	t.Cleanup(func() {
		cancel()
		<-done
		a.Close()
		checkNoSecrets(t, buf.String(), a.emu.googleClient.Secret, a.emu.graphClient.Secret)
	})
	return &testApp{app: a, srv: srv, log: buf}
}

// checkNoSecrets fails if one of secrets, an OAuth code or state, or a
// bearer token appears in the log. ("state=exists" is a Google push's
// resource state, not an OAuth state.)
func checkNoSecrets(t *testing.T, log string, secrets ...string) {
	t.Helper()
	for _, s := range secrets {
		if s != "" && strings.Contains(log, s) {
			t.Error("a secret (client secret or token) appears in the log")
		}
	}
	for _, m := range leaky.FindAllStringSubmatch(log, -1) {
		if m[1] == "state" && (m[2] == "exists" || m[2] == "sync" || m[2] == "not_exists") {
			continue
		}
		t.Errorf("%q appears in the log", m[0])
	}
}

var leaky = regexp.MustCompile(`\b(code|state|access_token|refresh_token|Bearer)[= ]([^\s&"]+)`)

type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// client is a user agent signed in as user (no user if empty) that does
// not follow redirects.
func (ta *testApp) client(t *testing.T, user string) *http.Client {
	t.Helper()
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	if user != "" {
		u, _ := url.Parse(ta.srv.URL)
		jar.SetCookies(u, []*http.Cookie{{Name: userCookie, Value: user}})
	}
	return &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
}

// do sends a request and returns the status and body.
func do(t *testing.T, c *http.Client, req *http.Request) (int, string) {
	t.Helper()
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func postForm(t *testing.T, u string, form url.Values, header http.Header) *http.Request {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, u, strings.NewReader(form.Encode()))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	for k, v := range header {
		req.Header[k] = v
	}
	return req
}

func TestHealthz(t *testing.T) {
	ta := startApp(t)
	req, _ := http.NewRequest(http.MethodGet, ta.srv.URL+"/healthz", nil)
	if status, body := do(t, ta.client(t, ""), req); status != http.StatusOK || body != "ok" {
		t.Errorf("healthz = %d %q, want 200 ok", status, body)
	}
	// A store that no longer answers: 503.
	ta.Close()
	if status, _ := do(t, ta.client(t, ""), req); status != http.StatusServiceUnavailable {
		t.Errorf("healthz with the store closed = %d, want 503", status)
	}
}

// connectGoogle runs the connect flow for user with a plain HTTP client
// (the emulated consent is automatic) and returns the picker page.
func (ta *testApp) connectGoogle(t *testing.T, user string) string {
	t.Helper()
	c := ta.client(t, user)
	c.CheckRedirect = nil
	req, _ := http.NewRequest(http.MethodGet, ta.srv.URL+"/connect/start?provider="+google.Name, nil)
	status, body := do(t, c, req)
	if status != http.StatusOK || !strings.Contains(body, `id="picker"`) {
		t.Fatalf("connect flow ended with %d:\n%s", status, body)
	}
	return body
}

func TestChooseRejectsBadRequests(t *testing.T) {
	ta := startApp(t)
	ta.connectGoogle(t, "bob")
	ta.connectGoogle(t, "u1")
	choose := ta.srv.URL + "/connect/choose"
	for _, tc := range []struct {
		name   string
		user   string
		form   url.Values
		header http.Header
		want   int
	}{
		{"not signed in", "", url.Values{"account": {"google:u1"}, "calendar": {demoWork}}, nil, http.StatusUnauthorized},
		{"no account", "u1", url.Values{"calendar": {demoWork}}, nil, http.StatusBadRequest},
		{"no calendar", "u1", url.Values{"account": {"google:u1"}}, nil, http.StatusBadRequest},
		{"empty form", "u1", url.Values{}, nil, http.StatusBadRequest},
		{"unknown account", "u1", url.Values{"account": {"google:nobody"}, "calendar": {demoWork}}, nil, http.StatusBadRequest},
		{"another user's account", "u1", url.Values{"account": {"google:bob"}, "calendar": {demoWork}}, nil, http.StatusBadRequest},
		{"calendar not in the account", "u1", url.Values{"account": {"google:u1"}, "calendar": {"someone-else@example.com"}}, nil, http.StatusBadRequest},
		{"cross-site", "u1", url.Values{"account": {"google:u1"}, "calendar": {demoWork}}, http.Header{"Sec-Fetch-Site": {"cross-site"}}, http.StatusForbidden},
		{"foreign origin", "u1", url.Values{"account": {"google:u1"}, "calendar": {demoWork}}, http.Header{"Origin": {"https://evil.example"}}, http.StatusForbidden},
	} {
		t.Run(tc.name, func(t *testing.T) {
			status, body := do(t, ta.client(t, tc.user), postForm(t, choose, tc.form, tc.header))
			if status != tc.want {
				t.Errorf("POST /connect/choose = %d, want %d:\n%s", status, tc.want, body)
			}
		})
	}
	cals, err := ta.store.ListCalendars(t.Context())
	if err != nil || len(cals) != 0 {
		t.Fatalf("after rejected requests the store holds calendars %v (%v), want none", cals, err)
	}

	// The same form, well formed, from the same site, connects.
	status, _ := do(t, ta.client(t, "u1"), postForm(t, choose, url.Values{"account": {"google:u1"}, "calendar": {demoWork, demoFamily}},
		http.Header{"Sec-Fetch-Site": {"same-origin"}, "Origin": {ta.srv.URL}}))
	if status != http.StatusSeeOther {
		t.Fatalf("valid POST /connect/choose = %d, want 303", status)
	}
	cals, err = ta.store.ListCalendars(t.Context())
	if err != nil || len(cals) != 2 {
		t.Fatalf("calendars after choosing = %v (%v), want 2", cals, err)
	}
	req, _ := http.NewRequest(http.MethodGet, ta.srv.URL+"/", nil)
	if _, body := do(t, ta.client(t, "u1"), req); !strings.Contains(body, `data-testid="calendar-google:u1/`+demoWork+`"`) || strings.Contains(body, "google:bob") {
		t.Errorf("u1's status page does not show exactly u1's calendars:\n%s", body)
	}
}

func TestDisconnectOnlyOwnAccount(t *testing.T) {
	ta := startApp(t)
	ta.connectGoogle(t, "bob")
	form := url.Values{"account": {"google:bob"}}
	if status, _ := do(t, ta.client(t, "u1"), postForm(t, ta.srv.URL+"/accounts/disconnect", form, nil)); status != http.StatusBadRequest {
		t.Errorf("u1 disconnecting bob's account = %d, want 400", status)
	}
	if status, _ := do(t, ta.client(t, "bob"), postForm(t, ta.srv.URL+"/accounts/disconnect", form, nil)); status != http.StatusSeeOther {
		t.Errorf("bob disconnecting his account = %d, want 303", status)
	}
	if acc, err := ta.engine.Account(t.Context(), "google:bob"); err != nil || acc.Status != "disconnected" {
		t.Errorf("bob's account = %+v (%v), want disconnected", acc, err)
	}
	if _, err := ta.store.AccountToken(t.Context(), "google:bob"); err == nil {
		t.Error("bob's token is still stored after disconnecting")
	}
}
