package msgraph

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/calsync/calsync/provider"
)

// Bug 13: on the calendar's own calls (delta, creating a subscription) a
// 404 or a 403 that is not a limit means the calendar is gone or out of
// reach: ErrCalendarUnavailable, besides what the error wrapped before. A
// 404 on a subscription's own calls means the subscription is gone, not
// the calendar.
func TestCalendarUnavailable(t *testing.T) {
	graphErr := func(code, msg string) []byte {
		return []byte(`{"error":{"code":"` + code + `","message":"` + msg + `"}}`)
	}
	notFound := reply{status: 404, body: graphErr("ErrorItemNotFound", "The specified object was not found in the store.")}
	denied := reply{status: 403, body: graphErr("ErrorAccessDenied", "Access is denied. Check credentials and try again.")}
	quota := reply{status: 403, body: graphErr("ExtensionError", "Operation: Create; Exception: [Status Code: Forbidden; Reason: The number of subscriptions for the mailbox exceeded the limit of 1000.]")}
	throttled := reply{status: 403, body: graphErr("ApplicationThrottled", "Application is over its MailboxConcurrency limit.")}
	resourceNotFound := reply{status: 404, body: graphErr("ResourceNotFound", "The object was not found.")}

	ctx := context.Background()
	sub := &provider.Subscription{ID: "sub-1"}
	fetch := func(p *Provider, root string) error {
		_, err := p.Fetch(ctx, testCal, provider.Position{Cursor: prefixCalendarView + root + "/me/calendarView/delta?$deltatoken=x"})
		return err
	}
	watch := func(p *Provider, _ string) error {
		_, err := p.Watch(ctx, testCal, provider.WatchRequest{Secret: "abcd", Address: "https://app.example/h"})
		return err
	}
	renew := func(p *Provider, _ string) error {
		_, err := p.Renew(ctx, testCal, sub, time.Hour)
		return err
	}
	stop := func(p *Provider, _ string) error { return p.Stop(ctx, testCal, sub) }
	reauthorize := func(p *Provider, _ string) error { return p.Reauthorize(ctx, testCal, sub) }

	for _, tc := range []struct {
		name  string
		call  func(*Provider, string) error
		reply reply
		want  []error // every sentinel the error wraps
	}{
		{"delta 404", fetch, notFound, []error{provider.ErrCalendarUnavailable}},
		{"delta 403 access denied", fetch, denied, []error{provider.ErrCalendarUnavailable}},
		{"delta 403 throttled", fetch, throttled, nil},
		{"create 404", watch, resourceNotFound, []error{provider.ErrCalendarUnavailable, provider.ErrNotFound}},
		{"create 403 access denied", watch, denied, []error{provider.ErrCalendarUnavailable}},
		{"create 403 subscription quota", watch, quota, nil},
		{"renew 404", renew, resourceNotFound, []error{provider.ErrSubscriptionGone}},
		{"renew 403", renew, denied, nil},
		{"reauthorize 404", reauthorize, resourceNotFound, []error{provider.ErrSubscriptionGone}},
		{"delete 404", stop, resourceNotFound, []error{provider.ErrNotFound}},
		{"delete 401", stop, reply{status: 401, body: graphErr("InvalidAuthenticationToken", "Access token has expired.")}, []error{provider.ErrReauthRequired}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := &fixtureServer{replies: []reply{tc.reply}}
			p := newFixtureProvider(t, f, Config{})
			err := tc.call(p, f.root)
			if _, ok := errors.AsType[*provider.Error](err); !ok {
				t.Fatalf("err = %v, want a *provider.Error", err)
			}
			for _, s := range []error{provider.ErrCalendarUnavailable, provider.ErrNotFound, provider.ErrSubscriptionGone, provider.ErrReauthRequired, provider.ErrFullSyncRequired} {
				want := false
				for _, w := range tc.want {
					want = want || w == s
				}
				if errors.Is(err, s) != want {
					t.Errorf("errors.Is(%v) = %v, want %v (err %v)", s, !want, want, err)
				}
			}
		})
	}
}
