// Command customstore shows a host application plugging its own
// calsync.Store into the Engine: MapStore (mapstore.go), a store written by
// the host, checked by the same conformance suite as calsync's own stores
// (mapstore_test.go runs store/storetest against it).
//
// It runs offline against the Google Calendar emulator: connects a
// calendar (subscription and initial full sync into MapStore), changes an
// event through the API, syncs again, and prints what MapStore holds.
//
//	go run ./examples/customstore
//	go test ./examples/customstore   # the conformance suite on MapStore
package main

import (
	"context"
	"fmt"
	"io"
	"log"
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
	"github.com/calsync/calsync/webhook"
)

func main() {
	log.SetFlags(0)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := run(ctx); err != nil {
		log.Printf("customstore: %v", err)
		os.Exit(1)
	}
}

func run(ctx context.Context) error {
	// The webhook server (Google pushes only to HTTPS), with the timeouts
	// every public server needs, and the emulator.
	mux := http.NewServeMux()
	hooks := httptest.NewUnstartedServer(mux)
	hooks.Config.ReadHeaderTimeout = 5 * time.Second
	hooks.Config.ReadTimeout = 10 * time.Second
	hooks.Config.IdleTimeout = time.Minute
	hooks.Config.ErrorLog = log.New(io.Discard, "", 0) // pushes racing the shutdown
	hooks.StartTLS()
	defer hooks.Close()
	emu := googletest.NewServer(googletest.Config{PushClient: hooks.Client()})
	defer emu.Close()
	const calID = "team@example.com"
	if err := emu.AddCalendar(calID, "Europe/Berlin"); err != nil {
		return err
	}
	token := oauth2.StaticTokenSource(&oauth2.Token{AccessToken: "customstore-token"})
	api, err := calendar.NewService(ctx, option.WithEndpoint(emu.Endpoint()), option.WithTokenSource(token))
	if err != nil {
		return err
	}
	start := time.Now().UTC().Truncate(time.Hour).Add(24 * time.Hour)
	var ids []string
	for i, title := range []string{"Planning", "Review", "Retro"} {
		s := start.Add(time.Duration(i) * time.Hour)
		ev, err := api.Events.Insert(calID, &calendar.Event{
			Summary: title,
			Start:   &calendar.EventDateTime{DateTime: s.Format(time.RFC3339)},
			End:     &calendar.EventDateTime{DateTime: s.Add(30 * time.Minute).Format(time.RFC3339)},
		}).Context(ctx).Do()
		if err != nil {
			return err
		}
		ids = append(ids, ev.Id)
	}

	// The wiring: the host's Store goes into calsync.Config like any other.
	store := NewMapStore()
	prov, err := google.New(google.Config{
		Endpoint:    emu.Endpoint(),
		TokenSource: func(context.Context, string) (oauth2.TokenSource, error) { return token, nil },
	})
	if err != nil {
		return err
	}
	engine, err := calsync.NewEngine(calsync.Config{
		Store:     store,
		Providers: []calsync.Provider{prov},
		OnChange: func(_ context.Context, cal calsync.Calendar, changes []calsync.Change) {
			for _, c := range changes {
				fmt.Printf("  committed %s %s\n", c.Op, c.EventID)
			}
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
	done := make(chan struct{})
	go func() { engine.Run(runCtx); close(done) }()
	defer func() { stop(); <-done }()

	fmt.Println("== connect (subscription + full sync into MapStore)")
	cal := calsync.Calendar{ID: calID, Provider: google.Name, AccountID: "demo", RemoteID: calID}
	if _, err := engine.Connect(ctx, cal, calsync.ConnectRequest{Address: hooks.URL + "/hooks/google"}); err != nil {
		return err
	}
	// MapStore keeps a change feed, so Run's consumer prints the changes:
	// wait for it, to keep the output in order.
	if err := engine.WaitIdle(ctx); err != nil {
		return err
	}

	fmt.Println("== rename one event, delete another, sync")
	if _, err := api.Events.Patch(calID, ids[0], &calendar.Event{Summary: "Planning (moved to room 2)"}).Context(ctx).Do(); err != nil {
		return err
	}
	if err := api.Events.Delete(calID, ids[2]).Context(ctx).Do(); err != nil {
		return err
	}
	// The push notification also triggers a sync; calling Sync here makes
	// the example deterministic (syncs of one calendar never overlap).
	if _, err := engine.Sync(ctx, calID); err != nil {
		return err
	}
	if err := engine.WaitIdle(ctx); err != nil {
		return err
	}

	fmt.Println("== what the host's store holds")
	evs, err := store.ListEvents(ctx, calID, "", 100)
	if err != nil {
		return err
	}
	for _, e := range evs {
		fmt.Printf("  %-28q v%d  %s\n", e.Summary, e.Version, e.Start)
	}
	st, err := store.SyncState(ctx, calID)
	if err != nil {
		return err
	}
	if len(evs) != 2 || st.Cursor == "" {
		return fmt.Errorf("store holds %d events and cursor %q, want 2 events and a cursor", len(evs), st.Cursor)
	}
	fmt.Println("ok: 2 events, cursor stored")
	return nil
}
