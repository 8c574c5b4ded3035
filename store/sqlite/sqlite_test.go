package sqlite_test

import (
	"path/filepath"
	"testing"

	"github.com/calsync/calsync"
	"github.com/calsync/calsync/store/sqlite"
	"github.com/calsync/calsync/store/storetest"
)

func open(t testing.TB) *sqlite.Store {
	t.Helper()
	s, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "calsync.db"), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) calsync.Store { return open(t) }, storetest.Features{TimePrecision: 1})
}

func TestConformanceParallelShared(t *testing.T) {
	shared := open(t)
	storetest.Run(t, func(t *testing.T) calsync.Store { return shared }, storetest.Features{Parallel: true, TimePrecision: 1})
}

func BenchmarkStore(b *testing.B) {
	storetest.Bench(b, func(b *testing.B) calsync.Store { return open(b) })
}
