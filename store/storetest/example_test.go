package storetest_test

import (
	"testing"

	"github.com/calsync/calsync"
	"github.com/calsync/calsync/store/memory"
	"github.com/calsync/calsync/store/storetest"
)

// A host application that implements calsync.Store checks it with the suite
// calsync's own stores pass, from an ordinary test in its own package:
//
//	func TestMyStore(t *testing.T) { ... }
//
// newStore returns a fresh Store for each subtest (or the same database:
// the subtests namespace their data) and registers any cleanup with
// t.Cleanup. The zero Features suits a Store that keeps times to the
// microsecond.
func Example() {
	testMyStore := func(t *testing.T) {
		storetest.Run(t, func(t *testing.T) calsync.Store {
			return memory.New() // your Store here
		}, storetest.Features{})
	}
	_ = testMyStore
}
