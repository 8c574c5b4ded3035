// Command quickstart runs calsync end to end on one machine, with no
// credentials and no internet: an emulator of the Google Calendar API
// (googletest), the calsync Engine with the embedded SQLite store, and a webhook
// server on loopback that the emulator pushes notifications to.
//
// It connects two calendars, creates, moves and deletes events through the
// emulator's API (including a recurring event with a cancelled occurrence),
// prints every change as it reaches the host callback, and finally prints a
// summary. It exits 0 only if the local copy equals the emulator's.
//
//	go run ./examples/quickstart
package main

import (
	"context"
	"errors"
	"fmt"
	"log"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"golang.org/x/oauth2"
	calendar "google.golang.org/api/calendar/v3"
	"google.golang.org/api/option"

	"github.com/calsync/calsync"
	"github.com/calsync/calsync/google"
	"github.com/calsync/calsync/google/googletest"
	"github.com/calsync/calsync/store/sqlite"
	"github.com/calsync/calsync/webhook"
)

func main() {
	log.SetFlags(0)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if err := run(ctx); err != nil {
		log.Printf("quickstart: %v", err)
		os.Exit(1)
	}
}

// printer prints each committed change as the host callback receives it.
type printer struct {
	mu sync.Mutex
	n  int
}

func (p *printer) onChange(_ context.Context, cal calsync.Calendar, changes []calsync.Change) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, c := range changes {
		p.n++
		line := fmt.Sprintf("  [%s] %-6s %s", cal.ID, c.Op, c.EventID)
		if c.Op == calsync.Upsert && c.Event != nil {
			line += fmt.Sprintf("  %q %s → %s", c.Event.Summary, c.Event.Start, c.Event.End)
		}
		fmt.Println(line)
	}
}

