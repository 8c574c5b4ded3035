package calsync_test

import (
	"context"
	"errors"
	"log"
	"log/slog"
	"net/http"
	"os"
	"time"

	"golang.org/x/oauth2"
	"golang.org/x/oauth2/endpoints"

	"github.com/calsync/calsync"
	"github.com/calsync/calsync/google"
	"github.com/calsync/calsync/store/sqlite"
	"github.com/calsync/calsync/webhook"
)

// A production setup with real Google credentials: the users' OAuth tokens
// come from the host's database and refresh through golang.org/x/oauth2,
// calendars live in the embedded SQLite store, and the webhook handler is
// served by an http.Server with timeouts behind a public HTTPS URL. (Not
// run: it needs credentials and a reachable address.)
func ExampleConfig() {
	ctx := context.Background()

	// The OAuth 2.0 client from the Google Cloud console. Users granted
	// calendar.readonly with offline access, so their tokens refresh.
	oauthConfig := &oauth2.Config{
		ClientID:     os.Getenv("GOOGLE_CLIENT_ID"),
		ClientSecret: os.Getenv("GOOGLE_CLIENT_SECRET"),
		Endpoint:     endpoints.Google,
		Scopes:       []string{"https://www.googleapis.com/auth/calendar.readonly"},
	}
	prov, err := google.New(google.Config{
		TokenSource: func(ctx context.Context, accountID string) (oauth2.TokenSource, error) {
			tok, err := loadToken(ctx, accountID)
			if err != nil {
				return nil, err
			}
			return oauthConfig.TokenSource(ctx, tok), nil // refreshes when expired
		},
	})
	if err != nil {
		log.Fatal(err)
	}

	store, err := sqlite.Open(ctx, "calsync.db", nil)
	if err != nil {
		log.Fatal(err)
	}
	defer store.Close()

	logger := slog.New(slog.NewTextHandler(os.Stderr, nil))
	engine, err := calsync.NewEngine(calsync.Config{
		Store:     store,
		Providers: []calsync.Provider{prov},
		Logger:    logger,
		OnChange: func(ctx context.Context, cal calsync.Calendar, changes []calsync.Change) {
			for _, c := range changes {
				logger.Info("change", "calendar", cal.ID, "op", c.Op.String(), "event", c.EventID)
			}
		},
		OnError: func(ctx context.Context, cal calsync.Calendar, err error) {
			if errors.Is(err, calsync.ErrReauthRequired) {
				logger.Warn("ask the user to sign in again", "account", cal.AccountID)
			}
		},
	})
	if err != nil {
		log.Fatal(err)
	}

	hook, err := webhook.NewGoogle(webhook.GoogleConfig{Sink: engine, Logger: logger})
	if err != nil {
		log.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle("POST /hooks/google", hook)
	srv := &http.Server{
		Addr:              ":8080", // behind the HTTPS proxy of https://app.example.com
		Handler:           mux,
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       10 * time.Second, // Google's notifications have no body
		IdleTimeout:       2 * time.Minute,
	}
	go func() {
		if err := srv.ListenAndServe(); !errors.Is(err, http.ErrServerClosed) {
			log.Fatal(err)
		}
	}()
	go engine.Run(ctx)

	cal := calsync.Calendar{ID: "user-42/primary", Provider: google.Name, AccountID: "user-42", RemoteID: "primary"}
	if _, err := engine.Connect(ctx, cal, calsync.ConnectRequest{Address: "https://app.example.com/hooks/google"}); err != nil {
		log.Fatal(err)
	}
}

// loadToken stands for the host's own storage of its users' OAuth tokens
// (package vault seals them at rest).
func loadToken(ctx context.Context, accountID string) (*oauth2.Token, error) {
	return nil, errors.New("load the token of " + accountID + " from your database")
}
