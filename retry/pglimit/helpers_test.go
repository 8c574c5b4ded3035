package pglimit_test

import (
	"context"
	"testing"
	"time"

	"github.com/calsync/calsync/internal/pgtest"
	"github.com/calsync/calsync/retry/pglimit"
	"github.com/jackc/pgx/v5/pgxpool"
)

// testURL returns the test database's URL, or skips the test.
func testURL(t testing.TB) string { return pgtest.URL(t) }

// testSchema returns the name of a schema of the test's own, dropped when
// the test ends (New creates it).
func testSchema(t testing.TB) string { return pgtest.Schema(t, "pglimit_test_") }

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
