package msgraph

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/calsync/calsync/provider"
)

// Bug 12: a redirect answering a write (DELETE, POST, PATCH) is an error,
// never a success and never followed, so that Stop cannot report a
// subscription deleted that Graph still has; and no redirect is followed
// to another host.
func TestRedirectsOfWritesAreErrors(t *testing.T) {
	elsewhere := &fixtureServer{replies: []reply{{status: 204}}}
	other := httptest.NewServer(elsewhere)
	t.Cleanup(other.Close)
	sub := &provider.Subscription{ID: "sub-1"}
	ctx := context.Background()
	secret := "abcd"

	for _, tc := range []struct {
		name   string
		status int
		where  string // "other", "same" or "" (no Location)
		call   func(p *Provider) error
	}{
		{"DELETE 308 elsewhere", 308, "other", func(p *Provider) error { return p.Stop(ctx, testCal, sub) }},
		{"DELETE 308 same host", 308, "same", func(p *Provider) error { return p.Stop(ctx, testCal, sub) }},
		{"DELETE 302 no Location", 302, "", func(p *Provider) error { return p.Stop(ctx, testCal, sub) }},
		{"POST 307 same host", 307, "same", func(p *Provider) error {
			_, err := p.Watch(ctx, testCal, provider.WatchRequest{Secret: secret, Address: "https://app.example/h"})
			return err
		}},
		{"POST 302 elsewhere", 302, "other", func(p *Provider) error {
			_, err := p.Watch(ctx, testCal, provider.WatchRequest{Secret: secret, Address: "https://app.example/h"})
			return err
		}},
		{"PATCH 301 same host", 301, "same", func(p *Provider) error {
			_, err := p.Renew(ctx, testCal, sub, time.Hour)
			return err
		}},
		{"reauthorize 303 same host", 303, "same", func(p *Provider) error { return p.Reauthorize(ctx, testCal, sub) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := &fixtureServer{}
			p := newFixtureProvider(t, f, Config{})
			loc := http.Header{}
			switch tc.where {
			case "other":
				loc.Set("Location", other.URL+"/v1.0/subscriptions/sub-1")
			case "same":
				loc.Set("Location", f.root+"/subscriptions/sub-1")
			}
			f.replies = []reply{{status: tc.status, header: loc}, {status: 204}, {status: 200, body: fixture(t, "b1_subscription_created.json")}}
			err := tc.call(p)
			pe, ok := errors.AsType[*provider.Error](err)
			if !ok || pe.StatusCode != tc.status {
				t.Fatalf("err = %v, want a *provider.Error with status %d", err, tc.status)
			}
			for _, s := range []error{provider.ErrNotFound, provider.ErrSubscriptionGone, provider.ErrCalendarUnavailable} {
				if errors.Is(err, s) {
					t.Errorf("a redirect wraps %v", s)
				}
			}
			if len(f.reqs) != 1 {
				t.Errorf("the redirect was followed: %d requests", len(f.reqs))
			}
		})
	}
	if len(elsewhere.reqs) != 0 {
		t.Errorf("%d requests went to the other host", len(elsewhere.reqs))
	}
}

// A GET (a delta page) may follow a redirect on the service's host, never
// one to another host.
func TestRedirectsOfReads(t *testing.T) {
	elsewhere := &fixtureServer{replies: []reply{{status: 200, body: fixture(t, "c9_delta_last_page.json")}}}
	other := httptest.NewServer(elsewhere)
	t.Cleanup(other.Close)
	elsewhere.root = other.URL + "/v1.0"

	f := &fixtureServer{}
	p := newFixtureProvider(t, f, Config{})
	f.replies = []reply{{status: 302, header: http.Header{"Location": {other.URL + "/v1.0/me/calendarView/delta"}}}}
	if _, err := p.Fetch(context.Background(), testCal, provider.Position{}); err == nil {
		t.Error("a redirect to another host was followed")
	}
	if len(elsewhere.reqs) != 0 {
		t.Errorf("%d requests went to the other host", len(elsewhere.reqs))
	}

	f = &fixtureServer{}
	p = newFixtureProvider(t, f, Config{})
	f.replies = []reply{
		{status: 307, header: http.Header{"Location": {f.root + "/me/calendarView/delta?moved=1"}}},
		{status: 200, body: fixture(t, "c9_delta_last_page.json")},
	}
	page, err := p.Fetch(context.Background(), testCal, provider.Position{})
	if err != nil || !page.Last() {
		t.Fatalf("Fetch through a same-host redirect = %+v, %v", page, err)
	}
	if len(f.reqs) != 2 || f.reqs[1].URL.Query().Get("moved") != "1" || f.reqs[1].Header.Get("Authorization") != "Bearer "+testToken {
		t.Errorf("redirect not followed with the token: %d requests", len(f.reqs))
	}
}
