package sqlite_test

import (
	"fmt"
	"testing"

	"github.com/calsync/calsync/store/internal/difftest"
)

// TestDifferential applies random batches to this store and to
// store/memory and compares every result.
func TestDifferential(t *testing.T) {
	s := open(t)
	for seed := range uint64(20) {
		difftest.Run(t, s, fmt.Sprintf("diff-%d", seed), seed, 60)
	}
}
