// Command googleonly runs calsync end to end the way a host application that
// uses only Google Calendar builds it: it imports no msgraph package, so it
// never compiles the Microsoft Graph SDK, and its first run takes seconds
// rather than minutes. Everything is local, with no credentials and no
// internet: the Google Calendar emulator (googletest), the calsync Engine
// on the in-memory Store, and a webhook server on loopback that the
// emulator pushes notifications to.
//
// It connects a calendar that holds one event, then creates, moves and
// deletes another through the Calendar API, prints each change as it
// reaches the host's OnChange, and exits 0 only if the local copy equals
// the emulator's.
//
//	go run ./examples/googleonly
//
// A host application opens store/sqlite or store/postgres instead of
// store/memory, and leaves google.Config.Endpoint empty to reach Google.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"maps"
	"net/http"
	"net/http/httptest"
	"os"
	"time"

	"golang.org/x/oauth2"
	calendar "google.golang.org/api/calendar/v3"
	"google.golang.org/api/option"

	"github.com/calsync/calsync"
	"github.com/calsync/calsync/google"
	"github.com/calsync/calsync/google/googletest"
	"github.com/calsync/calsync/store/memory"
	"github.com/calsync/calsync/webhook"
)

func main() {
	log.SetFlags(0)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := run(ctx); err != nil {
		log.Printf("googleonly: %v", err)
		os.Exit(1)
	}
}

const calID = "alice@example.com"

