package msgraph_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"golang.org/x/oauth2"

	"github.com/calsync/calsync/msgraph"
	"github.com/calsync/calsync/msgraph/msgraphtest"
	"github.com/calsync/calsync/provider"
)

// newListProvider returns a Provider on srv whose accounts' tokens come
// from tokens.
func newListProvider(t *testing.T, srv *msgraphtest.Server, tokens msgraph.TokenSourceFunc) *msgraph.Provider {
	t.Helper()
	p, err := msgraph.New(msgraph.Config{
		TokenSource: tokens,
		HTTPClient:  srv.Client(),
		BaseURL:     srv.URL() + "/v1.0",
	})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func TestListCalendars(t *testing.T) {
	srv := msgraphtest.NewServer(msgraphtest.Config{})
	t.Cleanup(srv.Close)
	srv.AddUser("alice")
	srv.MapToken("token-of-alice", "alice")
	// More calendars than the emulator's page of 10, so that ListCalendars
	// follows @odata.nextLink.
	for i := range 10 {
		srv.AddCalendar("alice", fmt.Sprintf("cal-%02d", i))
	}
	srv.AddCalendar("alice", "team")
	srv.AddCalendar("alice", "boss")
	cals, err := srv.Calendars("alice")
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range cals {
		switch c.ID {
		case "team":
			c.Name, c.Color, c.HexColor, c.CanEdit = "Team", "lightGreen", "#87d28e", true
			c.Owner = msgraphtest.EmailAddress{Name: "Carol", Address: "carol@contoso.onmicrosoft.com"}
		case "boss":
			c.Name, c.CanEdit = "Boss", false
			c.Owner = msgraphtest.EmailAddress{Name: "Dave", Address: "dave@contoso.onmicrosoft.com"}
		case "cal-03":
			c.HexColor, c.Color = "#f4a4a4", "lightRed"
		default:
			continue
		}
		if err := srv.SetCalendar("alice", c); err != nil {
			t.Fatal(err)
		}
	}
	if err := srv.SetTimeZone("alice", "W. Europe Standard Time"); err != nil {
		t.Fatal(err)
	}

	p := newListProvider(t, srv, func(_ context.Context, account string) (oauth2.TokenSource, error) {
		return oauth2.StaticTokenSource(&oauth2.Token{AccessToken: "token-of-" + account}), nil
	})
	got, err := p.ListCalendars(context.Background(), "alice")
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 13 {
		t.Fatalf("%d calendars, want 13: %+v", len(got), got)
	}
	if n := srv.RequestCount(msgraphtest.OpListCalendars, ""); n != 2 {
		t.Errorf("%d calendars.list requests, want 2 pages", n)
	}
	byID := map[string]provider.CalendarInfo{}
	for _, c := range got {
		byID[c.ID] = c
		if c.TimeZone != "Europe/Berlin" {
			t.Errorf("calendar %s: TimeZone %q, want Europe/Berlin (from W. Europe Standard Time)", c.ID, c.TimeZone)
		}
	}
	want := provider.CalendarInfo{ID: srv.PrimaryCalendar("alice"), Name: "Calendar", Primary: true, AccessRole: "owner", TimeZone: "Europe/Berlin"}
	if got[0] != want {
		t.Errorf("first calendar %+v, want the primary %+v", got[0], want)
	}
	for id, w := range map[string]provider.CalendarInfo{
		"cal-03": {ID: "cal-03", Name: "cal-03", AccessRole: "owner", Color: "#f4a4a4", TimeZone: "Europe/Berlin"},
		"team":   {ID: "team", Name: "Team", AccessRole: "writer", Color: "#87d28e", TimeZone: "Europe/Berlin"},
		"boss":   {ID: "boss", Name: "Boss", AccessRole: "reader", TimeZone: "Europe/Berlin"},
	} {
		if byID[id] != w {
			t.Errorf("calendar %s = %+v, want %+v", id, byID[id], w)
		}
	}

	// A deleted calendar is gone from the list.
	if err := srv.DeleteCalendar("alice", "boss"); err != nil {
		t.Fatal(err)
	}
	got, err = p.ListCalendars(context.Background(), "alice")
	if err != nil || len(got) != 12 {
		t.Fatalf("after delete: %d calendars, %v", len(got), err)
	}
}

// TestListCalendarsIdentityPlatform connects an account through the
// emulated identity platform with only Calendars.Read: the calendars are
// listed without a time zone (mailboxSettings needs MailboxSettings.Read),
// and once the user's grants are revoked the listing asks for
// reauthorization.
func TestListCalendarsIdentityPlatform(t *testing.T) {
	srv := msgraphtest.NewServer(msgraphtest.Config{})
	t.Cleanup(srv.Close)
	srv.AddUser("alice")
	const callback = "https://app.example/callback"
	srv.RegisterClient("app", "secret", callback)
	conf := &oauth2.Config{
		ClientID: "app", ClientSecret: "secret", RedirectURL: callback,
		Endpoint: srv.OAuthEndpoint("organizations"),
		Scopes:   []string{"offline_access", "Calendars.Read"},
	}
	ctx := context.WithValue(context.Background(), oauth2.HTTPClient, srv.Client())

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
	resp, err := browser.Get(conf.AuthCodeURL("st", oauth2.S256ChallengeOption(verifier)))
	if err != nil {
		t.Fatal(err)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	loc, err := url.Parse(resp.Header.Get("Location"))
	if err != nil || loc.Query().Get("code") == "" {
		t.Fatalf("authorize: %d %q", resp.StatusCode, resp.Header.Get("Location"))
	}
	tok, err := conf.Exchange(ctx, loc.Query().Get("code"), oauth2.VerifierOption(verifier))
	if err != nil {
		t.Fatal(err)
	}

	p := newListProvider(t, srv, func(context.Context, string) (oauth2.TokenSource, error) {
		return conf.TokenSource(ctx, tok), nil
	})
	got, err := p.ListCalendars(context.Background(), "alice")
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || !got[0].Primary || got[0].AccessRole != "owner" || got[0].TimeZone != "" {
		t.Fatalf("calendars %+v: want the primary one without a time zone", got)
	}

	srv.RevokeGrants("alice")
	_, err = p.ListCalendars(context.Background(), "alice")
	if !errors.Is(err, provider.ErrReauthRequired) {
		t.Fatalf("after RevokeGrants: %v, want ErrReauthRequired", err)
	}
	// A refresh is refused too.
	_, err = conf.TokenSource(ctx, &oauth2.Token{RefreshToken: tok.RefreshToken}).Token()
	if re, ok := errors.AsType[*oauth2.RetrieveError](err); !ok || re.ErrorCode != "invalid_grant" {
		t.Fatalf("refresh after RevokeGrants: %v, want invalid_grant", err)
	}
}
