package sqlite

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"database/sql/driver"
	"embed"
	"errors"
	"fmt"
	"math"
	"net/url"
	"strings"
	"time"

	"github.com/calsync/calsync"
	"github.com/calsync/calsync/vault"
	"modernc.org/sqlite" // registers the "sqlite" database/sql driver

	mig "github.com/calsync/calsync/store/internal/migrate"
)

var (
	_ calsync.Store       = (*Store)(nil)
	_ calsync.Ledger      = (*Store)(nil)
	_ calsync.DeadLetters = (*Store)(nil)
	_ vault.Accounts      = (*Store)(nil)
	_ calsync.Leases      = (*Store)(nil)
	_ calsync.ChangeFeed  = (*Store)(nil)
)

// Defaults of [Config].
const (
	// DefaultBusyTimeout is how long a write waits for another process's
	// write transaction to finish before failing with SQLITE_BUSY.
	DefaultBusyTimeout = 5 * time.Second
	// DefaultMaxReadConns is the size of the read connection pool.
	DefaultMaxReadConns = 4
)

// ErrSchemaTooNew means the database was migrated by a newer version of
// calsync than this one; opening it could corrupt it, so Open refuses.
var ErrSchemaTooNew = errors.New("sqlite: database schema is newer than this calsync")

// Config configures a Store. A nil *Config means all defaults.
type Config struct {
	// BusyTimeout is how long a statement waits for a lock held by another
	// connection or process. Default [DefaultBusyTimeout].
	BusyTimeout time.Duration
	// MaxReadConns bounds the connections used for reads (WAL lets them run
	// while a write is under way). Writes use one connection of their own.
	// Default [DefaultMaxReadConns].
	MaxReadConns int
}

// WithDefaults returns a copy of c with zero fields set to their defaults.
func (c Config) WithDefaults() Config {
	if c.BusyTimeout == 0 {
		c.BusyTimeout = DefaultBusyTimeout
	}
	if c.MaxReadConns == 0 {
		c.MaxReadConns = DefaultMaxReadConns
	}
	return c
}

func (c Config) validate() error {
	if c.BusyTimeout < 0 {
		return fmt.Errorf("sqlite: Config.BusyTimeout %s is negative", c.BusyTimeout)
	}
	if c.MaxReadConns < 0 {
		return fmt.Errorf("sqlite: Config.MaxReadConns %d is negative", c.MaxReadConns)
	}
	return nil
}

// Store is a [calsync.Store] in an SQLite database file. It also implements
// [calsync.Ledger], [calsync.DeadLetters], [vault.Accounts],
// [calsync.Leases] and [calsync.ChangeFeed]. It is safe for concurrent use, and several processes may
// open the same file.
type Store struct {
	w *sql.DB // one connection, BEGIN IMMEDIATE: every write transaction
	r *sql.DB // reads

	noFeed    bool // Apply writes no feed rows (benchmarks' baseline only)
	noPrepare bool // hot statements run as plain SQL (benchmarks' baseline only)
	st        stmts
}

//go:embed migrations/*.sql
var migrationFS embed.FS

// calsync_sha256(text) returns the SHA-256 of its argument as a blob (NULL
// for NULL): migration 5 hashes the subscription secrets it finds in clear
// with it. Functions are registered with the driver, for every connection
// it opens; the name is prefixed so as not to collide with a host's own.
func init() {
	sqlite.MustRegisterDeterministicScalarFunction("calsync_sha256", 1, func(_ *sqlite.FunctionContext, args []driver.Value) (driver.Value, error) {
		switch v := args[0].(type) {
		case nil:
			return nil, nil
		case string:
			h := sha256.Sum256([]byte(v))
			return h[:], nil
		case []byte:
			h := sha256.Sum256(v)
			return h[:], nil
		}
		return nil, fmt.Errorf("calsync_sha256: argument of type %T, want text", args[0])
	})
}

// migrations returns the embedded migrations in version order.
func migrations() ([]mig.Migration, error) {
	return mig.Load(migrationFS, "migrations", "sqlite")
}

// SchemaVersion is the schema version this package migrates databases to.
func SchemaVersion() int {
	ms, err := migrations()
	if err != nil {
		panic(err) // the embedded files are fixed at build time
	}
	return len(ms)
}

// Open opens (creating it if needed) the SQLite database at path and
// migrates its schema to [SchemaVersion]. A database whose schema is newer
// fails with an error wrapping [ErrSchemaTooNew]. The database runs in WAL
// mode with foreign keys on and synchronous=NORMAL: a committed Apply
// survives the process being killed. path is a file name, not a URI, and
// not ":memory:" (use a temporary file).
//
// Close the Store when done.
func Open(ctx context.Context, path string, cfg *Config) (*Store, error) {
	return open(ctx, path, cfg, 0)
}

