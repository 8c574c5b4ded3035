//go:build !windows

package cluster

import (
	"context"
	"fmt"
	"log/slog"
	"math"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/calsync/calsync"
	"github.com/calsync/calsync/internal/pgtest"
	"github.com/calsync/calsync/riverqueue"
)

// clusterPeriods are the instances' periods in TestClusterOfThree: short
// enough that renewals, retries and every sweep happen several times in
// a run of about a minute. A subscription asked for clusterTTL is due
// clusterTTL − RenewBefore after each renewal; RenewBefore leaves room
// for a leader's failover (River elects a new one within about 15 s, and
// only the leader schedules the renewal sweep) and for the sweep that
// then renews every overdue subscription one after the other (about
// 15 s for 500 on 2 busy cores).
var clusterPeriods = nodeConfig{
	Workers:           4,
	RenewBefore:       45 * time.Second,
	RenewInterval:     2 * time.Second,
	RetryInterval:     3 * time.Second,
	RetryUnit:         250 * time.Millisecond,
	SafetyNetAfter:    20 * time.Second,
	SafetyNetInterval: 5 * time.Second,
	DiscoverInterval:  5 * time.Second,
	RescueAfter:       10 * time.Second,
	LogLevel:          slog.LevelError,
}

const clusterTTL = 60 * time.Second

// sweepInterval is each periodic sweep's period in the instances.
func sweepInterval(nc nodeConfig, s calsync.Sweep) time.Duration {
	switch s {
	case calsync.SweepRenew:
		return nc.RenewInterval
	case calsync.SweepRetry:
		return nc.RetryInterval
	case calsync.SweepSafetyNet, calsync.SweepPruneLedger, calsync.SweepPruneFeed:
		return nc.SafetyNetInterval
	case calsync.SweepDiscover:
		return nc.DiscoverInterval
	}
	return 0
}

