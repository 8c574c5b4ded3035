package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"strings"
)

// SQLite compiles every statement it is given; without a prepared
// statement each call parses and plans its SQL again (a third of a
// one-change Apply's CPU went to the parser). The statements of the
// notification path (ledger, sync state, Apply, subscription lookup) are
// prepared once, when the Store opens, and reused: database/sql keeps each
// prepared on the connection it ran on and binds it to a transaction of
// that connection without preparing it again.
//
// The writer's statements are prepared eagerly because the writer has one
// connection: preparing on it from inside a transaction would wait for
// that transaction. Statements not listed here run as plain SQL.

// Hot statements of the writer connection.
const (
	qBeginNotification = `INSERT INTO notification_ledger (key, state, begun, ended) VALUES (?1, ?4, ?2, ?3)
		ON CONFLICT (key) DO UPDATE SET state = excluded.state, begun = excluded.begun, ended = excluded.ended
		WHERE notification_ledger.state = ?5
		RETURNING key`
	qEndNotification = `UPDATE notification_ledger SET state = ?, ended = ? WHERE key = ?`
	qClearAttempt    = `DELETE FROM attempts WHERE id = ?`
	qExpectState     = `SELECT cursor, page_token, generation FROM calendars WHERE id = ?`
	qWriteState      = `UPDATE calendars SET cursor = ?, page_token = ?, generation = ?, last_sync = ?, unavailable = ? WHERE id = ?`
	qCurrent         = `SELECT id, updated, etag, version FROM events
			WHERE calendar_id = ? AND id IN (SELECT value FROM json_each(?))`
	qDeleteEvent = `DELETE FROM events WHERE calendar_id = ? AND id = ? AND version = ?`
	qStampEvent  = `UPDATE events SET generation = ? WHERE calendar_id = ? AND id = ?`
)

// Hot statements of the read pool.
const (
	qSyncState    = `SELECT cursor, page_token, generation, last_sync, unavailable FROM calendars WHERE id = ?`
	qCalendar     = `SELECT provider, account_id, remote_id FROM calendars WHERE id = ?`
	qSubscription = `SELECT ` + subColumns + ` FROM subscriptions WHERE id = ?`
)

// feedInsert is the feed INSERT of n rows.
func feedInsert(n int) string {
	var q strings.Builder
	q.WriteString(`INSERT INTO feed (calendar_id, op, event_id, event, committed) VALUES `)
	for i := range n {
		if i > 0 {
			q.WriteByte(',')
		}
		q.WriteString(`(?, ?, ?, ?, ?)`)
	}
	return q.String()
}

// preparedFeedRows are the row counts whose feed INSERT is prepared: the
// small pages of incremental syncs, and full chunks.
var preparedFeedRows = []int{1, 2, 3, 4, feedRows}

// stmts holds the prepared statements by SQL text.
type stmts struct {
	w, r map[string]*sql.Stmt
}

// prepare prepares the hot statements; call it after migrating.
func (s *Store) prepare(ctx context.Context) error {
	s.st = stmts{w: map[string]*sql.Stmt{}, r: map[string]*sql.Stmt{}}
	w := []string{qBeginNotification, qEndNotification, qClearAttempt, qExpectState, qWriteState, qCurrent,
		qDeleteEvent, qStampEvent, upsertSQL}
	for _, n := range preparedFeedRows {
		w = append(w, feedInsert(n))
	}
	for _, q := range w {
		st, err := s.w.PrepareContext(ctx, q)
		if err != nil {
			return wrap("prepare", err)
		}
		s.st.w[q] = st
	}
	for _, q := range []string{qSyncState, qCalendar, qSubscription} {
		st, err := s.r.PrepareContext(ctx, q)
		if err != nil {
			return wrap("prepare", err)
		}
		s.st.r[q] = st
	}
	return nil
}

// closeStmts closes the prepared statements.
func (s *Store) closeStmts() error {
	var errs []error
	for _, m := range []map[string]*sql.Stmt{s.st.w, s.st.r} {
		for _, st := range m {
			errs = append(errs, st.Close())
		}
	}
	return errors.Join(errs...)
}

// wstmt returns the writer's prepared statement for q, bound to tx if tx
// is not nil, or nil if q is not prepared (or preparing is off).
func (s *Store) wstmt(ctx context.Context, tx *sql.Tx, q string) *sql.Stmt {
	st := s.st.w[q]
	if st == nil || s.noPrepare {
		return nil
	}
	if tx != nil {
		return tx.StmtContext(ctx, st)
	}
	return st
}

// execW runs q on the writer, in tx if not nil.
func (s *Store) execW(ctx context.Context, tx *sql.Tx, q string, args ...any) (sql.Result, error) {
	if st := s.wstmt(ctx, tx, q); st != nil {
		return st.ExecContext(ctx, args...)
	}
	if tx != nil {
		return tx.ExecContext(ctx, q, args...)
	}
	return s.w.ExecContext(ctx, q, args...)
}

// queryW runs q on the writer, in tx if not nil.
func (s *Store) queryW(ctx context.Context, tx *sql.Tx, q string, args ...any) (*sql.Rows, error) {
	if st := s.wstmt(ctx, tx, q); st != nil {
		return st.QueryContext(ctx, args...)
	}
	if tx != nil {
		return tx.QueryContext(ctx, q, args...)
	}
	return s.w.QueryContext(ctx, q, args...)
}

// queryRowW runs q in tx.
func (s *Store) queryRowW(ctx context.Context, tx *sql.Tx, q string, args ...any) *sql.Row {
	if st := s.wstmt(ctx, tx, q); st != nil {
		return st.QueryRowContext(ctx, args...)
	}
	return tx.QueryRowContext(ctx, q, args...)
}

// queryRowR runs q on the read pool.
func (s *Store) queryRowR(ctx context.Context, q string, args ...any) *sql.Row {
	if st := s.st.r[q]; st != nil && !s.noPrepare {
		return st.QueryRowContext(ctx, args...)
	}
	return s.r.QueryRowContext(ctx, q, args...)
}
