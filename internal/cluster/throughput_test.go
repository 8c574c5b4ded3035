//go:build !windows

package cluster

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/calsync/calsync/internal/pgtest"
)

// TestClusterThroughput measures how many notifications per second a
// cluster of 1, 2 and 3 instances processes (changes committed to the
// store, counted in the change feed) while the emulators are offered
// real changes at a fixed rate for a fixed time, with the same harness as
// TestClusterOfThree. It runs only with CALSYNC_CLUSTER_THROUGHPUT=1;
// CALSYNC_CLUSTER_RATE (changes/s, default 400), CALSYNC_CLUSTER_SECONDS
// (default 20) and CALSYNC_CLUSTER_CALENDARS (default 500) size it. The
// numbers are in BENCHMARKS.md.
func TestClusterThroughput(t *testing.T) {
	if os.Getenv("CALSYNC_CLUSTER_THROUGHPUT") == "" {
		t.Skip("a measurement: set CALSYNC_CLUSTER_THROUGHPUT=1 (and CALSYNC_TEST_POSTGRES_URL)")
	}
	pgtest.URL(t)
	rate := envInt(t, "CALSYNC_CLUSTER_RATE", 400)
	seconds := envInt(t, "CALSYNC_CLUSTER_SECONDS", 20)
	calendars := envInt(t, "CALSYNC_CLUSTER_CALENDARS", 500)
	var base throughput
	for n := 1; n <= 3; n++ {
		var got throughput
		t.Run(fmt.Sprintf("instances=%d", n), func(t *testing.T) {
			got = measureThroughput(t, n, calendars, rate, time.Duration(seconds)*time.Second)
		})
		if n == 1 {
			base = got
		}
		if base.during > 0 && base.overall > 0 {
			t.Logf("instances=%d: %.0f notifications/s during the offer (%.2f× one instance), %.0f/s until drained (%.2f×)",
				n, got.during, got.during/base.during, got.overall, got.overall/base.overall)
		}
	}
}

// throughput is one measurement in changes committed per second: during
// the offer, and from the offer's start until the backlog drained.
type throughput struct{ during, overall float64 }

func envInt(t *testing.T, name string, def int) int {
	s := os.Getenv(name)
	if s == "" {
		return def
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 1 {
		t.Fatalf("%s=%q: want a positive number", name, s)
	}
	return n
}

// measureThroughput starts n instances with production periods (no
// renewal or sweep falls within the run), offers rate changes per second
// for d, and returns the changes committed per second.
func measureThroughput(t *testing.T, n, calendars, rate int, d time.Duration) throughput {
	ctx, cancel := context.WithTimeout(context.Background(), d+5*time.Minute)
	defer cancel()
	w := newWorld(t, ctx, worldConfig{calendars: calendars, accounts: 25, node: nodeConfig{
		Workers:   4,
		RetryUnit: 250 * time.Millisecond,
		LogLevel:  slog.LevelError,
	}})
	w.startNodes(n)
	w.connectAll(8)
	w.waitPushes()
	w.poll("the connect syncs settle", time.Minute, func() (bool, string) {
		n, _ := w.host.queue.Unfinished(ctx)
		return n == 0, fmt.Sprintf("%d jobs unfinished", n)
	})

	before := w.feedCount()
	start := time.Now()
	var made atomic.Int64
	work := make(chan struct{}, rate)
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for range work {
				if err := w.change(); err != nil {
					t.Errorf("change: %v", err)
				}
				made.Add(1)
			}
		})
	}
	// Offer rate changes a second, in ticks of 10 ms; a tick that finds
	// the changers busy drops its share (the offered rate is measured).
	tick := time.NewTicker(10 * time.Millisecond)
	for i := 1; time.Since(start) < d; i++ {
		<-tick.C
		due := i*rate/100 - (i-1)*rate/100
		for range due {
			select {
			case work <- struct{}{}:
			default:
			}
		}
	}
	tick.Stop()
	close(work)
	wg.Wait()
	offerEnd := time.Now()
	window := offerEnd.Sub(start)
	var during int
	if err := w.admin.QueryRow(ctx, `SELECT count(*) FROM `+w.table("feed")+` WHERE committed BETWEEN $1 AND $2`, start, offerEnd).Scan(&during); err != nil {
		t.Fatal(err)
	}
	w.waitPushes()
	w.poll("the backlog drains", 3*time.Minute, func() (bool, string) {
		n, _ := w.host.queue.Unfinished(ctx)
		return n == 0, fmt.Sprintf("%d jobs unfinished", n)
	})
	drained := time.Since(offerEnd)
	total := w.feedCount() - before
	perSec := float64(during) / window.Seconds()
	overall := float64(total) / (window + drained).Seconds()
	t.Logf("%d instance(s): offered %d changes in %v (%.0f/s); %d committed during the offer (%.0f/s), %d in all; backlog drained %v after the offer ended",
		n, made.Load(), window.Round(time.Millisecond), float64(made.Load())/window.Seconds(), during, perSec, total, drained.Round(time.Millisecond))
	if nd, desc := w.differences(3); nd > 0 {
		t.Errorf("%d calendars differ from their emulator after the run, e.g. %v", nd, desc)
	}
	for _, nd := range w.nodes {
		w.stop(nd, 30*time.Second)
	}
	return throughput{during: perSec, overall: overall}
}
