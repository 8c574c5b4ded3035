package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/calsync/calsync"
	"github.com/calsync/calsync/store/internal/details"
	"github.com/calsync/calsync/store/internal/plan"
	"github.com/calsync/calsync/store/internal/secrethash"
)

// PutCalendar creates or replaces a calendar. Replacing keeps its events,
// sync state and subscriptions.
func (s *Store) PutCalendar(ctx context.Context, cal calsync.Calendar) error {
	if cal.ID == "" {
		return errors.New("sqlite: PutCalendar: empty calendar ID")
	}
	_, err := s.w.ExecContext(ctx, `INSERT INTO calendars (id, provider, account_id, remote_id) VALUES (?, ?, ?, ?)
		ON CONFLICT (id) DO UPDATE SET provider = excluded.provider, account_id = excluded.account_id, remote_id = excluded.remote_id`,
		cal.ID, cal.Provider, cal.AccountID, cal.RemoteID)
	return wrap("PutCalendar", err)
}

// Calendar returns the calendar with the given id.
func (s *Store) Calendar(ctx context.Context, id string) (calsync.Calendar, error) {
	c := calsync.Calendar{ID: id}
	err := s.queryRowR(ctx, qCalendar, id).
		Scan(&c.Provider, &c.AccountID, &c.RemoteID)
	if errors.Is(err, sql.ErrNoRows) {
		return calsync.Calendar{}, notFound("calendar", id)
	}
	if err != nil {
		return calsync.Calendar{}, wrap("Calendar", err)
	}
	return c, nil
}

