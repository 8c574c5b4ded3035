package postgres

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/calsync/calsync"
	"github.com/calsync/calsync/store/internal/details"
	"github.com/calsync/calsync/store/internal/plan"
	"github.com/calsync/calsync/store/internal/secrethash"
	"github.com/jackc/pgx/v5"
)

// PutCalendar creates or replaces a calendar. Replacing keeps its events,
// sync state and subscriptions.
func (s *Store) PutCalendar(ctx context.Context, cal calsync.Calendar) error {
	if cal.ID == "" {
		return errors.New("postgres: PutCalendar: empty calendar ID")
	}
	_, err := s.pool.Exec(ctx, s.sql(`INSERT INTO {schema}.calendars (id, provider, account_id, remote_id) VALUES ($1, $2, $3, $4)
		ON CONFLICT (id) DO UPDATE SET provider = excluded.provider, account_id = excluded.account_id, remote_id = excluded.remote_id`),
		cal.ID, cal.Provider, cal.AccountID, cal.RemoteID)
	return wrap("PutCalendar", err)
}

// Calendar returns the calendar with the given id.
func (s *Store) Calendar(ctx context.Context, id string) (calsync.Calendar, error) {
	c := calsync.Calendar{ID: id}
	err := s.pool.QueryRow(ctx, s.sql(`SELECT provider, account_id, remote_id FROM {schema}.calendars WHERE id = $1`), id).
		Scan(&c.Provider, &c.AccountID, &c.RemoteID)
	if errors.Is(err, pgx.ErrNoRows) {
		return calsync.Calendar{}, notFound("calendar", id)
	}
	if err != nil {
		return calsync.Calendar{}, wrap("Calendar", err)
	}
	return c, nil
}

// ListCalendars returns every calendar, ordered by id.
func (s *Store) ListCalendars(ctx context.Context) ([]calsync.Calendar, error) {
	rows, _ := s.pool.Query(ctx, s.sql(`SELECT id, provider, account_id, remote_id FROM {schema}.calendars ORDER BY id`))
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (calsync.Calendar, error) {
		var c calsync.Calendar
		err := r.Scan(&c.ID, &c.Provider, &c.AccountID, &c.RemoteID)
		return c, err
	})
	if err != nil {
		return nil, wrap("ListCalendars", err)
	}
	if len(out) == 0 {
		return nil, nil
	}
	return out, nil
}

// DeleteCalendar removes a calendar with its events, sync state and
// subscriptions, in one transaction.
func (s *Store) DeleteCalendar(ctx context.Context, id string) error {
	return pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, s.sql(`DELETE FROM {schema}.calendars WHERE id = $1`), id)
		if err != nil {
			return wrap("DeleteCalendar", err)
		}
		if tag.RowsAffected() == 0 {
			return notFound("calendar", id)
		}
		// events go with the calendar (ON DELETE CASCADE).
		_, err = tx.Exec(ctx, s.sql(`DELETE FROM {schema}.subscriptions WHERE calendar_id = $1`), id)
		return wrap("DeleteCalendar", err)
	})
}

// SyncState returns the calendar's sync state.
func (s *Store) SyncState(ctx context.Context, calendarID string) (calsync.SyncState, error) {
	var st calsync.SyncState
	err := s.pool.QueryRow(ctx, s.sql(`SELECT cursor, page_token, generation, last_sync, unavailable FROM {schema}.calendars WHERE id = $1`), calendarID).
		Scan(&st.Cursor, &st.PageToken, &st.Generation, &st.LastSync, &st.Unavailable)
	if errors.Is(err, pgx.ErrNoRows) {
		return calsync.SyncState{}, notFound("calendar", calendarID)
	}
	if err != nil {
		return calsync.SyncState{}, wrap("SyncState", err)
	}
	st.LastSync = utc(st.LastSync)
	return st, nil
}

func utc(t time.Time) time.Time {
	if t.IsZero() {
		return time.Time{}
	}
	return t.UTC()
}

const eventColumns = `id, status, summary, start_date, start_time, start_tz, end_date, end_time, end_tz,
	recurring_event_id, original_start_date, original_start_time, original_start_tz, recurrence,
	ical_uid, etag, updated, version, raw, raw_bytes, details`

