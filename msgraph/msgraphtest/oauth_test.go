package msgraphtest_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/oauth2"

	"github.com/calsync/calsync/msgraph/msgraphtest"
)

const (
	testClientID = "7b5c1e7e-0000-4000-8000-00000000c11e"
	testSecret   = "client-secret-value"
	testCallback = "https://app.example/oauth/callback"
)

// idp is an emulator with a registered confidential client and the
// unmodified golang.org/x/oauth2 client configured for it.
type idp struct {
	srv  *msgraphtest.Server
	clk  *clock
	conf *oauth2.Config
	ctx  context.Context // carries the client that trusts the emulator
}

func newIdP(t *testing.T, cfg msgraphtest.Config, scopes ...string) *idp {
	t.Helper()
	srv, clk := newServer(t, cfg)
	srv.AddUser("bob")
	srv.RegisterClient(testClientID, testSecret, testCallback)
	if len(scopes) == 0 {
		scopes = []string{"offline_access", "https://graph.microsoft.com/Calendars.ReadWrite", "https://graph.microsoft.com/MailboxSettings.Read"}
	}
	return &idp{
		srv: srv, clk: clk,
		conf: &oauth2.Config{
			ClientID: testClientID, ClientSecret: testSecret,
			Endpoint:    srv.OAuthEndpoint("common"),
			RedirectURL: testCallback,
			Scopes:      scopes,
		},
		ctx: context.WithValue(context.Background(), oauth2.HTTPClient, srv.Client()),
	}
}

// browse follows the redirects of an authorization URL as a browser would,
// stopping at the callback: it returns the last response (its body read
// and closed) and the callback's query, nil if it never got there.
func (p *idp) browse(t *testing.T, authURL string) (*http.Response, string, url.Values) {
	t.Helper()
	hc := &http.Client{
		Transport: p.srv.Client().Transport,
		CheckRedirect: func(req *http.Request, _ []*http.Request) error {
			if strings.HasPrefix(req.URL.String(), testCallback) {
				return http.ErrUseLastResponse
			}
			return nil
		},
	}
	resp, err := hc.Get(authURL)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	loc := resp.Header.Get("Location")
	if resp.StatusCode != http.StatusFound || !strings.HasPrefix(loc, testCallback) {
		return resp, string(body), nil
	}
	u, err := url.Parse(loc)
	if err != nil {
		t.Fatal(err)
	}
	return resp, string(body), u.Query()
}

// code signs in (as hint, "" for the first user) and returns the code.
func (p *idp) code(t *testing.T, verifier, hint string) string {
	t.Helper()
	opts := []oauth2.AuthCodeOption{oauth2.S256ChallengeOption(verifier)}
	if hint != "" {
		opts = append(opts, oauth2.SetAuthURLParam("login_hint", hint))
	}
	resp, body, q := p.browse(t, p.conf.AuthCodeURL("state-123", opts...))
	if q == nil {
		t.Fatalf("authorize answered %d %s, not a redirect to the callback", resp.StatusCode, body)
	}
	if q.Get("state") != "state-123" || q.Get("code") == "" {
		t.Fatalf("callback query %v: want the state echoed and a code", q)
	}
	return q.Get("code")
}

// connect runs the whole flow and returns the token.
func (p *idp) connect(t *testing.T, hint string) *oauth2.Token {
	t.Helper()
	v := oauth2.GenerateVerifier()
	tok, err := p.conf.Exchange(p.ctx, p.code(t, v, hint), oauth2.VerifierOption(v))
	if err != nil {
		t.Fatalf("Exchange: %v", err)
	}
	return tok
}

// call makes an API call with an access token and returns the status and
// body.
func (p *idp) call(t *testing.T, token, method, path, body string) (int, []byte) {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, p.srv.URL()+"/v1.0"+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", "application/json")
	resp, err := p.srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b
}

// refresh redeems a refresh token, as a token source whose access token
// is gone does.
func (p *idp) refresh(refreshToken string) (*oauth2.Token, error) {
	return p.conf.TokenSource(p.ctx, &oauth2.Token{RefreshToken: refreshToken}).Token()
}

