package riverqueue

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/calsync/calsync"
	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"
	"github.com/riverqueue/rivercontrib/otelriver"
)

// RunQueue works the queue's jobs with e and inserts the sweeps' periodic
// jobs when this instance is River's leader (none with calsync's
// Config.ManualSweeps; no catch-up with SkipCatchUp), until ctx is done; then it
// stops fetching, lets the jobs under way finish for up to
// calsync's Config.DrainTimeout, cancels the rest (they are snoozed, not
// failed, and run again on another instance or after restart) and
// returns. Engine.Run calls it.
func (q *Queue) RunQueue(ctx context.Context, e *calsync.Engine) error {
	client, err := q.client(e)
	if err != nil {
		return err
	}
	// Jobs run on a context of their own: ctx ending starts a drain, not
	// a cancellation.
	if err := client.Start(context.WithoutCancel(ctx)); err != nil {
		return fmt.Errorf("riverqueue: start: %w", err)
	}
	select {
	case <-ctx.Done():
	case <-client.Stopped():
		return errors.New("riverqueue: River's client stopped unexpectedly")
	}
	drain, cancel := context.WithTimeout(context.WithoutCancel(ctx), drainTimeout(e))
	defer cancel()
	if err := client.Stop(drain); err != nil {
		// Past the drain deadline: cancel what still runs.
		hard, cancelHard := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
		defer cancelHard()
		if err := client.StopAndCancel(hard); err != nil {
			return fmt.Errorf("riverqueue: stop: %w", err)
		}
	}
	return nil
}

// drainTimeout is how long RunQueue lets jobs finish after its context
// ends: calsync's Config.DrainTimeout; negative means none.
func drainTimeout(e *calsync.Engine) time.Duration {
	return max(e.Config().DrainTimeout, 0)
}

// client makes the River client that works the jobs with e.
func (q *Queue) client(e *calsync.Engine) (*river.Client[pgx.Tx], error) {
	ec := e.Config()
	workers := river.NewWorkers()
	r := &runner{q: q, e: e, cfg: ec}
	river.AddWorker(workers, &notificationWorker{runner: r})
	river.AddWorker(workers, &catchUpWorker{runner: r})
	river.AddWorker(workers, &sweepWorker{runner: r})

	var periodic []*river.PeriodicJob
	for _, s := range calsync.Sweeps() {
		if ec.ManualSweeps {
			break // the host runs them (Engine.RunSweep)
		}
		every := e.SweepInterval(s)
		queue := QueueSweep
		if s == calsync.SweepRenew {
			queue = QueueRenew
		}
		opts := &river.InsertOpts{Queue: queue, UniqueOpts: river.UniqueOpts{ByArgs: true, ByState: uniqueSync.ByState}}
		runOnStart := s == calsync.SweepRenew
		if s == calsync.SweepCatchUp {
			if ec.SkipCatchUp {
				continue
			}
			// Once when an instance becomes leader, at most once per
			// CatchUpEvery in the cluster (a rolling deploy elects
			// several leaders in a row).
			every = q.cfg.CatchUpEvery
			opts.UniqueOpts.ByPeriod = q.cfg.CatchUpEvery
			opts.UniqueOpts.ByState = nil // every state: one per period
			runOnStart = true
		}
		if every <= 0 {
			continue
		}
		sweep := s
		periodic = append(periodic, river.NewPeriodicJob(river.PeriodicInterval(every),
			func() (river.JobArgs, *river.InsertOpts) { return sweepArgs{Sweep: sweep}, opts },
			&river.PeriodicJobOpts{ID: "calsync_" + string(s), RunOnStart: runOnStart}))
	}
	logger := q.cfg.Logger
	if logger == nil {
		logger = ec.Logger
	}
	rc := &river.Config{
		Schema:  q.cfg.Schema,
		Logger:  logger,
		Workers: workers,
		Queues: map[string]river.QueueConfig{
			QueueSync:  {MaxWorkers: ec.Workers},
			QueueRenew: {MaxWorkers: 1},
			QueueSweep: {MaxWorkers: q.cfg.SweepWorkers},
		},
		PeriodicJobs:         periodic,
		RescueStuckJobsAfter: q.cfg.RescueAfter,
		// River never rescues a job without a timeout: the jobs of a
		// killed instance would stay running for ever (and a periodic
		// sweep among them would never be inserted again, being unique
		// while running). A job still running at nine tenths of
		// RescueAfter is cancelled; one whose instance died is rescued
		// at RescueAfter.
		JobTimeout: q.cfg.RescueAfter - q.cfg.RescueAfter/10,
		Middleware: []rivertype.Middleware{otelriver.NewMiddleware(&otelriver.MiddlewareConfig{
			MeterProvider:  ec.MeterProvider,
			TracerProvider: ec.TracerProvider,
		})},
	}
	if q.cfg.River != nil {
		q.cfg.River(rc)
	}
	client, err := river.NewClient(q.driver, rc)
	if err != nil {
		return nil, fmt.Errorf("riverqueue: %w", err)
	}
	return client, nil
}
