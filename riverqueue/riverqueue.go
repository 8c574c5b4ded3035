package riverqueue

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/calsync/calsync"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/riverqueue/river/rivermigrate"
	"github.com/riverqueue/river/rivertype"
)

// DefaultSchema is the PostgreSQL schema of River's tables and of the
// queue's own, the schema store/postgres uses by default.
const DefaultSchema = "calsync"

// Defaults of Config.
const (
	// DefaultSweepWorkers is how many sweeps one instance runs at once.
	DefaultSweepWorkers = 2
	// DefaultCatchUpEvery is the shortest time between two catch-ups in
	// the cluster: instances that start within it (a rolling deploy) share
	// one.
	DefaultCatchUpEvery = time.Hour
	// DefaultRescueAfter is how long a job may stay running before River
	// gives it to another instance, as it does when the instance working
	// it died.
	DefaultRescueAfter = 15 * time.Minute
)

// Queue names: notifications and catch-up syncs share QueueSync;
// renewals have QueueRenew to themselves, so that they never wait behind
// a catch-up or a long safety-net sweep (QueueSweep).
const (
	QueueSync  = "calsync_sync"
	QueueRenew = "calsync_renew"
	QueueSweep = "calsync_sweep"
)

// Config configures a Queue. A nil *Config means all defaults.
type Config struct {
	// Schema is the PostgreSQL schema of River's tables and the queue's
	// own, created if missing. Default: DefaultSchema.
	Schema string
	// SkipMigrations leaves the schema alone: New only checks that River's
	// tables exist. For deployments that run River's migrations as a
	// separate step (rivermigrate, or the river CLI with --schema) and
	// [Migrate] for the queue's own table.
	SkipMigrations bool
	// SweepWorkers is how many sweeps (other than renewals, which have a
	// worker of their own) this instance runs at once. Default:
	// DefaultSweepWorkers.
	SweepWorkers int
	// CatchUpRate is how many calendars per second a catch-up schedules
	// for a sync. Default: the Engine's Config.CatchUpRate (see there for
	// how it keeps within the providers' quotas).
	CatchUpRate float64
	// CatchUpEvery is the shortest time between two catch-ups in the
	// cluster. Default: DefaultCatchUpEvery.
	CatchUpEvery time.Duration
	// RescueAfter is how long a job may run before River hands it to
	// another instance (the one working it presumably died). A job still
	// running at nine tenths of it is cancelled (River's JobTimeout) and
	// tried again. Default: DefaultRescueAfter; it must exceed the
	// longest full sync.
	RescueAfter time.Duration
	// Logger receives River's own log. Default: the Engine's logger.
	Logger *slog.Logger
	// AsyncCommit commits Enqueue's inserts without waiting for
	// PostgreSQL to flush them to disk (synchronous_commit off for those
	// transactions only). The webhook then answers sooner (BENCHMARKS.md),
	// and a crash of the host's process still loses nothing; a crash of
	// the PostgreSQL server may lose the notifications of its last
	// fraction of a second (three times wal_writer_delay at most), which
	// the provider does not redeliver: the safety net and the next
	// catch-up sync those calendars. Default false: durable before the
	// 2xx.
	AsyncCommit bool
	// River, if set, is called with the River client's configuration
	// before the client is made, for settings calsync does not make
	// (FetchPollInterval, retention periods, more middleware, hooks).
	River func(*river.Config)
}

func (c Config) withDefaults() Config {
	if c.Schema == "" {
		c.Schema = DefaultSchema
	}
	if c.SweepWorkers <= 0 {
		c.SweepWorkers = DefaultSweepWorkers
	}
	if c.CatchUpEvery <= 0 {
		c.CatchUpEvery = DefaultCatchUpEvery
	}
	if c.RescueAfter <= 0 {
		c.RescueAfter = DefaultRescueAfter
	}
	return c
}

// Queue is a [calsync.QueueRunner] on River: set it as Config.Queue, and
// [calsync.Engine.Run] works its jobs and runs its periodic sweeps.
//
// Every notification becomes a River job inserted before Enqueue returns,
// so the webhook handler acknowledges only what is durable. A calendar has
// at most one sync job waiting: a notification for a calendar whose sync
// job is waiting is folded into it (Enqueue returns
// calsync.ErrAlreadyQueued), while one that arrives after the calendar's
// sync job started queues the next, so no change waits for the safety
// net.
//
// A failed job is retried by River after [calsync.Engine.RetryAfter], at
// most calsync's Config.MaxAttempts times in all; the final failure goes
// to calsync's dead letters and OnDeadLetter (see
// [calsync.Engine.ProcessAttempt]), so Engine.DeadLetters and
// Engine.Replay work as with any queue. River's discarded job stays in
// River's table for River's retention period.
//
// The sweeps are River periodic jobs, inserted by River's elected leader
// only, so each runs once per period in the whole cluster. The catch-up
// runs when an instance becomes leader, at most once per CatchUpEvery,
// and spreads the calendars' syncs over time at CatchUpRate instead of
// syncing them in one loop.
type Queue struct {
	cfg    Config
	pool   *pgxpool.Pool
	driver *riverpgxv5.Driver
	insert *river.Client[pgx.Tx] // inserts only; RunQueue makes the working client
	genSQL genStatements

	slots chan struct{} // one per batch being committed
	mu    sync.Mutex
	open  *batch // the batch calls join, until its leader commits it
}

