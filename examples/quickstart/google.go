package main

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"time"

	"go.opentelemetry.io/otel/metric"
	"golang.org/x/oauth2"
	calendar "google.golang.org/api/calendar/v3"
	"google.golang.org/api/option"

	"github.com/calsync/calsync"
	"github.com/calsync/calsync/connect"
	"github.com/calsync/calsync/google"
	"github.com/calsync/calsync/google/googletest"
	"github.com/calsync/calsync/retry"
	"github.com/calsync/calsync/webhook"
)

// googleSide drives the Google Calendar emulator: two calendars of one
// user, edited through the official API client.
type googleSide struct {
	emu       *googletest.Server
	api       *calendar.Service
	token     oauth2.TokenSource
	calendars []string
	day       time.Time

	lunch, trip, standup *calendar.Event
}

func newGoogleSide(pushClient *http.Client) *googleSide {
	return &googleSide{
		emu:       googletest.NewServer(googletest.Config{PushClient: pushClient}),
		token:     oauth2.StaticTokenSource(&oauth2.Token{AccessToken: "quickstart-google-token"}),
		calendars: []string{"work@example.com", "family@example.com"},
		day:       time.Now().UTC().Truncate(24*time.Hour).AddDate(0, 0, 1),
	}
}

func (g *googleSide) close() { g.emu.Close() }

func (g *googleSide) oauth(redirectURL string) connect.Provider {
	g.emu.RegisterClient("quickstart-google", "quickstart-google-secret", redirectURL)
	return connect.Google(google.Name, oauth2.Config{ClientID: "quickstart-google", ClientSecret: "quickstart-google-secret",
		Endpoint: g.emu.OAuthEndpoint(), RedirectURL: redirectURL}, false)
}

func (g *googleSide) tokenClient() *http.Client { return nil }

func (g *googleSide) provider(meters metric.MeterProvider, tokens func(context.Context, string) (oauth2.TokenSource, error)) (calsync.Provider, error) {
	for _, id := range g.calendars {
		if err := g.emu.AddCalendar(id, "Europe/Berlin"); err != nil {
			return nil, err
		}
	}
	api, err := calendar.NewService(context.Background(), option.WithEndpoint(g.emu.Endpoint()), option.WithTokenSource(g.token))
	if err != nil {
		return nil, err
	}
	g.api = api
	// The default stack (retries over a per-user rate limiter), with the
	// call counter at the bottom so that every attempt is counted.
	counted, err := calsync.InstrumentTransport(nil, meters, google.Name)
	if err != nil {
		return nil, err
	}
	lim, err := retry.NewLimiter(retry.GoogleLimits(), nil)
	if err != nil {
		return nil, err
	}
	return google.New(google.Config{
		HTTPClient:  &http.Client{Transport: &retry.Transport{Base: &retry.LimitTransport{Limiter: lim, Base: counted}}},
		Endpoint:    g.emu.Endpoint(),
		TokenSource: tokens,
		PageSize:    10, // small pages, to show paging on a tiny calendar
	})
}

func (g *googleSide) handler(engine *calsync.Engine) (http.Handler, error) {
	return webhook.NewGoogle(webhook.GoogleConfig{Sink: engine})
}

func (g *googleSide) at(days, hour int) *calendar.EventDateTime {
	return &calendar.EventDateTime{DateTime: g.day.AddDate(0, 0, days).Add(time.Duration(hour) * time.Hour).Format(time.RFC3339), TimeZone: "Europe/Berlin"}
}

func (g *googleSide) seed(ctx context.Context) error {
	for i := range 12 {
		if _, err := g.api.Events.Insert(g.calendars[0], &calendar.Event{Summary: fmt.Sprintf("Existing meeting %d", i+1), Start: g.at(i, 9), End: g.at(i, 10)}).Context(ctx).Do(); err != nil {
			return err
		}
	}
	return nil
}