// upsertSQL writes one event. Last write wins: the WHERE lets an update
// through only if the stored row is still the version Apply planned against
// and is not newer than the incoming event. RETURNING reports whether the
// write happened; one that was skipped means the row changed in a way Apply
// did not plan for, and fails the batch.
const upsertSQL = `INSERT INTO {schema}.events AS e (calendar_id, id, status, summary,
	start_date, start_time, start_tz, end_date, end_time, end_tz,
	recurring_event_id, original_start_date, original_start_time, original_start_tz, recurrence,
	ical_uid, etag, updated, version, generation, raw, raw_bytes, details,
	span_start, span_end)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21, $24, $25,
	$26, $27)
ON CONFLICT (calendar_id, id) DO UPDATE SET
	status = excluded.status, summary = excluded.summary,
	start_date = excluded.start_date, start_time = excluded.start_time, start_tz = excluded.start_tz,
	end_date = excluded.end_date, end_time = excluded.end_time, end_tz = excluded.end_tz,
	recurring_event_id = excluded.recurring_event_id, original_start_date = excluded.original_start_date,
	original_start_time = excluded.original_start_time, original_start_tz = excluded.original_start_tz,
	recurrence = excluded.recurrence, ical_uid = excluded.ical_uid, etag = excluded.etag,
	updated = excluded.updated, version = excluded.version,
	span_start = excluded.span_start, span_end = excluded.span_end,
	generation = CASE WHEN $22::boolean THEN excluded.generation ELSE e.generation END,
	raw = excluded.raw, raw_bytes = excluded.raw_bytes, details = excluded.details
WHERE e.version = $23 AND e.updated <= excluded.updated
RETURNING version`

// Apply applies a batch of changes and writes b.State in one transaction,
// following the rules of [calsync.Batch]. It locks the calendar's row (so
// Applies of one calendar, from any process, run one after the other, and
// b.Expect is checked against the locked row), reads
// the stored version of every event the batch names, plans the writes in Go
// and sends them as one pgx.Batch.
func (s *Store) Apply(ctx context.Context, calendarID string, b *calsync.Batch) (*calsync.ApplyResult, error) {
	if err := plan.Validate("postgres", b); err != nil {
		return nil, err
	}
	var res *calsync.ApplyResult
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		// Writing the state first takes the calendar's row lock. With
		// b.Expect the UPDATE's WHERE also checks the stored state; under
		// READ COMMITTED a writer that waited for the lock re-evaluates it
		// against the committed row, so of concurrent Applies expecting
		// one state only the first matches.
		var exp calsync.SyncState
		if b.Expect != nil {
			exp = *b.Expect
		}
		tag, err := tx.Exec(ctx, s.sql(`UPDATE {schema}.calendars SET cursor = $1, page_token = $2, generation = $3, last_sync = $4, unavailable = $10
			WHERE id = $5 AND (NOT $6::boolean OR (cursor = $7 AND page_token = $8 AND generation = $9))`),
			b.State.Cursor, b.State.PageToken, b.State.Generation, b.State.LastSync, calendarID,
			b.Expect != nil, exp.Cursor, exp.PageToken, exp.Generation, b.State.Unavailable)
		if err != nil {
			return wrap("Apply", err)
		}
		if tag.RowsAffected() == 0 {
			if b.Expect == nil {
				return notFound("calendar", calendarID)
			}
			var found bool
			if err := tx.QueryRow(ctx, s.sql(`SELECT EXISTS (SELECT 1 FROM {schema}.calendars WHERE id = $1)`), calendarID).Scan(&found); err != nil {
				return wrap("Apply", err)
			}
			if !found {
				return notFound("calendar", calendarID)
			}
			return plan.Conflict("postgres", calendarID)
		}
		if res, err = s.applyChanges(ctx, tx, calendarID, b); err != nil {
			return err
		}
		// Last: it locks the feed counter until the commit.
		if b.Complete != nil {
			// Before the feed: its counter's row lock is held to the
			// commit, so nothing should follow it.
			if err := s.complete(ctx, tx, b.Complete); err != nil {
				return err
			}
			res.Completed = true
		}
		res.Seq, err = s.writeFeed(ctx, tx, calendarID, res.Applied)
		return err
	})
	if err != nil {
		return nil, err
	}
	return res, nil
}