// ListCalendars returns every calendar, ordered by id.
func (s *Store) ListCalendars(ctx context.Context) ([]calsync.Calendar, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT id, provider, account_id, remote_id FROM calendars ORDER BY id`)
	if err != nil {
		return nil, wrap("ListCalendars", err)
	}
	defer rows.Close()
	var out []calsync.Calendar
	for rows.Next() {
		var c calsync.Calendar
		if err := rows.Scan(&c.ID, &c.Provider, &c.AccountID, &c.RemoteID); err != nil {
			return nil, wrap("ListCalendars", err)
		}
		out = append(out, c)
	}
	return out, wrap("ListCalendars", rows.Err())
}

// DeleteCalendar removes a calendar with its events, sync state and
// subscriptions, in one transaction.
func (s *Store) DeleteCalendar(ctx context.Context, id string) error {
	return s.tx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `DELETE FROM calendars WHERE id = ?`, id)
		if err != nil {
			return wrap("DeleteCalendar", err)
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return notFound("calendar", id)
		}
		// events go with the calendar (ON DELETE CASCADE).
		_, err = tx.ExecContext(ctx, `DELETE FROM subscriptions WHERE calendar_id = ?`, id)
		return wrap("DeleteCalendar", err)
	})
}

// SyncState returns the calendar's sync state.
func (s *Store) SyncState(ctx context.Context, calendarID string) (calsync.SyncState, error) {
	var st calsync.SyncState
	var last int64
	err := s.queryRowR(ctx, qSyncState, calendarID).
		Scan(&st.Cursor, &st.PageToken, &st.Generation, &last, &st.Unavailable)
	if errors.Is(err, sql.ErrNoRows) {
		return calsync.SyncState{}, notFound("calendar", calendarID)
	}
	if err != nil {
		return calsync.SyncState{}, wrap("SyncState", err)
	}
	st.LastSync = dec(last)
	return st, nil
}

const eventColumns = `id, status, summary, start_date, start_time, start_tz, end_date, end_time, end_tz,
	recurring_event_id, original_start_date, original_start_time, original_start_tz, recurrence,
	ical_uid, etag, updated, version, raw, details`

// Apply applies a batch of changes and writes b.State in one BEGIN
// IMMEDIATE transaction, following the rules of [calsync.Batch] (b.Expect
// is checked inside that transaction), together with the change feed's
// entries ([calsync.ChangeFeed]). The batch is validated first: an
// invalid change fails Apply before anything is written.
func (s *Store) Apply(ctx context.Context, calendarID string, b *calsync.Batch) (*calsync.ApplyResult, error) {
	if err := plan.Validate("sqlite", b); err != nil {
		return nil, err
	}
	last, err := enc(b.State.LastSync)
	if err != nil {
		return nil, err
	}
	var res *calsync.ApplyResult
	err = s.tx(ctx, func(tx *sql.Tx) error {
		// The transaction began IMMEDIATE: no other writer, in any
		// process, can change the state between this check and the commit.
		if b.Expect != nil {
			var cur calsync.SyncState
			err := s.queryRowW(ctx, tx, qExpectState, calendarID).
				Scan(&cur.Cursor, &cur.PageToken, &cur.Generation)
			if errors.Is(err, sql.ErrNoRows) {
				return notFound("calendar", calendarID)
			}
			if err != nil {
				return wrap("Apply", err)
			}
			if !plan.Matches(b, cur) {
				return plan.Conflict("sqlite", calendarID)
			}
		}
		r, err := s.execW(ctx, tx, qWriteState,
			b.State.Cursor, b.State.PageToken, b.State.Generation, last, b.State.Unavailable, calendarID)
		if err != nil {
			return wrap("Apply", err)
		}
		if n, _ := r.RowsAffected(); n == 0 {
			return notFound("calendar", calendarID)
		}
		if res, err = s.applyChanges(ctx, tx, calendarID, b); err != nil {
			return err
		}
		if res.Seq, err = s.writeFeed(ctx, tx, calendarID, res.Applied); err != nil {
			return err
		}
		if b.Complete != nil {
			if err := s.complete(ctx, tx, b.Complete); err != nil {
				return err
			}
			res.Completed = true
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return res, nil
}

func (s *Store) applyChanges(ctx context.Context, tx *sql.Tx, calendarID string, b *calsync.Batch) (*calsync.ApplyResult, error) {
	cur := make(map[string]plan.Current, len(b.Changes))
	if len(b.Changes) > 0 {
		ids, _ := json.Marshal(plan.IDs(b))
		rows, err := s.queryW(ctx, tx, qCurrent, calendarID, string(ids))
		if err != nil {
			return nil, wrap("Apply", err)
		}
		for rows.Next() {
			var id string
			var c plan.Current
			var upd int64
			if err := rows.Scan(&id, &upd, &c.ETag, &c.Version); err != nil {
				rows.Close()
				return nil, wrap("Apply", err)
			}
			c.Updated = dec(upd)
			cur[id] = c
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return nil, wrap("Apply", err)
		}
	}
	p := plan.Make(calendarID, b, cur)
	// The writes' statements: prepared once per Store, or for this
	// transaction when preparing is off (closed with it).
	var upsert, del, stamp *sql.Stmt
	prep := func(q string) (*sql.Stmt, error) {
		if st := s.wstmt(ctx, tx, q); st != nil {
			return st, nil
		}
		return tx.PrepareContext(ctx, q)
	}
	var err error
	for _, w := range p.Writes {
		switch {
		case w.Delete:
			if del == nil {
				if del, err = prep(qDeleteEvent); err != nil {
					return nil, wrap("Apply", err)
				}
			}
			if err := expectOne(del.ExecContext(ctx, calendarID, w.ID, w.PrevVersion)); err != nil {
				return nil, fmt.Errorf("sqlite: Apply: delete %q: %w", w.ID, err)
			}
		case w.Stamp():
			if stamp == nil {
				if stamp, err = prep(qStampEvent); err != nil {
					return nil, wrap("Apply", err)
				}
			}
			if err := expectOne(stamp.ExecContext(ctx, w.Generation, calendarID, w.ID)); err != nil {
				return nil, fmt.Errorf("sqlite: Apply: stamp %q: %w", w.ID, err)
			}
		default:
			if upsert == nil {
				if upsert, err = prep(upsertSQL); err != nil {
					return nil, wrap("Apply", err)
				}
			}
			if w.Recreate {
				if del == nil {
					if del, err = prep(qDeleteEvent); err != nil {
						return nil, wrap("Apply", err)
					}
				}
				if err := expectOne(del.ExecContext(ctx, calendarID, w.ID, w.PrevVersion)); err != nil {
					return nil, fmt.Errorf("sqlite: Apply: delete %q: %w", w.ID, err)
				}
				w.Existed = false
			}
			args, err := eventArgs(calendarID, w)
			if err != nil {
				return nil, err
			}
			if err := expectOne(upsert.ExecContext(ctx, args...)); err != nil {
				return nil, fmt.Errorf("sqlite: Apply: upsert %q: %w", w.ID, err)
			}
		}
	}
	if series := plan.DeletedSeries(p.Result.Applied); len(series) > 0 {
		ids, _ := json.Marshal(series)
		// recurring_event_id <> '' repeats the WHERE of the partial index
		// events_series: without it the planner cannot use that index
		// and scans the calendar's events.
		gone, err := deleteIDs(ctx, tx, `DELETE FROM events WHERE calendar_id = ? AND recurring_event_id <> ''
			AND recurring_event_id IN (SELECT value FROM json_each(?)) RETURNING id`, calendarID, string(ids))
		if err != nil {
			return nil, wrap("Apply: delete series exceptions", err)
		}
		p.Result.Applied = append(p.Result.Applied, plan.Deletes(calendarID, gone)...)
	}
	if b.Sweep {
		swept, err := deleteIDs(ctx, tx, `DELETE FROM events WHERE calendar_id = ? AND generation <> ? RETURNING id`, calendarID, b.Generation)
		if err != nil {
			return nil, wrap("Apply: sweep", err)
		}
		p.Result.Applied = append(p.Result.Applied, plan.Deletes(calendarID, swept)...)
	}
	return p.Result, nil
}

// deleteIDs runs a DELETE ... RETURNING id and returns the ids.
func deleteIDs(ctx context.Context, tx *sql.Tx, query string, args ...any) ([]string, error) {
	rows, err := tx.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var ids []string
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return nil, err
		}
		ids = append(ids, id)
	}
	return ids, rows.Err()
}

// upsertSQL writes one event. Last write wins: the WHERE lets an update
// through only if the stored row is the version Apply planned against and
// not newer than the incoming event; anything else is a concurrent write
// Apply did not plan for, and fails the batch (expectOne).
const upsertSQL = `INSERT INTO events (calendar_id, id, status, summary,
	start_date, start_time, start_tz, end_date, end_time, end_tz,
	recurring_event_id, original_start_date, original_start_time, original_start_tz, recurrence,
	ical_uid, etag, updated, version, generation, raw, details,
	span_start, span_end)
VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19, ?20, ?21, ?24,
	?25, ?26)
