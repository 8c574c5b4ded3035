package crashtest

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/calsync/calsync"
	"github.com/calsync/calsync/provider"
)

// The feed crash test: a child runs an Engine on the Store with a provider
// whose full sync never ends, and records every change OnChange receives
// in a file; the parent kills it (SIGKILL) after a page has committed and
// before OnChange has received it (or at a random point), starts it
// again, and in the end checks that the host received every committed
// change at least once.
const (
	// FeedCalendar is the calendar the feed child syncs.
	FeedCalendar = "crash-feed-cal"
	// FeedEvents is how many new events each page of the feed child adds.
	FeedEvents = 20

	envRecord  = "CALSYNC_CRASH_FEED_RECORD"   // the file OnChange appends to
	envBlockAt = "CALSYNC_CRASH_FEED_BLOCK_AT" // OnChange blocks at this page
	envDrain   = "CALSYNC_CRASH_FEED_DRAIN"    // only deliver the backlog, then exit
)

// feedProvider serves a full sync that never ends: page k (after page
// token k-1) adds FeedEvents events, moves the "counter" event to k and
// deletes the first event of page k-1. Fetching after page k prints
// "committed k": the Engine fetches the next page only once a page has
// committed.
type feedProvider struct{}

// Name implements provider.Provider.
func (feedProvider) Name() string { return "crash" }

// Watch implements provider.Provider: the child never subscribes.
func (feedProvider) Watch(context.Context, provider.Calendar, provider.WatchRequest) (*provider.Subscription, error) {
	return nil, errors.New("crashtest: no subscriptions")
}

// Stop implements provider.Provider.
func (feedProvider) Stop(context.Context, provider.Calendar, *provider.Subscription) error {
	return nil
}

// Fetch implements provider.Provider: page k after page token k-1.
func (feedProvider) Fetch(_ context.Context, cal provider.Calendar, pos provider.Position) (*provider.Page, error) {
	prev, _ := strconv.Atoi(pos.PageToken)
	if prev > 0 {
		fmt.Printf("committed %d\n", prev)
	}
	n := prev + 1
	if n >= maxPages {
		return &provider.Page{NextCursor: "end"}, nil
	}
	var chs []provider.Change
	for i := range FeedEvents {
		chs = append(chs, upsert(fmt.Sprintf("p%07d-%02d", n, i), "page "+strconv.Itoa(n), n))
	}
	chs = append(chs, upsert("counter", strconv.Itoa(n), n))
	if n > 1 {
		chs = append(chs, provider.Change{Op: provider.Delete, EventID: fmt.Sprintf("p%07d-%02d", n-1, 0)})
	}
	return &provider.Page{Changes: chs, NextPageToken: strconv.Itoa(n)}, nil
}

