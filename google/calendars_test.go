package google_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"testing"
	"time"

	"golang.org/x/oauth2"

	"github.com/calsync/calsync/google"
	"github.com/calsync/calsync/google/googletest"
	"github.com/calsync/calsync/provider"
)

func newListerOn(t *testing.T, endpoint string, ts oauth2.TokenSource) *google.Provider {
	t.Helper()
	p, err := google.New(google.Config{
		HTTPClient:  &http.Client{},
		Endpoint:    endpoint,
		TokenSource: func(context.Context, string) (oauth2.TokenSource, error) { return ts, nil },
	})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func TestListCalendars(t *testing.T) {
	emu := googletest.NewServer(googletest.Config{})
	t.Cleanup(emu.Close)
	for _, id := range []string{"alice@example.com", "team@group.calendar.google.com", "holidays@group.v.calendar.google.com"} {
		if err := emu.AddCalendar(id, "Europe/Paris"); err != nil {
			t.Fatal(err)
		}
	}
	if err := emu.SetCalendarInfo("team@group.calendar.google.com", googletest.CalendarInfo{
		Summary: "Team", SummaryOverride: "My team", BackgroundColor: "#16a765", AccessRole: "writer",
	}); err != nil {
		t.Fatal(err)
	}
	if err := emu.SetCalendarInfo("holidays@group.v.calendar.google.com", googletest.CalendarInfo{
		Summary: "Holidays", AccessRole: "reader",
	}); err != nil {
		t.Fatal(err)
	}
	p := newListerOn(t, emu.Endpoint(), staticToken)
	got, err := p.ListCalendars(context.Background(), "acct-1")
	if err != nil {
		t.Fatal(err)
	}
	want := []provider.CalendarInfo{
		{ID: "alice@example.com", Name: "alice@example.com", Primary: true, AccessRole: "owner", Color: "#9fe1e7", TimeZone: "Europe/Paris"},
		{ID: "team@group.calendar.google.com", Name: "My team", AccessRole: "writer", Color: "#16a765", TimeZone: "Europe/Paris"},
		{ID: "holidays@group.v.calendar.google.com", Name: "Holidays", AccessRole: "reader", Color: "#9fe1e7", TimeZone: "Europe/Paris"},
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("ListCalendars =\n%+v\nwant\n%+v", got, want)
	}
}

func TestListCalendarsFollowsPages(t *testing.T) {
	emu := googletest.NewServer(googletest.Config{})
	t.Cleanup(emu.Close)
	const n = 260 // more than one page of 250
	for i := range n {
		if err := emu.AddCalendar(fmt.Sprintf("c%03d@example.com", i), ""); err != nil {
			t.Fatal(err)
		}
	}
	got, err := newListerOn(t, emu.Endpoint(), staticToken).ListCalendars(context.Background(), "acct-1")
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != n || got[0].ID != "c000@example.com" || got[n-1].ID != fmt.Sprintf("c%03d@example.com", n-1) {
		t.Fatalf("%d calendars, want %d in order", len(got), n)
	}
	if c := emu.RequestCount(googletest.OpCalendarListList, ""); c != 2 {
		t.Fatalf("%d calendarList.list calls, want 2", c)
	}
}

// TestListCalendarsPrimaryFirst serves a list whose primary calendar is not
// first, as Google's order is not documented.
func TestListCalendarsPrimaryFirst(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{"kind":"calendar#calendarList","items":[
			{"id":"b","summary":"B","accessRole":"reader"},
			{"id":"me","summary":"Me","accessRole":"owner","primary":true},
			{"id":"a","summary":"A","accessRole":"writer"}]}`)
	}))
	t.Cleanup(srv.Close)
	got, err := newListerOn(t, srv.URL+"/calendar/v3/", staticToken).ListCalendars(context.Background(), "acct-1")
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, c := range got {
		ids = append(ids, c.ID)
	}
	if fmt.Sprint(ids) != "[me b a]" {
		t.Fatalf("order = %v, want [me b a]", ids)
	}
}

// TestListCalendarsRevokedGrant connects through the emulator's identity
// provider; once the user withdraws access, listing needs reauthorization.
func TestListCalendarsRevokedGrant(t *testing.T) {
	emu := googletest.NewServer(googletest.Config{})
	t.Cleanup(emu.Close)
	if err := emu.AddCalendar("alice@example.com", ""); err != nil {
		t.Fatal(err)
	}
	const callback = "https://app.example.com/callback"
	emu.RegisterClient("client-1", "secret-1", callback)
	conf := &oauth2.Config{ClientID: "client-1", ClientSecret: "secret-1", Endpoint: emu.OAuthEndpoint(),
		RedirectURL: callback, Scopes: []string{googletest.ScopeCalendarReadonly}}
	verifier := oauth2.GenerateVerifier()
	hc := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := hc.Get(conf.AuthCodeURL("state", oauth2.AccessTypeOffline, oauth2.S256ChallengeOption(verifier)))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	loc, err := url.Parse(resp.Header.Get("Location"))
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	tok, err := conf.Exchange(ctx, loc.Query().Get("code"), oauth2.VerifierOption(verifier))
	if err != nil {
		t.Fatal(err)
	}

	p := newListerOn(t, emu.Endpoint(), conf.TokenSource(ctx, tok))
	if got, err := p.ListCalendars(ctx, "acct-1"); err != nil || len(got) != 1 {
		t.Fatalf("ListCalendars = %v, %v", got, err)
	}
	emu.RevokeGrants()
	// The access token is refused at the API...
	_, err = p.ListCalendars(ctx, "acct-1")
	if !errors.Is(err, provider.ErrReauthRequired) {
		t.Fatalf("after revoke (access token): %v, want ErrReauthRequired", err)
	}
	// ...and so is the refresh token at the token endpoint.
	tok.Expiry = time.Now().Add(-time.Minute)
	p = newListerOn(t, emu.Endpoint(), conf.TokenSource(ctx, tok))
	_, err = p.ListCalendars(ctx, "acct-1")
	if !errors.Is(err, provider.ErrReauthRequired) {
		t.Fatalf("after revoke (refresh): %v, want ErrReauthRequired", err)
	}
	if _, refreshes := emu.TokenRequests(); refreshes != 1 {
		t.Fatalf("%d refreshes, want 1", refreshes)
	}
}
