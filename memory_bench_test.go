package calsync_test

import (
	"context"
	"fmt"
	"log/slog"
	"runtime"
	"testing"

	"github.com/calsync/calsync"
	"github.com/calsync/calsync/store/memory"
	metricnoop "go.opentelemetry.io/otel/metric/noop"
	tracenoop "go.opentelemetry.io/otel/trace/noop"
)

// BenchmarkIdleMemoryPerCalendar connects 100,000 calendars (a fake
// provider answering at once, the in-memory Store) and reports the live
// heap per connected calendar once they are idle: in all (the Store's
// calendar, subscription and sync state, and the Engine's own), and the
// Engine's own share (its per-calendar health record), measured as what
// the heap loses when the Engine is replaced by a new one on the same
// Store. Run with -benchtime 1x; see BENCHMARKS.md.
func BenchmarkIdleMemoryPerCalendar(b *testing.B) {
	const calendars = 100_000
	for b.Loop() {
		ctx := context.Background()
		st := memory.New()
		p := newFakeProvider(100)
		// No-op telemetry: OTel's global providers keep every instrument
		// and callback registered before an SDK is installed, which would
		// keep the first Engine alive.
		cfg := calsync.Config{Store: st, Providers: []calsync.Provider{p}, Logger: slog.New(slog.DiscardHandler),
			MeterProvider: metricnoop.NewMeterProvider(), TracerProvider: tracenoop.NewTracerProvider()}
		before := liveHeap()
		e, err := calsync.NewEngine(cfg)
		if err != nil {
			b.Fatal(err)
		}
		for i := range calendars {
			cal := calsync.Calendar{ID: fmt.Sprintf("cal-%06d", i), Provider: "fake", AccountID: fmt.Sprintf("acct-%04d", i%5000), RemoteID: "primary"}
			if _, err := e.Connect(ctx, cal, calsync.ConnectRequest{Address: "https://example.com/hook"}); err != nil {
				b.Fatal(err)
			}
		}
		all := liveHeap()
		runtime.KeepAlive(e)
		e = nil
		e2, err := calsync.NewEngine(cfg)
		if err != nil {
			b.Fatal(err)
		}
		storeOnly := liveHeap()
		runtime.KeepAlive(e2)
		runtime.KeepAlive(st)
		b.ReportMetric((float64(all)-float64(before))/calendars, "heap-B/calendar")
		b.ReportMetric((float64(all)-float64(storeOnly))/calendars, "engine-B/calendar")
	}
}

// liveHeap is the heap in use after a full collection.
func liveHeap() uint64 {
	runtime.GC()
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapAlloc
}
