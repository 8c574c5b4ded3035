package postgres_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/calsync/calsync"
	"github.com/calsync/calsync/internal/pgtest"
	"github.com/calsync/calsync/store/internal/fixture"
	"github.com/calsync/calsync/store/postgres"
	"github.com/calsync/calsync/store/storetest"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

const envURL = pgtest.EnvURL

// testDB is a pool on the test database, with the database's own
// search_path (which does not include schema), and a schema for the
// Store that no other test uses, dropped when the test ends. The Store
// creates the schema: New and Migrate are tested from a database without
// it, and a statement that forgets the schema fails rather than finding
// another test's tables.
type testDB struct {
	pool   *pgxpool.Pool
	schema string
}

// cfg is the Config of a Store in db's schema.
func (db testDB) cfg() *postgres.Config { return &postgres.Config{Schema: db.schema} }

// sql returns query with "{schema}." naming db's schema, for the tests'
// own statements.
func (db testDB) sql(query string) string {
	return strings.ReplaceAll(query, "{schema}.", pgx.Identifier{db.schema}.Sanitize()+".")
}

// newTestDB returns a testDB, or skips the test without a server.
func newTestDB(t testing.TB) testDB {
	t.Helper()
	db := testDB{schema: pgtest.Schema(t, "calsync_test_")}
	pool, err := pgxpool.New(context.Background(), testURL(t))
	if err != nil {
		t.Fatalf("connect to %s: %v", envURL, err)
	}
	t.Cleanup(pool.Close) // before pgtest drops the schema
	db.pool = pool
	return db
}

// testURL returns the test server's URL, or skips the test without one.
func testURL(t testing.TB) string { return pgtest.URL(t) }

func newStore(t testing.TB) *postgres.Store {
	t.Helper()
	db := newTestDB(t)
	s, err := postgres.New(t.Context(), db.pool, db.cfg())
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) calsync.Store { return newStore(t) }, storetest.Features{})
}

func TestConformanceParallelShared(t *testing.T) {
	shared := newStore(t)
	storetest.Run(t, func(t *testing.T) calsync.Store { return shared }, storetest.Features{Parallel: true})
}

func TestMigrateFromOlderVersion(t *testing.T) {
	ctx := t.Context()
	db := newTestDB(t)
	if err := postgres.MigrateTo(ctx, db.pool, db.cfg(), 1); err != nil {
		t.Fatal(err)
	}
	if _, err := db.pool.Exec(ctx, db.sql(`INSERT INTO {schema}.calendars (id, provider, account_id, remote_id) VALUES ('c', 'google', 'a', 'r')`)); err != nil {
		t.Fatal(err)
	}
	if _, err := postgres.New(ctx, db.pool, &postgres.Config{Schema: db.schema, SkipMigrations: true}); err == nil {
		t.Fatal("New with SkipMigrations on a version 1 schema succeeded")
	}
	s, err := postgres.New(ctx, db.pool, db.cfg())
	if err != nil {
		t.Fatalf("New on a version 1 schema: %v", err)
	}
	var v int
	if err := db.pool.QueryRow(ctx, db.sql(`SELECT max(version) FROM {schema}.schema_version`)).Scan(&v); err != nil || v != postgres.SchemaVersion() {
		t.Fatalf("schema version after New = %d, %v; want %d", v, err, postgres.SchemaVersion())
	}
	if _, err := s.Calendar(ctx, "c"); err != nil {
		t.Fatalf("calendar after migration: %v", err)
	}
	if seen, err := s.BeginNotification(ctx, "k", time.Now()); err != nil || seen {
		t.Fatalf("BeginNotification after migration = %v, %v", seen, err)
	}
}

// secretHashVersion is the first schema version that keeps subscription
// secrets as hashes; the one before it kept them in clear.
const secretHashVersion = 6

// The migration to secretHashVersion replaces each subscription's
// plaintext secret with its SHA-256; the old secrets still authenticate.
func TestMigrateHashesSecrets(t *testing.T) {
	ctx := t.Context()
	db := newTestDB(t)
	if err := postgres.MigrateTo(ctx, db.pool, db.cfg(), secretHashVersion-1); err != nil {
		t.Fatal(err)
	}
	for id, secret := range fixture.LegacySecrets {
		if _, err := db.pool.Exec(ctx, db.sql(`INSERT INTO {schema}.subscriptions (id, calendar_id, provider, resource_id, resource_uri, address, lifecycle_address, secret, expiration, created)
			VALUES ($1, 'cal', 'google', 'res', '', 'https://example.com/hook', '', $2, now(), now())`), id, secret); err != nil {
			t.Fatal(err)
		}
	}
	s, err := postgres.New(ctx, db.pool, db.cfg())
	if err != nil {
		t.Fatalf("New on a version %d schema: %v", secretHashVersion-1, err)
	}
	fixture.CheckLegacySecretsHashed(t, ctx, s)
	var plaintext int
	if err := db.pool.QueryRow(ctx, `SELECT count(*) FROM information_schema.columns WHERE table_schema = $1 AND table_name = 'subscriptions' AND column_name = 'secret'`, db.schema).Scan(&plaintext); err != nil || plaintext != 0 {
		t.Errorf("subscriptions still has a secret column (%d, %v)", plaintext, err)
	}
}

func TestNewerVersionFails(t *testing.T) {
	ctx := t.Context()
	db := newTestDB(t)
	if _, err := postgres.New(ctx, db.pool, db.cfg()); err != nil {
		t.Fatal(err)
	}
	if _, err := db.pool.Exec(ctx, db.sql(`UPDATE {schema}.schema_version SET version = 99`)); err != nil {
		t.Fatal(err)
	}
	for _, cfg := range []*postgres.Config{db.cfg(), {Schema: db.schema, SkipMigrations: true}} {
		if _, err := postgres.New(ctx, db.pool, cfg); !errors.Is(err, postgres.ErrSchemaTooNew) {
			t.Errorf("New(%+v) on a version 99 schema: err = %v, want ErrSchemaTooNew", cfg, err)
		}
	}
}

func TestConcurrentMigrations(t *testing.T) {
	// Processes starting together: the advisory lock lets one migrate and
	// the others find the schema done.
	ctx := t.Context()
	db := newTestDB(t)
	var wg sync.WaitGroup
	errs := make([]error, 4)
	for i := range errs {
		wg.Go(func() { _, errs[i] = postgres.New(ctx, db.pool, db.cfg()) })
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("New #%d: %v", i, err)
		}
	}
	var n int
	if err := db.pool.QueryRow(ctx, db.sql(`SELECT count(*) FROM {schema}.schema_version`)).Scan(&n); err != nil || n != 1 {
		t.Errorf("schema_version rows = %d, %v; want 1", n, err)
	}
}
