package pglimit_test

import (
	"context"
	"testing"
	"time"

	"github.com/calsync/calsync/retry"
	"github.com/calsync/calsync/retry/pglimit"
)

// BenchmarkAcquire measures one Acquire and its release on an account that
// never waits (a rate too high to run out, free slots), in process memory
// (retry.Limiter) and on PostgreSQL with Google's kind of limits (rate
// only), Graph's (rate and concurrency) and concurrency only. Compare
// ns/op within one run; BENCHMARKS.md records the ratio.
func BenchmarkAcquire(b *testing.B) {
	both := retry.Limits{Requests: 1 << 30, Per: time.Second, Concurrency: 4}
	mem, err := retry.NewLimiter(both, nil)
	if err != nil {
		b.Fatal(err)
	}
	run := func(b *testing.B, lim retry.AccountLimiter) {
		b.ReportAllocs()
		ctx := context.Background()
		for b.Loop() {
			release, err := lim.Acquire(ctx, "acct-1")
			if err != nil {
				b.Fatal(err)
			}
			release()
		}
	}
	b.Run("memory", func(b *testing.B) { run(b, mem) })
	for _, bc := range []struct {
		name   string
		limits retry.Limits
	}{
		{"postgres/rate+concurrency", both},
		{"postgres/rate", retry.Limits{Requests: 1 << 30, Per: time.Second}},
		{"postgres/concurrency", retry.Limits{Concurrency: 4}},
	} {
		b.Run(bc.name, func(b *testing.B) {
			lim := newLimiter(b, newPool(b, 4), testSchema(b), pglimit.Config{Limits: bc.limits})
			run(b, lim)
		})
	}
}
