// Package pglimit enforces a provider's per-account [retry.Limits] across
// every process that shares one PostgreSQL database, so that Google's
// per-user quota and Microsoft Graph's "4 concurrent requests per mailbox"
// hold for a cluster of instances and not for each of them.
//
// A [Limiter] implements [retry.AccountLimiter]: give it to
// google.Config.Limiter or msgraph.Config.Limiter (or to a
// [retry.LimitTransport] of your own) in every instance, built with the
// same Config.Provider, Config.Limits and Config.Schema.
//
// # Rate: one row per account
//
// The rate is the token bucket of [retry.Limiter] (Burst tokens, refilled
// at (Requests−Burst)/Per), kept in one row per (provider, account) of the
// table limit_buckets and updated by a single statement. Time is the
// database's clock (clock_timestamp()), so instances whose clocks disagree
// still agree on the bucket. A request takes a token even when the bucket
// is empty (its count goes below zero): the negative count is the queue of
// waiting requests, and each waits exactly until its token is due, as
// computed from the row, with no polling. A request whose ctx ends while
// it waits gives its token back. Rows of accounts whose bucket is full
// again are deleted now and then ([Limiter.Prune]).
//
// # Concurrency: session-level advisory locks
//
// A concurrency slot is a PostgreSQL session-level advisory lock (one
// 64-bit key per provider, account and slot number, derived from
// Config.Schema too), held on a pooled connection for as long as the
// request is in flight. This was chosen over rows with a lease that the
// holder extends because PostgreSQL itself releases a session's locks when
// its connection ends: an instance killed with kill -9 (or cut off from
// the database) frees its slots as soon as the server notices the
// connection is gone, at once for a process that died on the same
// network, instead of after a lease, and no heartbeat has to run while a
// request is in flight. The costs:
//
//   - Each in-flight request of a limited account holds one connection of
//     the pool. Give the Limiter a pool of its own, sized for the requests
//     this process has in flight at once plus a few for the waiters' polls
//     (for example pool_max_conns = the provider workers + 4), rather than
//     the store's pool, which it could otherwise starve. When the pool is
//     exhausted, Acquire waits for a connection (bounded by ctx), which
//     limits this process further but never admits more than the limit.
//   - Session locks need session pooling: behind PgBouncer in transaction
//     or statement mode they are not held. Connect directly or in session
//     mode.
//
// A request waiting for a slot polls (one statement that tries every slot
// of the account) with exponential backoff between Config.PollMin and
// Config.PollMax, jittered, and returns its connection to the pool between
// polls; ctx bounds the wait. Waiters are not served in arrival order: a
// slot goes to the next waiter that polls after it is freed.
//
// Limits without Concurrency (Google's) take no connection beyond the one
// statement of the rate.
package pglimit

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/fnv"
	"math/rand/v2"
	"sync/atomic"
	"time"

	"github.com/calsync/calsync/retry"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
)

// Defaults of [Config].
const (
	// DefaultSchema is the schema of the limiter's table.
	DefaultSchema = "calsync"
	// DefaultPollMin is the first wait between two tries for a
	// concurrency slot.
	DefaultPollMin = 5 * time.Millisecond
	// DefaultPollMax is the longest wait between two tries for a
	// concurrency slot.
	DefaultPollMax = 250 * time.Millisecond
)

// releaseTimeout bounds the statements that give back a slot or a token,
// which run after the request's ctx may have ended.
const releaseTimeout = 5 * time.Second

// pruneEvery is how many acquisitions pass between prunes of full buckets.
const pruneEvery = 1024

// Config configures a [Limiter]. Provider is required.
type Config struct {
	// Provider names the quota the limits count against, e.g. "google" or
	// "msgraph": limiters with the same Provider (and Schema) share their
	// buckets and slots, in this process and in every other. Required.
	Provider string
	// Limits are the limits of one account, with the meaning they have
	// for [retry.Limiter]; every instance must use the same. The zero
	// Limits limits nothing. Typically retry.GoogleLimits() or
	// retry.GraphLimits().
	Limits retry.Limits
	// Schema holds the limiter's table (limit_buckets); it is created if
	// missing. Default: DefaultSchema.
	Schema string
	// PollMin and PollMax bound the jittered, doubling wait between two
	// tries for a concurrency slot. Default: DefaultPollMin and
	// DefaultPollMax.
	PollMin, PollMax time.Duration
}

