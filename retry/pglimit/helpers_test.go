package pglimit_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"os"
	"testing"
	"time"

	"github.com/calsync/calsync/retry/pglimit"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

const envURL = "CALSYNC_TEST_POSTGRES_URL"

// testURL returns the test database's URL, or skips the test saying how to
// run it.
func testURL(t testing.TB) string {
	t.Helper()
	url := os.Getenv(envURL)
	if url == "" {
		t.Skipf("PostgreSQL tests skipped: set %s, e.g. %s=postgres://postgres@127.0.0.1:5432/test?sslmode=disable go test ./retry/pglimit/ (.ci/run sets it)", envURL, envURL)
	}
	return url
}

// testSchema returns the name of a schema of the test's own, dropped when
// the test ends (New creates it).
func testSchema(t testing.TB) string {
	t.Helper()
	url := testURL(t)
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	schema := "pglimit_test_" + hex.EncodeToString(b)
	t.Cleanup(func() {
		ctx := context.Background()
		c, err := pgx.Connect(ctx, url)
		if err != nil {
			t.Errorf("drop schema %s: %v", schema, err)
			return
		}
		defer c.Close(ctx)
		if _, err := c.Exec(ctx, "DROP SCHEMA IF EXISTS "+schema+" CASCADE"); err != nil {
			t.Errorf("drop schema %s: %v", schema, err)
		}
	})
	return schema
}

// newPool returns a pool of its own (an "instance"), closed when the test
// ends.
func newPool(t testing.TB, maxConns int32) *pgxpool.Pool {
	t.Helper()
	cfg, err := pgxpool.ParseConfig(testURL(t))
	if err != nil {
		t.Fatal(err)
	}
	cfg.MaxConns = maxConns
	pool, err := pgxpool.NewWithConfig(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	return pool
}

// newLimiter returns a limiter of provider "test" on pool in schema.
func newLimiter(t testing.TB, pool *pgxpool.Pool, schema string, cfg pglimit.Config) *pglimit.Limiter {
	t.Helper()
	cfg.Schema = schema
	if cfg.Provider == "" {
		cfg.Provider = "test"
	}
	if cfg.PollMin == 0 {
		cfg.PollMin, cfg.PollMax = time.Millisecond, 20*time.Millisecond
	}
	l, err := pglimit.New(context.Background(), pool, cfg)
	if err != nil {
		t.Fatal(err)
	}
	return l
}