ON CONFLICT (calendar_id, id) DO UPDATE SET
	status = excluded.status, summary = excluded.summary,
	start_date = excluded.start_date, start_time = excluded.start_time, start_tz = excluded.start_tz,
	end_date = excluded.end_date, end_time = excluded.end_time, end_tz = excluded.end_tz,
	recurring_event_id = excluded.recurring_event_id, original_start_date = excluded.original_start_date,
	original_start_time = excluded.original_start_time, original_start_tz = excluded.original_start_tz,
	recurrence = excluded.recurrence, ical_uid = excluded.ical_uid, etag = excluded.etag,
	updated = excluded.updated, version = excluded.version,
	span_start = excluded.span_start, span_end = excluded.span_end,
	generation = CASE WHEN ?22 THEN excluded.generation ELSE events.generation END,
	raw = excluded.raw, details = excluded.details
WHERE events.version = ?23 AND events.updated <= excluded.updated`

func eventArgs(calendarID string, w plan.Write) ([]any, error) {
	e := w.Event
	st, err := enc(e.Start.DateTime)
	if err != nil {
		return nil, err
	}
	et, err := enc(e.End.DateTime)
	if err != nil {
		return nil, err
	}
	upd, err := enc(e.Updated)
	if err != nil {
		return nil, err
	}
	var osDate, osTZ, rec, raw any
	var osTime any
	if o := e.OriginalStart; o != nil {
		t, err := enc(o.DateTime)
		if err != nil {
			return nil, err
		}
		osDate, osTime, osTZ = o.Date, t, o.TimeZone
	}
	if len(e.Recurrence) > 0 {
		b, err := json.Marshal(e.Recurrence)
		if err != nil {
			return nil, err
		}
		rec = string(b)
	}
	if len(e.Raw) > 0 {
		raw = []byte(e.Raw)
	}
	spanStart, spanEnd, err := span(*e)
	if err != nil {
		return nil, err
	}
	prev := int64(-1)
	if w.Existed {
		prev = w.PrevVersion
	}
	var det any
	if b := details.Marshal(e.Details); b != nil {
		det = string(b)
	}
	return []any{calendarID, e.ID, e.Status, e.Summary,
		e.Start.Date, st, e.Start.TimeZone, e.End.Date, et, e.End.TimeZone,
		e.RecurringEventID, osDate, osTime, osTZ, rec,
		e.ICalUID, e.ETag, upd, e.Version, w.Generation, raw,
		w.SetGeneration, prev, det, spanStart, spanEnd}, nil
}

var errConcurrent = errors.New("the stored row changed under the transaction")

func expectOne(r sql.Result, err error) error {
	if err != nil {
		return err
	}
	if n, err := r.RowsAffected(); err != nil {
		return err
	} else if n != 1 {
		return errConcurrent
	}
	return nil
}

type scanner interface{ Scan(...any) error }

func scanEvent(sc scanner, calendarID string) (calsync.Event, error) {
	e := calsync.Event{CalendarID: calendarID}
	var st, et, upd int64
	var osDate, osTZ, rec sql.NullString
	var osTime sql.NullInt64
	var raw []byte
	var det sql.NullString
	if err := sc.Scan(&e.ID, &e.Status, &e.Summary, &e.Start.Date, &st, &e.Start.TimeZone, &e.End.Date, &et, &e.End.TimeZone,
		&e.RecurringEventID, &osDate, &osTime, &osTZ, &rec, &e.ICalUID, &e.ETag, &upd, &e.Version, &raw, &det); err != nil {
		return calsync.Event{}, err
	}
	if det.Valid {
		d, err := details.Unmarshal([]byte(det.String))
		if err != nil {
			return calsync.Event{}, fmt.Errorf("event %q: %w", e.ID, err)
		}
		e.Details = d
	}
	e.Start.DateTime, e.End.DateTime, e.Updated = dec(st), dec(et), dec(upd)
	if osDate.Valid {
		e.OriginalStart = &calsync.EventTime{Date: osDate.String, DateTime: dec(osTime.Int64), TimeZone: osTZ.String}
	}
	if rec.Valid {
		if err := json.Unmarshal([]byte(rec.String), &e.Recurrence); err != nil {
			return calsync.Event{}, fmt.Errorf("recurrence of %q: %w", e.ID, err)
		}
	}
	if len(raw) > 0 {
		e.Raw = json.RawMessage(raw)
	}
	return e, nil
}

// Event returns one event.
func (s *Store) Event(ctx context.Context, calendarID, eventID string) (calsync.Event, error) {
	row := s.r.QueryRowContext(ctx, `SELECT `+eventColumns+` FROM events WHERE calendar_id = ? AND id = ?`, calendarID, eventID)
	e, err := scanEvent(row, calendarID)
	if errors.Is(err, sql.ErrNoRows) {
		return calsync.Event{}, notFound("event", eventID)
	}
	if err != nil {
		return calsync.Event{}, wrap("Event", err)
	}
	return e, nil
}

// ListEvents returns up to limit events of the calendar whose id sorts after
// afterID (byte order), ordered by id: one index range scan. It returns an
// error wrapping ErrNotFound if the calendar does not exist.
func (s *Store) ListEvents(ctx context.Context, calendarID, afterID string, limit int) ([]calsync.Event, error) {
	if limit <= 0 {
		return nil, fmt.Errorf("sqlite: ListEvents: limit %d is not positive", limit)
	}
	rows, err := s.r.QueryContext(ctx, `SELECT `+eventColumns+` FROM events WHERE calendar_id = ? AND id > ? ORDER BY id LIMIT ?`,
		calendarID, afterID, limit)
	if err != nil {
		return nil, wrap("ListEvents", err)
	}
	defer rows.Close()
	out := make([]calsync.Event, 0, min(limit, 1024))
	for rows.Next() {
		e, err := scanEvent(rows, calendarID)
		if err != nil {
			return nil, wrap("ListEvents", err)
		}
		out = append(out, e)
	}
	if err := rows.Err(); err != nil {
		return nil, wrap("ListEvents", err)
	}
	if len(out) == 0 {
		if _, err := s.Calendar(ctx, calendarID); err != nil {
			return nil, err
		}
	}
	return out, nil
}

const subColumns = `id, calendar_id, provider, resource_id, resource_uri, address, lifecycle_address, secret_hash, expiration, created`

// PutSubscription creates or replaces a subscription. It keeps SecretHash,
// never the plaintext Secret.
func (s *Store) PutSubscription(ctx context.Context, sub calsync.Subscription) error {
	if sub.ID == "" {
		return errors.New("sqlite: PutSubscription: empty subscription ID")
	}
	exp, err := enc(sub.Expiration)
	if err != nil {
		return err
	}
	created, err := enc(sub.Created)
	if err != nil {
		return err
	}
	_, err = s.w.ExecContext(ctx, `INSERT OR REPLACE INTO subscriptions (`+subColumns+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		sub.ID, sub.CalendarID, sub.Provider, sub.ResourceID, sub.ResourceURI, sub.Address, sub.LifecycleAddress, secrethash.Column(sub.SecretHash), exp, created)
	return wrap("PutSubscription", err)
}

func scanSub(sc scanner) (calsync.Subscription, error) {
	var sub calsync.Subscription
	var exp, created int64
	var hash []byte
	err := sc.Scan(&sub.ID, &sub.CalendarID, &sub.Provider, &sub.ResourceID, &sub.ResourceURI, &sub.Address, &sub.LifecycleAddress, &hash, &exp, &created)
	if err != nil {
		return sub, err
	}
	if sub.SecretHash, err = secrethash.Parse("sqlite", sub.ID, hash); err != nil {
		return sub, err
	}
	sub.Expiration, sub.Created = dec(exp), dec(created)
	return sub, nil
}

// Subscription returns the subscription with the given id.
func (s *Store) Subscription(ctx context.Context, id string) (calsync.Subscription, error) {
	sub, err := scanSub(s.queryRowR(ctx, qSubscription, id))
	if errors.Is(err, sql.ErrNoRows) {
		return calsync.Subscription{}, notFound("subscription", id)
	}
	if err != nil {
		return calsync.Subscription{}, wrap("Subscription", err)
	}
	return sub, nil
}

func (s *Store) subs(ctx context.Context, op, query string, args ...any) ([]calsync.Subscription, error) {
	rows, err := s.r.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, wrap(op, err)
	}
	defer rows.Close()
	var out []calsync.Subscription
	for rows.Next() {
		sub, err := scanSub(rows)
		if err != nil {
			return nil, wrap(op, err)
		}
		out = append(out, sub)
	}
	return out, wrap(op, rows.Err())
}

// ListSubscriptions returns the calendar's subscriptions, ordered by id.
func (s *Store) ListSubscriptions(ctx context.Context, calendarID string) ([]calsync.Subscription, error) {
	return s.subs(ctx, "ListSubscriptions", `SELECT `+subColumns+` FROM subscriptions WHERE calendar_id = ? ORDER BY id`, calendarID)
}

// ExpiringSubscriptions returns every subscription whose expiration is
// before t, ordered by expiration (then id).
func (s *Store) ExpiringSubscriptions(ctx context.Context, before time.Time) ([]calsync.Subscription, error) {
	t, err := encClamp(before)
	if err != nil {
		return nil, err
	}
	return s.subs(ctx, "ExpiringSubscriptions", `SELECT `+subColumns+` FROM subscriptions WHERE expiration < ? ORDER BY expiration, id`, t)
}

// encClamp encodes a bound of a range query, clamping times outside the
// stored range.
func encClamp(t time.Time) (int64, error) {
	switch {
	case t.IsZero():
		return zeroTime, nil
	case t.Before(minTime):
		return zeroTime + 1, nil
	case t.After(maxTime):
		return maxTime.UnixNano(), nil
	}
	return enc(t)
}

// DeleteSubscription removes a subscription.
func (s *Store) DeleteSubscription(ctx context.Context, id string) error {
	r, err := s.w.ExecContext(ctx, `DELETE FROM subscriptions WHERE id = ?`, id)
	if err != nil {
		return wrap("DeleteSubscription", err)
	}
	if n, _ := r.RowsAffected(); n == 0 {
		return notFound("subscription", id)
	}
	return nil
}