// WithDefaults returns a copy of c with zero fields set to their defaults.
func (c Config) WithDefaults() Config {
	c.Limits = c.Limits.WithDefaults()
	if c.Schema == "" {
		c.Schema = DefaultSchema
	}
	if c.PollMin == 0 {
		c.PollMin = DefaultPollMin
	}
	if c.PollMax == 0 {
		c.PollMax = max(DefaultPollMax, c.PollMin)
	}
	return c
}

func (c Config) validate() error {
	var errs []error
	if c.Provider == "" {
		errs = append(errs, errors.New("Config.Provider is required"))
	}
	if err := c.Limits.Validate(); err != nil {
		errs = append(errs, err)
	}
	if c.PollMin <= 0 || c.PollMax < c.PollMin {
		errs = append(errs, fmt.Errorf("Config.PollMin %v must be positive and at most PollMax %v", c.PollMin, c.PollMax))
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("pglimit: %w", err)
	}
	return nil
}

// Limiter enforces [retry.Limits] per account for one provider across
// every process sharing its database. It is safe for concurrent use.
type Limiter struct {
	pool   *pgxpool.Pool
	cfg    Config
	rate   float64 // tokens per second; 0 without a rate limit
	table  string  // sanitized schema.limit_buckets
	take   string  // the statement that takes a token
	keys   uint64  // hash seed of the advisory lock keys
	count  atomic.Uint64
	onWait func(what string) // test hook: called when Acquire starts to wait
}

var _ retry.AccountLimiter = (*Limiter)(nil)

// New returns a Limiter on pool for cfg, after creating its schema and
// table if missing ([Migrate]). See the package documentation for how to
// size pool.
func New(ctx context.Context, pool *pgxpool.Pool, cfg Config) (*Limiter, error) {
	cfg = cfg.WithDefaults()
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	if pool == nil {
		return nil, errors.New("pglimit: pool is nil")
	}
	if err := Migrate(ctx, pool, cfg.Schema); err != nil {
		return nil, err
	}
	l := &Limiter{pool: pool, cfg: cfg, table: tableName(cfg.Schema)}
	if cfg.Limits.Requests > 0 {
		l.rate = float64(max(cfg.Limits.Requests-cfg.Limits.Burst, 1)) / cfg.Limits.Per.Seconds()
	}
	// The bucket refills from its last stamp to the statement's clock,
	// at most to Burst, then gives a token, possibly going below zero.
	// EXCLUDED.stamp is read before the row lock is granted: a stamp
	// older than the row's (another transaction got in between) counts
	// no time, so no interval is ever counted twice.
	//
	// The commit does not wait for the WAL flush (synchronous_commit off
	// for this transaction only): a bucket update lost to a server crash
	// only grants a few tokens again, and waiting for the disk made each
	// request cost a flush (about 8 ms here, see BENCHMARKS.md).
	l.take = `INSERT INTO ` + l.table + ` AS b (provider, account, tokens, stamp)
SELECT $1, $2, $3::float8 - 1, clock_timestamp()
FROM (SELECT set_config('synchronous_commit', 'off', true)) AS nosync
ON CONFLICT (provider, account) DO UPDATE SET
	tokens = LEAST($3::float8, b.tokens + $4::float8 * GREATEST(0, EXTRACT(EPOCH FROM EXCLUDED.stamp - b.stamp)::float8)) - 1,
	stamp = GREATEST(b.stamp, EXCLUDED.stamp)
RETURNING tokens`
	h := fnv.New64a()
	h.Write([]byte("calsync/pglimit\x00" + cfg.Schema + "\x00" + cfg.Provider + "\x00"))
	l.keys = h.Sum64()
	return l, nil
}

// Limits returns the limiter's limits, defaults applied.
func (l *Limiter) Limits() retry.Limits { return l.cfg.Limits }

