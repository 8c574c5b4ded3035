package calsync_test

import (
	"context"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"time"

	"golang.org/x/oauth2"
	gcal "google.golang.org/api/calendar/v3"

	"github.com/calsync/calsync"
	"github.com/calsync/calsync/google"
	"github.com/calsync/calsync/google/googletest"
	"github.com/calsync/calsync/store/memory"
	"github.com/calsync/calsync/webhook"
)

// A change made in Google Calendar reaches the host's OnChange: Google (here
// its emulator) pushes a notification to the webhook handler, which queues
// it; an Engine worker fetches the change with the calendar's sync token,
// commits it to the Store and calls OnChange.
func Example() {
	ctx := context.Background()
	l := startLocal()
	defer l.stop()

	l.run() // Engine.Run: the workers that sync on each notification
	cal := calsync.Calendar{ID: "alice/work", Provider: google.Name, AccountID: "alice", RemoteID: "alice@example.com"}
	if _, err := l.engine.Connect(ctx, cal, calsync.ConnectRequest{Address: l.hookURL}); err != nil {
		log.Fatal(err)
	}

	// Someone adds an event in Google Calendar.
	if _, err := l.emu.InsertEvent("alice@example.com", &gcal.Event{
		Summary: "Planning",
		Start:   &gcal.EventDateTime{DateTime: "2031-03-14T10:00:00Z"},
		End:     &gcal.EventDateTime{DateTime: "2031-03-14T11:00:00Z"},
	}); err != nil {
		log.Fatal(err)
	}

	select {
	case c := <-l.changes:
		fmt.Println(c.Op, c.Event.Summary)
	case <-time.After(10 * time.Second):
		fmt.Println("no change reached OnChange within 10 s")
	}
	// Output:
	// upsert Planning
}

// local is calsync running on one machine with no credentials: the Google
// Calendar emulator, an Engine on the in-memory Store, and the webhook
// handler on a TLS server on loopback that the emulator pushes to.
type local struct {
	emu     *googletest.Server
	engine  *calsync.Engine
	hookURL string              // the ConnectRequest.Address of the handler
	changes chan calsync.Change // every change OnChange received
	stop    func()              // stops the Engine and the servers
	stopRun func()
}

func startLocal() *local {
	l := &local{changes: make(chan calsync.Change, 100)}

	// The host's webhook server, with the timeouts of any public server.
	// Google delivers only to HTTPS; the emulator trusts this server.
	mux := http.NewServeMux()
	hooks := httptest.NewUnstartedServer(mux)
	hooks.Config.ReadHeaderTimeout = 5 * time.Second
	hooks.Config.ReadTimeout = 10 * time.Second
	hooks.Config.IdleTimeout = time.Minute
	hooks.Config.ErrorLog = log.New(io.Discard, "", 0) // quiet about connections cut at shutdown
	hooks.StartTLS()
	l.hookURL = hooks.URL + "/hooks/google"
	l.emu = googletest.NewServer(googletest.Config{PushClient: hooks.Client()})
	if err := l.emu.AddCalendar("alice@example.com", "UTC"); err != nil {
		log.Fatal(err)
	}

	prov, err := google.New(google.Config{
		Endpoint: l.emu.Endpoint(), // empty for Google itself
		TokenSource: func(ctx context.Context, accountID string) (oauth2.TokenSource, error) {
			return oauth2.StaticTokenSource(&oauth2.Token{AccessToken: "emulator"}), nil
		},
	})
	if err != nil {
		log.Fatal(err)
	}
	l.engine, err = calsync.NewEngine(calsync.Config{
		Store:     memory.New(),
		Providers: []calsync.Provider{prov},
		OnChange: func(ctx context.Context, cal calsync.Calendar, changes []calsync.Change) {
			for _, c := range changes {
				l.changes <- c
			}
		},
	})
	if err != nil {
		log.Fatal(err)
	}
	hook, err := webhook.NewGoogle(webhook.GoogleConfig{Sink: l.engine})
	if err != nil {
		log.Fatal(err)
	}
	mux.Handle("POST /hooks/google", hook)

	l.stop = func() {
		// Let the emulator finish its deliveries before the servers close.
		idle, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = l.emu.WaitIdle(idle)
		if l.stopRun != nil {
			l.stopRun()
		}
		l.emu.Close()
		hooks.Close()
	}
	return l
}

// run starts Engine.Run, which a host keeps running for its whole life: the
// workers that handle queued notifications, and catch-up, renewal and
// retries.
func (l *local) run() {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		l.engine.Run(ctx)
		close(done)
	}()
	l.stopRun = func() {
		cancel()
		<-done
	}
}
