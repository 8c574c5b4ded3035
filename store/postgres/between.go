package postgres

import (
	"context"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/calsync/calsync"
)

var _ calsync.TimeIndex = (*Store)(nil)

// EventsBetween returns the calendar's events for which
// [calsync.InRange] is true, ordered by id. The events_span index finds
// the rows whose [calsync.IndexSpan] overlaps [from, to); InRange then
// drops what the interval holds only loosely (all-day dates, the gaps of
// a series).
func (s *Store) EventsBetween(ctx context.Context, calendarID string, from, to time.Time) ([]calsync.Event, error) {
	rows, _ := s.pool.Query(ctx, s.sql(`SELECT `+eventColumns+` FROM {schema}.events
		WHERE calendar_id = $1 AND span_end > $2 AND span_start < $3 ORDER BY id`), calendarID, from, to)
	var out []calsync.Event
	defer rows.Close()
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

// backfillSpans computes the span of the rows written before the time
// index existed (migration 9 gives them an unbounded one), inside the
// migration's transaction, whose search_path is the Store's schema, and
// writes them all in one UPDATE.
func backfillSpans(ctx context.Context, tx pgx.Tx) error {
	rows, _ := tx.Query(ctx, `SELECT calendar_id, id, start_date, start_time, start_tz, end_date, end_time, end_tz,
		recurring_event_id, original_start_date, original_start_time, original_start_tz, recurrence
		FROM events WHERE span_start = '-infinity'`)
	var cal, id string
	var cals, ids []string
	var starts, ends []time.Time
	var e calsync.Event
	var osDate, osTZ *string
	var osTime *time.Time
	_, err := pgx.ForEachRow(rows, []any{&cal, &id, &e.Start.Date, &e.Start.DateTime, &e.Start.TimeZone, &e.End.Date, &e.End.DateTime, &e.End.TimeZone,
		&e.RecurringEventID, &osDate, &osTime, &osTZ, &e.Recurrence}, func() error {
		ev := e
		ev.Recurrence = slices.Clone(e.Recurrence)
		if osDate != nil {
			o := calsync.EventTime{Date: *osDate}
			if osTime != nil {
				o.DateTime = utc(*osTime)
			}
			if osTZ != nil {
				o.TimeZone = *osTZ
			}
			ev.OriginalStart = &o
		}
		ev.Start.DateTime, ev.End.DateTime = utc(ev.Start.DateTime), utc(ev.End.DateTime)
		st, en := calsync.IndexSpan(ev)
		cals, ids, starts, ends = append(cals, cal), append(ids, id), append(starts, st), append(ends, en)
		return nil
	})
	if err != nil {
		return err
	}
	if len(ids) == 0 {
		return nil
	}
	_, err = tx.Exec(ctx, `UPDATE events AS e SET span_start = u.span_start, span_end = u.span_end
		FROM unnest($1::text[], $2::text[], $3::timestamptz[], $4::timestamptz[]) AS u(calendar_id, id, span_start, span_end)
		WHERE e.calendar_id = u.calendar_id AND e.id = u.id`, cals, ids, starts, ends)
	return err
}
