// Command nethttp is a whole host program wired to the real providers: it
// serves calsync's webhook handlers on net/http, keeps the calendars named
// on the command line in sync in a SQLite file, and logs every change.
//
// It needs real credentials and a public HTTPS URL that reaches -addr (a
// reverse proxy or tunnel with a valid certificate: Google and Graph deliver
// only to HTTPS). For a run with no credentials at all, see
// examples/quickstart.
//
//	GOOGLE_CLIENT_ID=... GOOGLE_CLIENT_SECRET=... \
//	go run ./examples/nethttp -public-url https://sync.example.com \
//	    -google-token token.json -google-calendar primary
//
// token.json is an oauth2.Token as JSON (with a refresh_token), obtained by
// your app's sign-in with the calendar.readonly scope. Add
// -graph-token/-graph-calendar (with GRAPH_CLIENT_ID, GRAPH_CLIENT_SECRET,
// GRAPH_TENANT) for an Outlook calendar.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"time"

	"golang.org/x/oauth2"
	"golang.org/x/oauth2/endpoints"

	"github.com/calsync/calsync"
	"github.com/calsync/calsync/google"
	"github.com/calsync/calsync/msgraph"
	"github.com/calsync/calsync/store/sqlite"
	"github.com/calsync/calsync/webhook"
)

func main() {
	var (
		addr        = flag.String("addr", ":8080", "address to listen on (behind your HTTPS proxy)")
		publicURL   = flag.String("public-url", "", "public HTTPS URL that reaches -addr (required)")
		dbPath      = flag.String("db", "calsync.db", "SQLite database file")
		googleToken = flag.String("google-token", "", "file with the Google user's oauth2.Token as JSON")
		googleCal   = flag.String("google-calendar", "primary", "Google calendar id to sync")
		graphToken  = flag.String("graph-token", "", "file with the Microsoft user's oauth2.Token as JSON")
		graphCal    = flag.String("graph-calendar", "", "Outlook calendar id to sync (empty: the default calendar)")
	)
	flag.Parse()
	log := slog.New(slog.NewTextHandler(os.Stderr, nil))
	if err := run(log, *addr, *publicURL, *dbPath, *googleToken, *googleCal, *graphToken, *graphCal); err != nil {
		log.Error("nethttp", "err", err)
		os.Exit(1)
	}
}

func run(log *slog.Logger, addr, publicURL, dbPath, googleToken, googleCal, graphToken, graphCal string) error {
	if !strings.HasPrefix(publicURL, "https://") {
		return errors.New("-public-url must be the https:// URL the providers deliver to (see the package doc)")
	}
	if googleToken == "" && graphToken == "" {
		return errors.New("give -google-token and/or -graph-token (see the package doc); for a run without credentials use examples/quickstart")
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()

	store, err := sqlite.Open(ctx, dbPath, nil)
	if err != nil {
		return err
	}
	defer store.Close()

	var (
		providers []calsync.Provider
		cals      []calsync.Calendar
	)
	if googleToken != "" {
		conf := &oauth2.Config{ClientID: os.Getenv("GOOGLE_CLIENT_ID"), ClientSecret: os.Getenv("GOOGLE_CLIENT_SECRET"), Endpoint: endpoints.Google}
		ts, err := tokenSource(ctx, conf, googleToken)
		if err != nil {
			return err
		}
		p, err := google.New(google.Config{TokenSource: func(context.Context, string) (oauth2.TokenSource, error) { return ts, nil }})
		if err != nil {
			return err
		}
		providers = append(providers, p)
		cals = append(cals, calsync.Calendar{ID: "google/" + googleCal, Provider: google.Name, AccountID: "me", RemoteID: googleCal})
	}
	if graphToken != "" {
		conf := &oauth2.Config{ClientID: os.Getenv("GRAPH_CLIENT_ID"), ClientSecret: os.Getenv("GRAPH_CLIENT_SECRET"),
			Endpoint: endpoints.AzureAD(os.Getenv("GRAPH_TENANT")), Scopes: []string{"offline_access", "Calendars.Read"}}
		ts, err := tokenSource(ctx, conf, graphToken)
		if err != nil {
			return err
		}
		p, err := msgraph.New(msgraph.Config{TokenSource: func(context.Context, string) (oauth2.TokenSource, error) { return ts, nil }})
		if err != nil {
			return err
		}
		providers = append(providers, p)
		cals = append(cals, calsync.Calendar{ID: "outlook/" + graphCal, Provider: msgraph.Name, AccountID: "me", RemoteID: graphCal})
	}

	engine, err := calsync.NewEngine(calsync.Config{
		Store:     store,
		Providers: providers,
		Logger:    log,
		OnChange: func(_ context.Context, cal calsync.Calendar, changes []calsync.Change) {
			for _, c := range changes {
				summary := ""
				if c.Event != nil {
					summary = c.Event.Summary
				}
				log.Info("change", "calendar", cal.ID, "op", c.Op.String(), "event", c.EventID, "summary", summary)
			}
		},
		OnError: func(_ context.Context, cal calsync.Calendar, err error) {
			if errors.Is(err, calsync.ErrReauthRequired) {
				log.Error("the account must sign in again", "calendar", cal.ID)
			}
		},
		Alerts: calsync.AlertConfig{
			OnAlert: func(_ context.Context, a calsync.Alert) { log.Warn("alert", "kind", a.Kind, "message", a.Message) },
		},
	})
	if err != nil {
		return err
	}

	gh, err := webhook.NewGoogle(webhook.GoogleConfig{Sink: engine, Logger: log})
	if err != nil {
		return err
	}
	mh, err := webhook.NewGraph(webhook.GraphConfig{Sink: engine, Logger: log})
	if err != nil {
		return err
	}
	mux := http.NewServeMux()
	mux.Handle("POST /hooks/google", gh)
	mux.Handle("POST /hooks/graph", mh) // Graph's validation handshake is a POST too
	srv := &http.Server{
		Addr:              addr,
		Handler:           mux,
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       10 * time.Second,
		IdleTimeout:       2 * time.Minute,
	}
	go func() {
		<-ctx.Done()
		shutdown, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		srv.Shutdown(shutdown)
	}()
	go func() {
		if err := srv.ListenAndServe(); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Error("listen", "err", err)
			stop()
		}
	}()

	// Connect each calendar once; later runs find it in the store, and Run
	// catches it up and renews its subscription.
	for _, cal := range cals {
		if _, err := store.Calendar(ctx, cal.ID); err == nil {
			continue
		}
		hook := publicURL + "/hooks/" + map[string]string{google.Name: "google", msgraph.Name: "graph"}[cal.Provider]
		if _, err := engine.Connect(ctx, cal, calsync.ConnectRequest{Address: hook, LifecycleAddress: hook}); err != nil {
			return fmt.Errorf("connect %s: %w", cal.ID, err)
		}
	}
	log.Info("syncing; Ctrl-C to stop", "calendars", len(cals))
	if err := engine.Run(ctx); !errors.Is(err, context.Canceled) {
		return err
	}
	return nil
}

// tokenSource reads a token file and returns a source that refreshes it.
// A real app keeps tokens in its database, sealed with package vault.
func tokenSource(ctx context.Context, conf *oauth2.Config, path string) (oauth2.TokenSource, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var tok oauth2.Token
	if err := json.Unmarshal(b, &tok); err != nil {
		return nil, fmt.Errorf("%s: not an oauth2.Token: %w", path, err)
	}
	return conf.TokenSource(ctx, &tok), nil
}
