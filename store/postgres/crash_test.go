package postgres_test

import (
	"context"
	"os"
	"testing"

	"github.com/calsync/calsync"
	"github.com/calsync/calsync/store/internal/crashtest"
	"github.com/calsync/calsync/store/postgres"
	"github.com/jackc/pgx/v5/pgxpool"
)

const envCrashSchema = "CALSYNC_CRASH_POSTGRES_SCHEMA"

// TestCrashChild is the child process of TestCrash.
func TestCrashChild(t *testing.T) {
	if os.Getenv(crashtest.EnvChild) == "" {
		t.Skip("child process of TestCrash")
	}
	cfg, err := pgxpool.ParseConfig(os.Getenv(envURL))
	if err != nil {
		t.Fatal(err)
	}
	cfg.ConnConfig.RuntimeParams["search_path"] = os.Getenv(envCrashSchema)
	pool, err := pgxpool.NewWithConfig(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	s, err := postgres.New(context.Background(), pool, nil)
	if err != nil {
		t.Fatal(err)
	}
	crashtest.Child(t, s)
}

// TestCrash kills a process applying pages to PostgreSQL (kill -9) and
// checks that the database holds the events of exactly the pages its cursor
// names.
func TestCrash(t *testing.T) {
	if testing.Short() {
		t.Skip("starts child processes")
	}
	pool := testPool(t)
	s, err := postgres.New(t.Context(), pool, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.PutCalendar(t.Context(), calsync.Calendar{ID: crashtest.Calendar, Provider: "google"}); err != nil {
		t.Fatal(err)
	}
	schema := pool.Config().ConnConfig.RuntimeParams["search_path"]
	crashtest.Run(t, "TestCrashChild", []string{envCrashSchema + "=" + schema}, 4, func() (calsync.Store, func()) {
		return s, func() {}
	})
}
