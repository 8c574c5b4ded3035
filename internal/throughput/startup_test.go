package throughput_test

import (
	"context"
	"fmt"
	"math"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"golang.org/x/oauth2"

	"github.com/calsync/calsync"
	"github.com/calsync/calsync/google"
	"github.com/calsync/calsync/google/googletest"
	"github.com/calsync/calsync/provider"
	"github.com/calsync/calsync/store/sqlite"
)

// callLog records the time of every provider call, by user.
type callLog struct {
	mu     sync.Mutex
	at     []time.Time
	byUser map[string][]time.Time
}

type loggedProvider struct {
	*google.Provider
	log *callLog
}

func (p loggedProvider) Fetch(ctx context.Context, cal provider.Calendar, pos provider.Position) (*provider.Page, error) {
	now := time.Now()
	p.log.mu.Lock()
	p.log.at = append(p.log.at, now)
	p.log.byUser[cal.AccountID] = append(p.log.byUser[cal.AccountID], now)
	p.log.mu.Unlock()
	return p.Provider.Fetch(ctx, cal, pos)
}

// maxIn returns the most calls in any window of length w (ts sorted).
func maxIn(ts []time.Time, w time.Duration) int {
	best, j := 0, 0
	for i := range ts {
		for ts[i].Sub(ts[j]) >= w {
			j++
		}
		best = max(best, i-j+1)
	}
	return best
}

// TestStartup measures the start-up catch-up of CALSYNC_STARTUP_CALENDARS
// calendars (default 10,000) of 100 Google users, on store/sqlite and the
// Google emulator over loopback, with the default Engine settings (paced
// at Config.CatchUpRate, DefaultCatchUpRate) against the loop it replaced
// (every calendar one after another, unpaced: CatchUpRate +Inf, one
// worker), in the same run: provider calls in the busiest second and the
// busiest minute, overall and for the busiest user, against Google's
// quotas (10,000 a minute per project, 600 a minute per user). Every
// calendar is synced (a full sync of an empty calendar: one call).
//
// It is skipped unless CALSYNC_STARTUP=1: the paced catch-up of 10,000
// calendars takes 200 s.
func TestStartup(t *testing.T) {
	if testingSkip("CALSYNC_STARTUP") {
		t.Skip("set CALSYNC_STARTUP=1 to run the start-up measurement (minutes)")
	}
	ncal := envInt(t, "CALSYNC_STARTUP_CALENDARS", 10000)
	const users = 100
	t.Logf("%-34s %6s %8s %10s %10s %12s %12s", "mode", "cals", "time", "calls/s", "max 1 s", "max 1 min", "user 1 min")
	for _, mode := range []struct {
		name    string
		rate    float64
		workers int
	}{
		{"unpaced serial (before)", math.Inf(1), 1},
		{fmt.Sprintf("paced, default (%d/s, 4 workers)", calsync.DefaultCatchUpRate), 0, 0},
	} {
		emu := googletest.NewServer(googletest.Config{})
		log := &callLog{byUser: map[string][]time.Time{}}
		gp, err := google.New(google.Config{Endpoint: emu.Endpoint(),
			TokenSource: func(context.Context, string) (oauth2.TokenSource, error) { return token, nil }})
		if err != nil {
			t.Fatal(err)
		}
		st, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "startup.db"), nil)
		if err != nil {
			t.Fatal(err)
		}
		for i := range ncal {
			id := fmt.Sprintf("su%05d@example.com", i)
			if err := emu.AddCalendar(id, "UTC"); err != nil {
				t.Fatal(err)
			}
			if err := st.PutCalendar(t.Context(), calsync.Calendar{ID: id, Provider: google.Name, AccountID: fmt.Sprintf("user%03d", i%users), RemoteID: id}); err != nil {
				t.Fatal(err)
			}
		}
		e, err := calsync.NewEngine(calsync.Config{Store: st, Providers: []calsync.Provider{loggedProvider{gp, log}},
			CatchUpRate: mode.rate, Workers: mode.workers})
		if err != nil {
			t.Fatal(err)
		}
		start := time.Now()
		n, err := e.RunSweep(t.Context(), calsync.SweepCatchUp)
		took := time.Since(start)
		if err != nil || n != ncal {
			t.Fatalf("%s: catch-up = %d, %v; want %d", mode.name, n, err, ncal)
		}
		log.mu.Lock()
		slices.SortFunc(log.at, func(a, b time.Time) int { return a.Compare(b) })
		user := 0
		for _, ts := range log.byUser {
			slices.SortFunc(ts, func(a, b time.Time) int { return a.Compare(b) })
			user = max(user, maxIn(ts, time.Minute))
		}
		calls := len(log.at)
		t.Logf("%-34s %6d %8s %10.0f %10d %12d %12d", mode.name, ncal, took.Round(time.Millisecond), float64(calls)/took.Seconds(),
			maxIn(log.at, time.Second), maxIn(log.at, time.Minute), user)
		log.mu.Unlock()
		if calls != ncal {
			t.Errorf("%s: %d provider calls, want %d", mode.name, calls, ncal)
		}
		st.Close()
		emu.Close()
	}
}
