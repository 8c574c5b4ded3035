package main

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"time"

	"go.opentelemetry.io/otel/metric"
	"golang.org/x/oauth2"

	"github.com/calsync/calsync"
	"github.com/calsync/calsync/connect"
	"github.com/calsync/calsync/msgraph"
	"github.com/calsync/calsync/msgraph/msgraphtest"
	"github.com/calsync/calsync/retry"
	"github.com/calsync/calsync/webhook"
)

// outlookSide drives the Microsoft Graph emulator: one user's default
// Outlook calendar.
type outlookSide struct {
	srv  *msgraphtest.Server
	user string
	cal  string
	day  time.Time

	review, offsite, sync msgraphtest.Event
}

func newOutlookSide(notificationClient *http.Client) *outlookSide {
	o := &outlookSide{
		srv:  msgraphtest.NewServer(msgraphtest.Config{NotificationClient: notificationClient}),
		user: "demo-user",
		cal:  "outlook-main",
		day:  time.Now().UTC().Truncate(24*time.Hour).AddDate(0, 0, 1),
	}
	o.srv.AddUser(o.user)
	return o
}

func (o *outlookSide) close() { o.srv.Close() }

func (o *outlookSide) oauth(redirectURL string) connect.Provider {
	o.srv.RegisterClient("quickstart-outlook", "quickstart-outlook-secret", redirectURL)
	return connect.Microsoft(msgraph.Name, oauth2.Config{ClientID: "quickstart-outlook", ClientSecret: "quickstart-outlook-secret",
		Endpoint: o.srv.OAuthEndpoint("common"), RedirectURL: redirectURL}, false)
}

// tokenClient reaches the emulator's token endpoint, which serves TLS
// with its own certificate.
func (o *outlookSide) tokenClient() *http.Client { return o.srv.Client() }

func (o *outlookSide) provider(meters metric.MeterProvider, tokens func(context.Context, string) (oauth2.TokenSource, error)) (calsync.Provider, error) {
	// The emulator serves TLS with its own certificate, which its client's
	// transport trusts. In production leave HTTPClient nil for the default
	// stack (retries over Graph's per-mailbox limits).
	base, err := calsync.InstrumentTransport(o.srv.Client().Transport, meters, msgraph.Name)
	if err != nil {
		return nil, err
	}
	lim, err := retry.NewLimiter(retry.GraphLimits(), nil)
	if err != nil {
		return nil, err
	}
	return msgraph.New(msgraph.Config{
		HTTPClient:  &http.Client{Transport: &retry.Transport{Base: &retry.LimitTransport{Limiter: lim, Base: base}}},
		BaseURL:     o.srv.URL() + "/v1.0",
		TokenSource: tokens,
		MaxPageSize: 5,
	})
}

func (o *outlookSide) handler(engine *calsync.Engine) (http.Handler, error) {
	return webhook.NewGraph(webhook.GraphConfig{Sink: engine})
}

func (o *outlookSide) at(days, hour int) time.Time {
	return o.day.AddDate(0, 0, days).Add(time.Duration(hour) * time.Hour)
}

func (o *outlookSide) seed(context.Context) error {
	for i := range 6 {
		start := o.at(i, 14)
		if _, err := o.srv.CreateEvent(o.user, "", msgraphtest.Event{Subject: fmt.Sprintf("Existing Outlook meeting %d", i+1), Start: start, End: start.Add(time.Hour)}); err != nil {
			return err
		}
	}
	return nil
}

func (o *outlookSide) connect(ctx context.Context, engine *calsync.Engine, hookURL string, res connect.Result) error {
	// The host's picker: this demo takes the user's default calendar
	// (RemoteID "" names it, whatever its id).
	if len(res.Calendars) == 0 || !res.Calendars[0].Primary {
		return fmt.Errorf("the account lists no default calendar: %+v", res.Calendars)
	}
	cal := calsync.Calendar{ID: o.cal, Provider: msgraph.Name, AccountID: res.AccountID}
	sub, err := engine.Connect(ctx, cal, calsync.ConnectRequest{Address: hookURL, LifecycleAddress: hookURL})
	if err != nil {
		return err
	}
	fmt.Printf("  connected %s: Graph subscription %s, expires %s\n", o.cal, sub.ID, sub.Expiration.Format(time.RFC3339))
	return nil
}