func (s *Store) applyChanges(ctx context.Context, tx pgx.Tx, calendarID string, b *calsync.Batch) (*calsync.ApplyResult, error) {
	cur := make(map[string]plan.Current, len(b.Changes))
	if len(b.Changes) > 0 {
		// One primary-key lookup per id, whatever the statistics say: with
		// "id = ANY($2)" the planner, misled by a young table's
		// statistics, may scan every event of the calendar instead, making
		// each page of a large sync slower than the last. LIMIT 1 keeps the
		// lateral subquery from being flattened into such a join.
		rows, _ := tx.Query(ctx, s.sql(`SELECT e.id, e.updated, e.etag, e.version
			FROM unnest($2::text[]) AS u(id),
			LATERAL (SELECT id, updated, etag, version FROM {schema}.events
				WHERE calendar_id = $1 AND id = u.id LIMIT 1) AS e`), calendarID, plan.IDs(b))
		var id string
		var c plan.Current
		_, err := pgx.ForEachRow(rows, []any{&id, &c.Updated, &c.ETag, &c.Version}, func() error {
			cur[id] = c
			return nil
		})
		if err != nil {
			return nil, wrap("Apply", err)
		}
	}
	p := plan.Make(calendarID, storedPrecision(b), cur)
	var batch pgx.Batch
	for _, w := range p.Writes {
		switch {
		case w.Delete:
			batch.Queue(s.sql(`DELETE FROM {schema}.events WHERE calendar_id = $1 AND id = $2 AND version = $3`), calendarID, w.ID, w.PrevVersion)
		case w.Stamp():
			batch.Queue(s.sql(`UPDATE {schema}.events SET generation = $1 WHERE calendar_id = $2 AND id = $3`), w.Generation, calendarID, w.ID)
		default:
			if w.Recreate {
				batch.Queue(s.sql(`DELETE FROM {schema}.events WHERE calendar_id = $1 AND id = $2 AND version = $3`), calendarID, w.ID, w.PrevVersion)
				w.Existed = false
			}
			batch.Queue(s.sql(upsertSQL), eventArgs(calendarID, w)...)
		}
	}
	series := plan.DeletedSeries(p.Result.Applied)
	if len(series) > 0 {
		// recurring_event_id <> '' repeats the WHERE of the partial index
		// events_series: a generic plan (pgx prepares the statement)
		// cannot prove it from "= ANY($2)" and would scan the calendar.
		batch.Queue(s.sql(`DELETE FROM {schema}.events WHERE calendar_id = $1 AND recurring_event_id <> ''
			AND recurring_event_id = ANY($2) RETURNING id`), calendarID, series)
	}
	if b.Sweep {
		batch.Queue(s.sql(`DELETE FROM {schema}.events WHERE calendar_id = $1 AND generation <> $2 RETURNING id`), calendarID, b.Generation)
	}
	if batch.Len() == 0 {
		return p.Result, nil
	}
	br := tx.SendBatch(ctx, &batch)
	defer br.Close()
	for _, w := range p.Writes {
		switch {
		case w.Delete, w.Stamp():
			tag, err := br.Exec()
			if err != nil {
				return nil, wrap("Apply", err)
			}
			if tag.RowsAffected() != 1 {
				return nil, fmt.Errorf("postgres: Apply: event %q: %w", w.ID, errConcurrent)
			}
		default:
			if w.Recreate {
				if tag, err := br.Exec(); err != nil {
					return nil, wrap("Apply", err)
				} else if tag.RowsAffected() != 1 {
					return nil, fmt.Errorf("postgres: Apply: event %q: %w", w.ID, errConcurrent)
				}
			}
			var v int64
			if err := br.QueryRow().Scan(&v); errors.Is(err, pgx.ErrNoRows) {
				// The upsert's WHERE skipped the write.
				return nil, fmt.Errorf("postgres: Apply: event %q: %w", w.ID, errConcurrent)
			} else if err != nil {
				return nil, fmt.Errorf("postgres: Apply: event %q: %w", w.ID, err)
			}
		}
	}
	if len(series) > 0 {
		rows, _ := br.Query()
		gone, err := pgx.CollectRows(rows, pgx.RowTo[string])
		if err != nil {
			return nil, wrap("Apply: delete series exceptions", err)
		}
		p.Result.Applied = append(p.Result.Applied, plan.Deletes(calendarID, gone)...)
	}
	if b.Sweep {
		rows, _ := br.Query()
		swept, err := pgx.CollectRows(rows, pgx.RowTo[string])
		if err != nil {
			return nil, wrap("Apply: sweep", err)
		}
		p.Result.Applied = append(p.Result.Applied, plan.Deletes(calendarID, swept)...)
	}
	if err := br.Close(); err != nil {
		return nil, wrap("Apply", err)
	}
	return p.Result, nil
}

var errConcurrent = errors.New("the stored row changed under the transaction")

