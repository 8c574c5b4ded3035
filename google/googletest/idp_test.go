package googletest_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"golang.org/x/oauth2"
	calendar "google.golang.org/api/calendar/v3"
	"google.golang.org/api/option"

	"github.com/calsync/calsync/google/googletest"
)

const (
	clientID     = "123-app.apps.googleusercontent.com"
	clientSecret = "GOCSPX-test-secret"
	callback     = "https://app.example.com/oauth/callback"
)

// idpEnv is an emulator with a registered client, a fake clock and an
// oauth2.Config pointing at its identity provider.
type idpEnv struct {
	srv   *googletest.Server
	clock *fakeClock
	conf  *oauth2.Config
}

func newIDPEnv(t *testing.T, scopes ...string) *idpEnv {
	t.Helper()
	clock := newClock()
	srv := googletest.NewServer(googletest.Config{Now: clock.Now, Exact: true})
	t.Cleanup(srv.Close)
	if err := srv.AddCalendar(calID, "UTC"); err != nil {
		t.Fatal(err)
	}
	srv.RegisterClient(clientID, clientSecret, callback)
	if len(scopes) == 0 {
		scopes = []string{googletest.ScopeCalendar}
	}
	return &idpEnv{srv: srv, clock: clock, conf: &oauth2.Config{
		ClientID:     clientID,
		ClientSecret: clientSecret,
		Endpoint:     srv.OAuthEndpoint(),
		RedirectURL:  callback,
		Scopes:       scopes,
	}}
}

