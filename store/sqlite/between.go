package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"time"

	"github.com/calsync/calsync"
)

var _ calsync.TimeIndex = (*Store)(nil)

// EventsBetween returns the calendar's events for which
// [calsync.InRange] is true, ordered by id. The events_span index finds
// the rows whose [calsync.IndexSpan] overlaps [from, to); InRange then
// drops what the interval holds only loosely (all-day dates, the gaps of
// a series).
func (s *Store) EventsBetween(ctx context.Context, calendarID string, from, to time.Time) ([]calsync.Event, error) {
	f, err := encClamp(from)
	if err != nil {
		return nil, err
	}
	t, err := encClamp(to)
	if err != nil {
		return nil, err
	}
	rows, err := s.r.QueryContext(ctx, `SELECT `+eventColumns+` FROM events
		WHERE calendar_id = ? AND span_end > ? AND span_start < ? ORDER BY id`, calendarID, f, t)
	if err != nil {
		return nil, wrap("EventsBetween", err)
	}
	defer rows.Close()
	var out []calsync.Event
	for rows.Next() {
		e, err := scanEvent(rows, calendarID)
		if err != nil {
			return nil, wrap("EventsBetween", err)
		}
		if calsync.InRange(e, from, to) {
			out = append(out, e)
		}
	}
	if err := rows.Err(); err != nil {
		return nil, wrap("EventsBetween", err)
	}
	if len(out) == 0 {
		if _, err := s.Calendar(ctx, calendarID); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// span encodes [calsync.IndexSpan] of e, a series without end clamped to
// the largest time the store keeps.
func span(e calsync.Event) (start, end int64, err error) {
	st, en := calsync.IndexSpan(e)
	if start, err = encClamp(st); err != nil {
		return 0, 0, err
	}
	if end, err = encClamp(en); err != nil {
		return 0, 0, err
	}
	return start, end, nil
}

// backfillSpans computes the span of the rows written before the time
// index existed, inside the migration's transaction.
func backfillSpans(ctx context.Context, tx *sql.Tx) error {
	rows, err := tx.QueryContext(ctx, `SELECT calendar_id, id, start_date, start_time, start_tz, end_date, end_time, end_tz,
		recurring_event_id, original_start_date, original_start_time, original_start_tz, recurrence
		FROM events WHERE span_start IS NULL`)
	if err != nil {
		return err
	}
	type key struct{ cal, id string }
	spans := map[key][2]int64{}
	for rows.Next() {
		var k key
		var e calsync.Event
		var st, et int64
		var osDate, osTZ, rec sql.NullString
		var osTime sql.NullInt64
		if err := rows.Scan(&k.cal, &k.id, &e.Start.Date, &st, &e.Start.TimeZone, &e.End.Date, &et, &e.End.TimeZone,
			&e.RecurringEventID, &osDate, &osTime, &osTZ, &rec); err != nil {
			rows.Close()
			return err
		}
		e.Start.DateTime, e.End.DateTime = dec(st), dec(et)
		if osDate.Valid {
			e.OriginalStart = &calsync.EventTime{Date: osDate.String, DateTime: dec(osTime.Int64), TimeZone: osTZ.String}
		}
		if rec.Valid {
			if err := json.Unmarshal([]byte(rec.String), &e.Recurrence); err != nil {
				rows.Close()
				return fmt.Errorf("recurrence of %q: %w", k.id, err)
			}
		}
		a, b, err := span(e)
		if err != nil {
			rows.Close()
			return err
		}
		spans[k] = [2]int64{a, b}
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}
	for k, v := range spans {
		if _, err := tx.ExecContext(ctx, `UPDATE events SET span_start = ?, span_end = ? WHERE calendar_id = ? AND id = ?`, v[0], v[1], k.cal, k.id); err != nil {
			return err
		}
	}
	return nil
}
