package storetest

import (
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/calsync/calsync"
)

func testLedger(h *harness) {
	l := as[calsync.Ledger](h)
	k := h.ns + "google/chan-1/42"
	begin := func(key string, wantSeen bool, what string) {
		h.Helper()
		seen, err := l.BeginNotification(h.ctx, key, h.at(1))
		if err != nil {
			h.Fatalf("%s: BeginNotification: %v", what, err)
		}
		if seen != wantSeen {
			h.Errorf("%s: BeginNotification seen = %v, want %v", what, seen, wantSeen)
		}
	}
	begin(k, false, "first delivery")
	begin(k, true, "redelivery while in progress")
	if err := l.CompleteNotification(h.ctx, k, h.at(2)); err != nil {
		h.Fatalf("CompleteNotification: %v", err)
	}
	begin(k, true, "redelivery after completion")

	f := h.ns + "google/chan-1/43"
	begin(f, false, "first delivery")
	if err := l.FailNotification(h.ctx, f, h.at(2)); err != nil {
		h.Fatalf("FailNotification: %v", err)
	}
	begin(f, false, "retry after a failure")
	begin(f, true, "redelivery while the retry is in progress")
	if err := l.CompleteNotification(h.ctx, f, h.at(3)); err != nil {
		h.Fatalf("CompleteNotification: %v", err)
	}
	begin(f, true, "redelivery after the retry completed")

	// Keys are exact: a different message is not a duplicate.
	begin(h.ns+"google/chan-1/4", false, "a key that is a prefix of another")
	begin(h.ns+"GOOGLE/chan-1/42", false, "a key differing in case")

	unknown := h.ns + "never-begun"
	h.notFound(l.CompleteNotification(h.ctx, unknown, h.at(1)), "CompleteNotification of an unknown key")
	h.notFound(l.FailNotification(h.ctx, unknown, h.at(1)), "FailNotification of an unknown key")
}

func testLedgerConcurrentBegin(h *harness) {
	l := as[calsync.Ledger](h)
	const goroutines = 8
	for round := range 5 {
		key := fmt.Sprintf("%sdup-%d", h.ns, round)
		var claimed, seen int
		var mu sync.Mutex
		var wg sync.WaitGroup
		for range goroutines {
			wg.Go(func() {
				s, err := l.BeginNotification(h.ctx, key, h.at(1))
				if err != nil {
					h.Errorf("BeginNotification: %v", err)
					return
				}
				mu.Lock()
				defer mu.Unlock()
				if s {
					seen++
				} else {
					claimed++
				}
			})
		}
		wg.Wait()
		if claimed != 1 || seen != goroutines-1 {
			h.Errorf("round %d: %d concurrent BeginNotification calls: %d claimed, %d seen; want 1 and %d", round, goroutines, claimed, seen, goroutines-1)
		}
	}
}

func testLedgerPrune(h *harness) {
	l := as[calsync.Ledger](h)
	// An era no other subtest uses, so that a shared store prunes only
	// this subtest's entries.
	era := time.Date(2001, 2, 3, 4, 5, 6, 7000, time.UTC)
	at := func(hours int) time.Time { return era.Add(time.Duration(hours) * time.Hour) }
	keys := []string{h.ns + "h0", h.ns + "h1", h.ns + "h2", h.ns + "h3"}
	for i, k := range keys {
		if _, err := l.BeginNotification(h.ctx, k, at(i)); err != nil {
			h.Fatalf("BeginNotification: %v", err)
		}
	}
	if err := l.CompleteNotification(h.ctx, keys[0], at(10)); err != nil {
		h.Fatal(err)
	}
	if err := l.FailNotification(h.ctx, keys[1], at(10)); err != nil {
		h.Fatal(err)
	}
	// Pruning goes by when an entry was begun, whatever its state.
	n, err := l.PruneNotifications(h.ctx, at(2))
	if err != nil {
		h.Fatalf("PruneNotifications: %v", err)
	}
	if n != 2 {
		h.Errorf("PruneNotifications(hour 2) = %d, want 2 (the entries begun at hours 0 and 1)", n)
	}
	for i, k := range keys {
		seen, err := l.BeginNotification(h.ctx, k, at(20))
		if err != nil {
			h.Fatal(err)
		}
		if wantSeen := i >= 2; seen != wantSeen {
			h.Errorf("BeginNotification(%s) after pruning: seen = %v, want %v", k, seen, wantSeen)
		}
	}
	if n, err := l.PruneNotifications(h.ctx, at(0)); err != nil || n != 0 {
		h.Errorf("PruneNotifications with nothing older = %d, %v; want 0", n, err)
	}
}