// commitSlots is how many Enqueue batches commit at once: two keeps one
// batch filling while the other flushes (BENCHMARKS.md: 1 gave 1.6k acks/s
// with 16 clients, 2 gave 1.9k, 4 and 8 under 1k, the batches too small).
const commitSlots = 2

var (
	_ calsync.Queue       = (*Queue)(nil)
	_ calsync.QueueRunner = (*Queue)(nil)
	_ calsync.QueueDepth  = (*Queue)(nil)
)

// New returns a Queue on pool (the PostgreSQL the host's store/postgres
// uses), migrating River's tables and the queue's own in cfg.Schema first
// unless cfg.SkipMigrations.
func New(ctx context.Context, pool *pgxpool.Pool, cfg *Config) (*Queue, error) {
	if pool == nil {
		return nil, errors.New("riverqueue: New: nil pool")
	}
	var c Config
	if cfg != nil {
		c = *cfg
	}
	c = c.withDefaults()
	if len(c.Schema) > 63 {
		return nil, fmt.Errorf("riverqueue: New: schema name %q is longer than PostgreSQL's 63 bytes", c.Schema)
	}
	q := &Queue{cfg: c, pool: pool, driver: riverpgxv5.New(pool), genSQL: newGenStatements(c.Schema), slots: make(chan struct{}, commitSlots)}
	if c.SkipMigrations {
		if err := q.check(ctx); err != nil {
			return nil, err
		}
	} else if err := Migrate(ctx, pool, c.Schema); err != nil {
		return nil, err
	}
	insert, err := river.NewClient(q.driver, &river.Config{Schema: c.Schema, Logger: c.Logger})
	if err != nil {
		return nil, fmt.Errorf("riverqueue: New: %w", err)
	}
	q.insert = insert
	return q, nil
}

// Migrate creates schema if missing and brings River's tables and the
// queue's own in it up to date. New calls it unless Config.SkipMigrations.
func Migrate(ctx context.Context, pool *pgxpool.Pool, schema string) error {
	if schema == "" {
		schema = DefaultSchema
	}
	if _, err := pool.Exec(ctx, "CREATE SCHEMA IF NOT EXISTS "+pgx.Identifier{schema}.Sanitize()); err != nil {
		return fmt.Errorf("riverqueue: create schema %q: %w", schema, err)
	}
	m, err := rivermigrate.New(riverpgxv5.New(pool), &rivermigrate.Config{Schema: schema, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		return fmt.Errorf("riverqueue: migrate: %w", err)
	}
	if _, err := m.Migrate(ctx, rivermigrate.DirectionUp, nil); err != nil {
		return fmt.Errorf("riverqueue: River's migrations: %w", err)
	}
	if _, err := pool.Exec(ctx, newGenStatements(schema).create); err != nil {
		return fmt.Errorf("riverqueue: migrate: %w", err)
	}
	return nil
}

// check fails unless River's job table and the queue's own exist.
func (q *Queue) check(ctx context.Context) error {
	var job, gen bool
	s := pgx.Identifier{q.cfg.Schema}.Sanitize()
	err := q.pool.QueryRow(ctx, `SELECT to_regclass($1) IS NOT NULL, to_regclass($2) IS NOT NULL`,
		s+".river_job", s+"."+genTable).Scan(&job, &gen)
	if err != nil {
		return fmt.Errorf("riverqueue: check schema: %w", err)
	}
	if !job || !gen {
		return fmt.Errorf("riverqueue: schema %q lacks River's or the queue's tables: run riverqueue.Migrate, or unset SkipMigrations", q.cfg.Schema)
	}
	return nil
}

// Enqueue inserts a job for n and returns once it is committed, or
// returns calsync.ErrAlreadyQueued when a sync of n's calendar is waiting
// already (that sync covers n).
//
// Concurrent calls share transactions: the notifications that arrive
// while a batch is being committed go together in the next one, so a
// burst costs one commit (one WAL flush) per batch rather than one per
// notification, and no call waits for a timer.
func (q *Queue) Enqueue(ctx context.Context, n calsync.Notification) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	it := &item{n: n, key: n.SyncKey()}
	q.mu.Lock()
	b := q.open
	leader := b == nil
	if leader {
		b = &batch{done: make(chan struct{})}
		q.open = b
	}
	b.items = append(b.items, it)
	q.mu.Unlock()
	if leader {
		// Wait for a commit slot; calls arriving meanwhile join b.
		select {
		case q.slots <- struct{}{}:
		case <-ctx.Done():
			// b must still be committed for the calls that joined it.
			q.slots <- struct{}{}
		}
		q.mu.Lock()
		q.open = nil
		q.mu.Unlock()
		// The batch is everyone's: one caller's deadline must not cut it.
		bctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
		b.err = q.insertBatch(bctx, b.items)
		cancel()
		<-q.slots
		close(b.done)
	}
	select {
	case <-b.done:
	case <-ctx.Done():
		return ctx.Err()
	}
	if b.err != nil {
		return b.err
	}
	if it.folded {
		return calsync.ErrAlreadyQueued
	}
	return nil
}

