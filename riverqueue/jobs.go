package riverqueue

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/calsync/calsync"
	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river"
)

// Job kinds.
const (
	kindNotification = "calsync_notification"
	kindCatchUp      = "calsync_catch_up_sync"
	kindSweep        = "calsync_sweep"
)

// notificationArgs is a notification as a job. Gen is the calendar's
// generation when it was queued (0 for lifecycle notifications), part of
// the sync job's unique key with the calendar.
type notificationArgs struct {
	NKind          calsync.NotificationKind `json:"kind"`
	Provider       string                   `json:"provider" river:"unique"`
	CalendarID     string                   `json:"calendar" river:"unique"`
	SubscriptionID string                   `json:"subscription,omitempty"`
	MessageID      string                   `json:"message,omitempty"`
	Received       time.Time                `json:"received"`
	Gen            int64                    `json:"gen" river:"unique"`
}

func (notificationArgs) Kind() string { return kindNotification }

func argsOf(n calsync.Notification) notificationArgs {
	return notificationArgs{
		NKind: n.Kind, Provider: n.Provider, CalendarID: n.CalendarID,
		SubscriptionID: n.SubscriptionID, MessageID: n.MessageID, Received: n.Received,
	}
}

func (a notificationArgs) notification() calsync.Notification {
	return calsync.Notification{
		Kind: a.NKind, Provider: a.Provider, CalendarID: a.CalendarID,
		SubscriptionID: a.SubscriptionID, MessageID: a.MessageID, Received: a.Received,
	}
}

// catchUpArgs is one calendar's sync of a catch-up.
type catchUpArgs struct {
	Provider   string `json:"provider" river:"unique"`
	CalendarID string `json:"calendar" river:"unique"`
}

func (catchUpArgs) Kind() string { return kindCatchUp }

// sweepArgs runs one sweep.
type sweepArgs struct {
	Sweep calsync.Sweep `json:"sweep" river:"unique"`
}

func (sweepArgs) Kind() string { return kindSweep }

// genTable holds each calendar's sync generation.
const genTable = "calsync_sync_generation"

type genStatements struct{ create, ensure, read, bump string }

func newGenStatements(schema string) genStatements {
	t := pgx.Identifier{schema, genTable}.Sanitize()
	return genStatements{
		create: `CREATE TABLE IF NOT EXISTS ` + t + ` (sync_key text PRIMARY KEY, gen bigint NOT NULL DEFAULT 0)`,
		ensure: `INSERT INTO ` + t + ` (sync_key) SELECT unnest($1::text[]) ORDER BY 1 ON CONFLICT (sync_key) DO NOTHING`,
		read:   `SELECT sync_key, gen FROM ` + t + ` WHERE sync_key = ANY($1) ORDER BY sync_key FOR SHARE`,
		bump: `INSERT INTO ` + t + ` AS g (sync_key, gen) VALUES ($1, 1)
			ON CONFLICT (sync_key) DO UPDATE SET gen = g.gen + 1`,
	}
}

// generations returns the generation of each key, under share locks held
// until tx ends, creating the missing ones.
func (q *Queue) generations(ctx context.Context, tx pgx.Tx, keys []string) (map[string]int64, error) {
	gens := make(map[string]int64, len(keys))
	if len(keys) == 0 {
		return gens, nil
	}
	read := func(keys []string) error {
		rows, err := tx.Query(ctx, q.genSQL.read, keys)
		if err != nil {
			return err
		}
		for rows.Next() {
			var (
				k string
				g int64
			)
			if err := rows.Scan(&k, &g); err != nil {
				return err
			}
			gens[k] = g
		}
		return rows.Err()
	}
	if err := read(keys); err != nil {
		return nil, err
	}
	var missing []string
	for _, k := range keys {
		if _, ok := gens[k]; !ok {
			missing = append(missing, k)
		}
	}
	if len(missing) == 0 {
		return gens, nil
	}
	if _, err := tx.Exec(ctx, q.genSQL.ensure, missing); err != nil {
		return nil, err
	}
	return gens, read(missing)
}

// started moves the calendar's generation on as its sync job starts, so
// that notifications from now on queue a new job instead of folding into
// this one, which may have fetched already.
func (q *Queue) started(ctx context.Context, key string) error {
	if _, err := q.pool.Exec(ctx, q.genSQL.bump, key); err != nil {
		return fmt.Errorf("riverqueue: sync generation: %w", err)
	}
	return nil
}

