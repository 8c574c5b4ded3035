package calsync_test

import (
	"context"
	"errors"
	"path/filepath"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/calsync/calsync"
	"github.com/calsync/calsync/provider"
	"github.com/calsync/calsync/store/memory"
	"github.com/calsync/calsync/store/sqlite"
)

// conflictCounter counts the Applies a Store refused with ErrConflict.
type conflictCounter struct {
	calsync.Store
	n *atomic.Int32
}

func (c conflictCounter) Apply(ctx context.Context, calendarID string, b *calsync.Batch) (*calsync.ApplyResult, error) {
	res, err := c.Store.Apply(ctx, calendarID, b)
	if errors.Is(err, calsync.ErrConflict) {
		c.n.Add(1)
	}
	return res, err
}

// lockstep makes the two engines' fetches meet in pairs (each waits for the
// other's next fetch), until either sync has returned: the pages of two
// syncs of one calendar interleave, as two instances of the host app
// sharing a database would make them.
type lockstep struct {
	ctx  context.Context
	meet chan struct{}
	done chan struct{}
	once sync.Once
}

func newLockstep(ctx context.Context) *lockstep {
	return &lockstep{ctx: ctx, meet: make(chan struct{}), done: make(chan struct{})}
}

func (l *lockstep) beforeFetch(int, provider.Position) error {
	select {
	case l.meet <- struct{}{}:
	case <-l.meet:
	case <-l.done:
	case <-l.ctx.Done():
		return l.ctx.Err()
	}
	return nil
}

func (l *lockstep) finish() { l.once.Do(func() { close(l.done) }) }

// syncBoth runs a Sync of the calendar on each engine at once, in lockstep,
// and returns their errors.
func syncBoth(t *testing.T, p *fakeProvider, engines ...*calsync.Engine) []error {
	t.Helper()
	l := newLockstep(t.Context())
	p.beforeFetch = l.beforeFetch
	defer func() { p.beforeFetch = nil }()
	errs := make([]error, len(engines))
	var wg sync.WaitGroup
	for i, e := range engines {
		wg.Go(func() {
			defer l.finish()
			_, errs[i] = e.Sync(t.Context(), fakeCal.ID)
		})
	}
	wg.Wait()
	ok := 0
	for i, err := range errs {
		switch {
		case err == nil:
			ok++
		case !errors.Is(err, calsync.ErrConflict):
			t.Fatalf("engine %d: Sync: %v, want nil or an error wrapping ErrConflict", i, err)
		}
	}
	if ok == 0 {
		t.Fatalf("no engine finished its sync: %v", errs)
	}
	return errs
}

// checkNoLiveDeletes fails if a Delete of an event the provider has reached
// a host callback.
func checkNoLiveDeletes(t *testing.T, p *fakeProvider, recs ...*recorder) (deleted []string) {
	t.Helper()
	live := p.ids()
	for _, r := range recs {
		r.mu.Lock()
		for _, c := range r.changes {
			if c.Op != calsync.Delete {
				continue
			}
			if slices.Contains(live, c.EventID) {
				t.Errorf("Delete of live event %s reported to the host", c.EventID)
			}
			deleted = append(deleted, c.EventID)
		}
		r.mu.Unlock()
	}
	slices.Sort(deleted)
	return deleted
}

// twoInstancesFullSync: two engines (two instances of the host app) on one
// database both get a 410 and run a full resync of the same calendar, their
// pages interleaved. Exactly one full sync wins each page; the other
// continues it rather than sweeping what it stamped.
func twoInstancesFullSync(t *testing.T, st1, st2 calsync.Store) {
	ctx := t.Context()
	p := newFakeProvider(3)
	p.put(ids("a", 14)...)
	var conflicts atomic.Int32
	e1, rec1 := newTestEngine(t, p, conflictCounter{st1, &conflicts}, calsync.Config{})
	e2, rec2 := newTestEngine(t, p, conflictCounter{st2, &conflicts}, calsync.Config{})
	if _, err := e1.Connect(ctx, fakeCal, calsync.ConnectRequest{Address: "https://example.com/hook"}); err != nil {
		t.Fatal(err)
	}
	rec1.mu.Lock()
	rec1.changes = nil
	rec1.mu.Unlock()

	p.delSilently("a003", "a010")
	p.put("a100", "b000")
	p.expire()
	syncBoth(t, p, e1, e2)

	if got, want := storedIDs(t, st1, fakeCal.ID), p.ids(); !slices.Equal(got, want) {
		t.Errorf("stored %v, provider %v", got, want)
	}
	if got := checkNoLiveDeletes(t, p, rec1, rec2); !slices.Equal(got, []string{"a003", "a010"}) {
		t.Errorf("deletions reported = %v, want a003 and a010 once each", got)
	}
	if up := rec1.count(calsync.Upsert) + rec2.count(calsync.Upsert); up != 2 {
		t.Errorf("upserts reported = %d, want a100 and b000 once each", up)
	}
	if conflicts.Load() == 0 {
		t.Error("no Apply met a conflict: the syncs did not overlap")
	}
	state, err := st2.SyncState(ctx, fakeCal.ID)
	if err != nil || state.FullSync() || state.PageToken != "" {
		t.Errorf("state = %+v, %v; want a completed sync", state, err)
	}
	// Both instances carry on incrementally.
	p.put("c000")
	p.del("a000")
	syncBoth(t, p, e1, e2)
	if got, want := storedIDs(t, st2, fakeCal.ID), p.ids(); !slices.Equal(got, want) {
		t.Errorf("after an incremental sync stored %v, provider %v", got, want)
	}
	checkNoLiveDeletes(t, p, rec1, rec2)
}