// wantGrantError checks a refused token request: invalid_grant (or code)
// with the AADSTS number in the description and in error_codes.
func wantGrantError(t *testing.T, err error, code string, aadsts int) {
	t.Helper()
	re, ok := errors.AsType[*oauth2.RetrieveError](err)
	if !ok {
		t.Fatalf("error %v is not a *oauth2.RetrieveError", err)
	}
	if re.ErrorCode != code {
		t.Fatalf("ErrorCode = %q, want %q (%s)", re.ErrorCode, code, re.Body)
	}
	var body struct {
		Desc   string `json:"error_description"`
		Codes  []int  `json:"error_codes"`
		Trace  string `json:"trace_id"`
		Corr   string `json:"correlation_id"`
		TStamp string `json:"timestamp"`
	}
	if err := json.Unmarshal(re.Body, &body); err != nil {
		t.Fatalf("body %s: %v", re.Body, err)
	}
	if len(body.Codes) != 1 || body.Codes[0] != aadsts || !strings.HasPrefix(body.Desc, "AADSTS"+strconv.Itoa(aadsts)+":") {
		t.Fatalf("error_codes %v, description %q: want AADSTS%d", body.Codes, body.Desc, aadsts)
	}
	if body.Trace == "" || body.Corr == "" || body.TStamp == "" {
		t.Errorf("body lacks trace_id, correlation_id or timestamp: %s", re.Body)
	}
}

func TestIdentityPlatformConnectRefreshRotate(t *testing.T) {
	p := newIdP(t, msgraphtest.Config{})
	tok := p.connect(t, "Bob@contoso.onmicrosoft.com")
	if tok.AccessToken == "" || tok.RefreshToken == "" || tok.TokenType != "Bearer" {
		t.Fatalf("token %+v: want Bearer with access and refresh tokens", tok)
	}
	if got := tok.Extra("expires_in"); got != float64(3599) {
		t.Errorf("expires_in = %v, want 3599", got)
	}
	if tok.Extra("ext_expires_in") == nil {
		t.Error("no ext_expires_in")
	}
	scope, _ := tok.Extra("scope").(string)
	if !strings.Contains(scope, "https://graph.microsoft.com/Calendars.ReadWrite") {
		t.Errorf("scope = %q, want the Graph scopes with their resource", scope)
	}

	// The token acts as the signed-in user, chosen by login_hint.
	st, body := p.call(t, tok.AccessToken, http.MethodGet, "/me/calendars", "")
	if st != http.StatusOK || !strings.Contains(string(body), `"address":"bob@contoso.onmicrosoft.com"`) {
		t.Fatalf("GET /me/calendars = %d %s, want bob's calendars", st, body)
	}

	// An hour later (fake clock) the access token has expired.
	p.clk.Add(time.Hour)
	if st, body := p.call(t, tok.AccessToken, http.MethodGet, "/me/calendars", ""); st != http.StatusUnauthorized ||
		!strings.Contains(string(body), "InvalidAuthenticationToken") {
		t.Fatalf("expired token: %d %s, want 401 InvalidAuthenticationToken", st, body)
	}

	// A refresh rotates the refresh token.
	tok2, err := p.refresh(tok.RefreshToken)
	if err != nil {
		t.Fatalf("refresh: %v", err)
	}
	if tok2.RefreshToken == "" || tok2.RefreshToken == tok.RefreshToken || tok2.AccessToken == tok.AccessToken {
		t.Fatal("refresh did not issue a new access token and a new refresh token")
	}
	if st, body := p.call(t, tok2.AccessToken, http.MethodGet, "/me/calendars", ""); st != http.StatusOK {
		t.Fatalf("refreshed token: %d %s", st, body)
	}

	// The refresh token rotated away is refused.
	_, err = p.refresh(tok.RefreshToken)
	wantGrantError(t, err, "invalid_grant", 70008)
	// The new one still works, once.
	if _, err := p.refresh(tok2.RefreshToken); err != nil {
		t.Fatalf("refresh with the rotated-in token: %v", err)
	}
	if codes, refreshes := p.srv.TokenRequests(); codes != 1 || refreshes != 3 {
		t.Errorf("TokenRequests = %d, %d; want 1, 3", codes, refreshes)
	}
}

func TestIdentityPlatformAcceptRotatedRefreshTokens(t *testing.T) {
	p := newIdP(t, msgraphtest.Config{AcceptRotatedRefreshTokens: true})
	tok := p.connect(t, "")
	if _, err := p.refresh(tok.RefreshToken); err != nil {
		t.Fatal(err)
	}
	if _, err := p.refresh(tok.RefreshToken); err != nil {
		t.Fatalf("old refresh token with AcceptRotatedRefreshTokens: %v", err)
	}
}

