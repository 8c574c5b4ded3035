package storetest

import (
	"bytes"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/calsync/calsync"
	"github.com/calsync/calsync/vault"
)

// testFullSyncResume: a full sync interrupted after some pages (a crash)
// resumes from the SyncState it stored, with the same generation, and its
// final sweep deletes exactly the events no page of the whole sync saw,
// including the pages before the interruption.
func testFullSyncResume(h *harness) {
	cal := h.newCalendar("cal")
	var old []*calsync.Event
	for i := range 6 {
		old = append(old, h.ev(cal, fmt.Sprintf("e%d", i), h.at(1), "1"))
	}
	h.apply(cal, &calsync.Batch{Changes: []calsync.Change{upsert(old[0]), upsert(old[1]), upsert(old[2]), upsert(old[3]), upsert(old[4]), upsert(old[5])},
		State: calsync.SyncState{Cursor: "c1", LastSync: h.at(1)}})

	// The full sync (generation 7) sees e0, e1 on page 1 and e3, new on
	// page 2, then the process dies.
	const gen = 7
	h.apply(cal, &calsync.Batch{Generation: gen, Changes: []calsync.Change{upsert(old[0]), upsert(h.ev(cal, "e1", h.at(2), "2"))},
		State: calsync.SyncState{PageToken: "p2", Generation: gen, LastSync: h.at(1)}})
	h.apply(cal, &calsync.Batch{Generation: gen, Changes: []calsync.Change{upsert(old[3]), upsert(h.ev(cal, "new", h.at(2), "2"))},
		State: calsync.SyncState{PageToken: "p3", Generation: gen, LastSync: h.at(1)}})

	// After the restart, the stored state says where to resume.
	st := h.state(cal)
	h.checkState("SyncState of an interrupted full sync", st, calsync.SyncState{PageToken: "p3", Generation: gen, LastSync: h.at(1)})
	if !st.FullSync() {
		h.Errorf("SyncState %+v of an interrupted full sync: FullSync() = false", st)
	}
	// The last page sees e5 and sweeps.
	res := h.apply(cal, &calsync.Batch{Generation: st.Generation, Sweep: true, Changes: []calsync.Change{upsert(old[5])},
		State: calsync.SyncState{Cursor: "c2", LastSync: h.at(3)}})
	h.checkApplied("last page of the resumed full sync", res, "delete:e2", "delete:e4")
	if ids := h.eventIDs(cal); !slices.Equal(ids, []string{"e0", "e1", "e3", "e5", "new"}) {
		h.Errorf("events after the resumed full sync = %q, want [e0 e1 e3 e5 new]", ids)
	}
	h.checkState("SyncState after the full sync", h.state(cal), calsync.SyncState{Cursor: "c2", LastSync: h.at(3)})
}

// testCursorWithEvents: a reader never sees a cursor without the events of
// the batch that wrote it, nor events without their cursor, while batches
// commit.
func testCursorWithEvents(h *harness) {
	cal := h.newCalendar("cal")
	const pages = 30
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		defer close(done)
		for n := 1; n <= pages; n++ {
			e := h.ev(cal, fmt.Sprintf("p%03d", n), h.at(n), "1")
			if _, err := h.s.Apply(h.ctx, cal, &calsync.Batch{Changes: []calsync.Change{upsert(e)}, State: calsync.SyncState{PageToken: strconv.Itoa(n)}}); err != nil {
				h.Errorf("Apply page %d: %v", n, err)
				return
			}
		}
	})
	check := func() bool {
		// State first: the events of every page up to it must be there.
		st, err := h.s.SyncState(h.ctx, cal)
		if err != nil {
			h.Errorf("SyncState: %v", err)
			return false
		}
		n, _ := strconv.Atoi(st.PageToken)
		evs, err := h.s.ListEvents(h.ctx, cal, "", pages+1)
		if err != nil {
			h.Errorf("ListEvents: %v", err)
			return false
		}
		if len(evs) < n {
			h.Errorf("SyncState says page %d is applied, but only %d pages of events are visible", n, len(evs))
			return false
		}
		// Events first: the state must have reached the last page seen.
		last := len(evs)
		st, err = h.s.SyncState(h.ctx, cal)
		if err != nil {
			h.Errorf("SyncState: %v", err)
			return false
		}
		if n, _ := strconv.Atoi(st.PageToken); n < last {
			h.Errorf("events of page %d are visible, but SyncState says page %d", last, n)
			return false
		}
		return true
	}
	for {
		select {
		case <-done:
			wg.Wait()
			check()
			return
		default:
			if !check() {
				<-done
				wg.Wait()
				return
			}
		}
	}
}

