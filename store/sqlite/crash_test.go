package sqlite_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/calsync/calsync"
	"github.com/calsync/calsync/store/internal/crashtest"
	"github.com/calsync/calsync/store/sqlite"
)

const envCrashDB = "CALSYNC_CRASH_SQLITE_DB"

// TestCrashChild is the child process of TestCrash.
func TestCrashChild(t *testing.T) {
	if os.Getenv(crashtest.EnvChild) == "" {
		t.Skip("child process of TestCrash")
	}
	crashtest.Child(t, childStore(t))
}

// TestCrash kills a process applying pages to an SQLite file (kill -9) and
// checks that the file holds the events of exactly the pages its cursor
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

// crash is the parent of a crash test: it creates cal in a fresh file and
// has run kill childTest rounds times, reopening the file after each kill.
func crash(t *testing.T, run func(t *testing.T, childTest string, env []string, rounds int, open func() (calsync.Store, func())),
	childTest string, rounds int, cal calsync.Calendar) {
	t.Helper()
	if testing.Short() {
		t.Skip("starts child processes")
	}
	path := filepath.Join(t.TempDir(), "crash.db")
	s := openPath(t, path)
	if err := s.PutCalendar(t.Context(), cal); err != nil {
		t.Fatal(err)
	}
	s.Close()
	run(t, childTest, []string{envCrashDB + "=" + path}, rounds, func() (calsync.Store, func()) {
		s := openPath(t, path)
		return s, func() { s.Close() }
	})
}

// childStore opens the file of a crash test's child.
func childStore(t *testing.T) *sqlite.Store {
	t.Helper()
	s, err := sqlite.Open(context.Background(), os.Getenv(envCrashDB), nil)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func openPath(t *testing.T, path string) *sqlite.Store {
	t.Helper()
	s, err := sqlite.Open(t.Context(), path, nil)
	if err != nil {
		t.Fatal(err)
	}
	return s
}
