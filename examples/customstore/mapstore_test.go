package main

import (
	"testing"

	"github.com/calsync/calsync"
	"github.com/calsync/calsync/store/storetest"
)

// TestMapStore is how a host application checks its own Store: the same
// conformance suite calsync's stores pass. MapStore keeps times exactly
// (TimePrecision 1ns) and implements two optional capabilities, Leases and
// ChangeFeed, which the suite finds by type assertion and checks too.
func TestMapStore(t *testing.T) {
	storetest.Run(t, func(t *testing.T) calsync.Store { return NewMapStore() }, storetest.Features{TimePrecision: 1})
}

// TestMapStoreShared runs the suite in parallel on one store.
func TestMapStoreShared(t *testing.T) {
	shared := NewMapStore()
	storetest.Run(t, func(t *testing.T) calsync.Store { return shared }, storetest.Features{TimePrecision: 1, Parallel: true})
}

func BenchmarkMapStore(b *testing.B) {
	storetest.Bench(b, func(b *testing.B) calsync.Store { return NewMapStore() })
}