// Acquire waits until account may start a request: first for a token of
// its rate, then for a free concurrency slot, both counted across every
// process sharing the database. It returns ctx.Err() if ctx ends first,
// holding nothing (the token is given back), or the database's error. On
// success the caller must call release exactly once when the request is
// over; release gives the slot back even after ctx has ended. With a
// Concurrency limit, an acquisition holds one of the pool's connections
// until it is released, and the pool's Close waits for it.
func (l *Limiter) Acquire(ctx context.Context, account string) (release func(), err error) {
	if l.count.Add(1)%pruneEvery == 0 && l.rate > 0 {
		go func() {
			pctx, cancel := context.WithTimeout(context.Background(), releaseTimeout)
			defer cancel()
			_, _ = l.Prune(pctx) // best effort: the next prune retries
		}()
	}
	if l.rate > 0 {
		if err := l.takeToken(ctx, account); err != nil {
			return nil, err
		}
	}
	if l.cfg.Limits.Concurrency == 0 {
		return func() {}, nil
	}
	conn, err := l.takeSlot(ctx, account)
	if err != nil {
		if l.rate > 0 {
			l.giveToken(ctx, account)
		}
		return nil, err
	}
	var done atomic.Bool
	return func() {
		if done.CompareAndSwap(false, true) {
			unlock(conn)
		}
	}, nil
}

// takeToken takes a token of account's bucket and waits until it is due.
func (l *Limiter) takeToken(ctx context.Context, account string) error {
	var tokens float64
	err := l.pool.QueryRow(ctx, l.take, l.cfg.Provider, account, float64(l.cfg.Limits.Burst), l.rate).Scan(&tokens)
	if err != nil {
		// The statement may or may not have taken a token; it is not given
		// back, since a token given back that was never taken would let one
		// request too many through, and one lost only delays the next.
		if ctx.Err() != nil {
			return ctx.Err()
		}
		return fmt.Errorf("pglimit: take a token: %w", err)
	}
	if tokens >= 0 {
		return nil
	}
	wait := time.Duration(-tokens / l.rate * float64(time.Second))
	if l.onWait != nil {
		l.onWait("rate")
	}
	if err := sleep(ctx, wait); err != nil {
		l.giveToken(ctx, account)
		return err
	}
	return nil
}

// giveToken returns a token taken by a request that will not start.
func (l *Limiter) giveToken(ctx context.Context, account string) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), releaseTimeout)
	defer cancel()
	// Best effort: a token not given back only delays later requests.
	_, _ = l.pool.Exec(ctx, `UPDATE `+l.table+` SET tokens = LEAST($3::float8, tokens + 1) WHERE provider = $1 AND account = $2`,
		l.cfg.Provider, account, float64(l.cfg.Limits.Burst))
}

// takeSlot returns a connection holding one of account's slot locks.
func (l *Limiter) takeSlot(ctx context.Context, account string) (*pgxpool.Conn, error) {
	n := l.cfg.Limits.Concurrency
	keys := make([]int64, n)
	start := rand.IntN(n) // spread holders over the slots
	for i := range keys {
		keys[i] = l.slotKey(account, (start+i)%n)
	}
	backoff := l.cfg.PollMin
	for waited := false; ; waited = true {
		conn, err := l.pool.Acquire(ctx)
		if err != nil {
			if ctx.Err() != nil {
				return nil, ctx.Err()
			}
			return nil, fmt.Errorf("pglimit: take a slot: %w", err)
		}
		var got bool
		// The filter runs row by row and LIMIT stops at the first lock
		// taken, so at most one slot is locked.
		err = conn.QueryRow(ctx, `SELECT count(*) > 0 FROM (SELECT 1 FROM unnest($1::int8[]) AS k WHERE pg_try_advisory_lock(k) LIMIT 1) AS s`, keys).Scan(&got)
		if err != nil {
			// A statement cut short may have taken a lock server-side:
			// end the session so that PostgreSQL drops it.
			closeConn(conn)
			if ctx.Err() != nil {
				return nil, ctx.Err()
			}
			return nil, fmt.Errorf("pglimit: take a slot: %w", err)
		}
		if got {
			return conn, nil
		}
		conn.Release()
		if !waited && l.onWait != nil {
			l.onWait("slot")
		}
		d := backoff/2 + rand.N(backoff/2+1)
		if err := sleep(ctx, d); err != nil {
			return nil, err
		}
		backoff = min(2*backoff, l.cfg.PollMax)
	}
}