// authorize follows conf.AuthCodeURL to the callback, as the user's browser
// would, and returns the status of the authorization endpoint's answer and
// the callback's query (nil when it did not redirect to the callback).
func authorize(t *testing.T, authURL string) (int, url.Values) {
	t.Helper()
	hc := &http.Client{CheckRedirect: func(req *http.Request, _ []*http.Request) error {
		return http.ErrUseLastResponse
	}}
	resp, err := hc.Get(authURL)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, resp.Body)
	if resp.StatusCode != http.StatusFound {
		return resp.StatusCode, nil
	}
	loc, err := url.Parse(resp.Header.Get("Location"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(loc.String(), callback+"?") {
		t.Fatalf("redirected to %s, want the callback", loc)
	}
	return resp.StatusCode, loc.Query()
}

// connect runs the whole authorization-code flow with PKCE and offline
// access and returns the token.
func (e *idpEnv) connect(t *testing.T, opts ...oauth2.AuthCodeOption) *oauth2.Token {
	t.Helper()
	verifier := oauth2.GenerateVerifier()
	opts = append([]oauth2.AuthCodeOption{oauth2.AccessTypeOffline, oauth2.ApprovalForce, oauth2.S256ChallengeOption(verifier)}, opts...)
	_, q := authorize(t, e.conf.AuthCodeURL("st@te/1", opts...))
	if q == nil || q.Get("code") == "" {
		t.Fatalf("no code in callback %v", q)
	}
	if q.Get("state") != "st@te/1" {
		t.Fatalf("state = %q, want it echoed", q.Get("state"))
	}
	tok, err := e.conf.Exchange(context.Background(), q.Get("code"), oauth2.VerifierOption(verifier))
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

func (e *idpEnv) service(t *testing.T, ts oauth2.TokenSource) *calendar.Service {
	t.Helper()
	svc, err := calendar.NewService(context.Background(), option.WithEndpoint(e.srv.Endpoint()), option.WithTokenSource(ts))
	if err != nil {
		t.Fatal(err)
	}
	return svc
}

func retrieveErr(t *testing.T, err error, code string) {
	t.Helper()
	var re *oauth2.RetrieveError
	if !errors.As(err, &re) {
		t.Fatalf("error %v (%T) is not a *oauth2.RetrieveError", err, err)
	}
	if re.ErrorCode != code {
		t.Fatalf("ErrorCode = %q, want %q (%s)", re.ErrorCode, code, re.Body)
	}
}

func TestIDPConnectRefreshRevoke(t *testing.T) {
	e := newIDPEnv(t)
	ctx := context.Background()
	tok := e.connect(t)
	if tok.RefreshToken == "" || tok.AccessToken == "" || tok.TokenType != "Bearer" {
		t.Fatalf("token = %+v, want access and refresh tokens", tok)
	}
	if got := tok.Extra("scope"); got != googletest.ScopeCalendar {
		t.Fatalf("scope = %v", got)
	}
	if got := tok.Extra("expires_in"); got != float64(3599) {
		t.Fatalf("expires_in = %v, want 3599", got)
	}
	svc := e.service(t, e.conf.TokenSource(ctx, tok))
	if _, err := svc.Events.Insert(calID, timedEvent("a", e.clock.Now(), time.Hour)).Do(); err != nil {
		t.Fatal(err)
	}

	// An hour later the access token is dead at the API, though the
	// client (on the real clock) still thinks it valid.
	e.clock.Advance(googletest.AccessTokenLifetime)
	_, err := svc.Events.List(calID).Do()
	apiErr(t, err, http.StatusUnauthorized, "authError")

	// A refresh gives a new access token and no new refresh token.
	stale := *tok
	stale.Expiry = time.Now().Add(-time.Minute)
	ts := e.conf.TokenSource(ctx, &stale)
	fresh, err := ts.Token()
	if err != nil {
		t.Fatal(err)
	}
	if fresh.AccessToken == tok.AccessToken {
		t.Fatal("refresh returned the old access token")
	}
	if fresh.RefreshToken != tok.RefreshToken {
		t.Fatal("the refresh token changed; Google does not rotate it")
	}
	if codes, refreshes := e.srv.TokenRequests(); codes != 1 || refreshes != 1 {
		t.Fatalf("TokenRequests = %d, %d; want 1, 1", codes, refreshes)
	}
	if _, err := e.service(t, ts).Events.List(calID).Do(); err != nil {
		t.Fatal(err)
	}

	// Revoking the refresh token revokes the grant: the access token gets
	// 401 and the refresh token invalid_grant.
	resp, err := http.PostForm(e.srv.RevokeURL(), url.Values{"token": {tok.RefreshToken}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("revoke: %d", resp.StatusCode)
	}
	_, err = e.service(t, oauth2.StaticTokenSource(fresh)).Events.List(calID).Do()
	apiErr(t, err, http.StatusUnauthorized, "authError")
	_, err = e.conf.TokenSource(ctx, &stale).Token()
	retrieveErr(t, err, "invalid_grant")

	resp, err = http.PostForm(e.srv.RevokeURL(), url.Values{"token": {"nonsense"}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusBadRequest {
		t.Fatalf("revoke of an unknown token: %d, want 400", resp.StatusCode)
	}
}

func TestIDPRevokeGrants(t *testing.T) {
	e := newIDPEnv(t)
	ctx := context.Background()
	tok := e.connect(t)
	e.srv.RevokeGrants()
	_, err := e.service(t, oauth2.StaticTokenSource(tok)).Events.List(calID).Do()
	apiErr(t, err, http.StatusUnauthorized, "authError")
	tok.Expiry = time.Now().Add(-time.Minute)
	_, err = e.conf.TokenSource(ctx, tok).Token()
	retrieveErr(t, err, "invalid_grant")
	var re *oauth2.RetrieveError
	if errors.As(err, &re) && re.ErrorDescription != "Token has been expired or revoked." {
		t.Fatalf("error_description = %q", re.ErrorDescription)
	}
	// Static tokens are not the identity provider's: still accepted.
	if _, err := newService(t, e.srv, "static").Events.List(calID).Do(); err != nil {
		t.Fatal(err)
	}
	// Consent again: a first consent, so a refresh token without prompt.
	if tok2 := e.connectNoPrompt(t); tok2.RefreshToken == "" {
		t.Fatal("no refresh token after consenting again")
	}
}

// connectNoPrompt connects with offline access but without prompt=consent.
func (e *idpEnv) connectNoPrompt(t *testing.T) *oauth2.Token {
	t.Helper()
	_, q := authorize(t, e.conf.AuthCodeURL("s", oauth2.AccessTypeOffline))
	tok, err := e.conf.Exchange(context.Background(), q.Get("code"))
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

func TestIDPRefreshTokenOnlyOnFirstConsentOrPrompt(t *testing.T) {
	e := newIDPEnv(t)
	if tok := e.connectNoPrompt(t); tok.RefreshToken == "" {
		t.Fatal("first consent gave no refresh token")
	}
	if tok := e.connectNoPrompt(t); tok.RefreshToken != "" {
		t.Fatal("a second consent without prompt=consent gave a refresh token")
	}
	if tok := e.connect(t); tok.RefreshToken == "" {
		t.Fatal("prompt=consent gave no refresh token")
	}
	// Online access never gets one.
	_, q := authorize(t, e.conf.AuthCodeURL("s", oauth2.ApprovalForce))
	tok, err := e.conf.Exchange(context.Background(), q.Get("code"))
	if err != nil {
		t.Fatal(err)
	}
	if tok.RefreshToken != "" {
		t.Fatal("online access gave a refresh token")
	}
}

func TestIDPCodeErrors(t *testing.T) {
	ctx := context.Background()
	codeFor := func(e *idpEnv, verifier string) string {
		_, q := authorize(t, e.conf.AuthCodeURL("s", oauth2.AccessTypeOffline, oauth2.S256ChallengeOption(verifier)))
		return q.Get("code")
	}
	t.Run("reused code", func(t *testing.T) {
		e := newIDPEnv(t)
		v := oauth2.GenerateVerifier()
		code := codeFor(e, v)
		if _, err := e.conf.Exchange(ctx, code, oauth2.VerifierOption(v)); err != nil {
			t.Fatal(err)
		}
		_, err := e.conf.Exchange(ctx, code, oauth2.VerifierOption(v))
		retrieveErr(t, err, "invalid_grant")
	})
	t.Run("wrong verifier", func(t *testing.T) {
		e := newIDPEnv(t)
		code := codeFor(e, oauth2.GenerateVerifier())
		_, err := e.conf.Exchange(ctx, code, oauth2.VerifierOption(oauth2.GenerateVerifier()))
		retrieveErr(t, err, "invalid_grant")
	})
	t.Run("missing verifier", func(t *testing.T) {
		e := newIDPEnv(t)
		code := codeFor(e, oauth2.GenerateVerifier())
		_, err := e.conf.Exchange(ctx, code)
		retrieveErr(t, err, "invalid_grant")
	})
	t.Run("expired code", func(t *testing.T) {
		e := newIDPEnv(t)
		v := oauth2.GenerateVerifier()
		code := codeFor(e, v)
		e.clock.Advance(googletest.AuthCodeLifetime)
		_, err := e.conf.Exchange(ctx, code, oauth2.VerifierOption(v))
		retrieveErr(t, err, "invalid_grant")
	})
	t.Run("wrong secret", func(t *testing.T) {
		e := newIDPEnv(t)
		v := oauth2.GenerateVerifier()
		code := codeFor(e, v)
		conf := *e.conf
		conf.ClientSecret = "wrong"
		_, err := conf.Exchange(ctx, code, oauth2.VerifierOption(v))
		retrieveErr(t, err, "invalid_client")
	})
	t.Run("basic auth", func(t *testing.T) {
		e := newIDPEnv(t)
		v := oauth2.GenerateVerifier()
		code := codeFor(e, v)
		conf := *e.conf
		conf.Endpoint.AuthStyle = oauth2.AuthStyleInHeader
		if _, err := conf.Exchange(ctx, code, oauth2.VerifierOption(v)); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("other redirect_uri at the token endpoint", func(t *testing.T) {
		e := newIDPEnv(t)
		e.srv.RegisterClient(clientID, clientSecret, callback, callback+"2")
		v := oauth2.GenerateVerifier()
		code := codeFor(e, v)
		conf := *e.conf
		conf.RedirectURL = callback + "2"
		_, err := conf.Exchange(ctx, code, oauth2.VerifierOption(v))
		retrieveErr(t, err, "redirect_uri_mismatch")
	})
}

func TestIDPAuthorizeErrors(t *testing.T) {
	e := newIDPEnv(t)
	base := e.srv.OAuthEndpoint().AuthURL
	good := url.Values{
		"response_type": {"code"},
		"client_id":     {clientID},
		"redirect_uri":  {callback},
		"scope":         {googletest.ScopeCalendar},
		"state":         {"xyz"},
	}
	with := func(k, v string) string {
		q := url.Values{}
		for kk, vv := range good {
			q[kk] = vv
		}
		if v == "" {
			q.Del(k)
		} else {
			q.Set(k, v)
		}
		return base + "?" + q.Encode()
	}
	tests := []struct {
		name      string
		url       string
		status    int
		errorCode string // in the redirect
	}{
		{"unknown client", with("client_id", "nobody"), http.StatusUnauthorized, ""},
		{"redirect_uri mismatch", with("redirect_uri", callback+"/"), http.StatusBadRequest, ""},
		{"missing scope", with("scope", ""), http.StatusBadRequest, ""},
		{"unsupported response_type", with("response_type", "token"), http.StatusFound, "unsupported_response_type"},
		{"missing response_type", with("response_type", ""), http.StatusFound, "unsupported_response_type"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, q := authorize(t, tt.url)
			if status != tt.status {
				t.Fatalf("status = %d, want %d", status, tt.status)
			}
			if tt.errorCode != "" && (q.Get("error") != tt.errorCode || q.Get("state") != "xyz" || q.Get("code") != "") {
				t.Fatalf("callback query = %v, want error=%s and the state", q, tt.errorCode)
			}
		})
	}
	t.Run("denied consent", func(t *testing.T) {
		e.srv.DenyConsent(true)
		defer e.srv.DenyConsent(false)
		_, q := authorize(t, with("state", "s1"))
		if q.Get("error") != "access_denied" || q.Get("state") != "s1" || q.Get("code") != "" {
			t.Fatalf("callback query = %v", q)
		}
	})
}

func TestIDPReadonlyScopeRefusesWrites(t *testing.T) {
	e := newIDPEnv(t, googletest.ScopeCalendarReadonly)
	tok := e.connect(t)
	svc := e.service(t, oauth2.StaticTokenSource(tok))
	if _, err := svc.Events.List(calID).Do(); err != nil {
		t.Fatal(err)
	}
	if _, err := svc.CalendarList.List().Do(); err != nil {
		t.Fatal(err)
	}
	_, err := svc.Events.Insert(calID, timedEvent("a", e.clock.Now(), time.Hour)).Do()
	gerr := apiErr(t, err, http.StatusForbidden, "insufficientPermissions")
	if gerr.Message != "Request had insufficient authentication scopes." {
		t.Fatalf("message = %q", gerr.Message)
	}
	// A static token is not checked for scopes.
	if _, err := newService(t, e.srv, "static").Events.Insert(calID, timedEvent("a", e.clock.Now(), time.Hour)).Do(); err != nil {
		t.Fatal(err)
	}
}

func TestIDPTokenResponseHeaders(t *testing.T) {
	e := newIDPEnv(t)
	resp, err := http.PostForm(e.conf.Endpoint.TokenURL, url.Values{
		"grant_type": {"refresh_token"}, "refresh_token": {"nope"},
		"client_id": {clientID}, "client_secret": {clientSecret},
	})
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusBadRequest || !strings.Contains(string(b), `"error":"invalid_grant"`) {
		t.Fatalf("%d %s", resp.StatusCode, b)
	}
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Fatalf("Content-Type = %q", ct)
	}
	if cc := resp.Header.Get("Cache-Control"); !strings.Contains(cc, "no-store") {
		t.Fatalf("Cache-Control = %q", cc)
	}
}
