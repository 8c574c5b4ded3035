package msgraphtest_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync/atomic"
	"time"

	"golang.org/x/oauth2"

	"github.com/calsync/calsync/msgraph/msgraphtest"
)

// A whole connect flow against the emulated identity platform with the
// unmodified golang.org/x/oauth2 client: sign-in with PKCE, code
// exchange, an API call, a refresh after the access token expired (on a
// fake clock), and the refresh token it replaced refused.
func ExampleServer_OAuthEndpoint() {
	var clock atomic.Int64 // a fake clock, in Unix nanoseconds
	clock.Store(time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC).UnixNano())
	srv := msgraphtest.NewServer(msgraphtest.Config{Now: func() time.Time { return time.Unix(0, clock.Load()) }})
	defer srv.Close()
	srv.AddUser("alice")
	const callback = "https://app.example/callback"
	srv.RegisterClient("my-app", "my-secret", callback)

	conf := &oauth2.Config{
		ClientID: "my-app", ClientSecret: "my-secret", RedirectURL: callback,
		Endpoint: srv.OAuthEndpoint("common"),
		Scopes:   []string{"offline_access", "https://graph.microsoft.com/Calendars.ReadWrite"},
	}
	ctx := context.WithValue(context.Background(), oauth2.HTTPClient, srv.Client())

	// The browser: follow redirects until the callback.
	verifier := oauth2.GenerateVerifier()
	browser := &http.Client{
		Transport: srv.Client().Transport,
		CheckRedirect: func(req *http.Request, _ []*http.Request) error {
			if strings.HasPrefix(req.URL.String(), callback) {
				return http.ErrUseLastResponse
			}
			return nil
		},
	}
	resp, err := browser.Get(conf.AuthCodeURL("xyz", oauth2.S256ChallengeOption(verifier), oauth2.SetAuthURLParam("login_hint", "alice")))
	if err != nil {
		panic(err)
	}
	resp.Body.Close()
	cb, _ := url.Parse(resp.Header.Get("Location"))
	fmt.Println("state:", cb.Query().Get("state"))

	tok, err := conf.Exchange(ctx, cb.Query().Get("code"), oauth2.VerifierOption(verifier))
	if err != nil {
		panic(err)
	}
	call := func(access string) int {
		req, _ := http.NewRequest(http.MethodGet, srv.URL()+"/v1.0/me/calendars", nil)
		req.Header.Set("Authorization", "Bearer "+access)
		resp, err := srv.Client().Do(req)
		if err != nil {
			panic(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	fmt.Println("calendars:", call(tok.AccessToken))

	clock.Add(int64(time.Hour))
	fmt.Println("an hour later:", call(tok.AccessToken))
	fresh, err := conf.TokenSource(ctx, &oauth2.Token{RefreshToken: tok.RefreshToken}).Token()
	if err != nil {
		panic(err)
	}
	fmt.Println("refreshed:", call(fresh.AccessToken), fresh.RefreshToken != tok.RefreshToken)

	_, err = conf.TokenSource(ctx, &oauth2.Token{RefreshToken: tok.RefreshToken}).Token()
	if re, ok := errors.AsType[*oauth2.RetrieveError](err); ok {
		fmt.Println("old refresh token:", re.ErrorCode)
	}
	codes, refreshes := srv.TokenRequests()
	fmt.Println("token requests:", codes, refreshes)
	// Output:
	// state: xyz
	// calendars: 200
	// an hour later: 401
	// refreshed: 200 true
	// old refresh token: invalid_grant
	// token requests: 1 2
}