func (g *googleSide) connect(ctx context.Context, engine *calsync.Engine, hookURL string, res connect.Result) error {
	for _, c := range res.Calendars {
		// The host's picker: this demo takes every calendar found.
		id := c.ID
		cal := calsync.Calendar{ID: id, Provider: google.Name, AccountID: res.AccountID, RemoteID: id}
		sub, err := engine.Connect(ctx, cal, calsync.ConnectRequest{Address: hookURL})
		if err != nil {
			return err
		}
		fmt.Printf("  connected %s: Google channel %s, expires %s\n", id, sub.ID, sub.Expiration.Format(time.RFC3339))
	}
	return nil
}

func (g *googleSide) create(ctx context.Context) error {
	work, family := g.calendars[0], g.calendars[1]
	var err error
	if g.lunch, err = g.api.Events.Insert(work, &calendar.Event{Summary: "Lunch with Ana", Start: g.at(0, 12), End: g.at(0, 13)}).Context(ctx).Do(); err != nil {
		return err
	}
	allDay := func(days int) *calendar.EventDateTime {
		return &calendar.EventDateTime{Date: g.day.AddDate(0, 0, days).Format(time.DateOnly)}
	}
	if g.trip, err = g.api.Events.Insert(family, &calendar.Event{Summary: "Trip to the lake", Start: allDay(5), End: allDay(7)}).Context(ctx).Do(); err != nil {
		return err
	}
	start := g.day.Add(8 * time.Hour)
	g.standup, err = g.api.Events.Insert(work, &calendar.Event{
		Summary:    "Daily standup",
		Start:      &calendar.EventDateTime{DateTime: start.Format(time.RFC3339), TimeZone: "Europe/Berlin"},
		End:        &calendar.EventDateTime{DateTime: start.Add(15 * time.Minute).Format(time.RFC3339), TimeZone: "Europe/Berlin"},
		Recurrence: []string{"RRULE:FREQ=DAILY;COUNT=5"},
	}).Context(ctx).Do()
	return err
}

// occurrence is the id Google gives the n-th occurrence of the standup:
// "<seriesId>_<original start in UTC>".
func (g *googleSide) occurrence(n int) string {
	return g.standup.Id + "_" + g.day.Add(8*time.Hour).AddDate(0, 0, n).UTC().Format("20060102T150405Z")
}

func (g *googleSide) edit(ctx context.Context) error {
	work := g.calendars[0]
	if _, err := g.api.Events.Patch(work, g.lunch.Id, &calendar.Event{Summary: "Lunch with Ana (moved)", Start: g.at(1, 12), End: g.at(1, 13)}).Context(ctx).Do(); err != nil {
		return err
	}
	if _, err := g.api.Events.Patch(work, g.occurrence(1), &calendar.Event{Summary: "Daily standup (demo day)"}).Context(ctx).Do(); err != nil {
		return err
	}
	return g.api.Events.Delete(work, g.occurrence(2)).Context(ctx).Do()
}

func (g *googleSide) remove(ctx context.Context) error {
	return g.api.Events.Delete(g.calendars[1], g.trip.Id).Context(ctx).Do()
}

func (g *googleSide) idle(ctx context.Context) error { return g.emu.WaitIdle(ctx) }

func (g *googleSide) compare(ctx context.Context, st calsync.Store) (bool, error) {
	equal := true
	for _, id := range g.calendars {
		local, err := localEvents(ctx, st, id, func(e calsync.Event) string { return e.ID + " " + e.ETag })
		if err != nil {
			return false, err
		}
		// What a full events.list returns: in series mode that includes
		// the cancelled exceptions of live series, which the local copy
		// keeps too.
		var want []string
		if err := g.api.Events.List(id).MaxResults(2500).Pages(ctx, func(p *calendar.Events) error {
			for _, e := range p.Items {
				want = append(want, e.Id+" "+e.Etag)
			}
			return nil
		}); err != nil {
			return false, err
		}
		slices.Sort(local)
		slices.Sort(want)
		same := slices.Equal(local, want)
		equal = equal && same
		fmt.Printf("  %s (Google): %d events stored, emulator has %d, equal: %v\n", id, len(local), len(want), same)
	}
	return equal, nil
}
