package sqlite_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/calsync/calsync"
	"github.com/calsync/calsync/store/sqlite"
)

func TestOpenOddPath(t *testing.T) {
	// Characters a URI would interpret are file name characters here.
	dir := filepath.Join(t.TempDir(), "a dir%20with #odd?chars")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(dir, "my db%41.db")
	s, err := sqlite.Open(t.Context(), p, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.PutCalendar(t.Context(), calsync.Calendar{ID: "c"}); err != nil {
		t.Fatal(err)
	}
	s.Close()
	if _, err := os.Stat(p); err != nil {
		t.Fatalf("database not created at the path given: %v", err)
	}
}