func (o *outlookSide) create(context.Context) error {
	var err error
	if o.review, err = o.srv.CreateEvent(o.user, "", msgraphtest.Event{Subject: "Design review", Start: o.at(0, 15), End: o.at(0, 16)}); err != nil {
		return err
	}
	if o.offsite, err = o.srv.CreateEvent(o.user, "", msgraphtest.Event{Subject: "Team offsite", Start: o.at(3, 0), End: o.at(5, 0), IsAllDay: true}); err != nil {
		return err
	}
	o.sync, err = o.srv.CreateEvent(o.user, "", msgraphtest.Event{
		Subject: "Weekly sync", Start: o.at(0, 10), End: o.at(0, 10).Add(30 * time.Minute),
		Recurrence: &msgraphtest.PatternedRecurrence{
			Pattern: msgraphtest.RecurrencePattern{Type: "weekly", Interval: 1},
			Range:   msgraphtest.RecurrenceRange{Type: "numbered", NumberOfOccurrences: 4},
		},
	})
	return err
}

// occurrences returns the ids of the weekly sync's occurrences, by start.
func (o *outlookSide) occurrences() ([]string, error) {
	evs, err := o.srv.Events(o.user, "", o.day.AddDate(0, 0, -1), o.day.AddDate(0, 2, 0))
	if err != nil {
		return nil, err
	}
	var ids []string
	for _, e := range evs {
		if e.SeriesMasterID == o.sync.ID {
			ids = append(ids, e.ID)
		}
	}
	if len(ids) < 3 {
		return nil, fmt.Errorf("weekly sync has %d occurrences, want 4", len(ids))
	}
	return ids, nil
}

func (o *outlookSide) edit(context.Context) error {
	moved := o.review
	moved.Subject, moved.Start, moved.End = "Design review (moved)", o.at(1, 11), o.at(1, 12)
	if _, err := o.srv.UpdateEvent(o.user, "", o.review.ID, moved); err != nil {
		return err
	}
	occ, err := o.occurrences()
	if err != nil {
		return err
	}
	second, err := o.srv.Event(o.user, "", occ[1])
	if err != nil {
		return err
	}
	second.Subject = "Weekly sync (with guests)"
	if _, err := o.srv.UpdateEvent(o.user, "", occ[1], second); err != nil {
		return err
	}
	return o.srv.DeleteEvent(o.user, "", occ[2])
}

func (o *outlookSide) remove(context.Context) error {
	return o.srv.DeleteEvent(o.user, "", o.offsite.ID)
}

func (o *outlookSide) idle(ctx context.Context) error { return o.srv.WaitIdle(ctx) }

func (o *outlookSide) compare(ctx context.Context, st calsync.Store) (bool, error) {
	local, err := localEvents(ctx, st, o.cal, func(e calsync.Event) string { return e.ID + " " + e.Summary })
	if err != nil {
		return false, err
	}
	now := time.Now()
	remote, err := o.srv.Events(o.user, "", now.Add(-msgraph.DefaultWindowBefore), now.Add(msgraph.DefaultWindowAfter))
	if err != nil {
		return false, err
	}
	var want []string
	for _, e := range remote {
		want = append(want, e.ID+" "+e.Subject)
	}
	slices.Sort(local)
	slices.Sort(want)
	same := slices.Equal(local, want)
	fmt.Printf("  %s (Outlook): %d events stored, emulator has %d, equal: %v\n", o.cal, len(local), len(want), same)
	return same, nil
}
