package memory_test

import (
	"testing"

	"github.com/calsync/calsync"
	"github.com/calsync/calsync/store/memory"
	"github.com/calsync/calsync/store/storetest"
)

func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) calsync.Store { return memory.New() }, storetest.Features{TimePrecision: 1})
}

func TestConformanceParallelShared(t *testing.T) {
	// One store for every subtest, run in parallel: the suite namespaces its
	// data, and the store must cope with concurrent use across calendars.
	shared := memory.New()
	storetest.Run(t, func(t *testing.T) calsync.Store { return shared }, storetest.Features{Parallel: true})
}

func BenchmarkStore(b *testing.B) {
	storetest.Bench(b, func(b *testing.B) calsync.Store { return memory.New() })
}