func run(ctx context.Context) error {
	// The host's webhook server, with the timeouts every public server
	// needs. Google delivers only to HTTPS; the emulator trusts this
	// server's certificate.
	mux := http.NewServeMux()
	hooks := httptest.NewUnstartedServer(mux)
	hooks.Config.ReadHeaderTimeout = 5 * time.Second
	hooks.Config.ReadTimeout = 10 * time.Second
	hooks.Config.IdleTimeout = time.Minute
	hooks.Config.ErrorLog = log.New(io.Discard, "", 0) // connections cut at shutdown
	hooks.StartTLS()
	defer hooks.Close()

	emu := googletest.NewServer(googletest.Config{PushClient: hooks.Client()})
	defer emu.Close()
	if err := emu.AddCalendar(calID, "Europe/Berlin"); err != nil {
		return err
	}
	// The user's OAuth token; the emulator accepts any.
	token := oauth2.StaticTokenSource(&oauth2.Token{AccessToken: "googleonly-token"})
	api, err := calendar.NewService(ctx, option.WithEndpoint(emu.Endpoint()), option.WithTokenSource(token))
	if err != nil {
		return err
	}

	// The wiring a host app writes.
	prov, err := google.New(google.Config{
		Endpoint:    emu.Endpoint(),
		TokenSource: func(context.Context, string) (oauth2.TokenSource, error) { return token, nil },
	})
	if err != nil {
		return err
	}
	store := memory.New()
	changes := make(chan calsync.Change, 100)
	engine, err := calsync.NewEngine(calsync.Config{
		Store:     store,
		Providers: []calsync.Provider{prov},
		OnChange: func(_ context.Context, cal calsync.Calendar, cs []calsync.Change) {
			for _, c := range cs {
				line := fmt.Sprintf("  [%s] %-6s %s", cal.ID, c.Op, c.EventID)
				if c.Op == calsync.Upsert {
					line += fmt.Sprintf("  %q %s → %s", c.Event.Summary, c.Event.Start, c.Event.End)
				}
				fmt.Println(line)
				changes <- c
			}
		},
		OnError: func(ctx context.Context, cal calsync.Calendar, err error) {
			if ctx.Err() != nil {
				return // a sync cut short because the Engine is stopping
			}
			log.Printf("googleonly: %s: %v", cal.ID, err)
		},
	})
	if err != nil {
		return err
	}
	hook, err := webhook.NewGoogle(webhook.GoogleConfig{Sink: engine})
	if err != nil {
		return err
	}
	mux.Handle("POST /hooks/google", hook)

	at := func(day, hour int) *calendar.EventDateTime {
		t := time.Now().UTC().Truncate(24*time.Hour).AddDate(0, 0, day).Add(time.Duration(hour) * time.Hour)
		return &calendar.EventDateTime{DateTime: t.Format(time.RFC3339)}
	}
	// The calendar already holds an event when it is connected.
	standup, err := api.Events.Insert(calID, &calendar.Event{Summary: "Standup", Start: at(1, 9), End: at(1, 10)}).Context(ctx).Do()
	if err != nil {
		return err
	}

	fmt.Println("== connecting", calID, "(push channel + initial full sync)")
	cal := calsync.Calendar{ID: calID, Provider: google.Name, AccountID: "alice", RemoteID: calID}
	sub, err := engine.Connect(ctx, cal, calsync.ConnectRequest{Address: hooks.URL + "/hooks/google"})
	if err != nil {
		return err
	}
	fmt.Printf("  Google channel %s, expires %s\n", sub.ID, sub.Expiration.Format(time.RFC3339))

	runCtx, stop := context.WithCancel(ctx)
	runDone := make(chan struct{})
	go func() {
		engine.Run(runCtx)
		close(runDone)
	}()
	defer func() {
		_ = emu.WaitIdle(ctx) // deliveries in flight, before the Engine stops
		stop()
		<-runDone
	}()

	if err := await(ctx, changes, calsync.Upsert, standup.Id); err != nil {
		return err
	}
	fmt.Println("== creating an event in Google Calendar")
	ev, err := api.Events.Insert(calID, &calendar.Event{Summary: "Lunch with Ana", Start: at(1, 12), End: at(1, 13)}).Context(ctx).Do()
	if err != nil {
		return err
	}
	if err := await(ctx, changes, calsync.Upsert, ev.Id); err != nil {
		return err
	}
	fmt.Println("== moving it to the next day")
	if _, err := api.Events.Patch(calID, ev.Id, &calendar.Event{Start: at(2, 12), End: at(2, 13)}).Context(ctx).Do(); err != nil {
		return err
	}
	if err := await(ctx, changes, calsync.Upsert, ev.Id); err != nil {
		return err
	}
	fmt.Println("== deleting it")
	if err := api.Events.Delete(calID, ev.Id).Context(ctx).Do(); err != nil {
		return err
	}
	if err := await(ctx, changes, calsync.Delete, ev.Id); err != nil {
		return err
	}

	n, equal, err := sameAsEmulator(ctx, store, emu)
	if err != nil {
		return err
	}
	fmt.Printf("== local copy: %d event(s), equal to the emulator's: %v\n", n, equal)
	if !equal {
		return errors.New("the local copy differs from the emulator's")
	}
	return nil
}

// await waits until OnChange has received op for event id.
func await(ctx context.Context, changes <-chan calsync.Change, op calsync.ChangeOp, id string) error {
	for {
		select {
		case c := <-changes:
			if c.Op == op && c.EventID == id {
				return nil
			}
		case <-ctx.Done():
			return fmt.Errorf("waiting for %s of %s: %w", op, id, ctx.Err())
		}
	}
}

// sameAsEmulator reports how many events the Store holds and whether they
// are exactly the emulator's, each at the emulator's version (etag).
func sameAsEmulator(ctx context.Context, store calsync.Store, emu *googletest.Server) (int, bool, error) {
	remote, err := emu.Events(calID, false)
	if err != nil {
		return 0, false, err
	}
	want := map[string]string{}
	for _, e := range remote {
		want[e.Id] = e.Etag
	}
	got := map[string]string{}
	for after := ""; ; {
		page, err := store.ListEvents(ctx, calID, after, 100)
		if err != nil {
			return 0, false, err
		}
		if len(page) == 0 {
			break
		}
		for _, e := range page {
			got[e.ID] = e.ETag
		}
		after = page[len(page)-1].ID
	}
	return len(got), maps.Equal(got, want), nil
}
