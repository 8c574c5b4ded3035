// Package crashtest checks that a durable Store survives its process being
// killed (SIGKILL) in the middle of a sync: after the crash, the events of
// exactly the pages whose cursor was stored are there, no more, no less,
// and (for a Store with DeadLetters) no committed page left behind the
// retry record its Apply deletes (Batch.Complete).
//
// The test binary runs itself as the child: the parent calls [Run] from a
// test, and the child test (selected with -test.run and [EnvChild]) calls
// [Child].
package crashtest

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/calsync/calsync"
)

// EnvChild is set in the child's environment; a child test skips without
// it.
const EnvChild = "CALSYNC_CRASH_CHILD"

// Sizes of a page.
const (
	PageEvents = 50
	maxPages   = 1_000_000 // the child stops by itself only if never killed
)

// Calendar is the calendar the child syncs into.
const Calendar = "crash-cal"

// AttemptID is the retry record the child writes before each page and the
// page's Apply deletes (Batch.Complete), for a Store that keeps them.
const AttemptID = "google|crash-cal|sync"

var base = time.Date(2031, 1, 1, 0, 0, 0, 0, time.UTC)

// Child applies pages to s forever, each page N in one Apply: PageEvents
// new events tagged N, an update of the "counter" event to N, the deletion
// of page N-1's first event, and SyncState.PageToken = N. It resumes after
// the page the stored SyncState names, and prints "committed N" after each
// Apply returns.
func Child(t *testing.T, s calsync.Store) {
	ctx := context.Background()
	st, err := s.SyncState(ctx, Calendar)
	if err != nil {
		t.Fatal(err)
	}
	n, _ := strconv.Atoi(st.PageToken)
	for n++; n < maxPages; n++ {
		b := &calsync.Batch{State: calsync.SyncState{PageToken: strconv.Itoa(n)}}
		for i := range PageEvents {
			b.Changes = append(b.Changes, upsert(fmt.Sprintf("p%07d-%02d", n, i), "page "+strconv.Itoa(n), n))
		}
		b.Changes = append(b.Changes, upsert("counter", strconv.Itoa(n), n))
		if n > 1 {
			b.Changes = append(b.Changes, calsync.Change{Op: calsync.Delete, EventID: fmt.Sprintf("p%07d-00", n-1)})
		}
		if dl, ok := s.(calsync.DeadLetters); ok {
			// As the Engine does for a notification after a failed one:
			// the calendar's retry record exists, and the page's Apply
			// deletes it in its transaction (Batch.Complete).
			if _, err := dl.RecordAttempt(ctx, AttemptID, calsync.Notification{Kind: calsync.Resync, Provider: "google", CalendarID: Calendar},
				"page "+strconv.Itoa(n), base, base); err != nil {
				t.Fatalf("RecordAttempt before page %d: %v", n, err)
			}
			b.Complete = &calsync.Completion{ClearAttempt: AttemptID, At: base}
		}
		if _, err := s.Apply(ctx, Calendar, b); err != nil {
			t.Fatalf("Apply page %d: %v", n, err)
		}
		fmt.Printf("committed %d\n", n)
	}
}

func upsert(id, summary string, n int) calsync.Change {
	return calsync.Change{Op: calsync.Upsert, EventID: id, Event: &calsync.Event{
		ID: id, Status: "confirmed", Summary: summary, ETag: strconv.Itoa(n),
		Updated: base.Add(time.Duration(n) * time.Second),
		Raw:     []byte(fmt.Sprintf(`{"id":%q,"page":%d}`, id, n)),
	}}
}

// Run kills a child running childTest (a test of this binary that calls
// [Child]) rounds times, each time after it has committed a few more pages
// and while it is applying the next one, and after each kill checks the
// store that open returns (and closes with close). env is added to the
// child's environment. The calendar must exist before Run.
func Run(t *testing.T, childTest string, env []string, rounds int, open func() (calsync.Store, func())) {
	t.Helper()
	last := 0
	for round := range rounds {
		cmd := exec.Command(os.Args[0], "-test.run=^"+childTest+"$", "-test.count=1")
		cmd.Env = append(append(os.Environ(), EnvChild+"=1"), env...)
		cmd.Stderr = os.Stderr
		out, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		// Kill once the child has committed a few pages past the last
		// round (more each round, so the kill lands at different points
		// of an Apply).
		target := last + 3 + round*2
		sc := bufio.NewScanner(out)
		reported := 0
		for sc.Scan() {
			if v, ok := strings.CutPrefix(sc.Text(), "committed "); ok {
				reported, _ = strconv.Atoi(v)
				if reported >= target {
					break
				}
			}
		}
		// Let the child run on for a random fraction of a page or a few
		// pages, so that the kill lands at a different point of an Apply
		// each round (before, inside or after its commit).
		time.Sleep(time.Duration(rand.IntN(3000)) * time.Microsecond)
		if err := cmd.Process.Kill(); err != nil { // SIGKILL
			t.Fatal(err)
		}
		_ = cmd.Wait()
		if reported < target {
			t.Fatalf("round %d: child stopped after page %d before being killed (see its output above)", round, reported)
		}
		s, closeStore := open()
		n := check(t, s, reported)
		closeStore()
		if t.Failed() {
			return
		}
		t.Logf("round %d: killed after the child reported page %d; the store's cursor names page %d and it holds exactly pages 1..%d", round, reported, n, n)
		last = n
	}
}