// storedPrecision returns b with every Event.Updated truncated to the
// microsecond, as timestamptz keeps it (pgx truncates), so that the plan
// compares the incoming event with the stored one at the precision both
// are kept in: otherwise an event replayed with a finer Updated (Graph's
// lastModifiedDateTime has 100 ns digits) never equals itself and is
// reported, with a new version, every time it is seen again. b itself is
// not modified.
func storedPrecision(b *calsync.Batch) *calsync.Batch {
	var out *calsync.Batch
	for i, ch := range b.Changes {
		if ch.Event == nil {
			continue
		}
		t := ch.Event.Updated.Truncate(time.Microsecond)
		if t.Equal(ch.Event.Updated) {
			continue
		}
		if out == nil {
			c := *b
			c.Changes = slices.Clone(b.Changes)
			out = &c
		}
		e := *ch.Event
		e.Updated = t
		out.Changes[i].Event = &e
	}
	if out == nil {
		return b
	}
	return out
}

func eventArgs(calendarID string, w plan.Write) []any {
	spanStart, spanEnd := calsync.IndexSpan(*w.Event)
	e := w.Event
	var osDate, osTZ *string
	var osTime *time.Time
	if o := e.OriginalStart; o != nil {
		osDate, osTime, osTZ = &o.Date, &o.DateTime, &o.TimeZone
	}
	var rec []string
	if len(e.Recurrence) > 0 {
		rec = e.Recurrence
	}
	var raw, rawBytes any
	switch {
	case bytes.Contains(e.Raw, nulEscape):
		rawBytes = []byte(e.Raw) // jsonb refuses \u0000
	case len(e.Raw) > 0:
		raw = json.RawMessage(e.Raw)
	}
	prev := int64(-1)
	if w.Existed {
		prev = w.PrevVersion
	}
	var det any
	if b := details.Marshal(e.Details); b != nil {
		det = json.RawMessage(b) // a json column: it keeps \u0000, which jsonb refuses
	}
	return []any{calendarID, e.ID, e.Status, e.Summary,
		e.Start.Date, e.Start.DateTime, e.Start.TimeZone, e.End.Date, e.End.DateTime, e.End.TimeZone,
		e.RecurringEventID, osDate, osTime, osTZ, rec,
		e.ICalUID, e.ETag, e.Updated, e.Version, w.Generation, raw,
		w.SetGeneration, prev, rawBytes, det, spanStart, spanEnd}
}

var nulEscape = []byte(`\u0000`)

func scanEvent(row pgx.Row, calendarID string) (calsync.Event, error) {
	e := calsync.Event{CalendarID: calendarID}
	var osDate, osTZ *string
	var osTime *time.Time
	var raw, rawBytes, det []byte
	if err := row.Scan(&e.ID, &e.Status, &e.Summary, &e.Start.Date, &e.Start.DateTime, &e.Start.TimeZone,
		&e.End.Date, &e.End.DateTime, &e.End.TimeZone, &e.RecurringEventID, &osDate, &osTime, &osTZ, &e.Recurrence,
		&e.ICalUID, &e.ETag, &e.Updated, &e.Version, &raw, &rawBytes, &det); err != nil {
		return calsync.Event{}, err
	}
	if len(det) > 0 {
		d, err := details.Unmarshal(det)
		if err != nil {
			return calsync.Event{}, fmt.Errorf("event %q: %w", e.ID, err)
		}
		e.Details = d
	}
	e.Start.DateTime, e.End.DateTime, e.Updated = utc(e.Start.DateTime), utc(e.End.DateTime), utc(e.Updated)
	if osDate != nil {
		o := calsync.EventTime{Date: *osDate}
		if osTime != nil {
			o.DateTime = utc(*osTime)
		}
		if osTZ != nil {
			o.TimeZone = *osTZ
		}
		e.OriginalStart = &o
	}
	switch {
	case rawBytes != nil:
		e.Raw = json.RawMessage(rawBytes)
	case len(raw) > 0:
		e.Raw = json.RawMessage(raw)
	}
	return e, nil
}

// Event returns one event.
func (s *Store) Event(ctx context.Context, calendarID, eventID string) (calsync.Event, error) {
	e, err := scanEvent(s.pool.QueryRow(ctx, s.sql(`SELECT `+eventColumns+` FROM {schema}.events WHERE calendar_id = $1 AND id = $2`), calendarID, eventID), calendarID)
	if errors.Is(err, pgx.ErrNoRows) {
		return calsync.Event{}, notFound("event", eventID)
	}
	if err != nil {
		return calsync.Event{}, wrap("Event", err)
	}
	return e, nil
}