func open(ctx context.Context, path string, cfg *Config, upTo int) (*Store, error) {
	var c Config
	if cfg != nil {
		c = *cfg
	}
	c = c.WithDefaults()
	if err := c.validate(); err != nil {
		return nil, err
	}
	if path == "" || path == ":memory:" || strings.HasPrefix(path, "file:") {
		return nil, fmt.Errorf("sqlite: Open: %q is not a database file name", path)
	}
	// The database is opened by URI (file:…?_pragma=…), so escape what a
	// URI path would interpret.
	uriPath := strings.NewReplacer("%", "%25", "?", "%3f", "#", "%23").Replace(path)
	q := url.Values{}
	q.Add("_pragma", fmt.Sprintf("busy_timeout(%d)", c.BusyTimeout.Milliseconds()))
	q.Add("_pragma", "foreign_keys(1)")
	q.Add("_pragma", "journal_mode(WAL)")
	q.Add("_pragma", "synchronous(NORMAL)")
	// Overwrite deleted content with zeros rather than leave it in free
	// pages and unused parts of pages: a deleted subscription, a replaced
	// account token, the plaintext secrets migration 5 hashes would
	// otherwise stay readable in the file until SQLite reused the space.
	// It costs some writes on delete, which are rare here.
	q.Add("_pragma", "secure_delete(ON)")
	r, err := sql.Open("sqlite", "file:"+uriPath+"?"+q.Encode())
	if err != nil {
		return nil, fmt.Errorf("sqlite: Open: %w", err)
	}
	q.Set("_txlock", "immediate")
	w, err := sql.Open("sqlite", "file:"+uriPath+"?"+q.Encode())
	if err != nil {
		r.Close()
		return nil, fmt.Errorf("sqlite: Open: %w", err)
	}
	w.SetMaxOpenConns(1)
	w.SetMaxIdleConns(1)
	w.SetConnMaxIdleTime(0)
	r.SetMaxOpenConns(c.MaxReadConns)
	r.SetMaxIdleConns(c.MaxReadConns)
	s := &Store{w: w, r: r}
	if err := s.migrate(ctx, upTo); err != nil {
		s.Close()
		return nil, err
	}
	if upTo == 0 {
		if err := s.prepare(ctx); err != nil {
			s.Close()
			return nil, err
		}
	}
	return s, nil
}

// Close closes the database.
func (s *Store) Close() error {
	return errors.Join(s.closeStmts(), s.r.Close(), s.w.Close())
}

// migrate brings the schema to version upTo (0: the latest) in one
// BEGIN IMMEDIATE transaction, so concurrent openers wait for each other.
func (s *Store) migrate(ctx context.Context, upTo int) error {
	ms, err := migrations()
	if err != nil {
		return err
	}
	if upTo == 0 {
		upTo = len(ms)
	}
	return s.tx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)`); err != nil {
			return fmt.Errorf("sqlite: migrate: %w", err)
		}
		var cur int
		if err := tx.QueryRowContext(ctx, `SELECT coalesce(max(version), 0) FROM schema_version`).Scan(&cur); err != nil {
			return fmt.Errorf("sqlite: migrate: %w", err)
		}
		if cur > len(ms) {
			return fmt.Errorf("%w: database is at version %d, this calsync knows versions up to %d", ErrSchemaTooNew, cur, len(ms))
		}
		for _, m := range ms[cur:upTo] {
			if _, err := tx.ExecContext(ctx, m.SQL); err != nil {
				return fmt.Errorf("sqlite: migration %s: %w", m.Name, err)
			}
			if strings.HasSuffix(m.Name, "_time_index.sql") {
				if err := backfillSpans(ctx, tx); err != nil {
					return fmt.Errorf("sqlite: migration %s: %w", m.Name, err)
				}
			}
		}
		if upTo > cur {
			if _, err := tx.ExecContext(ctx, `DELETE FROM schema_version`); err != nil {
				return fmt.Errorf("sqlite: migrate: %w", err)
			}
			if _, err := tx.ExecContext(ctx, `INSERT INTO schema_version (version) VALUES (?)`, upTo); err != nil {
				return fmt.Errorf("sqlite: migrate: %w", err)
			}
		}
		return nil
	})
}

// tx runs fn in a write transaction (BEGIN IMMEDIATE) and commits it if fn
// returns nil.
func (s *Store) tx(ctx context.Context, fn func(*sql.Tx) error) error {
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("sqlite: begin: %w", err)
	}
	if err := fn(tx); err != nil {
		_ = tx.Rollback()
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("sqlite: commit: %w", err)
	}
	return nil
}

// Times are stored as nanoseconds since the epoch; the zero time as
// math.MinInt64 so that it sorts first, as time.Time's zero does.
const zeroTime = math.MinInt64

var (
	minTime = time.Unix(0, math.MinInt64+1)
	maxTime = time.Unix(0, math.MaxInt64)
)

func enc(t time.Time) (int64, error) {
	if t.IsZero() {
		return zeroTime, nil
	}
	if t.Before(minTime) || t.After(maxTime) {
		return 0, fmt.Errorf("sqlite: time %s is outside the years 1678-2262 the store keeps", t.Format(time.RFC3339))
	}
	return t.UnixNano(), nil
}

func dec(n int64) time.Time {
	if n == zeroTime {
		return time.Time{}
	}
	return time.Unix(0, n).UTC()
}

// encAll encodes ts with enc, failing on the first time out of range.
func encAll(ts ...time.Time) ([]int64, error) {
	out := make([]int64, len(ts))
	for i, t := range ts {
		n, err := enc(t)
		if err != nil {
			return nil, err
		}
		out[i] = n
	}
	return out, nil
}

func notFound(what, id string) error {
	return fmt.Errorf("sqlite: %s %q: %w", what, id, calsync.ErrNotFound)
}

func wrap(op string, err error) error {
	if err == nil {
		return nil
	}
	return fmt.Errorf("sqlite: %s: %w", op, err)
}