func TestIdentityPlatformRevokeGrants(t *testing.T) {
	p := newIdP(t, msgraphtest.Config{})
	alice := p.connect(t, "alice")
	bob := p.connect(t, "bob")
	p.srv.RevokeGrants("alice")

	_, err := p.refresh(alice.RefreshToken)
	wantGrantError(t, err, "invalid_grant", 50173)
	if st, body := p.call(t, alice.AccessToken, http.MethodGet, "/me/calendarView/delta?startDateTime=2026-03-01T00:00:00Z&endDateTime=2026-04-01T00:00:00Z", ""); st != http.StatusUnauthorized {
		t.Fatalf("revoked grant's access token: %d %s, want 401", st, body)
	}
	// Another user's grant is untouched, and so are tokens the identity
	// platform did not issue.
	if _, err := p.refresh(bob.RefreshToken); err != nil {
		t.Fatalf("bob's refresh: %v", err)
	}
	if st, body := p.call(t, "any-static-token", http.MethodGet, "/me/calendars", ""); st != http.StatusOK {
		t.Fatalf("static token: %d %s", st, body)
	}
	// Signing in again gives a new grant.
	if _, err := p.refresh(p.connect(t, "alice").RefreshToken); err != nil {
		t.Fatalf("after a new sign-in: %v", err)
	}
}

func TestIdentityPlatformTokenErrors(t *testing.T) {
	for _, tc := range []struct {
		name   string
		redeem func(t *testing.T, p *idp, code, verifier string) error
		code   string
		aadsts int
	}{
		{"reused code", func(t *testing.T, p *idp, code, v string) error {
			if _, err := p.conf.Exchange(p.ctx, code, oauth2.VerifierOption(v)); err != nil {
				t.Fatal(err)
			}
			_, err := p.conf.Exchange(p.ctx, code, oauth2.VerifierOption(v))
			return err
		}, "invalid_grant", 54005},
		{"wrong verifier", func(t *testing.T, p *idp, code, _ string) error {
			_, err := p.conf.Exchange(p.ctx, code, oauth2.VerifierOption(oauth2.GenerateVerifier()))
			return err
		}, "invalid_grant", 501481},
		{"no verifier", func(t *testing.T, p *idp, code, _ string) error {
			_, err := p.conf.Exchange(p.ctx, code)
			return err
		}, "invalid_grant", 501481},
		{"expired code", func(t *testing.T, p *idp, code, v string) error {
			p.clk.Add(msgraphtest.AuthorizationCodeLifetime)
			_, err := p.conf.Exchange(p.ctx, code, oauth2.VerifierOption(v))
			return err
		}, "invalid_grant", 70008},
		{"other redirect_uri", func(t *testing.T, p *idp, code, v string) error {
			c := *p.conf
			c.RedirectURL = "https://app.example/other"
			_, err := c.Exchange(p.ctx, code, oauth2.VerifierOption(v))
			return err
		}, "invalid_grant", 70000},
		{"wrong secret", func(t *testing.T, p *idp, code, v string) error {
			c := *p.conf
			c.ClientSecret = "not-the-secret"
			_, err := c.Exchange(p.ctx, code, oauth2.VerifierOption(v))
			return err
		}, "invalid_client", 7000215},
		{"unknown code", func(t *testing.T, p *idp, _, v string) error {
			_, err := p.conf.Exchange(p.ctx, "1.AQnot-a-code", oauth2.VerifierOption(v))
			return err
		}, "invalid_grant", 9002313},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := newIdP(t, msgraphtest.Config{})
			v := oauth2.GenerateVerifier()
			err := tc.redeem(t, p, p.code(t, v, ""), v)
			wantGrantError(t, err, tc.code, tc.aadsts)
			if tc.code == "invalid_client" {
				re, _ := errors.AsType[*oauth2.RetrieveError](err)
				if re.Response.StatusCode != http.StatusUnauthorized {
					t.Errorf("status %d, want 401", re.Response.StatusCode)
				}
			}
		})
	}
}