// testDeleteThenOlderUpsert: an event deleted and re-created in one batch
// is a new event, even if the re-creation is older than what was stored.
func testDeleteThenOlderUpsert(h *harness) {
	cal := h.newCalendar("cal")
	h.put(cal, h.ev(cal, "e", h.at(5), "5"))
	again := h.ev(cal, "e", h.at(3), "3")
	res := h.apply(cal, &calsync.Batch{Changes: []calsync.Change{del("e", nil), upsert(again)}})
	h.checkApplied("delete then older upsert", res, "delete:e", "upsert:e")
	h.checkStale("delete then older upsert", res, 0)
	h.checkEvent("re-created event", h.event(cal, "e"), want(again, 1))
}

// testRawJSON: Raw comes back as the same JSON value whatever it holds,
// including what some databases' JSON types refuse or rewrite (the \u0000
// escape, numbers beyond float64, duplicate-free key order, deep nesting).
func testRawJSON(h *harness) {
	cal := h.newCalendar("cal")
	raws := []string{
		`{"description":"line one\u0000line two","id":"nul"}`,
		`{"z":1,"a":[1.50,-0,1e2,12345678901234567890],"m":{"\u00e9":"\ud83d\ude00","s":"tab\there"}}`,
		`{}`,
		`{"deep":[[[[[[[[[[{"x":null}]]]]]]]]]]}`,
	}
	for i, raw := range raws {
		e := h.ev(cal, fmt.Sprintf("e%d", i), h.at(1), "1")
		e.Raw = []byte(raw)
		h.put(cal, e)
		h.checkEvent(fmt.Sprintf("event with Raw %s", raw), h.event(cal, e.ID), want(e, 1))
	}
}

func (h *harness) ledger() calsync.Ledger {
	h.Helper()
	if !h.f.Ledger {
		h.Skip("storetest: Features.Ledger not set")
	}
	l, ok := h.s.(calsync.Ledger)
	if !ok {
		h.Fatalf("storetest: Features.Ledger is set but %T does not implement calsync.Ledger", h.s)
	}
	return l
}