// testApplyCompletes checks Batch.Complete, for a Store that honours it
// (reports ApplyResult.Completed): the ledger entries marked done and the
// retry record deleted in Apply's transaction, nothing of it when the
// Apply fails, and no failure for keys or records that do not exist.
func testApplyCompletes(h *harness) {
	l := as[calsync.Ledger](h)
	d := as[calsync.DeadLetters](h)
	cal := h.newCalendar("completes")
	n := calsync.Notification{Kind: calsync.Changed, Provider: "google", SubscriptionID: h.ns + "sub", CalendarID: cal, MessageID: "7", Received: h.at(1)}
	key, never, attempt := h.ns+"google|7", h.ns+"google|never-begun", h.ns+"google|"+cal+"|sync"
	if seen, err := l.BeginNotification(h.ctx, key, h.at(1)); err != nil || seen {
		h.Fatalf("BeginNotification = %v, %v; want false, nil", seen, err)
	}
	if _, err := d.RecordAttempt(h.ctx, attempt, n, "503", h.at(1), h.at(5)); err != nil {
		h.Fatalf("RecordAttempt: %v", err)
	}
	done := &calsync.Completion{Notifications: []string{key, never}, ClearAttempt: attempt, At: h.at(2)}

	// A failed Apply (ErrConflict) commits none of it.
	_, err := h.s.Apply(h.ctx, cal, &calsync.Batch{State: calsync.SyncState{Cursor: "c1"},
		Expect: &calsync.SyncState{Cursor: "not-the-stored-one"}, Complete: done})
	if !errors.Is(err, calsync.ErrConflict) {
		h.Fatalf("Apply expecting another state: err = %v, want ErrConflict", err)
	}
	if _, err := d.Attempt(h.ctx, attempt); err != nil {
		h.Errorf("after a failed Apply with Complete: Attempt: %v, want the record kept", err)
	}
	res := h.apply(cal, &calsync.Batch{Changes: []calsync.Change{upsert(h.ev(cal, "a", h.at(1), "1"))},
		State: calsync.SyncState{Cursor: "c1"}, Expect: &calsync.SyncState{}, Complete: done})
	if !res.Completed {
		// Allowed (the Engine then does the bookkeeping itself), but
		// nothing more to check.
		h.Skipf("storetest: %T does not honour Batch.Complete (ApplyResult.Completed is false)", h.s)
	}
	h.checkApplied("Apply with Complete", res, "upsert:a")
	if seen, err := l.BeginNotification(h.ctx, key, h.at(3)); err != nil || !seen {
		h.Errorf("redelivery after an Apply that completed it: BeginNotification = %v, %v; want seen", seen, err)
	}
	h.notFound(l.CompleteNotification(h.ctx, never, h.at(3)), "a key never begun, named in Complete, must not be created")
	if _, err := d.Attempt(h.ctx, attempt); !errors.Is(err, calsync.ErrNotFound) {
		h.Errorf("after an Apply with Complete: Attempt err = %v, want ErrNotFound", err)
	}

	// Nothing to mark or clear is not an error; nil Complete reports
	// nothing completed.
	res = h.apply(cal, &calsync.Batch{State: calsync.SyncState{Cursor: "c2"},
		Complete: &calsync.Completion{Notifications: []string{never}, ClearAttempt: attempt, At: h.at(4)}})
	if !res.Completed {
		h.Errorf("Apply with a Complete of nothing: Completed = false, want true")
	}
	if res := h.apply(cal, &calsync.Batch{State: calsync.SyncState{Cursor: "c3"}}); res.Completed {
		h.Errorf("Apply without Complete: Completed = true, want false")
	}
}
