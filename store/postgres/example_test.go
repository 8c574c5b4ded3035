package postgres_test

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log"
	"os"

	"golang.org/x/oauth2"

	"github.com/calsync/calsync"
	"github.com/calsync/calsync/google"
	"github.com/calsync/calsync/store/postgres"
)

// Every instance of the host app opens the same database: Open migrates the
// schema once (under an advisory lock), and the instances' Engines share
// calendars, cursors and subscriptions. (Not run: it needs a server.)
func Example() {
	ctx := context.Background()
	st, err := postgres.Open(ctx, os.Getenv("DATABASE_URL"), nil) // e.g. postgres://app@db:5432/app
	if err != nil {
		log.Fatal(err)
	}
	defer st.Close()

	prov, err := google.New(google.Config{TokenSource: userToken})
	if err != nil {
		log.Fatal(err)
	}
	engine, err := calsync.NewEngine(calsync.Config{
		Store:     st,
		Providers: []calsync.Provider{prov},
		OnChange: func(ctx context.Context, cal calsync.Calendar, changes []calsync.Change) {
			// committed to PostgreSQL before this is called
		},
	})
	if err != nil {
		log.Fatal(err)
	}
	if err := engine.Run(ctx); err != nil {
		log.Print(err)
	}
}

// userToken stands for the host's own OAuth token storage.
func userToken(ctx context.Context, accountID string) (oauth2.TokenSource, error) {
	return nil, errors.New("the OAuth token of " + accountID + " comes from your database")
}

// A migration tool runs the files of Migrations on a connection whose
// search_path is calsync's schema, for example golang-migrate with
// iofs.New(postgres.Migrations(), ".") and a database URL ending in
// ?search_path=calsync; the Store then opens with SkipMigrations.
func ExampleMigrations() {
	files, err := fs.ReadDir(postgres.Migrations(), ".")
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(len(files) == postgres.SchemaVersion(), files[0].Name())
	// Output: true 0001_core.up.sql
}
