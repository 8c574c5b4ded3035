package googletest_test

import (
	"context"
	"fmt"
	"log"
	"net/http"
	"net/url"

	"golang.org/x/oauth2"
	calendar "google.golang.org/api/calendar/v3"
	"google.golang.org/api/option"

	"github.com/calsync/calsync/google/googletest"
)

// A whole connect flow against the emulated identity provider: consent,
// code exchange with PKCE, API calls with the token, then the user
// withdraws access and the refresh token is refused.
func ExampleServer_OAuthEndpoint() {
	srv := googletest.NewServer(googletest.Config{})
	defer srv.Close()
	if err := srv.AddCalendar("alice@example.com", "UTC"); err != nil {
		log.Fatal(err)
	}
	const callback = "https://app.example.com/oauth/callback"
	srv.RegisterClient("my-client", "my-secret", callback)
	conf := &oauth2.Config{
		ClientID:     "my-client",
		ClientSecret: "my-secret",
		Endpoint:     srv.OAuthEndpoint(),
		RedirectURL:  callback,
		Scopes:       []string{googletest.ScopeCalendarReadonly},
	}

	// The browser: follow the consent redirect up to the callback.
	verifier := oauth2.GenerateVerifier()
	browser := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := browser.Get(conf.AuthCodeURL("state-1", oauth2.AccessTypeOffline, oauth2.S256ChallengeOption(verifier)))
	if err != nil {
		log.Fatal(err)
	}
	resp.Body.Close()
	back, err := url.Parse(resp.Header.Get("Location"))
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("state:", back.Query().Get("state"))

	// The callback handler: exchange the code.
	ctx := context.Background()
	tok, err := conf.Exchange(ctx, back.Query().Get("code"), oauth2.VerifierOption(verifier))
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("refresh token:", tok.RefreshToken != "")

	svc, err := calendar.NewService(ctx, option.WithEndpoint(srv.Endpoint()), option.WithTokenSource(conf.TokenSource(ctx, tok)))
	if err != nil {
		log.Fatal(err)
	}
	list, err := svc.CalendarList.List().Do()
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("calendars:", len(list.Items), list.Items[0].Id)

	srv.RevokeGrants()
	_, err = svc.CalendarList.List().Do()
	fmt.Println("after revoke:", err != nil)
	// Output:
	// state: state-1
	// refresh token: true
	// calendars: 1 alice@example.com
	// after revoke: true
}