func testLedger(h *harness) {
	l := h.ledger()
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
	l := h.ledger()
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
	l := h.ledger()
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

func (h *harness) deadLetters() calsync.DeadLetters {
	h.Helper()
	if !h.f.DeadLetters {
		h.Skip("storetest: Features.DeadLetters not set")
	}
	d, ok := h.s.(calsync.DeadLetters)
	if !ok {
		h.Fatalf("storetest: Features.DeadLetters is set but %T does not implement calsync.DeadLetters", h.s)
	}
	return d
}

func (h *harness) checkAttempt(what string, got, want calsync.Attempt) {
	h.Helper()
	if got.ID != want.ID || got.Attempts != want.Attempts || got.LastError != want.LastError ||
		!got.FirstFailed.Equal(want.FirstFailed) || !got.LastFailed.Equal(want.LastFailed) || !got.NextAttempt.Equal(want.NextAttempt) {
		h.Errorf("%s: attempt = %+v, want %+v", what, got, want)
	}
	h.checkNotification(what, got.Notification, want.Notification)
}

func (h *harness) checkDead(what string, got, want calsync.DeadLetter) {
	h.Helper()
	if got.ID != want.ID || got.Attempts != want.Attempts || got.LastError != want.LastError ||
		!got.FirstFailed.Equal(want.FirstFailed) || !got.LastFailed.Equal(want.LastFailed) {
		h.Errorf("%s: dead letter = %+v, want %+v", what, got, want)
	}
	h.checkNotification(what, got.Notification, want.Notification)
}

func (h *harness) checkNotification(what string, got, want calsync.Notification) {
	h.Helper()
	if got.Kind != want.Kind || got.Provider != want.Provider || got.SubscriptionID != want.SubscriptionID ||
		got.CalendarID != want.CalendarID || got.MessageID != want.MessageID || !got.Received.Equal(want.Received) {
		h.Errorf("%s: notification = %+v, want %+v", what, got, want)
	}
}

func testDeadLetters(h *harness) {
	d := h.deadLetters()
	// DueAttempts sees every record of a shared store: use an era of its
	// own.
	era := time.Date(1999, 12, 31, 23, 0, 0, 123000, time.UTC)
	at := func(min int) time.Time { return era.Add(time.Duration(min) * time.Minute) }
	n := calsync.Notification{Kind: calsync.Changed, Provider: "google", SubscriptionID: h.ns + "chan", CalendarID: h.ns + "cal", MessageID: "chan/7", Received: at(0)}
	id := h.ns + "n7"

	a, err := d.RecordAttempt(h.ctx, id, n, "google: 503 backendError", at(1), at(3))
	if err != nil {
		h.Fatalf("RecordAttempt: %v", err)
	}
	want1 := calsync.Attempt{ID: id, Notification: n, Attempts: 1, LastError: "google: 503 backendError", FirstFailed: at(1), LastFailed: at(1), NextAttempt: at(3)}
	h.checkAttempt("first RecordAttempt", a, want1)
	a, err = d.RecordAttempt(h.ctx, id, n, "timeout", at(3), at(7))
	if err != nil {
		h.Fatalf("RecordAttempt: %v", err)
	}
	want2 := calsync.Attempt{ID: id, Notification: n, Attempts: 2, LastError: "timeout", FirstFailed: at(1), LastFailed: at(3), NextAttempt: at(7)}
	h.checkAttempt("second RecordAttempt", a, want2)
	got, err := d.Attempt(h.ctx, id)
	if err != nil {
		h.Fatalf("Attempt: %v", err)
	}
	h.checkAttempt("Attempt", got, want2)

	// Due attempts, ordered by NextAttempt then ID.
	other := h.ns + "n8"
	if _, err := d.RecordAttempt(h.ctx, other, n, "x", at(2), at(5)); err != nil {
		h.Fatal(err)
	}
	late := h.ns + "n9"
	if _, err := d.RecordAttempt(h.ctx, late, n, "x", at(2), at(60)); err != nil {
		h.Fatal(err)
	}
	due, err := d.DueAttempts(h.ctx, at(7), 10)
	if err != nil {
		h.Fatalf("DueAttempts: %v", err)
	}
	var ids []string
	for _, a := range due {
		ids = append(ids, a.ID)
	}
	if !slices.Equal(ids, []string{other, id}) {
		h.Errorf("DueAttempts(minute 7) = %q, want [%s %s] (due at minutes 5 and 7; minute 60 is not due)", ids, other, id)
	}
	if due, err := d.DueAttempts(h.ctx, at(7), 1); err != nil || len(due) != 1 || due[0].ID != other {
		h.Errorf("DueAttempts(minute 7, limit 1) = %v, %v; want [%s]", due, err, other)
	}
	if err := d.ClearAttempt(h.ctx, other); err != nil {
		h.Fatalf("ClearAttempt: %v", err)
	}
	_, err = d.Attempt(h.ctx, other)
	h.notFound(err, "Attempt after ClearAttempt")
	if err := d.ClearAttempt(h.ctx, other); err != nil {
		h.Errorf("ClearAttempt of a cleared record: %v, want nil", err)
	}
	_, err = d.Attempt(h.ctx, h.ns+"unknown")
	h.notFound(err, "Attempt of an unknown id")

	// Moving to the dead letters drops the retry record.
	dl := calsync.DeadLetter{ID: id, Notification: n, Attempts: 5, LastError: "gave up: timeout", FirstFailed: at(1), LastFailed: at(40)}
	if err := d.AddDeadLetter(h.ctx, dl); err != nil {
		h.Fatalf("AddDeadLetter: %v", err)
	}
	_, err = d.Attempt(h.ctx, id)
	h.notFound(err, "Attempt after AddDeadLetter")
	gotDL, err := d.DeadLetter(h.ctx, id)
	if err != nil {
		h.Fatalf("DeadLetter: %v", err)
	}
	h.checkDead("DeadLetter", gotDL, dl)
	// Adding again replaces.
	dl.LastError = "gave up again"
	if err := d.AddDeadLetter(h.ctx, dl); err != nil {
		h.Fatalf("AddDeadLetter again: %v", err)
	}
	if gotDL, err := d.DeadLetter(h.ctx, id); err != nil || gotDL.LastError != "gave up again" {
		h.Errorf("DeadLetter after a second AddDeadLetter = %+v, %v", gotDL, err)
	}

	// Listing pages in id order.
	var want []string
	for i := range 5 {
		x := fmt.Sprintf("%sdl-%d", h.ns, i)
		want = append(want, x)
		if err := d.AddDeadLetter(h.ctx, calsync.DeadLetter{ID: x, Notification: n, Attempts: 5, LastError: "e", FirstFailed: at(i), LastFailed: at(i)}); err != nil {
			h.Fatal(err)
		}
	}
	want = append(want, id) // "…n7" sorts after "…dl-N"
	var listed []string
	after := h.ns
	for {
		page, err := d.ListDeadLetters(h.ctx, after, 2)
		if err != nil {
			h.Fatalf("ListDeadLetters: %v", err)
		}
		var mine int
		for _, x := range page {
			if strings.HasPrefix(x.ID, h.ns) {
				listed = append(listed, x.ID)
				mine++
			}
		}
		if len(page) == 0 || mine < len(page) {
			break
		}
		after = page[len(page)-1].ID
	}
	if !slices.Equal(listed, want) {
		h.Errorf("ListDeadLetters pages = %q, want %q", listed, want)
	}

	// Replay: enqueue the notification again, then delete the dead letter.
	if err := d.DeleteDeadLetter(h.ctx, id); err != nil {
		h.Fatalf("DeleteDeadLetter: %v", err)
	}
	_, err = d.DeadLetter(h.ctx, id)
	h.notFound(err, "DeadLetter after DeleteDeadLetter")
	h.notFound(d.DeleteDeadLetter(h.ctx, id), "DeleteDeadLetter of a deleted dead letter")
}

func (h *harness) accounts() vault.Accounts {
	h.Helper()
	if !h.f.Accounts {
		h.Skip("storetest: Features.Accounts not set")
	}
	a, ok := h.s.(vault.Accounts)
	if !ok {
		h.Fatalf("storetest: Features.Accounts is set but %T does not implement vault.Accounts", h.s)
	}
	return a
}

func testAccounts(h *harness) {
	acc := h.accounts()
	id := h.ns + "user-42"
	// Ciphertext is opaque bytes: zero bytes and invalid UTF-8 included.
	ct := []byte{0, 1, 2, 0xff, 0xfe, 0, 'x'}
	t := vault.SealedToken{AccountID: id, KeyID: "k1", Ciphertext: ct, Updated: h.at(1)}
	if err := acc.PutAccountToken(h.ctx, t); err != nil {
		h.Fatalf("PutAccountToken: %v", err)
	}
	ct[0] = 99 // the store must have copied it
	got, err := acc.AccountToken(h.ctx, id)
	if err != nil {
		h.Fatalf("AccountToken: %v", err)
	}
	if got.AccountID != id || got.KeyID != "k1" || !bytes.Equal(got.Ciphertext, []byte{0, 1, 2, 0xff, 0xfe, 0, 'x'}) || !got.Updated.Equal(h.at(1)) {
		h.Errorf("AccountToken = %+v", got)
	}
	got.Ciphertext[1] = 99 // nor share what it returns
	if again, _ := acc.AccountToken(h.ctx, id); again.Ciphertext[1] != 1 {
		h.Errorf("modifying a returned Ciphertext changed the stored one")
	}

	// Replacing (a refreshed token, a rotated key).
	if err := acc.PutAccountToken(h.ctx, vault.SealedToken{AccountID: id, KeyID: "k2", Ciphertext: []byte("new"), Updated: h.at(2)}); err != nil {
		h.Fatalf("PutAccountToken: %v", err)
	}
	if got, err := acc.AccountToken(h.ctx, id); err != nil || got.KeyID != "k2" || string(got.Ciphertext) != "new" || !got.Updated.Equal(h.at(2)) {
		h.Errorf("AccountToken after replace = %+v, %v", got, err)
	}

	var want []string
	for i := range 5 {
		x := fmt.Sprintf("%sacct-%d", h.ns, i)
		want = append(want, x)
		if err := acc.PutAccountToken(h.ctx, vault.SealedToken{AccountID: x, KeyID: "k1", Ciphertext: []byte{byte(i)}, Updated: h.at(i)}); err != nil {
			h.Fatal(err)
		}
	}
	want = append(want, id)
	var listed []string
	after := h.ns
	for {
		page, err := acc.ListAccountTokens(h.ctx, after, 2)
		if err != nil {
			h.Fatalf("ListAccountTokens: %v", err)
		}
		var mine int
		for _, x := range page {
			if strings.HasPrefix(x.AccountID, h.ns) {
				listed = append(listed, x.AccountID)
				mine++
			}
		}
		if len(page) == 0 || mine < len(page) {
			break
		}
		after = page[len(page)-1].AccountID
	}
	if !slices.Equal(listed, want) {
		h.Errorf("ListAccountTokens pages = %q, want %q", listed, want)
	}

	if err := acc.DeleteAccountToken(h.ctx, id); err != nil {
		h.Fatalf("DeleteAccountToken: %v", err)
	}
	_, err = acc.AccountToken(h.ctx, id)
	h.notFound(err, "AccountToken after DeleteAccountToken")
	h.notFound(acc.DeleteAccountToken(h.ctx, id), "DeleteAccountToken of a deleted account")
	_, err = acc.AccountToken(h.ctx, h.ns+"nobody")
	h.notFound(err, "AccountToken of an unknown account")
}
