package sqlite_test

import (
	"database/sql"
	"path/filepath"
	"testing"
	"time"

	"github.com/calsync/calsync"
	"github.com/calsync/calsync/store/sqlite"
)

// Rows written before the time index (schema version 8) get their span
// when the migration runs: a series written then is found by
// EventsBetween after the upgrade.
func TestTimeIndexBackfill(t *testing.T) {
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "old.db")
	old, err := sqlite.OpenAt(ctx, path, nil, 7)
	if err != nil {
		t.Fatal(err)
	}
	if err := old.PutCalendar(ctx, calsync.Calendar{ID: "c", Provider: "google"}); err != nil {
		t.Fatal(err)
	}
	old.Close()
	db, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	start := time.Date(2026, 3, 2, 8, 0, 0, 0, time.UTC)
	if _, err := db.Exec(`INSERT INTO events (calendar_id, id, status, summary, start_date, start_time, start_tz, end_date, end_time, end_tz,
		recurring_event_id, recurrence, ical_uid, etag, updated, version, generation)
		VALUES ('c', 's', 'confirmed', '', '', ?, 'Europe/Berlin', '', ?, 'Europe/Berlin', '', '["RRULE:FREQ=WEEKLY"]', '', '', 0, 1, 0)`,
		start.UnixNano(), start.Add(time.Hour).UnixNano()); err != nil {
		t.Fatal(err)
	}
	db.Close()

	s, err := sqlite.Open(ctx, path, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	got, err := s.EventsBetween(ctx, "c", time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(2027, 2, 1, 0, 0, 0, 0, time.UTC))
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || got[0].ID != "s" {
		t.Fatalf("EventsBetween after the upgrade = %v, want the series", got)
	}
}
