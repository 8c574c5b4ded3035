package postgres

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"strings"
	"sync"
	"unicode/utf8"

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

// ErrLegacyLayout means [Config].Schema was left to its default, that
// schema holds no calsync tables yet, and the first schema of the
// connection's search_path holds those of a calsync from before
// Config.Schema existed (which created its tables there). New refuses to
// start afresh beside them: set Config.Schema to that schema (usually
// "public") to keep using them, or move them (see the package
// documentation, "Upgrading from tables in public").
var ErrLegacyLayout = errors.New("postgres: calsync tables of an earlier version are in the search_path's schema")

// DefaultSchema is the schema that holds calsync's tables when
// [Config].Schema is empty.
const DefaultSchema = "calsync"

// Config configures a Store. A nil *Config means all defaults.
type Config struct {
	// Schema is the PostgreSQL schema that holds every calsync table,
	// beside (not among) the host's own tables; default [DefaultSchema].
	// Migrations create it if it is missing (CREATE SCHEMA, which needs
	// the CREATE privilege on the database; a schema that already exists
	// needs only CREATE on the schema). The name is used as it is, quoted:
	// case matters, and it must be 1 to 63 bytes, not start with "pg_" and
	// not be information_schema. The connections' search_path is not used
	// or changed: every statement names the schema. Two Stores with
	// different schemas in one database are independent.
	//
	// Deployments whose tables an earlier calsync created in the first
	// schema of the search_path (usually "public") set Schema to that
	// schema to keep them where they are.
	Schema string

	// SkipMigrations leaves the schema alone: New only checks that it is at
	// [SchemaVersion]. For deployments that run [Migrate], or the files of
	// [Migrations] with a migration tool, as a separate step. Default
	// false: New migrates.
	SkipMigrations bool
}

// schema returns the schema Config names, or why it cannot be used.
func (c *Config) schema() (string, error) {
	name := DefaultSchema
	if c != nil && c.Schema != "" {
		name = c.Schema
	}
	switch {
	case strings.TrimSpace(name) == "":
		return "", fmt.Errorf("postgres: Config.Schema %q is blank", name)
	case len(name) > maxIdentifier:
		return "", fmt.Errorf("postgres: Config.Schema %q is %d bytes long; PostgreSQL keeps only the first %d of a name", name, len(name), maxIdentifier)
	case strings.ContainsRune(name, 0) || !utf8.ValidString(name):
		return "", fmt.Errorf("postgres: Config.Schema %q is not valid UTF-8 without NUL bytes", name)
	case strings.HasPrefix(name, "pg_") || name == "information_schema":
		return "", fmt.Errorf("postgres: Config.Schema %q is reserved for PostgreSQL's system schemas", name)
	}
	return name, nil
}

// maxIdentifier is the longest name PostgreSQL keeps (NAMEDATALEN - 1
// bytes); it silently truncates longer ones, which would make two
// configured schemas one.
const maxIdentifier = 63

// Store is a [calsync.Store] in PostgreSQL, on a pgxpool.Pool. It also
// implements [calsync.Ledger], [calsync.DeadLetters], [vault.Accounts],
// [calsync.Leases] and [calsync.ChangeFeed]. It is safe for concurrent use, and any number of
// processes may share the database.
type Store struct {
	pool *pgxpool.Pool
	own  bool // Close closes pool

	schema string   // Config.Schema
	prefix string   // the schema, quoted, and a dot: what replaces schemaMark
	stmts  sync.Map // statement template -> the statement in schema

	noFeed bool // Apply writes no feed rows (benchmarks' baseline only)
}

// schemaMark precedes every table name in the statements a Store runs;
// [Store.sql] replaces it with the Store's schema. A statement run without
// Store.sql is a syntax error, not a query of whatever table the
// search_path finds.
const schemaMark = "{schema}."

// sql returns the statement template with its tables in the Store's
// schema. The text is made once per template and Store and then reused, so
// that pgx's statement cache (keyed by the text) keeps working; no
// statement costs a round trip to set a search_path.
func (s *Store) sql(template string) string {
	if q, ok := s.stmts.Load(template); ok {
		return q.(string)
	}
	q := strings.ReplaceAll(template, schemaMark, s.prefix)
	s.stmts.Store(template, q)
	return q
}

