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

// crashChildApp is the application_name of the child's connections.
const crashChildApp = "calsync-crash-child"

// TestCrashChild is the child process of TestCrash.
func TestCrashChild(t *testing.T) {
	if os.Getenv(crashtest.EnvChild) == "" {
		t.Skip("child process of TestCrash")
	}
	crashtest.Child(t, childStore(t))
}

// TestCrash kills a process applying pages to PostgreSQL (kill -9) and
// checks that the database holds the events of exactly the pages its cursor
// names.
func TestCrash(t *testing.T) {
	crash(t, crashtest.Run, "TestCrashChild", 4, calsync.Calendar{ID: crashtest.Calendar, Provider: "google"})
}

// TestFeedCrashChild is the child process of TestFeedCrash.
func TestFeedCrashChild(t *testing.T) {
	if os.Getenv(crashtest.EnvChild) == "" {
		t.Skip("child process of TestFeedCrash")
	}
	crashtest.FeedChild(t, childStore(t))
}

// TestFeedCrash kills a host process (kill -9) between the commit of a
// page and OnChange, and at random points, restarts it, and checks that
// OnChange received every committed change at least once.
func TestFeedCrash(t *testing.T) {
	crash(t, crashtest.RunFeed, "TestFeedCrashChild", 6, calsync.Calendar{ID: crashtest.FeedCalendar, Provider: "crash"})
}

// crash is the parent of a crash test: it creates cal in a fresh schema
// and has run kill childTest rounds times, checking the schema after each
// kill once the killed children's backends are gone.
func crash(t *testing.T, run func(t *testing.T, childTest string, env []string, rounds int, open func() (calsync.Store, func())),
	childTest string, rounds int, cal calsync.Calendar) {
	t.Helper()
	if testing.Short() {
		t.Skip("starts child processes")
	}
	db := newTestDB(t)
	s, err := postgres.New(t.Context(), db.pool, db.cfg())
	if err != nil {
		t.Fatal(err)
	}
	if err := s.PutCalendar(t.Context(), cal); err != nil {
		t.Fatal(err)
	}
	run(t, childTest, []string{envCrashSchema + "=" + db.schema}, rounds, func() (calsync.Store, func()) {
		endChildren(t, db.pool)
		return s, func() {}
	})
}

// childStore opens the Store of a crash test's child: the parent's schema,
// on connections named crashChildApp.
func childStore(t *testing.T) *postgres.Store {
	t.Helper()
	cfg, err := pgxpool.ParseConfig(os.Getenv(envURL))
	if err != nil {
		t.Fatal(err)
	}
	cfg.ConnConfig.RuntimeParams["application_name"] = crashChildApp
	pool, err := pgxpool.NewWithConfig(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	s, err := postgres.New(context.Background(), pool, &postgres.Config{Schema: os.Getenv(envCrashSchema), SkipMigrations: true})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// endChildren waits for the killed children's backends to end. A killed
// client's last COMMIT may still be in the server's socket buffer: the
// server then finishes that transaction after the process is gone. The
// check must read a settled database rather than one that changes between
// its queries (that race, not a torn Apply, is what a check without this
// wait sees).
func endChildren(t *testing.T, pool *pgxpool.Pool) {
	t.Helper()
	if _, err := pool.Exec(t.Context(), `SELECT pg_terminate_backend(pid, 10000) FROM pg_stat_activity WHERE application_name = $1`, crashChildApp); err != nil {
		t.Fatal(err)
	}
}