// TestClusterOfThree runs three instances as separate processes on one
// PostgreSQL schema with River, 500 calendars (half Google, half Graph)
// behind a load balancer that sends each push to a random live
// instance, makes bursts of changes, and kills River's leader with
// SIGKILL in the middle of one. Then it checks that every calendar
// equals its emulator, that no version of an event was applied twice,
// that each subscription was renewed once per period and never
// duplicated, that each sweep ran once per period in the whole cluster,
// and that the queue holds nothing but the current period's sweeps.
func TestClusterOfThree(t *testing.T) {
	pgtest.URL(t)
	calendars := 500
	if s := os.Getenv("CALSYNC_CLUSTER_CALENDARS"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 2 {
			t.Fatalf("CALSYNC_CLUSTER_CALENDARS=%q: want a number ≥ 2", s)
		}
		calendars = n
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	began := time.Now()
	w := newWorld(t, ctx, worldConfig{calendars: calendars, accounts: 25, ttl: clusterTTL, node: clusterPeriods})
	w.startNodes(3)
	t.Logf("%d calendars in the emulators, 3 instances up after %v", calendars, time.Since(began).Round(time.Millisecond))

	connected := time.Now()
	w.connectAll(8)
	t.Logf("connected through the parent's Engine in %v", time.Since(connected).Round(time.Millisecond))

	// Bursts of changes; the leader dies in the middle of the second.
	var victim *node
	var exempt map[string]bool // calendars whose renewal lease the victim held
	perBurst := max(20, calendars*3/5)
	for b := range 4 {
		var midway func()
		if b == 1 {
			midway = func() {
				victim = w.leader()
				wasLeader := victim != nil
				if victim == nil {
					victim = w.nodes[0]
				}
				w.kill(victim)
				exempt = w.leasedBy(victim.name)
				t.Logf("killed %s (River's leader: %v) with SIGKILL in burst %d; it held the subscription lease of %v", victim.name, wasLeader, b+1, keys(exempt))
			}
		}
		w.burst(perBurst, 6, midway)
		w.waitPushes()
	}
	t.Logf("%d changes in 4 bursts made by %v", 4*perBurst, time.Since(began).Round(time.Millisecond))

	// Wait until the cluster has converged: the queue is empty (the dead
	// instance's jobs rescued and done), every calendar equals its
	// emulator, every subscription has been renewed, each sweep has run
	// at least twice.
	w.poll("the cluster converges", 3*time.Minute, func() (bool, string) {
		sync := w.jobCounts(riverqueue.QueueSync)
		if n := sync["available"] + sync["running"] + sync["retryable"] + sync["scheduled"] + sync["pending"]; n > 0 {
			return false, fmt.Sprintf("sync jobs unfinished: %v: %s", sync, w.unfinishedJobs())
		}
		if all := w.jobCounts(); all["retryable"] > 0 {
			// A rescued sweep of the dead instance waits for its retry.
			return false, fmt.Sprintf("jobs by state: %v: %s", all, w.unfinishedJobs())
		}
		if n := w.runningOn(victim.name); n > 0 {
			return false, fmt.Sprintf("%d jobs still marked running on the dead %s", n, victim.name)
		}
		times := w.subscriptionTimes()
		for _, c := range w.cals {
			if len(times[c.subKey]) < 2 && !exempt[c.cal.ID] {
				return false, fmt.Sprintf("%s not renewed yet (subscription created at %v)", c.cal.ID, times[c.subKey])
			}
		}
		// A renewal the victim cut short may leave the old subscription
		// beside the new one until the old expires (at most a lifetime).
		live := w.liveSubscriptions(time.Time{})
		for cal := range exempt {
			for _, c := range w.cals {
				if c.cal.ID == cal && len(live[c.subKey]) > 1 {
					return false, fmt.Sprintf("%s has %d live subscriptions", cal, len(live[c.subKey]))
				}
			}
		}
		runs := w.sweepRuns()
		for _, s := range calsync.Sweeps() {
			if s != calsync.SweepCatchUp && len(runs[s]) < 2 {
				return false, fmt.Sprintf("sweep %s ran %d times", s, len(runs[s]))
			}
		}
		if n, desc := w.differences(3); n > 0 {
			return false, fmt.Sprintf("%d calendars differ from their emulator, e.g. %v", n, desc)
		}
		return true, ""
	})
	end := time.Now()
	t.Logf("converged %v after the start (%v after connecting)", end.Sub(began).Round(time.Millisecond), end.Sub(connected).Round(time.Millisecond))

	w.checkFeed()
	w.checkSubscriptions(exempt, end)
	w.checkSweeps(end)
	w.checkQueue(end)

	// The survivors shut down as in a deploy: they drain and exit cleanly.
	for _, nd := range w.nodes {
		if nd != victim {
			w.stop(nd, 30*time.Second)
		}
	}
}

// leasedBy returns the calendars whose subscription lease owner holds.
// A lease of a dead instance holds its calendar's renewals back for up
// to calsync.RenewLeaseTTL (five minutes), by design.
func (w *world) leasedBy(owner string) map[string]bool {
	rows, err := w.admin.Query(w.ctx, `SELECT name FROM `+w.table("leases")+` WHERE owner = $1 AND expires > now()`, owner)
	if err != nil {
		w.t.Fatal(err)
	}
	names, err := collectStrings(rows)
	if err != nil {
		w.t.Fatal(err)
	}
	out := map[string]bool{}
	for _, n := range names {
		if cal, ok := strings.CutPrefix(n, "subscriptions/"); ok {
			out[cal] = true
		}
	}
	return out
}

// unfinishedJobs describes the unfinished jobs, for failure reports.
func (w *world) unfinishedJobs() string {
	rows, err := w.admin.Query(w.ctx, `SELECT format('%s %s %s attempt %s by %s at %s: %s', id, kind, state, attempt, attempted_by, attempted_at, args) FROM `+
		w.table("river_job")+` WHERE state NOT IN ('completed', 'discarded', 'cancelled') ORDER BY id LIMIT 20`)
	if err != nil {
		w.t.Fatal(err)
	}
	s, err := collectStrings(rows)
	if err != nil {
		w.t.Fatal(err)
	}
	return strings.Join(s, "; ")
}

// runningOn counts the jobs River still has running on instance name.
func (w *world) runningOn(name string) int {
	var n int
	err := w.admin.QueryRow(w.ctx, `SELECT count(*) FROM `+w.table("river_job")+
		` WHERE state = 'running' AND attempted_by[array_upper(attempted_by, 1)] = $1`, name).Scan(&n)
	if err != nil {
		w.t.Fatal(err)
	}
	return n
}

// sweepRuns returns, per sweep, when each of its completed jobs was
// created (scheduled by the leader), oldest first.
func (w *world) sweepRuns() map[calsync.Sweep][]time.Time {
	rows, err := w.admin.Query(w.ctx, `SELECT args->>'sweep', created_at FROM `+w.table("river_job")+
		` WHERE kind = 'calsync_sweep' AND state = 'completed' ORDER BY created_at`)
	if err != nil {
		w.t.Fatal(err)
	}
	defer rows.Close()
	out := map[calsync.Sweep][]time.Time{}
	for rows.Next() {
		var s string
		var at time.Time
		if err := rows.Scan(&s, &at); err != nil {
			w.t.Fatal(err)
		}
		out[calsync.Sweep(s)] = append(out[calsync.Sweep(s)], at)
	}
	if err := rows.Err(); err != nil {
		w.t.Fatal(err)
	}
	return out
}

// liveSubscriptions returns, per calendar (subKey), the ids of the
// subscriptions live at the emulators at t (zero: now).
func (w *world) liveSubscriptions(t time.Time) map[string][]string {
	if t.IsZero() {
		t = time.Now()
	}
	live := map[string][]string{}
	for _, c := range w.cals {
		if c.google() {
			for _, ch := range w.gemu.Channels(c.cal.RemoteID) {
				live[c.subKey] = append(live[c.subKey], ch.ID)
			}
		}
	}
	for _, s := range w.memu.Subscriptions() {
		if s.ExpirationDateTime.After(t) {
			k := s.User + "/" + s.Calendar
			live[k] = append(live[k], s.ID)
		}
	}
	return live
}

// checkFeed fails if a version of an event reached the store twice: in
// the change feed (one entry per change Apply committed), no
// (calendar, event, ETag) may appear in two upserts, an event's Versions
// must increase, and no event may be deleted twice.
func (w *world) checkFeed() {
	t := w.t
	type key struct{ cal, event, etag string }
	seen := map[key]int64{}
	version := map[[2]string]int64{}
	deleted := map[[2]string]int64{}
	entries, dups := 0, 0
	for after := int64(0); ; {
		es, err := w.host.store.ChangesSince(w.ctx, after, 1000)
		if err != nil {
			t.Fatal(err)
		}
		if len(es) == 0 {
			break
		}
		for _, e := range es {
			entries++
			after = e.Seq
			ev := [2]string{e.CalendarID, e.Change.EventID}
			if e.Change.Op == calsync.Delete {
				if prev, ok := deleted[ev]; ok {
					t.Errorf("%s event %s deleted twice: feed entries %d and %d", ev[0], ev[1], prev, e.Seq)
					dups++
				}
				deleted[ev] = e.Seq
				continue
			}
			k := key{e.CalendarID, e.Change.EventID, e.Change.Event.ETag}
			if prev, ok := seen[k]; ok {
				t.Errorf("%s event %s version %q applied twice: feed entries %d and %d", k.cal, k.event, k.etag, prev, e.Seq)
				dups++
			}
			seen[k] = e.Seq
			if v := e.Change.Event.Version; v <= version[ev] {
				t.Errorf("%s event %s: Version %d after %d (feed entry %d)", ev[0], ev[1], v, version[ev], e.Seq)
			}
			version[ev] = e.Change.Event.Version
		}
	}
	t.Logf("change feed: %d entries, %d event versions, %d deletions, %d applied twice", entries, len(seen), len(deleted), dups)
}

// checkSubscriptions fails unless every calendar has exactly one live
// subscription at its emulator, the one the store holds, and was renewed
// once per period: between two creations or renewals of a calendar's
// subscription lie at least TTL − RenewBefore (earlier would be a second
// renewal in one period) and less than the TTL (later, it lapsed).
// Calendars in exempt (their renewal lease died with the killed
// instance) only must not have two live subscriptions.
func (w *world) checkSubscriptions(exempt map[string]bool, end time.Time) {
	t := w.t
	live := w.liveSubscriptions(end)
	times := w.subscriptionTimes()
	period := w.ttl - w.nc.RenewBefore
	const slack = time.Second // the emulators and the Engine read separate clocks
	renewals, minGap, maxGap := 0, time.Duration(1<<62), time.Duration(0)
	for _, c := range w.cals {
		subs, err := w.host.store.ListSubscriptions(w.ctx, c.cal.ID)
		if err != nil {
			t.Fatal(err)
		}
		ids := live[c.subKey]
		if exempt[c.cal.ID] {
			if len(ids) > 1 {
				t.Errorf("%s: %d live subscriptions %v", c.cal.ID, len(ids), ids)
			}
			continue
		}
		if len(ids) != 1 || len(subs) != 1 || subs[0].ID != ids[0] {
			var stored []string
			for _, s := range subs {
				stored = append(stored, s.ID)
			}
			t.Errorf("%s: live at the emulator %v, stored %v; want one, the same", c.cal.ID, ids, stored)
		}
		ts := times[c.subKey]
		slices.SortFunc(ts, func(a, b time.Time) int { return a.Compare(b) })
		renewals += len(ts) - 1
		for i := 1; i < len(ts); i++ {
			gap := ts[i].Sub(ts[i-1])
			minGap, maxGap = min(minGap, gap), max(maxGap, gap)
			if gap < period-slack {
				t.Errorf("%s: subscription renewed twice in one period: at %v and %v", c.cal.ID, ts[i-1].Format(time.StampMilli), ts[i].Format(time.StampMilli))
			}
			if gap >= w.ttl {
				t.Errorf("%s: subscription lapsed: renewed %v after the previous renewal, lifetime %v", c.cal.ID, gap, w.ttl)
			}
		}
		if last := ts[len(ts)-1]; end.Sub(last) >= w.ttl {
			t.Errorf("%s: subscription lapsed: last renewed at %v, %v before the end", c.cal.ID, last.Format(time.StampMilli), end.Sub(last))
		}
	}
	t.Logf("subscriptions: %d renewals in the cluster, %v to %v apart (period %v, lifetime %v); %d calendars exempt", renewals, minGap.Round(time.Millisecond), maxGap.Round(time.Millisecond), period, w.ttl, len(exempt))
}

// checkSweeps fails unless each periodic sweep ran once per period in
// the whole cluster: its completed jobs lie at least its interval apart
// (less a quarter for River's scheduling), at most span/interval + 1 of
// them, at least two; the catch-up runs at most once (once per
// riverqueue's CatchUpEvery, an hour, whatever the leader changes).
func (w *world) checkSweeps(end time.Time) {
	t := w.t
	runs := w.sweepRuns()
	var summary []string
	for _, s := range calsync.Sweeps() {
		rs := runs[s]
		if s == calsync.SweepCatchUp {
			if len(rs) > 1 {
				t.Errorf("catch-up ran %d times within riverqueue's CatchUpEvery (%v)", len(rs), riverqueue.DefaultCatchUpEvery)
			}
			summary = append(summary, fmt.Sprintf("%s %d", s, len(rs)))
			continue
		}
		every := sweepInterval(w.nc, s)
		if len(rs) < 2 {
			t.Errorf("sweep %s ran %d times; want at least 2", s, len(rs))
			continue
		}
		span := rs[len(rs)-1].Sub(rs[0])
		// Periods counted to the nearest: River's timer fires a few
		// milliseconds early.
		if bound := int(math.Round(float64(span)/float64(every))) + 1; len(rs) > bound {
			t.Errorf("sweep %s ran %d times in %v, more than once per %v", s, len(rs), span, every)
		}
		for i := 1; i < len(rs); i++ {
			if gap := rs[i].Sub(rs[i-1]); gap < every-every/4 {
				t.Errorf("sweep %s ran twice in one period: %v apart, period %v", s, gap, every)
			}
		}
		summary = append(summary, fmt.Sprintf("%s %d in %v", s, len(rs), span.Round(time.Second)))
	}
	t.Logf("sweeps run: %s", strings.Join(summary, ", "))
}

// checkQueue fails unless the queue holds nothing but the current
// period's sweeps: no sync job unfinished, none retryable or discarded,
// no sweep job older than two of its periods still unfinished, and no
// dead letters.
func (w *world) checkQueue(end time.Time) {
	t := w.t
	all := w.jobCounts()
	if all["retryable"] > 0 || all["discarded"] > 0 || all["cancelled"] > 0 {
		t.Errorf("River jobs by state: %v; want none retryable, discarded or cancelled", all)
	}
	sync := w.jobCounts(riverqueue.QueueSync)
	if n := sync["available"] + sync["running"] + sync["scheduled"] + sync["pending"]; n > 0 {
		t.Errorf("sync jobs by state: %v; want all completed", sync)
	}
	rows, err := w.admin.Query(w.ctx, `SELECT args->>'sweep', state::text, created_at FROM `+w.table("river_job")+
		` WHERE kind = 'calsync_sweep' AND state NOT IN ('completed')`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	for rows.Next() {
		var s, state string
		var at time.Time
		if err := rows.Scan(&s, &state, &at); err != nil {
			t.Fatal(err)
		}
		every := sweepInterval(w.nc, calsync.Sweep(s))
		if s == string(calsync.SweepCatchUp) || end.Sub(at) > 2*every+w.nc.RescueAfter {
			t.Errorf("sweep %s job %s since %v (%v before the end)", s, state, at.Format(time.StampMilli), end.Sub(at))
		}
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	dl, err := w.host.store.ListDeadLetters(w.ctx, "", 10)
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range dl {
		t.Errorf("dead letter %s: %s after %d attempts", d.ID, d.LastError, d.Attempts)
	}
	t.Logf("River jobs by state: %v", all)
}

func collectStrings(rows interface {
	Next() bool
	Scan(...any) error
	Err() error
	Close()
}) ([]string, error) {
	defer rows.Close()
	var out []string
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			return nil, err
		}
		out = append(out, s)
	}
	return out, rows.Err()
}

func keys(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}