// batch is the notifications one transaction inserts.
type batch struct {
	items []*item
	err   error
	done  chan struct{} // closed once committed or failed
}

type item struct {
	n      calsync.Notification
	key    string // SyncKey; "" for lifecycle notifications
	folded bool   // a sync job of its calendar was waiting
}

// insertBatch inserts the jobs of items in one transaction.
func (q *Queue) insertBatch(ctx context.Context, items []*item) error {
	err := pgx.BeginFunc(ctx, q.pool, func(tx pgx.Tx) error {
		if q.cfg.AsyncCommit {
			if _, err := tx.Exec(ctx, "SET LOCAL synchronous_commit TO OFF"); err != nil {
				return err
			}
		}
		// The calendars' generations, read under share locks: a worker
		// starting a calendar's sync moves its generation on, and waits
		// for this transaction first. So either a notification is folded
		// into a job that has not started, or it gets the new generation
		// and queues.
		var keys []string // each calendar once
		seen := make(map[string]bool)
		for _, it := range items {
			if it.key != "" && !seen[it.key] {
				seen[it.key] = true
				keys = append(keys, it.key)
			}
		}
		gens, err := q.generations(ctx, tx, keys)
		if err != nil {
			return err
		}
		var (
			params []river.InsertManyParams
			owners []*item
			queued = make(map[string]bool, len(keys))
		)
		for _, it := range items {
			args := argsOf(it.n)
			opts := &river.InsertOpts{Queue: QueueSync}
			if it.key != "" {
				if queued[it.key] {
					it.folded = true // the same calendar earlier in this batch
					continue
				}
				queued[it.key] = true
				args.Gen = gens[it.key]
				opts.UniqueOpts = uniqueSync
			}
			params = append(params, river.InsertManyParams{Args: args, InsertOpts: opts})
			owners = append(owners, it)
		}
		res, err := q.insert.InsertManyTx(ctx, tx, params)
		if err != nil {
			return err
		}
		for i, r := range res {
			owners[i].folded = r.UniqueSkippedAsDuplicate
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("riverqueue: insert: %w", err)
	}
	return nil
}

// Dequeue is not used: River hands jobs to the workers RunQueue starts.
// It returns an error saying so.
func (q *Queue) Dequeue(ctx context.Context) (calsync.Notification, error) {
	return calsync.Notification{}, errors.New("riverqueue: Dequeue is not supported: River works the jobs itself (Engine.Run calls RunQueue)")
}

// Depth returns how many jobs wait in the queue's River queues, in the
// whole cluster: available, scheduled (a catch-up's spread syncs),
// retryable or pending. Running jobs are not counted. The Engine reports
// it as the calsync.queue.depth gauge, and its readiness check reads it.
func (q *Queue) Depth(ctx context.Context) (int, error) {
	return q.count(ctx, "depth", "available", "scheduled", "retryable", "pending")
}

// count counts the jobs of the queue's River queues in the given states.
func (q *Queue) count(ctx context.Context, what string, states ...string) (int, error) {
	var n int
	err := q.pool.QueryRow(ctx, `SELECT count(*) FROM `+pgx.Identifier{q.cfg.Schema, "river_job"}.Sanitize()+
		` WHERE state::text = ANY($1) AND queue = ANY($2)`, states, []string{QueueSync, QueueRenew, QueueSweep}).Scan(&n)
	if err != nil {
		return 0, fmt.Errorf("riverqueue: queue %s: %w", what, err)
	}
	return n, nil
}

// uniqueSync makes a calendar's sync job unique by calendar and
// generation among the jobs waiting or running (River's required set).
// Jobs waiting for a retry are not counted: a new notification syncs
// without waiting for the retry's backoff.
var uniqueSync = river.UniqueOpts{
	ByArgs: true,
	ByState: []rivertype.JobState{
		rivertype.JobStateAvailable, rivertype.JobStatePending,
		rivertype.JobStateRunning, rivertype.JobStateScheduled,
	},
}

// Unfinished counts the jobs waiting or running in any instance, without
// retries scheduled for later: [calsync.Engine.WaitIdle] waits for it to
// reach zero. A job of an instance that died counts as running until
// River rescues it (Config.RescueAfter).
func (q *Queue) Unfinished(ctx context.Context) (int, error) {
	return q.count(ctx, "unfinished jobs", "available", "scheduled", "running", "pending")
}