// New returns a Store on pool, whose tables are in cfg.Schema (default
// [DefaultSchema]), migrating them first (see [Migrate]) unless
// cfg.SkipMigrations. pool stays the caller's: neither its search_path nor
// anything else about it is changed, and Close does not close it.
func New(ctx context.Context, pool *pgxpool.Pool, cfg *Config) (*Store, error) {
	if pool == nil {
		return nil, errors.New("postgres: New: nil pool")
	}
	schema, err := cfg.schema()
	if err != nil {
		return nil, err
	}
	if cfg != nil && cfg.SkipMigrations {
		v, err := schemaVersion(ctx, pool, schema)
		if err != nil {
			return nil, err
		}
		if v == 0 {
			if err := checkLegacy(ctx, pool, cfg, schema); err != nil {
				return nil, err
			}
		}
		if want := SchemaVersion(); v != want {
			if v > want {
				return nil, fmt.Errorf("%w: schema %q is at version %d, this calsync knows versions up to %d", ErrSchemaTooNew, schema, v, want)
			}
			return nil, fmt.Errorf("postgres: New: schema %q is at version %d, want %d (run postgres.Migrate or the migrations of postgres.Migrations)", schema, v, want)
		}
	} else if err := migrate(ctx, pool, cfg, 0); err != nil {
		return nil, err
	}
	return &Store{pool: pool, schema: schema, prefix: pgx.Identifier{schema}.Sanitize() + "."}, nil
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

// Schema returns the schema that holds the Store's tables.
func (s *Store) Schema() string { return s.schema }

//go:embed migrations/*.sql
var migrationFS embed.FS

// Migrations returns the migrations [Migrate] applies, for a migration
// tool: files named NNNN_name.up.sql in its root, version NNNN (1, 2, 3, …
// without gaps), each a plain SQL script of statements that end with a
// semicolon at the end of a line, starting with a "-- +goose Up"
// annotation, and ending with a statement that records its version in the
// schema_version table, which New with [Config].SkipMigrations checks.
//
// The files name no schema: run them on a connection whose search_path is
// calsync's schema alone (create it first: CREATE SCHEMA calsync), so that
// the tables land there and not among the host's:
//
//   - golang-migrate: source iofs.New(postgres.Migrations(), ".") with a
//     database URL ending in ?search_path=calsync (its own version table,
//     schema_migrations, then lands there too), or the CLI on a copy of
//     the files (os.CopyFS).
//   - goose: goose.NewProvider(goose.DialectPostgres, db,
//     postgres.Migrations()), db's search_path set to the schema (goose's
//     own table, goose_db_version, then lands there too).
//   - atlas: copy the files into a directory (os.CopyFS), run atlas
//     migrate hash --dir "file://dir?format=golang-migrate" once, then
//     atlas migrate apply with that --dir and a --url ending in
//     ?search_path=calsync.
//
// Then open the Store with Config{Schema: "calsync", SkipMigrations:
// true}. A database that Migrate (or New) has already migrated is at the
// version schema_version records: tell the tool so before its first run
// instead of letting it start from version 1 (golang-migrate: force N;
// atlas: migrate apply --baseline N; goose: record versions 1 to N as
// applied in goose_db_version).
//
// One step of Migrate is not in the files: after migration 9 it computes,
// in Go, the time-index span of the events written before version 9. The
// file gives those rows an unbounded span instead, which EventsBetween
// still answers correctly (it checks every candidate in Go), at the cost
// of reading them in every range query of their calendar until they are
// next written.
func Migrations() fs.FS {
	sub, err := fs.Sub(migrationFS, "migrations")
	if err != nil {
		panic(err) // "migrations" is a valid path, fixed at build time
	}
	return sub
}

// migrations returns the embedded migrations in version order.
func migrations() ([]mig.Migration, error) {
	ms, err := mig.Load(migrationFS, "migrations", "postgres")
	if err != nil {
		return nil, err
	}
	for _, m := range ms {
		if !strings.HasSuffix(m.Name, ".up.sql") || !strings.HasPrefix(m.SQL, "-- +goose Up\n") {
			return nil, fmt.Errorf("postgres: migration %q: want a name NNNN_name.up.sql (golang-migrate) and a first line -- +goose Up (goose)", m.Name)
		}
	}
	return ms, nil
}

// SchemaVersion is the schema version this package migrates databases to.
func SchemaVersion() int {
	ms, err := migrations()
	if err != nil {
		panic(err) // the embedded files are fixed at build time
	}
	return len(ms)
}

// Migrate brings the tables in cfg.Schema (default [DefaultSchema]) to
// [SchemaVersion], creating the schema if it is missing, in one
// transaction holding a transaction-scoped advisory lock keyed by the
// schema's name, so that processes starting together migrate once and the
// others wait and find it done. A schema at a newer version fails with
// [ErrSchemaTooNew] and is left alone. cfg.SkipMigrations is ignored.
func Migrate(ctx context.Context, pool *pgxpool.Pool, cfg *Config) error {
	return migrate(ctx, pool, cfg, 0)
}

// querier is what schemaVersion needs of a pool or a transaction.
type querier interface {
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

// schemaVersion returns the version schema_version in schema records, 0
// when there is no such table.
func schemaVersion(ctx context.Context, q querier, schema string) (int, error) {
	var exists bool
	if err := q.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM pg_catalog.pg_tables WHERE schemaname = $1 AND tablename = 'schema_version')`, schema).Scan(&exists); err != nil {
		return 0, fmt.Errorf("postgres: schema version: %w", err)
	}
	if !exists {
		return 0, nil
	}
	var v int
	if err := q.QueryRow(ctx, `SELECT coalesce(max(version), 0) FROM `+pgx.Identifier{schema, "schema_version"}.Sanitize()).Scan(&v); err != nil {
		return 0, fmt.Errorf("postgres: schema version: %w", err)
	}
	return v, nil
}

// legacyTables are tables only calsync has: the first schema of the
// search_path holding all of them is the layout of a calsync from before
// Config.Schema.
var legacyTables = []string{"schema_version", "notification_ledger", "account_tokens"}

// legacySchema returns the first schema of the search_path if it is not
// schema and holds the tables of a calsync from before Config.Schema, or
// "".
func legacySchema(ctx context.Context, q querier, schema string) (string, error) {
	var old string
	err := q.QueryRow(ctx, `SELECT current_schema() WHERE current_schema() <> $1
		AND (SELECT count(*) FROM pg_catalog.pg_tables WHERE schemaname = current_schema() AND tablename = ANY($2)) = cardinality($2)`,
		schema, legacyTables).Scan(&old)
	if errors.Is(err, pgx.ErrNoRows) {
		return "", nil
	}
	return old, err
}

// checkLegacy returns an [ErrLegacyLayout] error if cfg leaves the schema
// to its default and the search_path's first schema holds the tables of
// a calsync from before Config.Schema. It is called only while schema
// holds no calsync tables.
func checkLegacy(ctx context.Context, q querier, cfg *Config, schema string) error {
	if cfg != nil && cfg.Schema != "" {
		return nil
	}
	old, err := legacySchema(ctx, q, schema)
	if err != nil {
		return fmt.Errorf("postgres: %w", err)
	}
	if old != "" {
		return fmt.Errorf("%w: schema %q holds them, and Config.Schema is not set; set it to %q to keep using them there, or move them into %q", ErrLegacyLayout, old, old, schema)
	}
	return nil
}

// migrate migrates the tables in cfg's schema up to version upTo (all
// when 0). The migration files name no schema: they run with the
// transaction's search_path set to the schema alone.
func migrate(ctx context.Context, pool *pgxpool.Pool, cfg *Config, upTo int) error {
	schema, err := cfg.schema()
	if err != nil {
		return err
	}
	ms, err := migrations()
	if err != nil {
		return err
	}
	if upTo == 0 {
		upTo = len(ms)
	}
	return pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
		// The key is the one calsync used before Config.Schema, with the
		// schema it then used (current_schema()): old and new instances
		// of one deployment exclude each other.
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock(hashtextextended('calsync.migrate.' || $1, 0))`, schema); err != nil {
			return fmt.Errorf("postgres: migrate: lock: %w", err)
		}
		var exists bool
		if err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM pg_catalog.pg_namespace WHERE nspname = $1)`, schema).Scan(&exists); err != nil {
			return fmt.Errorf("postgres: migrate: %w", err)
		}
		if !exists {
			if _, err := tx.Exec(ctx, `CREATE SCHEMA IF NOT EXISTS `+pgx.Identifier{schema}.Sanitize()); err != nil {
				return fmt.Errorf("postgres: migrate: create schema %q: %w", schema, err)
			}
		}
		cur, err := schemaVersion(ctx, tx, schema)
		if err != nil {
			return err
		}
		if cur == 0 {
			if err := checkLegacy(ctx, tx, cfg, schema); err != nil {
				return err
			}
		}
		if cur > len(ms) {
			return fmt.Errorf("%w: schema %q is at version %d, this calsync knows versions up to %d", ErrSchemaTooNew, schema, cur, len(ms))
		}
		if upTo <= cur {
			return nil
		}
		if _, err := tx.Exec(ctx, `SELECT set_config('search_path', $1, true)`, pgx.Identifier{schema}.Sanitize()); err != nil {
			return fmt.Errorf("postgres: migrate: %w", err)
		}
		for _, m := range ms[cur:upTo] {
			if _, err := tx.Exec(ctx, m.SQL); err != nil {
				return fmt.Errorf("postgres: migration %s: %w", m.Name, err)
			}
			if m.Version == timeIndexVersion {
				if err := backfillSpans(ctx, tx); err != nil {
					return fmt.Errorf("postgres: migration %s: %w", m.Name, err)
				}
			}
			// The file records its version, for whichever tool runs it.
			if v, err := schemaVersion(ctx, tx, schema); err != nil {
				return err
			} else if v != m.Version {
				return fmt.Errorf("postgres: migration %s left version %d in schema_version; it must end with UPDATE schema_version SET version = %d;", m.Name, v, m.Version)
			}
		}
		return nil
	})
}

// timeIndexVersion is the migration after which [Migrate] computes the
// time-index spans of the rows written before it.
const timeIndexVersion = 9

func notFound(what, id string) error {
	return fmt.Errorf("postgres: %s %q: %w", what, id, calsync.ErrNotFound)
}

func wrap(op string, err error) error {
	if err == nil {
		return nil
	}
	return fmt.Errorf("postgres: %s: %w", op, err)
}
