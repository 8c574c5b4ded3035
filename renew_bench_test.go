package calsync_test

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/calsync/calsync"
	"github.com/calsync/calsync/store/memory"
	"github.com/calsync/calsync/store/sqlite"
)

// BenchmarkRenewalSweep10k measures one renewal sweep over 10,000 expiring
// subscriptions (one per calendar) with the fake provider's Google-style
// renewal (Watch a new channel, Stop the old one), on the memory and the
// SQLite Store:
//
//   - leases: one Engine, the Store's Leases used (the default);
//   - baseline: the same sweep with Leases hidden, as before leases, so
//     that leases/baseline is the lease overhead;
//   - leases-2-instances, baseline-2-instances: two Engines sweeping the
//     same Store at the same time (for SQLite, two handles of one file).
//
// It reports provider calls per subscription (2 = renewed once), duplicate
// renewals (Watch calls beyond one per subscription) per sweep, and
// subscriptions swept per second.
func BenchmarkRenewalSweep10k(b *testing.B) {
	const n = 10_000
	type storeKind struct {
		name string
		// open returns the Stores of up to two instances sharing one
		// database.
		open func(b *testing.B, iter int) [2]calsync.Store
	}
	kinds := []storeKind{
		{"memory", func(b *testing.B, _ int) [2]calsync.Store {
			s := memory.New()
			return [2]calsync.Store{s, s}
		}},
		{"sqlite", func(b *testing.B, iter int) [2]calsync.Store {
			path := filepath.Join(b.TempDir(), fmt.Sprintf("sweep-%d.db", iter))
			var out [2]calsync.Store
			for i := range out {
				s, err := sqlite.Open(context.Background(), path, nil)
				if err != nil {
					b.Fatal(err)
				}
				b.Cleanup(func() { s.Close() })
				out[i] = s
			}
			return out
		}},
	}
	modes := []struct {
		name      string
		instances int
		leases    bool
	}{
		{"leases", 1, true},
		{"baseline", 1, false},
		{"leases-2-instances", 2, true},
		{"baseline-2-instances", 2, false},
	}
	for _, k := range kinds {
		for _, m := range modes {
			b.Run(k.name+"/"+m.name, func(b *testing.B) {
				var calls, watches int
				for iter := range b.N {
					b.StopTimer()
					stores := k.open(b, iter)
					seedExpiring(b, stores[0], n)
					p := newFakeProvider(10)
					p.now = func() time.Time { return sweepAt }
					engines := make([]*calsync.Engine, m.instances)
					for i := range engines {
						st := stores[i]
						if !m.leases {
							st = noLeases{st}
						}
						engines[i] = sweepEngine(b, st, p, sweepRenewBefore)
					}
					b.StartTimer()
					ns, errs := sweepTogether(engines...)
					b.StopTimer()
					total := 0
					for i := range ns {
						total += ns[i]
						// Without leases the second instance fails on the
						// subscriptions the first replaced: expected.
						if errs[i] != nil && (m.leases || m.instances == 1) {
							b.Fatalf("RenewExpiring: %v", errs[i])
						}
					}
					if m.leases && total != n {
						b.Fatalf("renewed %d of %d", total, n)
					}
					p.mu.Lock()
					calls += len(p.watches) + len(p.stopped)
					watches += len(p.watches)
					p.mu.Unlock()
				}
				subs := float64(n) * float64(b.N)
				b.ReportMetric(float64(calls)/subs, "calls/sub")
				b.ReportMetric(float64(watches-n*b.N)/float64(b.N), "dup-renewals/sweep")
				b.ReportMetric(subs/b.Elapsed().Seconds(), "subs/s")
			})
		}
	}
}
