package postgres_test

import (
	"testing"
	"time"

	"github.com/calsync/calsync/store/postgres"
)

// Rows written before the time index (schema version 9) get their span
// when the migration runs: a series written then is found by
// EventsBetween after the upgrade.
func TestTimeIndexBackfill(t *testing.T) {
	ctx := t.Context()
	db := newTestDB(t)
	if err := postgres.MigrateTo(ctx, db.pool, db.cfg(), 8); err != nil {
		t.Fatal(err)
	}
	start := time.Date(2026, 3, 2, 8, 0, 0, 0, time.UTC)
	if _, err := db.pool.Exec(ctx, db.sql(`INSERT INTO {schema}.calendars (id, provider, account_id, remote_id) VALUES ('c', 'google', 'a', 'r');
		INSERT INTO {schema}.events (calendar_id, id, status, summary, start_date, start_time, start_tz, end_date, end_time, end_tz,
		recurring_event_id, recurrence, ical_uid, etag, updated, version, generation)
		VALUES ('c', 's', 'confirmed', '', '', '2026-03-02T08:00:00Z', 'Europe/Berlin', '', '2026-03-02T09:00:00Z', 'Europe/Berlin', '',
		ARRAY['RRULE:FREQ=WEEKLY'], '', '', now(), 1, 0)`)); err != nil {
		t.Fatal(err)
	}
	s, err := postgres.New(ctx, db.pool, db.cfg())
	if err != nil {
		t.Fatal(err)
	}
	got, err := s.EventsBetween(ctx, "c", start.AddDate(1, 0, 0), start.AddDate(1, 1, 0))
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || got[0].ID != "s" {
		t.Fatalf("EventsBetween after the upgrade = %v, want the series", got)
	}
}