func TestIdentityPlatformAuthorizeErrors(t *testing.T) {
	p := newIdP(t, msgraphtest.Config{})

	c := *p.conf
	c.ClientID = "unknown-client"
	resp, body, q := p.browse(t, c.AuthCodeURL("s"))
	if q != nil || resp.StatusCode != http.StatusBadRequest || resp.Header.Get("Location") != "" || !strings.Contains(body, "AADSTS700016") {
		t.Errorf("unknown client: %d %q %s, want an error page without redirect", resp.StatusCode, resp.Header.Get("Location"), body)
	}

	c = *p.conf
	c.RedirectURL = testCallback + "/evil"
	resp, body, _ = p.browse(t, c.AuthCodeURL("s"))
	if resp.StatusCode != http.StatusBadRequest || resp.Header.Get("Location") != "" || !strings.Contains(body, "AADSTS50011") {
		t.Errorf("unregistered redirect_uri: %d %q %s, want an error page without redirect", resp.StatusCode, resp.Header.Get("Location"), body)
	}

	p.srv.DenyConsent(true)
	_, _, q = p.browse(t, p.conf.AuthCodeURL("state-9", oauth2.S256ChallengeOption(oauth2.GenerateVerifier())))
	if q == nil || q.Get("error") != "access_denied" || !strings.HasPrefix(q.Get("error_description"), "AADSTS65004") ||
		q.Get("state") != "state-9" || q.Get("code") != "" {
		t.Errorf("denied consent: callback %v, want error=access_denied with the state", q)
	}
	p.srv.DenyConsent(false)

	// Other tenants' endpoints work the same.
	for _, tenant := range []string{"organizations", "consumers", msgraphtest.DefaultTenantID} {
		c = *p.conf
		c.Endpoint = p.srv.OAuthEndpoint(tenant)
		v := oauth2.GenerateVerifier()
		_, _, q := p.browse(t, c.AuthCodeURL("s", oauth2.S256ChallengeOption(v)))
		if q == nil {
			t.Fatalf("tenant %s: no callback", tenant)
		}
		if _, err := c.Exchange(p.ctx, q.Get("code"), oauth2.VerifierOption(v)); err != nil {
			t.Fatalf("tenant %s: %v", tenant, err)
		}
	}
}

func TestIdentityPlatformScopes(t *testing.T) {
	p := newIdP(t, msgraphtest.Config{}, "Calendars.Read")
	tok := p.connect(t, "")
	if tok.RefreshToken != "" {
		t.Error("a refresh token without offline_access")
	}
	ev := `{"subject":"x","start":{"dateTime":"2026-03-03T10:00:00","timeZone":"UTC"},"end":{"dateTime":"2026-03-03T11:00:00","timeZone":"UTC"}}`
	st, body := p.call(t, tok.AccessToken, http.MethodPost, "/me/events", ev)
	if st != http.StatusForbidden || !strings.Contains(string(body), `"code":"ErrorAccessDenied"`) ||
		!strings.Contains(string(body), "Access is denied. Check credentials and try again.") {
		t.Fatalf("write with Calendars.Read: %d %s, want 403 ErrorAccessDenied", st, body)
	}
	if st, body := p.call(t, tok.AccessToken, http.MethodGet, "/me/calendarView/delta?startDateTime=2026-03-01T00:00:00Z&endDateTime=2026-04-01T00:00:00Z", ""); st != http.StatusOK {
		t.Fatalf("delta with Calendars.Read: %d %s", st, body)
	}
	if st, body := p.call(t, tok.AccessToken, http.MethodGet, "/subscriptions", ""); st != http.StatusOK {
		t.Fatalf("subscriptions with Calendars.Read: %d %s", st, body)
	}
	if st, _ := p.call(t, tok.AccessToken, http.MethodGet, "/me/mailboxSettings", ""); st != http.StatusForbidden {
		t.Fatalf("mailboxSettings without MailboxSettings.Read: %d, want 403", st)
	}
	// The same write with Calendars.ReadWrite, and with a static token.
	rw := newIdP(t, msgraphtest.Config{})
	if st, body := rw.call(t, rw.connect(t, "").AccessToken, http.MethodPost, "/me/events", ev); st != http.StatusCreated {
		t.Fatalf("write with Calendars.ReadWrite: %d %s", st, body)
	}
	if st, body := rw.call(t, "static", http.MethodPost, "/me/events", ev); st != http.StatusCreated {
		t.Fatalf("write with a static token: %d %s", st, body)
	}
}
