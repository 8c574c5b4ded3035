package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/calsync/calsync"
	"github.com/calsync/calsync/store/internal/outbox"
)

// feedRows is how many feed rows one INSERT writes (5 parameters each).
const feedRows = 200

// writeFeed appends one feed row per applied change inside Apply's
// transaction and returns the seq of the last (0 for none). The
// transaction holds SQLite's one write lock (BEGIN IMMEDIATE, across
// processes), so seqs are handed out in commit order, and the rows of one
// multi-row INSERT get consecutive ones in VALUES order.
func (s *Store) writeFeed(ctx context.Context, tx *sql.Tx, calendarID string, chs []calsync.Change) (int64, error) {
	if len(chs) == 0 || s.noFeed {
		return 0, nil
	}
	now := time.Now().UnixNano()
	var (
		seq  int64
		args []any
	)
	for start := 0; start < len(chs); start += feedRows {
		part := chs[start:min(len(chs), start+feedRows)]
		args = args[:0]
		for _, ch := range part {
			data, err := outbox.Encode(ch)
			if err != nil {
				return 0, fmt.Errorf("sqlite: Apply: %w", err)
			}
			args = append(args, calendarID, int(ch.Op), ch.EventID, data, now)
		}
		r, err := s.execW(ctx, tx, feedInsert(len(part)), args...)
		if err != nil {
			return 0, wrap("Apply: feed", err)
		}
		if seq, err = r.LastInsertId(); err != nil {
			return 0, wrap("Apply: feed", err)
		}
	}
	return seq, nil
}

// ChangesSince implements [calsync.ChangeFeed].
func (s *Store) ChangesSince(ctx context.Context, after int64, limit int) ([]calsync.FeedEntry, error) {
	if limit <= 0 {
		return nil, fmt.Errorf("sqlite: ChangesSince: limit %d is not positive", limit)
	}
	rows, err := s.r.QueryContext(ctx, `SELECT seq, calendar_id, op, event_id, event, committed FROM feed WHERE seq > ? ORDER BY seq LIMIT ?`, after, limit)
	if err != nil {
		return nil, wrap("ChangesSince", err)
	}
	defer rows.Close()
	var out []calsync.FeedEntry
	for rows.Next() {
		var (
			e         calsync.FeedEntry
			op        int
			eventID   string
			data      []byte
			committed int64
		)
		if err := rows.Scan(&e.Seq, &e.CalendarID, &op, &eventID, &data, &committed); err != nil {
			return nil, wrap("ChangesSince", err)
		}
		if e.Change, err = outbox.Decode(op, eventID, data); err != nil {
			return nil, fmt.Errorf("sqlite: ChangesSince: %w", err)
		}
		e.Committed = dec(committed)
		out = append(out, e)
	}
	return out, wrap("ChangesSince", rows.Err())
}

// ConsumerPosition implements [calsync.ChangeFeed].
func (s *Store) ConsumerPosition(ctx context.Context, consumer string) (int64, error) {
	var pos int64
	err := s.r.QueryRowContext(ctx, `SELECT position FROM feed_consumers WHERE name = ?`, consumer).Scan(&pos)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, nil
	}
	return pos, wrap("ConsumerPosition", err)
}

// ConsumerPositions implements [calsync.ChangeFeed].
func (s *Store) ConsumerPositions(ctx context.Context) (map[string]int64, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT name, position FROM feed_consumers`)
	if err != nil {
		return nil, wrap("ConsumerPositions", err)
	}
	defer rows.Close()
	out := make(map[string]int64)
	for rows.Next() {
		var name string
		var pos int64
		if err := rows.Scan(&name, &pos); err != nil {
			return nil, wrap("ConsumerPositions", err)
		}
		out[name] = pos
	}
	return out, wrap("ConsumerPositions", rows.Err())
}

// AckPosition implements [calsync.ChangeFeed].
func (s *Store) AckPosition(ctx context.Context, consumer string, pos int64) error {
	if consumer == "" {
		return errors.New("sqlite: AckPosition: empty consumer")
	}
	if pos < 0 {
		return fmt.Errorf("sqlite: AckPosition: negative position %d", pos)
	}
	_, err := s.w.ExecContext(ctx, `INSERT INTO feed_consumers (name, position, updated) VALUES (?1, ?2, ?3)
		ON CONFLICT (name) DO UPDATE SET position = excluded.position, updated = excluded.updated
		WHERE excluded.position > feed_consumers.position`, consumer, pos, time.Now().UnixNano())
	return wrap("AckPosition", err)
}

// PruneFeed implements [calsync.ChangeFeed]; its clock is this process's
// time.Now, which also stamps FeedEntry.Committed.
func (s *Store) PruneFeed(ctx context.Context, olderThan time.Duration, upTo int64) (int, error) {
	if olderThan <= 0 && upTo <= 0 {
		return 0, nil
	}
	cutoff := int64(zeroTime) // no row is older
	if olderThan > 0 {
		cutoff = time.Now().Add(-olderThan).UnixNano()
	}
	r, err := s.w.ExecContext(ctx, `DELETE FROM feed WHERE committed < ? OR seq <= ?`, cutoff, max(upTo, 0))
	if err != nil {
		return 0, wrap("PruneFeed", err)
	}
	n, err := r.RowsAffected()
	return int(n), wrap("PruneFeed", err)
}
