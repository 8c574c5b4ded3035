package msgraph_test

import (
	"context"
	"log"

	"golang.org/x/oauth2"
	"golang.org/x/oauth2/microsoft"

	"github.com/calsync/calsync"
	"github.com/calsync/calsync/msgraph"
)

// loadRefreshToken stands in for the host's (encrypted) token storage.
func loadRefreshToken(ctx context.Context, accountID string) (*oauth2.Token, error) {
	return &oauth2.Token{RefreshToken: "stored refresh token of " + accountID}, nil
}

// A Provider for real Microsoft accounts (delegated permission
// Calendars.Read and offline_access), registered with an Engine. Compile
// only: it needs real credentials.
func ExampleNew() {
	oauth := &oauth2.Config{
		ClientID:     "your-app-id",
		ClientSecret: "your-app-secret",
		Endpoint:     microsoft.AzureADEndpoint("common"),
		Scopes:       []string{"offline_access", "https://graph.microsoft.com/Calendars.Read"},
	}
	p, err := msgraph.New(msgraph.Config{
		TokenSource: func(ctx context.Context, accountID string) (oauth2.TokenSource, error) {
			tok, err := loadRefreshToken(ctx, accountID)
			if err != nil {
				return nil, err
			}
			return oauth.TokenSource(context.Background(), tok), nil
		},
		// HTTPClient: a client whose transport retries (package retry).
	})
	if err != nil {
		log.Fatal(err)
	}
	var store calsync.Store // the host's Store, e.g. store/sqlite
	engine, err := calsync.NewEngine(calsync.Config{Store: store, Providers: []calsync.Provider{p}})
	if err != nil {
		log.Fatal(err)
	}
	_ = engine // engine.Connect(ctx, calsync.Calendar{Provider: msgraph.Name, …}, …)
}
