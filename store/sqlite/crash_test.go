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
	s, err := sqlite.Open(context.Background(), os.Getenv(envCrashDB), nil)
	if err != nil {
		t.Fatal(err)
	}
	crashtest.Child(t, s)
}

// TestCrash kills a process applying pages to an SQLite file (kill -9) and
// checks that the file holds the events of exactly the pages its cursor
// names.
func TestCrash(t *testing.T) {
	if testing.Short() {
		t.Skip("starts child processes")
	}
	path := filepath.Join(t.TempDir(), "crash.db")
	s := openPath(t, path)
	if err := s.PutCalendar(t.Context(), calsync.Calendar{ID: crashtest.Calendar, Provider: "google"}); err != nil {
		t.Fatal(err)
	}
	s.Close()
	crashtest.Run(t, "TestCrashChild", []string{envCrashDB + "=" + path}, 4, func() (calsync.Store, func()) {
		s := openPath(t, path)
		return s, func() { s.Close() }
	})
}

func openPath(t *testing.T, path string) *sqlite.Store {
	t.Helper()
	s, err := sqlite.Open(t.Context(), path, nil)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// TestFeedCrashChild is the child process of TestFeedCrash.
func TestFeedCrashChild(t *testing.T) {
	if os.Getenv(crashtest.EnvChild) == "" {
		t.Skip("child process of TestFeedCrash")
	}
	s, err := sqlite.Open(context.Background(), os.Getenv(envCrashDB), nil)
	if err != nil {
		t.Fatal(err)
	}
	crashtest.FeedChild(t, s)
}

// TestFeedCrash kills a host process (kill -9) between the commit of a
// page and OnChange, and at random points, restarts it, and checks that
// OnChange received every committed change at least once.
func TestFeedCrash(t *testing.T) {
	if testing.Short() {
		t.Skip("starts child processes")
	}
	path := filepath.Join(t.TempDir(), "crash.db")
	s := openPath(t, path)
	if err := s.PutCalendar(t.Context(), calsync.Calendar{ID: crashtest.FeedCalendar, Provider: "crash"}); err != nil {
		t.Fatal(err)
	}
	s.Close()
	crashtest.RunFeed(t, "TestFeedCrashChild", []string{envCrashDB + "=" + path}, 6, func() (calsync.Store, func()) {
		s := openPath(t, path)
		return s, func() { s.Close() }
	})
}