func run(ctx context.Context) error {
	// 1. The host app's webhook server. Google only pushes to HTTPS, so
	//    this is a TLS server on loopback; the emulator trusts its
	//    certificate through PushClient.
	mux := http.NewServeMux()
	hooks := httptest.NewTLSServer(mux)
	defer hooks.Close()

	// 2. The Google Calendar emulator, pushing to the webhook server.
	emu := googletest.NewServer(googletest.Config{PushClient: hooks.Client()})
	defer emu.Close()
	calendars := []string{"work@example.com", "family@example.com"}
	for _, id := range calendars {
		if err := emu.AddCalendar(id, "Europe/Berlin"); err != nil {
			return err
		}
	}

	// 3. The library: provider, store, engine, webhook handler.
	reader := sdkmetric.NewManualReader()
	meters := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
	defer meters.Shutdown(context.Background())
	counted, err := calsync.InstrumentTransport(nil, meters, google.Name)
	if err != nil {
		return err
	}
	token := oauth2.StaticTokenSource(&oauth2.Token{AccessToken: "quickstart-token"})
	prov, err := google.New(google.Config{
		HTTPClient:  &http.Client{Transport: counted},
		Endpoint:    emu.Endpoint(),
		TokenSource: func(context.Context, string) (oauth2.TokenSource, error) { return token, nil },
		PageSize:    10, // small pages, to show paging on a tiny calendar
	})
	if err != nil {
		return err
	}
	// The embedded default store: one SQLite file (here in a temporary
	// directory, removed at the end).
	dir, err := os.MkdirTemp("", "calsync-quickstart-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	store, err := sqlite.Open(ctx, filepath.Join(dir, "calsync.db"), nil)
	if err != nil {
		return err
	}
	defer store.Close()
	pr := &printer{}
	var failures []error
	var failMu sync.Mutex
	engine, err := calsync.NewEngine(calsync.Config{
		MeterProvider: meters,
		Store:         store,
		Providers:     []calsync.Provider{prov},
		OnChange:      pr.onChange,
		OnError: func(_ context.Context, cal calsync.Calendar, err error) {
			failMu.Lock()
			failures = append(failures, fmt.Errorf("%s: %w", cal.ID, err))
			failMu.Unlock()
		},
	})
	if err != nil {
		return err
	}
	hook, err := webhook.NewGoogle(webhook.GoogleConfig{Sink: engine})
	if err != nil {
		return err
	}
	mux.Handle("/hooks/google", hook)
	runCtx, stop := context.WithCancel(ctx)
	runDone := make(chan struct{})
	go func() { engine.Run(runCtx); close(runDone) }()
	defer func() { stop(); <-runDone }() // before the store closes

	// The emulator's API client, standing in for the users editing their
	// calendars in Google Calendar.
	api, err := calendar.NewService(ctx, option.WithEndpoint(emu.Endpoint()), option.WithTokenSource(token))
	if err != nil {
		return err
	}

	// Something is already there before we connect.
	day := time.Now().UTC().Truncate(24*time.Hour).AddDate(0, 0, 1)
	at := func(days, hour int) *calendar.EventDateTime {
		return &calendar.EventDateTime{DateTime: day.AddDate(0, 0, days).Add(time.Duration(hour) * time.Hour).Format(time.RFC3339), TimeZone: "Europe/Berlin"}
	}
	for i := range 12 {
		if _, err := api.Events.Insert(calendars[0], &calendar.Event{Summary: fmt.Sprintf("Existing meeting %d", i+1), Start: at(i, 9), End: at(i, 10)}).Context(ctx).Do(); err != nil {
			return fmt.Errorf("seed: %w", err)
		}
	}

	fmt.Println("== connecting two calendars (subscription + initial full sync)")
	for _, id := range calendars {
		cal := calsync.Calendar{ID: id, Provider: google.Name, AccountID: "demo-user", RemoteID: id}
		sub, err := engine.Connect(ctx, cal, calsync.ConnectRequest{Address: hooks.URL + "/hooks/google"})
		if err != nil {
			return err
		}
		fmt.Printf("  connected %s: channel %s expires %s\n", id, sub.ID, sub.Expiration.Format(time.RFC3339))
	}

	settle := func(step string) error {
		fmt.Printf("== %s\n", step)
		return waitSettled(ctx, emu, engine)
	}
	if err := settle("initial state synced; now editing through the API"); err != nil {
		return err
	}

	work, family := calendars[0], calendars[1]
	lunch, err := api.Events.Insert(work, &calendar.Event{Summary: "Lunch with Ana", Start: at(0, 12), End: at(0, 13)}).Context(ctx).Do()
	if err != nil {
		return err
	}
	trip, err := api.Events.Insert(family, &calendar.Event{Summary: "Trip to the lake", Start: &calendar.EventDateTime{Date: day.AddDate(0, 0, 5).Format(time.DateOnly)}, End: &calendar.EventDateTime{Date: day.AddDate(0, 0, 7).Format(time.DateOnly)}}).Context(ctx).Do()
	if err != nil {
		return err
	}
	standupStart := day.Add(8 * time.Hour)
	standup, err := api.Events.Insert(work, &calendar.Event{
		Summary:    "Daily standup",
		Start:      &calendar.EventDateTime{DateTime: standupStart.Format(time.RFC3339), TimeZone: "Europe/Berlin"},
		End:        &calendar.EventDateTime{DateTime: standupStart.Add(15 * time.Minute).Format(time.RFC3339), TimeZone: "Europe/Berlin"},
		Recurrence: []string{"RRULE:FREQ=DAILY;COUNT=5"},
	}).Context(ctx).Do()
	if err != nil {
		return err
	}
	if err := settle("created a lunch, an all-day trip and a recurring standup"); err != nil {
		return err
	}

	if _, err := api.Events.Patch(work, lunch.Id, &calendar.Event{Summary: "Lunch with Ana (moved)", Start: at(1, 12), End: at(1, 13)}).Context(ctx).Do(); err != nil {
		return err
	}
	// Cancel the third standup: delete that occurrence, addressed by its
	// instance id (Google's "<seriesId>_<original start, UTC>").
	third := standup.Id + "_" + standupStart.AddDate(0, 0, 2).UTC().Format("20060102T150405Z")
	if err := api.Events.Delete(work, third).Context(ctx).Do(); err != nil {
		return fmt.Errorf("cancel occurrence %s: %w", third, err)
	}
	if err := settle("moved the lunch and cancelled one standup"); err != nil {
		return err
	}

	if err := api.Events.Delete(family, trip.Id).Context(ctx).Do(); err != nil {
		return err
	}
	if err := settle("deleted the trip"); err != nil {
		return err
	}

	// Summary.
	stats := engine.Stats()
	fmt.Println("== summary")
	fmt.Printf("  notifications queued: %d, processed: %d\n", stats.Enqueued, stats.Processed)
	fmt.Printf("  syncs run: %d (full: %d), changes committed: %d, stale skipped: %d\n", stats.Syncs, stats.FullSyncs, stats.Changes, stats.Stale)
	equal := true
	for _, id := range calendars {
		local, err := localEvents(ctx, store, id)
		if err != nil {
			return err
		}
		remote, err := emu.Events(id, false)
		if err != nil {
			return err
		}
		var want []string
		for _, e := range remote {
			want = append(want, e.Id+" "+e.Etag)
		}
		slices.Sort(want)
		same := slices.Equal(local, want)
		equal = equal && same
		fmt.Printf("  %s: %d events stored, emulator has %d, equal: %v\n", id, len(local), len(want), same)
		if !same {
			fmt.Printf("    local:    %s\n    emulator: %s\n", strings.Join(local, ", "), strings.Join(want, ", "))
		}
	}
	if err := printMetrics(ctx, reader); err != nil {
		return err
	}
	failMu.Lock()
	defer failMu.Unlock()
	if len(failures) > 0 {
		return fmt.Errorf("background failures: %w", errors.Join(failures...))
	}
	if !equal {
		return errors.New("local state differs from the emulator's")
	}
	fmt.Println("  local state equals the emulator's: true")
	return nil
}

// waitSettled waits until the emulator has delivered every notification
// and the Engine's workers have handled every one queued.
func waitSettled(ctx context.Context, emu *googletest.Server, engine *calsync.Engine) error {
	t := time.NewTicker(10 * time.Millisecond)
	defer t.Stop()
	for {
		if err := emu.WaitIdle(ctx); err != nil {
			return err
		}
		if s := engine.Stats(); s.Handled == s.Enqueued {
			// A delivery is acknowledged only once queued (Enqueued), and
			// the emulator was idle before this check, so nothing is left.
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
		}
	}
}

func localEvents(ctx context.Context, st calsync.Store, calID string) ([]string, error) {
	var out []string
	after := ""
	for {
		evs, err := st.ListEvents(ctx, calID, after, 100)
		if err != nil {
			return nil, err
		}
		if len(evs) == 0 {
			slices.Sort(out)
			return out, nil
		}
		for _, e := range evs {
			out = append(out, e.ID+" "+e.ETag)
		}
		after = evs[len(evs)-1].ID
	}
}
