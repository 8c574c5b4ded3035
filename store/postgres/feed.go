package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/calsync/calsync"
	"github.com/calsync/calsync/store/internal/outbox"
	"github.com/jackc/pgx/v5"
)

// feedSQL numbers and writes the feed rows of one Apply: it adds their
// count to the counter, which takes the counter row's lock until the
// transaction ends, and returns the new value, the seq of the last row.
// Apply runs it last, so the lock is held for as short a time as possible.
const feedSQL = `WITH c AS (
	UPDATE {schema}.feed_counter SET seq = seq + cardinality($2::smallint[]) RETURNING seq
), ins AS (
	INSERT INTO {schema}.feed (seq, calendar_id, op, event_id, event, committed)
	SELECT c.seq - cardinality($2::smallint[]) + u.ord, $1, u.op, u.event_id, u.event, statement_timestamp()
	FROM c, unnest($2::smallint[], $3::text[], $4::bytea[]) WITH ORDINALITY AS u(op, event_id, event, ord)
)
SELECT seq FROM c`

// writeFeed appends one feed row per applied change inside Apply's
// transaction and returns the seq of the last (0 for none).
func (s *Store) writeFeed(ctx context.Context, tx pgx.Tx, calendarID string, chs []calsync.Change) (int64, error) {
	if len(chs) == 0 || s.noFeed {
		return 0, nil
	}
	ops := make([]int16, len(chs))
	ids := make([]string, len(chs))
	data := make([][]byte, len(chs))
	for i, ch := range chs {
		b, err := outbox.Encode(ch)
		if err != nil {
			return 0, fmt.Errorf("postgres: Apply: %w", err)
		}
		ops[i], ids[i], data[i] = int16(ch.Op), ch.EventID, b
	}
	var seq int64
	if err := tx.QueryRow(ctx, s.sql(feedSQL), calendarID, ops, ids, data).Scan(&seq); err != nil {
		return 0, wrap("Apply: feed", err)
	}
	return seq, nil
}

// ChangesSince implements [calsync.ChangeFeed].
func (s *Store) ChangesSince(ctx context.Context, after int64, limit int) ([]calsync.FeedEntry, error) {
	if limit <= 0 {
		return nil, fmt.Errorf("postgres: ChangesSince: limit %d is not positive", limit)
	}
	rows, _ := s.pool.Query(ctx, s.sql(`SELECT seq, calendar_id, op, event_id, event, committed FROM {schema}.feed WHERE seq > $1 ORDER BY seq LIMIT $2`), after, limit)
	var (
		e       calsync.FeedEntry
		op      int16
		eventID string
		data    []byte
		out     []calsync.FeedEntry
	)
	_, err := pgx.ForEachRow(rows, []any{&e.Seq, &e.CalendarID, &op, &eventID, &data, &e.Committed}, func() error {
		ch, err := outbox.Decode(int(op), eventID, data)
		if err != nil {
			return err
		}
		out = append(out, calsync.FeedEntry{Seq: e.Seq, CalendarID: e.CalendarID, Change: ch, Committed: e.Committed.UTC()})
		return nil
	})
	if err != nil {
		return nil, wrap("ChangesSince", err)
	}
	return out, nil
}

// ConsumerPosition implements [calsync.ChangeFeed].
func (s *Store) ConsumerPosition(ctx context.Context, consumer string) (int64, error) {
	var pos int64
	err := s.pool.QueryRow(ctx, s.sql(`SELECT position FROM {schema}.feed_consumers WHERE name = $1`), consumer).Scan(&pos)
	if errors.Is(err, pgx.ErrNoRows) {
		return 0, nil
	}
	return pos, wrap("ConsumerPosition", err)
}

// ConsumerPositions implements [calsync.ChangeFeed].
func (s *Store) ConsumerPositions(ctx context.Context) (map[string]int64, error) {
	rows, _ := s.pool.Query(ctx, s.sql(`SELECT name, position FROM {schema}.feed_consumers`))
	out := make(map[string]int64)
	var (
		name string
		pos  int64
	)
	_, err := pgx.ForEachRow(rows, []any{&name, &pos}, func() error {
		out[name] = pos
		return nil
	})
	if err != nil {
		return nil, wrap("ConsumerPositions", err)
	}
	return out, nil
}

// AckPosition implements [calsync.ChangeFeed].
func (s *Store) AckPosition(ctx context.Context, consumer string, pos int64) error {
	if consumer == "" {
		return errors.New("postgres: AckPosition: empty consumer")
	}
	if pos < 0 {
		return fmt.Errorf("postgres: AckPosition: negative position %d", pos)
	}
	_, err := s.pool.Exec(ctx, s.sql(`INSERT INTO {schema}.feed_consumers AS f (name, position, updated) VALUES ($1, $2, now())
		ON CONFLICT (name) DO UPDATE SET position = excluded.position, updated = excluded.updated
		WHERE excluded.position > f.position`), consumer, pos)
	return wrap("AckPosition", err)
}

// PruneFeed implements [calsync.ChangeFeed]; its clock is the database
// server's, which also stamps FeedEntry.Committed.
func (s *Store) PruneFeed(ctx context.Context, olderThan time.Duration, upTo int64) (int, error) {
	if olderThan <= 0 && upTo <= 0 {
		return 0, nil
	}
	// Whole microseconds, rounded up: timestamptz keeps no finer.
	micros := (olderThan + time.Microsecond - 1) / time.Microsecond
	tag, err := s.pool.Exec(ctx, s.sql(`DELETE FROM {schema}.feed
		WHERE ($1::bigint > 0 AND committed < now() - $1::bigint * interval '1 microsecond') OR seq <= $2`),
		int64(micros), max(upTo, 0))
	if err != nil {
		return 0, wrap("PruneFeed", err)
	}
	return int(tag.RowsAffected()), nil
}