// runner is what the workers of one RunQueue share: the queue, the
// Engine, and the Engine's configuration, read once.
type runner struct {
	q   *Queue
	e   *calsync.Engine
	cfg calsync.Config
}

// nextRetry is when River retries a job after its attempt-th failure.
func (r *runner) nextRetry(attempt int) time.Time {
	return time.Now().Add(r.e.RetryAfter(attempt))
}

// notificationWorker works notification jobs.
type notificationWorker struct {
	river.WorkerDefaults[notificationArgs]
	*runner
}

func (w *notificationWorker) Work(ctx context.Context, job *river.Job[notificationArgs]) error {
	n := job.Args.notification()
	if key := n.SyncKey(); key != "" {
		if err := w.q.started(ctx, key); err != nil {
			return err
		}
	}
	return w.process(ctx, n, job.Attempt)
}

func (w *notificationWorker) NextRetry(job *river.Job[notificationArgs]) time.Time {
	return w.nextRetry(job.Attempt)
}

// catchUpWorker works a catch-up's sync of one calendar.
type catchUpWorker struct {
	river.WorkerDefaults[catchUpArgs]
	*runner
}

func (w *catchUpWorker) Work(ctx context.Context, job *river.Job[catchUpArgs]) error {
	n := calsync.Notification{Kind: calsync.Resync, Provider: job.Args.Provider, CalendarID: job.Args.CalendarID, Received: job.CreatedAt}
	return w.process(ctx, n, job.Attempt)
}

func (w *catchUpWorker) NextRetry(job *river.Job[catchUpArgs]) time.Time {
	return w.nextRetry(job.Attempt)
}

// process runs one attempt of n; the attempt is final at calsync's
// Config.MaxAttempts (River's own limit, 25 by default, is not reached:
// ProcessAttempt returns nil after a final failure). A shutdown cutting it
// short (a cancelled context) snoozes the job instead of spending an
// attempt on it; a job that outlives its timeout fails the attempt, so
// that a sync that never fits in it ends in the dead letters rather than
// snoozing for ever.
func (r *runner) process(ctx context.Context, n calsync.Notification, attempt int) error {
	err := r.e.ProcessAttempt(ctx, n, attempt, attempt >= r.cfg.MaxAttempts)
	if err != nil && errors.Is(ctx.Err(), context.Canceled) {
		return river.JobSnooze(time.Second)
	}
	return err
}

// sweepWorker runs one sweep.
type sweepWorker struct {
	river.WorkerDefaults[sweepArgs]
	*runner
}

func (w *sweepWorker) Work(ctx context.Context, job *river.Job[sweepArgs]) error {
	if job.Args.Sweep == calsync.SweepCatchUp {
		return w.catchUp(ctx)
	}
	_, err := w.e.RunSweep(ctx, job.Args.Sweep)
	if err != nil && ctx.Err() == nil {
		// Single failures were reported to OnError; the next period runs
		// the sweep again, so River does not retry it.
		w.cfg.Logger.ErrorContext(ctx, "calsync: sweep failed", "sweep", string(job.Args.Sweep), "err", err)
	}
	if ctx.Err() != nil {
		return ctx.Err()
	}
	return nil
}

// catchUp schedules a sync of every connected calendar, spread over time
// at CatchUpRate.
func (r *runner) catchUp(ctx context.Context) error {
	cals, err := r.cfg.Store.ListCalendars(ctx)
	if err != nil {
		return fmt.Errorf("riverqueue: catch-up: %w", err)
	}
	start := time.Now()
	rate := r.q.cfg.CatchUpRate
	if rate <= 0 {
		rate = r.cfg.CatchUpRate
	}
	step := time.Duration(float64(time.Second) / rate)
	const batch = 1000
	for i := 0; i < len(cals); i += batch {
		var params []river.InsertManyParams
		for j, c := range cals[i:min(i+batch, len(cals))] {
			params = append(params, river.InsertManyParams{
				Args: catchUpArgs{Provider: c.Provider, CalendarID: c.ID},
				InsertOpts: &river.InsertOpts{
					Queue:       QueueSync,
					ScheduledAt: start.Add(time.Duration(i+j) * step),
					UniqueOpts:  river.UniqueOpts{ByArgs: true, ByState: uniqueSync.ByState},
				},
			})
		}
		if _, err := r.q.insert.InsertMany(ctx, params); err != nil {
			return fmt.Errorf("riverqueue: catch-up: %w", err)
		}
	}
	return nil
}