// ListEvents returns up to limit events of the calendar whose id sorts after
// afterID (byte order, the ids' "C" collation), ordered by id: one range
// scan of the primary key. It returns an error wrapping ErrNotFound if the
// calendar does not exist.
func (s *Store) ListEvents(ctx context.Context, calendarID, afterID string, limit int) ([]calsync.Event, error) {
	if limit <= 0 {
		return nil, fmt.Errorf("postgres: ListEvents: limit %d is not positive", limit)
	}
	rows, _ := s.pool.Query(ctx, s.sql(`SELECT `+eventColumns+` FROM {schema}.events WHERE calendar_id = $1 AND id > $2 ORDER BY id LIMIT $3`),
		calendarID, afterID, limit)
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (calsync.Event, error) { return scanEvent(r, calendarID) })
	if err != nil {
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
		return errors.New("postgres: PutSubscription: empty subscription ID")
	}
	_, err := s.pool.Exec(ctx, s.sql(`INSERT INTO {schema}.subscriptions (`+subColumns+`) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
		ON CONFLICT (id) DO UPDATE SET calendar_id = excluded.calendar_id, provider = excluded.provider,
			resource_id = excluded.resource_id, resource_uri = excluded.resource_uri, address = excluded.address,
			lifecycle_address = excluded.lifecycle_address, secret_hash = excluded.secret_hash,
			expiration = excluded.expiration, created = excluded.created`),
		sub.ID, sub.CalendarID, sub.Provider, sub.ResourceID, sub.ResourceURI, sub.Address, sub.LifecycleAddress, secrethash.Column(sub.SecretHash), sub.Expiration, sub.Created)
	return wrap("PutSubscription", err)
}

func scanSub(row pgx.Row) (calsync.Subscription, error) {
	var sub calsync.Subscription
	var hash []byte
	err := row.Scan(&sub.ID, &sub.CalendarID, &sub.Provider, &sub.ResourceID, &sub.ResourceURI, &sub.Address, &sub.LifecycleAddress, &hash, &sub.Expiration, &sub.Created)
	if err != nil {
		return sub, err
	}
	if sub.SecretHash, err = secrethash.Parse("postgres", sub.ID, hash); err != nil {
		return sub, err
	}
	sub.Expiration, sub.Created = utc(sub.Expiration), utc(sub.Created)
	return sub, nil
}

// Subscription returns the subscription with the given id.
func (s *Store) Subscription(ctx context.Context, id string) (calsync.Subscription, error) {
	sub, err := scanSub(s.pool.QueryRow(ctx, s.sql(`SELECT `+subColumns+` FROM {schema}.subscriptions WHERE id = $1`), id))
	if errors.Is(err, pgx.ErrNoRows) {
		return calsync.Subscription{}, notFound("subscription", id)
	}
	if err != nil {
		return calsync.Subscription{}, wrap("Subscription", err)
	}
	return sub, nil
}

func (s *Store) subs(ctx context.Context, op, query string, args ...any) ([]calsync.Subscription, error) {
	rows, _ := s.pool.Query(ctx, s.sql(query), args...)
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (calsync.Subscription, error) { return scanSub(r) })
	if err != nil {
		return nil, wrap(op, err)
	}
	if len(out) == 0 {
		return nil, nil
	}
	return out, nil
}

// ListSubscriptions returns the calendar's subscriptions, ordered by id.
func (s *Store) ListSubscriptions(ctx context.Context, calendarID string) ([]calsync.Subscription, error) {
	return s.subs(ctx, "ListSubscriptions", `SELECT `+subColumns+` FROM {schema}.subscriptions WHERE calendar_id = $1 ORDER BY id`, calendarID)
}

// ExpiringSubscriptions returns every subscription whose expiration is
// before t, ordered by expiration (then id), from the expiration index.
func (s *Store) ExpiringSubscriptions(ctx context.Context, before time.Time) ([]calsync.Subscription, error) {
	return s.subs(ctx, "ExpiringSubscriptions", `SELECT `+subColumns+` FROM {schema}.subscriptions WHERE expiration < $1 ORDER BY expiration, id`, before)
}

// DeleteSubscription removes a subscription.
func (s *Store) DeleteSubscription(ctx context.Context, id string) error {
	tag, err := s.pool.Exec(ctx, s.sql(`DELETE FROM {schema}.subscriptions WHERE id = $1`), id)
	if err != nil {
		return wrap("DeleteSubscription", err)
	}
	if tag.RowsAffected() == 0 {
		return notFound("subscription", id)
	}
	return nil
}