// unlock releases every advisory lock of conn's session (it holds exactly
// one slot) and returns conn to the pool, or closes it if that fails, so
// that a lock never outlives its request.
func unlock(conn *pgxpool.Conn) {
	ctx, cancel := context.WithTimeout(context.Background(), releaseTimeout)
	defer cancel()
	if _, err := conn.Exec(ctx, `SELECT pg_advisory_unlock_all()`); err != nil {
		closeConn(conn)
		return
	}
	conn.Release()
}

// closeConn ends conn's session (dropping its locks) and gives it to the
// pool, which discards closed connections.
func closeConn(conn *pgxpool.Conn) {
	ctx, cancel := context.WithTimeout(context.Background(), releaseTimeout)
	defer cancel()
	_ = conn.Conn().Close(ctx) // closing is best effort; the pool discards it either way
	conn.Release()
}

// slotKey is the advisory lock key of slot i of account.
func (l *Limiter) slotKey(account string, i int) int64 {
	h := fnv.New64a()
	var b [16]byte
	binary.LittleEndian.PutUint64(b[:8], l.keys)
	binary.LittleEndian.PutUint64(b[8:], uint64(i))
	h.Write(b[:])
	h.Write([]byte(account))
	return int64(h.Sum64())
}

// Prune deletes the rows of this provider's accounts whose bucket is full
// again: a new row behaves the same. Acquire calls it every 1024
// acquisitions; call it yourself to prune on a schedule. It returns how
// many rows it deleted.
func (l *Limiter) Prune(ctx context.Context) (int64, error) {
	if l.rate == 0 {
		return 0, nil
	}
	tag, err := l.pool.Exec(ctx, `DELETE FROM `+l.table+` WHERE provider = $1
	AND tokens + $2::float8 * EXTRACT(EPOCH FROM clock_timestamp() - stamp)::float8 >= $3::float8`,
		l.cfg.Provider, l.rate, float64(l.cfg.Limits.Burst))
	if err != nil {
		return 0, fmt.Errorf("pglimit: prune: %w", err)
	}
	return tag.RowsAffected(), nil
}

// Migrate creates schema (DefaultSchema if empty) and the limiter's table
// in it if they are missing. [New] calls it; call it from your own
// migration step to run New without DDL rights. It is safe to call from
// several processes at once.
func Migrate(ctx context.Context, pool *pgxpool.Pool, schema string) error {
	if schema == "" {
		schema = DefaultSchema
	}
	ddl := `CREATE SCHEMA IF NOT EXISTS ` + pgx.Identifier{schema}.Sanitize() + `;
CREATE TABLE IF NOT EXISTS ` + tableName(schema) + ` (
	provider text NOT NULL,
	account text NOT NULL,
	tokens double precision NOT NULL,
	stamp timestamptz NOT NULL,
	PRIMARY KEY (provider, account)
)`
	var err error
	for range 2 {
		// IF NOT EXISTS still races with a concurrent creator (a unique
		// violation in the catalog): serialize ours and retry once for
		// anyone else's (the store creating the same schema).
		err = pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
			if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock(hashtext('calsync/pglimit migrate'))`); err != nil {
				return err
			}
			_, err := tx.Exec(ctx, ddl)
			return err
		})
		var pgErr *pgconn.PgError
		if !errors.As(err, &pgErr) || (pgErr.Code != "23505" && pgErr.Code != "42P06" && pgErr.Code != "42P07") {
			break
		}
	}
	if err != nil {
		return fmt.Errorf("pglimit: create table in schema %q: %w", schema, err)
	}
	return nil
}

func tableName(schema string) string {
	return pgx.Identifier{schema, "limit_buckets"}.Sanitize()
}

// sleep waits for d or until ctx ends, returning ctx.Err() then.
func sleep(ctx context.Context, d time.Duration) error {
	return retry.SystemClock.Sleep(ctx, d)
}
