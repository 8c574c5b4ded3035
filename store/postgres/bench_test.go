package postgres_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/calsync/calsync"
	"github.com/calsync/calsync/store/internal/fixture"
	"github.com/calsync/calsync/store/postgres"
	"github.com/calsync/calsync/store/storetest"
	"github.com/jackc/pgx/v5"
)

// BenchmarkStore applies storetest's 10k-change syncs to a Store.
func BenchmarkStore(b *testing.B) {
	storetest.Bench(b, func(b *testing.B) calsync.Store { return newStore(b) })
}

// rawUpsert is the baseline: a plain upsert of every column, with none of
// the Store's work (no last-write-wins check, no version or generation
// logic, no pre-read, no cursor).
const rawUpsert = `INSERT INTO {schema}.events (calendar_id, id, status, summary,
	start_date, start_time, start_tz, end_date, end_time, end_tz,
	recurring_event_id, original_start_date, original_start_time, original_start_tz, recurrence,
	ical_uid, etag, updated, version, generation, raw)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21)
ON CONFLICT (calendar_id, id) DO UPDATE SET
	status = excluded.status, summary = excluded.summary,
	start_date = excluded.start_date, start_time = excluded.start_time, start_tz = excluded.start_tz,
	end_date = excluded.end_date, end_time = excluded.end_time, end_tz = excluded.end_tz,
	recurring_event_id = excluded.recurring_event_id, original_start_date = excluded.original_start_date,
	original_start_time = excluded.original_start_time, original_start_tz = excluded.original_start_tz,
	recurrence = excluded.recurrence, ical_uid = excluded.ical_uid, etag = excluded.etag,
	updated = excluded.updated, version = excluded.version, generation = excluded.generation, raw = excluded.raw`

// rawApply writes the pages' rows the way a hand-written importer would:
// one transaction and one pgx.Batch of upserts per page.
func rawApply(b *testing.B, db testDB, cal string, pages []*calsync.Batch, version int64) {
	ctx := context.Background()
	for _, p := range pages {
		err := pgx.BeginFunc(ctx, db.pool, func(tx pgx.Tx) error {
			var batch pgx.Batch
			for _, ch := range p.Changes {
				e := ch.Event
				batch.Queue(db.sql(rawUpsert), cal, e.ID, e.Status, e.Summary,
					e.Start.Date, e.Start.DateTime, e.Start.TimeZone, e.End.Date, e.End.DateTime, e.End.TimeZone,
					e.RecurringEventID, nil, nil, nil, e.Recurrence,
					e.ICalUID, e.ETag, e.Updated, version, int64(0), []byte(e.Raw))
			}
			return tx.SendBatch(ctx, &batch).Close()
		})
		if err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkRawUpsert is BenchmarkStore's baseline: the same rows (the same
// pages, from fixture.Sync, which storetest.Bench applies) upserted with raw pgx batches into the
// same table, in the same run. BENCHMARKS.md reports Store/raw.
func BenchmarkRawUpsert(b *testing.B) {
	report := func(b *testing.B) {
		b.ReportMetric(float64(fixture.SyncEvents)*float64(b.N)/b.Elapsed().Seconds(), "changes/s")
	}
	setup := func(b *testing.B, cal string) testDB {
		db := newTestDB(b)
		if err := postgres.Migrate(b.Context(), db.pool, db.cfg()); err != nil {
			b.Fatal(err)
		}
		if _, err := db.pool.Exec(b.Context(), db.sql(`INSERT INTO {schema}.calendars (id, provider, account_id, remote_id) VALUES ($1, 'google', '', '')`), cal); err != nil {
			b.Fatal(err)
		}
		return db
	}
	b.Run("Insert", func(b *testing.B) {
		db := setup(b, "raw")
		n := 0
		for b.Loop() {
			b.StopTimer()
			n++
			cal := fmt.Sprintf("raw-insert-%d", n)
			if _, err := db.pool.Exec(b.Context(), db.sql(`INSERT INTO {schema}.calendars (id, provider, account_id, remote_id) VALUES ($1, 'google', '', '')`), cal); err != nil {
				b.Fatal(err)
			}
			pages := fixture.Sync(cal, 1, 0)
			b.StartTimer()
			rawApply(b, db, cal, pages, 1)
			b.StopTimer()
			if _, err := db.pool.Exec(b.Context(), db.sql(`DELETE FROM {schema}.calendars WHERE id = $1`), cal); err != nil {
				b.Fatal(err)
			}
			b.StartTimer()
		}
		report(b)
	})
	b.Run("Update", func(b *testing.B) {
		db := setup(b, "raw-update")
		rawApply(b, db, "raw-update", fixture.Sync("raw-update", 1, 0), 1)
		n := 1
		for b.Loop() {
			b.StopTimer()
			n++
			pages := fixture.Sync("raw-update", n, 0)
			b.StartTimer()
			rawApply(b, db, "raw-update", pages, int64(n))
		}
		report(b)
	})
}