// check verifies the store after a kill and returns the page its cursor
// names.
func check(t *testing.T, s calsync.Store, reported int) int {
	t.Helper()
	ctx := context.Background()
	st, err := s.SyncState(ctx, Calendar)
	if err != nil {
		t.Fatal(err)
	}
	n, err := strconv.Atoi(st.PageToken)
	if err != nil {
		t.Fatalf("SyncState.PageToken %q after the crash", st.PageToken)
	}
	// A page reported committed must be there (the child may have
	// committed more before the kill landed).
	if n < reported {
		t.Fatalf("after the crash the cursor names page %d, but the child had committed page %d", n, reported)
	}
	pages := map[int]int{}
	var counter *calsync.Event
	after := ""
	for {
		evs, err := s.ListEvents(ctx, Calendar, after, 1000)
		if err != nil {
			t.Fatal(err)
		}
		if len(evs) == 0 {
			break
		}
		for i := range evs {
			e := evs[i]
			if e.ID == "counter" {
				counter = &e
				continue
			}
			var p, k int
			if _, err := fmt.Sscanf(e.ID, "p%07d-%02d", &p, &k); err != nil {
				t.Fatalf("unexpected event %q", e.ID)
			}
			if e.Summary != "page "+strconv.Itoa(p) {
				t.Errorf("event %s has summary %q", e.ID, e.Summary)
			}
			pages[p]++
		}
		after = evs[len(evs)-1].ID
	}
	for p := 1; p <= n; p++ {
		want := PageEvents
		if p < n {
			want-- // page p+1 deleted its first event
		}
		if pages[p] != want {
			t.Errorf("cursor names page %d, but page %d has %d events, want %d", n, p, pages[p], want)
		}
	}
	for p, c := range pages {
		if p < 1 || p > n {
			t.Errorf("%d events of page %d are stored, but the cursor names page %d", c, p, n)
		}
	}
	if counter == nil || counter.Summary != strconv.Itoa(n) || counter.Version != int64(n) {
		t.Errorf("counter event = %+v, want summary %d and version %d", counter, n, n)
	}
	if f, ok := s.(calsync.ChangeFeed); ok {
		checkFeed(t, f, n)
	}
	if dl, ok := s.(calsync.DeadLetters); ok {
		// A record left behind must be the one written for the page the
		// kill interrupted: every committed page deleted its own.
		a, err := dl.Attempt(ctx, AttemptID)
		if err == nil && a.LastError != "page "+strconv.Itoa(n+1) {
			t.Errorf("after the crash the retry record says %q, but the cursor names page %d: a committed page kept it", a.LastError, n)
		} else if err != nil && !errors.Is(err, calsync.ErrNotFound) {
			t.Fatal(err)
		}
	}
	return n
}

// checkFeed verifies that the change feed holds the entries of exactly
// the pages 1..n, in order: the feed is written in Apply's transaction.
func checkFeed(t *testing.T, f calsync.ChangeFeed, n int) {
	t.Helper()
	var counters []int64 // the counter's versions, one per page
	entries := 0
	var after int64
	for {
		es, err := f.ChangesSince(context.Background(), after, 1000)
		if err != nil {
			t.Fatal(err)
		}
		if len(es) == 0 {
			break
		}
		for _, e := range es {
			if e.CalendarID != Calendar {
				continue
			}
			entries++
			if e.Change.EventID == "counter" && e.Change.Event != nil {
				counters = append(counters, e.Change.Event.Version)
			}
		}
		after = es[len(es)-1].Seq
	}
	want := n*(PageEvents+1) + max(n-1, 0) // page p > 1 also deletes one of page p-1
	ok := entries == want && len(counters) == n
	for i, v := range counters {
		ok = ok && v == int64(i+1)
	}
	if !ok {
		t.Errorf("the cursor names page %d, but the feed holds %d entries (want %d) and counter versions %v (want 1..%d)", n, entries, want, counters, n)
	}
}
