package pglimit_test

import (
	"context"
	"log"
	"net/http"
	"os"

	"github.com/calsync/calsync/retry"
	"github.com/calsync/calsync/retry/pglimit"
	"github.com/jackc/pgx/v5/pgxpool"
)

// Every instance of the app builds the same limiter on the shared
// database; here under a client of the host's own. With the providers'
// default clients, pass it as google.Config.Limiter or
// msgraph.Config.Limiter instead.
func ExampleNew() {
	ctx := context.Background()
	pcfg, err := pgxpool.ParseConfig(os.Getenv("DATABASE_URL"))
	if err != nil {
		log.Fatal(err)
	}
	pcfg.MaxConns = 20 // this instance's Graph requests in flight, plus a few
	pool, err := pgxpool.NewWithConfig(ctx, pcfg)
	if err != nil {
		log.Fatal(err)
	}
	defer pool.Close()
	lim, err := pglimit.New(ctx, pool, pglimit.Config{Provider: "msgraph", Limits: retry.GraphLimits()})
	if err != nil {
		log.Fatal(err)
	}
	client := &http.Client{Transport: &retry.Transport{Base: &retry.LimitTransport{Limiter: lim}}}
	_ = client // msgraph.Config{HTTPClient: client, ...}
}
