package postgres

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"strings"

	"github.com/calsync/calsync"
	"github.com/calsync/calsync/vault"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

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

// ErrSchemaTooNew means the database was migrated by a newer version of
// calsync than this one; New refuses to use it.
var ErrSchemaTooNew = errors.New("postgres: database schema is newer than this calsync")

// Config configures a Store. A nil *Config means all defaults.
type Config struct {
	// SkipMigrations leaves the schema alone: New only checks that it is at
	// [SchemaVersion]. For deployments that run [Migrate] as a separate
	// step. Default false: New migrates.
	SkipMigrations bool
}

// Store is a [calsync.Store] in PostgreSQL, on a pgxpool.Pool. It also
// implements [calsync.Ledger], [calsync.DeadLetters], [vault.Accounts],
// [calsync.Leases] and [calsync.ChangeFeed]. It is safe for concurrent use, and any number of
// processes may share the database.
type Store struct {
	pool *pgxpool.Pool
	own  bool // Close closes pool

	noFeed bool // Apply writes no feed rows (benchmarks' baseline only)
}

// New returns a Store on pool, migrating the schema first (see [Migrate])
// unless cfg.SkipMigrations. The tables live in the first schema of the
// connections' search_path. pool stays the caller's: Close does not close
// it.
func New(ctx context.Context, pool *pgxpool.Pool, cfg *Config) (*Store, error) {
	if pool == nil {
		return nil, errors.New("postgres: New: nil pool")
	}
	var c Config
	if cfg != nil {
		c = *cfg
	}
	if c.SkipMigrations {
		v, err := currentVersion(ctx, pool)
		if err != nil {
			return nil, err
		}
		if want := SchemaVersion(); v != want {
			if v > want {
				return nil, fmt.Errorf("%w: database is at version %d, this calsync knows versions up to %d", ErrSchemaTooNew, v, want)
			}
			return nil, fmt.Errorf("postgres: New: database schema is at version %d, want %d (run postgres.Migrate)", v, want)
		}
	} else if err := migrate(ctx, pool, 0); err != nil {
		return nil, err
	}
	return &Store{pool: pool}, nil
}

// Open connects to the database at url (a PostgreSQL connection string, as
// pgxpool.ParseConfig accepts) and returns a Store as [New] does. Close
// closes the pool.
func Open(ctx context.Context, url string, cfg *Config) (*Store, error) {
	pool, err := pgxpool.New(ctx, url)
	if err != nil {
		return nil, fmt.Errorf("postgres: Open: %w", err)
	}
	s, err := New(ctx, pool, cfg)
	if err != nil {
		pool.Close()
		return nil, err
	}
	s.own = true
	return s, nil
}

// Close closes the pool if [Open] made it.
func (s *Store) Close() {
	if s.own {
		s.pool.Close()
	}
}

//go:embed migrations/*.sql
var migrationFS embed.FS

// migrations returns the embedded migrations in version order.
func migrations() ([]mig.Migration, error) {
	return mig.Load(migrationFS, "migrations", "postgres")
}

// SchemaVersion is the schema version this package migrates databases to.
func SchemaVersion() int {
	ms, err := migrations()
	if err != nil {
		panic(err) // the embedded files are fixed at build time
	}
	return len(ms)
}

// Migrate brings the schema in the first schema of the search_path to
// [SchemaVersion], in one transaction holding a transaction-scoped advisory
// lock keyed by that schema's name, so that processes starting together
// migrate once and the others wait and find it done. A database at a newer
// version fails with [ErrSchemaTooNew] and is left alone.
func Migrate(ctx context.Context, pool *pgxpool.Pool) error { return migrate(ctx, pool, 0) }

func currentVersion(ctx context.Context, pool *pgxpool.Pool) (int, error) {
	var exists bool
	if err := pool.QueryRow(ctx, `SELECT to_regclass('schema_version') IS NOT NULL`).Scan(&exists); err != nil {
		return 0, fmt.Errorf("postgres: schema version: %w", err)
	}
	if !exists {
		return 0, nil
	}
	var v int
	if err := pool.QueryRow(ctx, `SELECT coalesce(max(version), 0) FROM schema_version`).Scan(&v); err != nil {
		return 0, fmt.Errorf("postgres: schema version: %w", err)
	}
	return v, nil
}

func migrate(ctx context.Context, pool *pgxpool.Pool, upTo int) error {
	ms, err := migrations()
	if err != nil {
		return err
	}
	if upTo == 0 {
		upTo = len(ms)
	}
	return pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock(hashtextextended('calsync.migrate.' || coalesce(current_schema(), ''), 0))`); err != nil {
			return fmt.Errorf("postgres: migrate: lock: %w", err)
		}
		if _, err := tx.Exec(ctx, `CREATE TABLE IF NOT EXISTS schema_version (version integer NOT NULL)`); err != nil {
			return fmt.Errorf("postgres: migrate: %w", err)
		}
		var cur int
		if err := tx.QueryRow(ctx, `SELECT coalesce(max(version), 0) FROM schema_version`).Scan(&cur); err != nil {
			return fmt.Errorf("postgres: migrate: %w", err)
		}
		if cur > len(ms) {
			return fmt.Errorf("%w: database is at version %d, this calsync knows versions up to %d", ErrSchemaTooNew, cur, len(ms))
		}
		for _, m := range ms[cur:max(cur, upTo)] {
			if _, err := tx.Exec(ctx, m.SQL); err != nil {
				return fmt.Errorf("postgres: migration %s: %w", m.Name, err)
			}
			if strings.HasSuffix(m.Name, "_time_index.sql") {
				if err := backfillSpans(ctx, tx); err != nil {
					return fmt.Errorf("postgres: migration %s: %w", m.Name, err)
				}
			}
		}
		if upTo > cur {
			if _, err := tx.Exec(ctx, `DELETE FROM schema_version`); err != nil {
				return fmt.Errorf("postgres: migrate: %w", err)
			}
			if _, err := tx.Exec(ctx, `INSERT INTO schema_version (version) VALUES ($1)`, upTo); err != nil {
				return fmt.Errorf("postgres: migrate: %w", err)
			}
		}
		return nil
	})
}

func notFound(what, id string) error {
	return fmt.Errorf("postgres: %s %q: %w", what, id, calsync.ErrNotFound)
}

func wrap(op string, err error) error {
	if err == nil {
		return nil
	}
	return fmt.Errorf("postgres: %s: %w", op, err)
}