// FeedChild runs the feed crash test's child on s: an Engine (Run, and a
// sync of FeedCalendar that never ends) whose OnChange appends each change
// it receives to the parent's file as "op id version", one write per call.
// With the block variable set, OnChange prints "blocked k" and blocks when
// it receives page k's counter, before recording anything of the call.
// With the drain variable set, it only delivers what the feed holds after
// the consumer's position, prints "drained" and returns.
func FeedChild(t *testing.T, s calsync.Store) {
	ctx := context.Background()
	f, err := os.OpenFile(os.Getenv(envRecord), os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	blockAt, _ := strconv.Atoi(os.Getenv(envBlockAt))
	var mu sync.Mutex
	onChange := func(_ context.Context, cal calsync.Calendar, cs []calsync.Change) {
		var b bytes.Buffer
		for _, c := range cs {
			if c.EventID == "counter" && c.Event != nil && blockAt > 0 && c.Event.Version == int64(blockAt) {
				fmt.Printf("blocked %d\n", blockAt)
				select {} // until killed
			}
			v := int64(0)
			if c.Event != nil {
				v = c.Event.Version
			}
			fmt.Fprintf(&b, "%s %s %d\n", c.Op, c.EventID, v)
		}
		mu.Lock()
		defer mu.Unlock()
		if _, err := f.Write(b.Bytes()); err != nil {
			panic(err) // the parent sees the child die without "drained"
		}
	}
	e, err := calsync.NewEngine(calsync.Config{
		Store: s, Providers: []calsync.Provider{feedProvider{}}, OnChange: onChange,
		ManualSweeps: true, SkipCatchUp: true,
		// The same instance each time, as a host that names instances by
		// host name: a restarted child takes its predecessor's lease on
		// the consumer at once instead of waiting for it to expire.
		InstanceID: "crash-child",
	})
	if err != nil {
		t.Fatal(err)
	}
	runCtx, stop := context.WithCancel(ctx)
	defer stop()
	go e.Run(runCtx)
	if os.Getenv(envDrain) != "" {
		// Once a worker has handled a notification, Run's consumer is up
		// and WaitIdle waits for the backlog it found.
		if err := e.Enqueue(ctx, calsync.Notification{Kind: calsync.Changed, Provider: "crash", CalendarID: "no-such-calendar"}); err != nil {
			t.Fatal(err)
		}
		if err := e.WaitIdle(ctx); err != nil {
			t.Fatal(err)
		}
		fmt.Println("drained")
		return
	}
	if _, err := e.Sync(ctx, FeedCalendar); err != nil {
		t.Fatalf("Sync: %v", err)
	}
}

// RunFeed kills a child running childTest (a test of this binary that
// calls [FeedChild]) rounds times: in even rounds while OnChange is
// blocked on a page that has committed, in odd rounds at a random point
// after a few more pages. Then it runs the child once more to deliver the
// backlog, and checks that OnChange received every change of every page
// the store's sync state names at least once, and nothing else. env is
// added to the child's environment; FeedCalendar must exist before
// RunFeed.
func RunFeed(t *testing.T, childTest string, env []string, rounds int, open func() (calsync.Store, func())) {
	t.Helper()
	record := t.TempDir() + "/onchange.log"
	child := func(extra ...string) *exec.Cmd {
		cmd := exec.Command(os.Args[0], "-test.run=^"+childTest+"$", "-test.count=1")
		cmd.Env = append(append(append(os.Environ(), EnvChild+"=1", envRecord+"="+record), env...), extra...)
		cmd.Stderr = os.Stderr
		return cmd
	}
	last := 0
	for round := range rounds {
		block := round%2 == 0
		var extra []string
		target := last + 3 + round
		if block {
			extra = append(extra, fmt.Sprintf("%s=%d", envBlockAt, target))
		}
		cmd := child(extra...)
		out, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		sc := bufio.NewScanner(out)
		reached := false
		for sc.Scan() {
			line := sc.Text()
			if v, ok := strings.CutPrefix(line, "committed "); ok {
				n, _ := strconv.Atoi(v)
				last = max(last, n)
				if !block && n >= target {
					reached = true
					break
				}
			}
			if block && line == fmt.Sprintf("blocked %d", target) {
				reached = true
				break
			}
		}
		if !block {
			// A random fraction of a page or a few pages more, so that
			// the kill lands at different points: inside an Apply, between
			// a commit and OnChange, between OnChange and the
			// acknowledgement.
			time.Sleep(time.Duration(rand.IntN(3000)) * time.Microsecond)
		}
		if err := cmd.Process.Kill(); err != nil { // SIGKILL
			t.Fatal(err)
		}
		_ = cmd.Wait()
		if !reached {
			t.Fatalf("round %d: child stopped before page %d (see its output above)", round, target)
		}
		t.Logf("round %d: killed %s page %d", round, map[bool]string{true: "while OnChange was blocked on", false: "at a random point after"}[block], target)
	}

	// Deliver the backlog, then compare.
	cmd := child(envDrain + "=1")
	out, err := cmd.Output()
	if err != nil || !strings.Contains(string(out), "drained") {
		t.Fatalf("draining child: %v\n%s", err, out)
	}
	s, closeStore := open()
	defer closeStore()
	st, err := s.SyncState(context.Background(), FeedCalendar)
	if err != nil {
		t.Fatal(err)
	}
	n, err := strconv.Atoi(st.PageToken)
	if err != nil || n < last {
		t.Fatalf("sync state %+v after the last round, want a page token of at least %d", st, last)
	}
	checkReceived(t, record, n)
}

// checkReceived compares what OnChange recorded with the changes of pages
// 1..n.
func checkReceived(t *testing.T, record string, n int) {
	t.Helper()
	want := make(map[string]bool)
	for p := 1; p <= n; p++ {
		for i := range FeedEvents {
			want[fmt.Sprintf("upsert p%07d-%02d 1", p, i)] = true
		}
		want[fmt.Sprintf("upsert counter %d", p)] = true
		if p > 1 {
			want[fmt.Sprintf("delete p%07d-%02d 0", p-1, 0)] = true
		}
	}
	b, err := os.ReadFile(record)
	if err != nil {
		t.Fatal(err)
	}
	got := make(map[string]int)
	for _, line := range strings.Split(strings.TrimSuffix(string(b), "\n"), "\n") {
		if line != "" {
			got[line]++
		}
	}
	var missing, unknown []string
	redelivered := 0
	for k := range want {
		if got[k] == 0 {
			missing = append(missing, k)
		}
		redelivered += max(got[k]-1, 0)
	}
	for k := range got {
		if !want[k] {
			unknown = append(unknown, k)
		}
	}
	if len(missing) > 0 {
		t.Errorf("%d of the %d committed changes (pages 1..%d) never reached OnChange, e.g. %q", len(missing), len(want), n, missing[:min(5, len(missing))])
	}
	if len(unknown) > 0 {
		t.Errorf("OnChange received %d changes that were never committed, e.g. %q", len(unknown), unknown[:min(5, len(unknown))])
	}
	t.Logf("pages 1..%d committed: %d changes, each received at least once; %d deliveries were redeliveries", n, len(want), redelivered)
}
