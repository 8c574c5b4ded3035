package connect_test

import (
	"context"
	"log"
	"net/http"

	"golang.org/x/oauth2"
	"golang.org/x/oauth2/endpoints"

	"github.com/calsync/calsync"
	"github.com/calsync/calsync/connect"
	"github.com/calsync/calsync/google"
	"github.com/calsync/calsync/store/sqlite"
	"github.com/calsync/calsync/vault"
)

// A host app's wiring: the connect flow, the token sources the provider
// uses, and a picker that connects what the user chose.
func ExampleNew() {
	ctx := context.Background()
	const base = "https://app.example.com"
	store, err := sqlite.Open(ctx, "calsync.db", nil)
	if err != nil {
		log.Fatal(err)
	}
	key, err := vault.ParseKey("c2VjcmV0LWtleS1mcm9tLXlvdXItc2VjcmV0LXN0b3Jl") // from your secret store
	if err != nil {
		log.Fatal(err)
	}
	v, err := vault.New(vault.Config{Keys: map[string]vault.Key{"k1": key}, Current: "k1"})
	if err != nil {
		log.Fatal(err)
	}
	gp := connect.Google(google.Name, oauth2.Config{ClientID: "client-id", ClientSecret: "client-secret",
		Endpoint: endpoints.Google, RedirectURL: base + "/connect/callback"}, false)
	tokens, err := vault.NewSources(vault.SourcesConfig{Vault: v, Accounts: store, Leases: store, OAuth: &gp.OAuth})
	if err != nil {
		log.Fatal(err)
	}
	prov, err := google.New(google.Config{TokenSource: tokens.TokenSource})
	if err != nil {
		log.Fatal(err)
	}
	engine, err := calsync.NewEngine(calsync.Config{Store: store, Providers: []calsync.Provider{prov}})
	if err != nil {
		log.Fatal(err)
	}
	flow, err := connect.New(connect.Config{
		Engine: engine, Vault: v, Tokens: store, Providers: []connect.Provider{gp},
		Sources: map[string]*vault.Sources{google.Name: tokens},
		User: func(r *http.Request) (string, error) {
			c, err := r.Cookie("session") // your session, not a bare cookie
			if err != nil {
				return "", err
			}
			return c.Value, nil
		},
		Done: func(w http.ResponseWriter, r *http.Request, res connect.Result) {
			// Show res.Calendars in a picker; here, connect the primary one.
			for _, c := range res.Calendars {
				if c.Primary {
					cal := calsync.Calendar{ID: connect.CalendarID(res.AccountID, c.ID), Provider: res.Provider, AccountID: res.AccountID, RemoteID: c.ID}
					if _, err := engine.Connect(r.Context(), cal, calsync.ConnectRequest{Address: base + "/hooks/google"}); err != nil {
						http.Error(w, "could not connect the calendar", http.StatusBadGateway)
						return
					}
				}
			}
			http.Redirect(w, r, "/", http.StatusSeeOther)
		},
	})
	if err != nil {
		log.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle("GET /connect/start", flow.Start()) // ?provider=google
	mux.Handle("GET /connect/callback", flow.Callback())
}
