// Package riverqueue runs calsync's notifications and periodic sweeps on
// River (github.com/riverqueue/river), a job queue in PostgreSQL, so that
// several instances of a host application share one queue: a webhook
// notification is durable before the provider gets its 2xx, any instance
// may sync the calendar, a dead instance's jobs go to another, and the
// sweeps (renewal, safety net, catch-up, pruning, discovery) run once per
// period in the whole cluster.
//
// It lives in a package of its own so that hosts that do not use River do
// not compile it. Wire it next to store/postgres, on the same pool:
//
//	pool, _ := pgxpool.New(ctx, databaseURL)
//	store, _ := postgres.New(ctx, pool, nil)
//	queue, _ := riverqueue.New(ctx, pool, nil) // migrates River's tables in schema "calsync"
//	engine, _ := calsync.NewEngine(calsync.Config{Store: store, Queue: queue, Providers: ...})
//	go engine.Run(ctx) // works jobs and runs the sweeps until ctx ends
//
// Size the pool for the jobs one instance works at once (calsync's
// Config.Workers, 16 by default, plus the renewal and sweep workers) and a
// few connections for River's own loops and the webhook's inserts.
//
// River's migrations run from New, in Config.Schema; a deployment that
// migrates as a separate step runs rivermigrate (or the river CLI with
// --schema calsync) and [Migrate], and sets Config.SkipMigrations.
// River's metrics and spans go through otelriver to the Engine's
// MeterProvider.
package riverqueue