func TestTwoInstancesFullSyncMemory(t *testing.T) {
	st := memory.New()
	twoInstancesFullSync(t, st, st)
}

func TestTwoInstancesFullSyncSQLite(t *testing.T) {
	path := filepath.Join(t.TempDir(), "calsync.db")
	open := func() calsync.Store {
		s, err := sqlite.Open(t.Context(), path, nil)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		return s
	}
	twoInstancesFullSync(t, open(), open())
}

// Two instances interleaving the pages of one incremental chain: each
// change is committed (and reported) once, and the cursor ends where the
// provider's log does.
func TestTwoInstancesIncrementalChain(t *testing.T) {
	ctx := t.Context()
	p := newFakeProvider(2)
	p.put(ids("a", 4)...)
	st := memory.New()
	var conflicts atomic.Int32
	e1, rec1 := newTestEngine(t, p, conflictCounter{st, &conflicts}, calsync.Config{})
	e2, rec2 := newTestEngine(t, p, conflictCounter{st, &conflicts}, calsync.Config{})
	if _, err := e1.Connect(ctx, fakeCal, calsync.ConnectRequest{Address: "https://example.com/hook"}); err != nil {
		t.Fatal(err)
	}
	rec1.mu.Lock()
	rec1.changes = nil
	rec1.mu.Unlock()
	p.put(ids("b", 9)...)
	p.del("a001")
	syncBoth(t, p, e1, e2)
	if got, want := storedIDs(t, st, fakeCal.ID), p.ids(); !slices.Equal(got, want) {
		t.Errorf("stored %v, provider %v", got, want)
	}
	if up, del := rec1.count(calsync.Upsert)+rec2.count(calsync.Upsert), rec1.count(calsync.Delete)+rec2.count(calsync.Delete); up != 9 || del != 1 {
		t.Errorf("reported %d upserts and %d deletes, want each change once (9, 1)", up, del)
	}
	if conflicts.Load() == 0 {
		t.Error("no Apply met a conflict: the syncs did not overlap")
	}
	state, _ := st.SyncState(ctx, fakeCal.ID)
	if state.Cursor != "v14" || state.PageToken != "" {
		t.Errorf("state = %+v, want cursor v14", state)
	}
}

// A sync that keeps meeting conflicts gives up with an error wrapping
// ErrConflict (the notification is retried later) instead of looping.
func TestConflictsBounded(t *testing.T) {
	ctx := t.Context()
	p := newFakeProvider(2)
	p.put(ids("a", 4)...)
	st := memory.New()
	e, _ := newTestEngine(t, p, st, calsync.Config{})
	if _, err := e.Connect(ctx, fakeCal, calsync.ConnectRequest{Address: "https://example.com/hook"}); err != nil {
		t.Fatal(err)
	}
	p.put("b")
	// Before every fetch "another instance" moves the state on (cursors
	// v5, v4, v5, …: all valid, each different from the one before).
	moves := 0
	p.beforeFetch = func(int, provider.Position) error {
		moves++
		_, err := st.Apply(ctx, fakeCal.ID, &calsync.Batch{State: calsync.SyncState{Cursor: "v" + strconv.Itoa(4+moves%2)}})
		return err
	}
	_, err := e.Sync(ctx, fakeCal.ID)
	if !errors.Is(err, calsync.ErrConflict) {
		t.Fatalf("Sync err = %v, want one wrapping ErrConflict", err)
	}
	if moves != 4 {
		t.Errorf("fetches = %d, want 4 (the first try and 3 continuations)", moves)
	}
}
