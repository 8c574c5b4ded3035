package postgres_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/calsync/calsync"
	"github.com/calsync/calsync/store/internal/fixture"
	"github.com/calsync/calsync/store/postgres"
	"github.com/calsync/calsync/store/storetest"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

const envURL = "CALSYNC_TEST_POSTGRES_URL"

// testPool returns a pool whose search_path is a new schema of its own, so
// that tests (and parallel test runs) never see each other's tables. The
// schema is dropped when the test ends.
func testPool(t testing.TB) *pgxpool.Pool {
	t.Helper()
	url := os.Getenv(envURL)
	if url == "" {
		t.Skipf("PostgreSQL tests skipped: set %s, e.g. %s=postgres://postgres@127.0.0.1:5432/test?sslmode=disable go test ./store/postgres/ (.ci/run sets it)", envURL, envURL)
	}
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	schema := "calsync_test_" + hex.EncodeToString(b)
	ctx := context.Background()
	admin, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatalf("connect to %s: %v", envURL, err)
	}
	defer admin.Close(ctx)
	if _, err := admin.Exec(ctx, "CREATE SCHEMA "+schema); err != nil {
		t.Fatal(err)
	}
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		t.Fatal(err)
	}
	cfg.ConnConfig.RuntimeParams["search_path"] = schema
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		pool.Close()
		c, err := pgx.Connect(context.Background(), url)
		if err != nil {
			t.Errorf("drop schema %s: %v", schema, err)
			return
		}
		defer c.Close(context.Background())
		if _, err := c.Exec(context.Background(), "DROP SCHEMA "+schema+" CASCADE"); err != nil {
			t.Errorf("drop schema %s: %v", schema, err)
		}
	})
	return pool
}

func newStore(t testing.TB) *postgres.Store {
	t.Helper()
	s, err := postgres.New(t.Context(), testPool(t), nil)
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
	pool := testPool(t)
	if err := postgres.MigrateTo(ctx, pool, 1); err != nil {
		t.Fatal(err)
	}
	if _, err := pool.Exec(ctx, `INSERT INTO calendars (id, provider, account_id, remote_id) VALUES ('c', 'google', 'a', 'r')`); err != nil {
		t.Fatal(err)
	}
	if _, err := postgres.New(ctx, pool, &postgres.Config{SkipMigrations: true}); err == nil {
		t.Fatal("New with SkipMigrations on a version 1 schema succeeded")
	}
	s, err := postgres.New(ctx, pool, nil)
	if err != nil {
		t.Fatalf("New on a version 1 schema: %v", err)
	}
	var v int
	if err := pool.QueryRow(ctx, `SELECT max(version) FROM schema_version`).Scan(&v); err != nil || v != postgres.SchemaVersion() {
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
	pool := testPool(t)
	if err := postgres.MigrateTo(ctx, pool, secretHashVersion-1); err != nil {
		t.Fatal(err)
	}
	for id, secret := range fixture.LegacySecrets {
		if _, err := pool.Exec(ctx, `INSERT INTO subscriptions (id, calendar_id, provider, resource_id, resource_uri, address, lifecycle_address, secret, expiration, created)
			VALUES ($1, 'cal', 'google', 'res', '', 'https://example.com/hook', '', $2, now(), now())`, id, secret); err != nil {
			t.Fatal(err)
		}
	}
	s, err := postgres.New(ctx, pool, nil)
	if err != nil {
		t.Fatalf("New on a version %d schema: %v", secretHashVersion-1, err)
	}
	fixture.CheckLegacySecretsHashed(t, ctx, s)
	var plaintext int
	if err := pool.QueryRow(ctx, `SELECT count(*) FROM information_schema.columns WHERE table_schema = current_schema() AND table_name = 'subscriptions' AND column_name = 'secret'`).Scan(&plaintext); err != nil || plaintext != 0 {
		t.Errorf("subscriptions still has a secret column (%d, %v)", plaintext, err)
	}
}

func TestNewerVersionFails(t *testing.T) {
	ctx := t.Context()
	pool := testPool(t)
	if _, err := postgres.New(ctx, pool, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := pool.Exec(ctx, `UPDATE schema_version SET version = 99`); err != nil {
		t.Fatal(err)
	}
	for _, cfg := range []*postgres.Config{nil, {SkipMigrations: true}} {
		if _, err := postgres.New(ctx, pool, cfg); !errors.Is(err, postgres.ErrSchemaTooNew) {
			t.Errorf("New(%+v) on a version 99 schema: err = %v, want ErrSchemaTooNew", cfg, err)
		}
	}
}

func TestConcurrentMigrations(t *testing.T) {
	// Processes starting together: the advisory lock lets one migrate and
	// the others find the schema done.
	ctx := t.Context()
	pool := testPool(t)
	var wg sync.WaitGroup
	errs := make([]error, 4)
	for i := range errs {
		wg.Go(func() { _, errs[i] = postgres.New(ctx, pool, nil) })
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("New #%d: %v", i, err)
		}
	}
	var n int
	if err := pool.QueryRow(ctx, `SELECT count(*) FROM schema_version`).Scan(&n); err != nil || n != 1 {
		t.Errorf("schema_version rows = %d, %v; want 1", n, err)
	}
}
