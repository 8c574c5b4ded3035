package storetest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/calsync/calsync"
	"github.com/calsync/calsync/internal/eventdiff"
	"github.com/calsync/calsync/store/internal/fixture"
)

// Features describes what the suite cannot learn from a Store's type. The
// zero value checks the whole [calsync.Store] contract with its minimum
// guarantees.
//
// The optional capabilities need no flag: a Store that implements
// [calsync.Ledger], [calsync.DeadLetters], [vault.Accounts], [calsync.AccountStore],
// [calsync.Leases] or [calsync.ChangeFeed] is checked as one, and the
// subtests of a capability it does not implement are skipped.
type Features struct {
	// TimePrecision is the finest time resolution the Store keeps for
	// Event.Updated, EventTime.DateTime, SyncState.LastSync and subscription
	// times. Times the suite writes are multiples of it, and two Updated
	// values one TimePrecision apart must be ordered by last-write-wins.
	// Zero means time.Microsecond, the resolution every Store must keep
	// (PostgreSQL timestamptz). Set time.Nanosecond for stores that keep
	// Go's full resolution. Values coarser than a microsecond are raised to
	// a microsecond.
	TimePrecision time.Duration
	// Parallel runs the subtests in parallel (t.Parallel). The subtests
	// namespace their data, so this is safe even when newStore returns the
	// same database each time. (FeedPrune, whose PruneFeed is store-wide,
	// still runs alone.)
	Parallel bool
}

func (f Features) withDefaults() Features {
	if f.TimePrecision <= 0 || f.TimePrecision > time.Microsecond {
		f.TimePrecision = time.Microsecond
	}
	return f
}

// Run runs the conformance suite against the Store that newStore returns,
// one subtest per contract point, each with a fresh Store.
func Run(t *testing.T, newStore func(t *testing.T) calsync.Store, features Features) {
	t.Helper()
	f := features.withDefaults()
	run := randomHex(4)
	for i, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if f.Parallel && !serial[c.name] {
				t.Parallel()
			}
			s := newStore(t)
			if s == nil {
				t.Fatal("storetest: newStore returned nil")
			}
			h := &harness{
				T:   t,
				s:   s,
				f:   f,
				ctx: t.Context(),
				ns:  fmt.Sprintf("storetest-%s-%02d-", run, i),
			}
			c.fn(h)
		})
	}
}

// cases are the subtests of Run, one per contract point.
var cases = []struct {
	name string
	fn   func(h *harness)
}{
	{"Calendars", testCalendars},
	{"DeleteCalendar", testDeleteCalendar},
	{"SyncState", testSyncState},
	{"ApplyUnknownCalendar", testApplyUnknownCalendar},
	{"EventNotFound", testEventNotFound},
	{"UpsertRoundTrip", testUpsertRoundTrip},
	{"TimePrecision", testTimePrecision},
	{"Version", testVersion},
	{"LastWriteWinsUpsert", testLastWriteWinsUpsert},
	{"LastWriteWinsDelete", testLastWriteWinsDelete},
	{"ChangesInOrder", testChangesInOrder},
	{"CalendarsAreSeparate", testCalendarsAreSeparate},
	{"ApplyAtomic", testApplyAtomic},
	{"GenerationSweep", testGenerationSweep},
	{"SeriesDeleteCascades", testSeriesDeleteCascades},
	{"SeriesDeleteCascadesSeveral", testSeriesDeleteCascadesSeveral},
	{"SweepAcrossPages", testSweepAcrossPages},
	{"ListEvents", testListEvents},
	{"EventsBetween", testEventsBetween},
	{"Subscriptions", testSubscriptions},
	{"ExpiringSubscriptions", testExpiringSubscriptions},
	{"Copies", testCopies},
	{"ConcurrentWriters", testConcurrentWriters},
	{"CancelledContext", testCancelledContext},
	{"FullSyncResume", testFullSyncResume},
	{"CursorWithEvents", testCursorWithEvents},
	{"DeleteThenOlderUpsert", testDeleteThenOlderUpsert},
	{"RawJSON", testRawJSON},
	{"DetailsReplaced", testDetailsReplaced},
	{"UnchangedFinerThanPrecision", testUnchangedFinerThanPrecision},
	{"SweepWithoutGeneration", testSweepWithoutGeneration},
	{"Expect", testExpect},
	{"ExpectConcurrent", testExpectConcurrent},
	{"Ledger", testLedger},
	{"LedgerConcurrentBegin", testLedgerConcurrentBegin},
	{"LedgerPrune", testLedgerPrune},
	{"ApplyCompletes", testApplyCompletes},
	{"DeadLetters", testDeadLetters},
	{"Accounts", testAccounts},
	{"AccountStates", testAccountStates},
	{"AccountSwapConcurrent", testAccountSwapConcurrent},
	{"Leases", testLeases},
	{"LeasesConcurrentAcquire", testLeasesConcurrentAcquire},
	{"Feed", testFeed},
	{"FeedSweep", testFeedSweep},
	{"FeedAtomic", testFeedAtomic},
	{"FeedConcurrentAppliers", testFeedConcurrentAppliers},
	{"FeedConsumers", testFeedConsumers},
	{"FeedPrune", testFeedPrune},
}

// serial names the cases that run alone even with Features.Parallel (Go
// runs them before the parallel ones resume): they change the store
// beyond their namespace.
var serial = map[string]bool{"FeedPrune": true}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b) // never fails (crypto/rand)
	return hex.EncodeToString(b)
}

// harness is what each subtest works with.
type harness struct {
	*testing.T
	s   calsync.Store
	f   Features
	ctx context.Context
	ns  string // prefix of every calendar and subscription id
}

// as returns the Store under test as the optional capability T (an
// interface such as calsync.Ledger), and skips the subtest if the Store does
// not implement it.
func as[T any](h *harness) T {
	h.Helper()
	c, ok := h.s.(T)
	if !ok {
		h.Skipf("storetest: %T does not implement %v", h.s, reflect.TypeFor[T]())
	}
	return c
}

// base is the reference time of the suite: microseconds set, not UTC, so
// that a store which drops sub-second precision or mishandles zones fails.
var base = fixture.Base

// at returns base plus n time steps of the store's precision.
func (h *harness) at(n int) time.Time {
	return base.Add(time.Duration(n) * h.f.TimePrecision)
}

// newCalendar stores a calendar named name (namespaced) and returns its id.
func (h *harness) newCalendar(name string) string {
	h.Helper()
	id := h.ns + name
	cal := calsync.Calendar{ID: id, Provider: "google", AccountID: "acct-" + name, RemoteID: name + "@example.com"}
	if err := h.s.PutCalendar(h.ctx, cal); err != nil {
		h.Fatalf("PutCalendar(%q): %v", id, err)
	}
	return id
}

// ev returns a plain timed event.
func (h *harness) ev(cal, id string, updated time.Time, etag string) *calsync.Event {
	return fixture.Event(cal, id, updated, etag)
}

func upsert(e *calsync.Event) calsync.Change {
	return calsync.Change{Op: calsync.Upsert, EventID: e.ID, Event: e}
}

func del(id string, e *calsync.Event) calsync.Change {
	return calsync.Change{Op: calsync.Delete, EventID: id, Event: e}
}

// apply applies b and fails the test on error.
func (h *harness) apply(cal string, b *calsync.Batch) *calsync.ApplyResult {
	h.Helper()
	res, err := h.s.Apply(h.ctx, cal, b)
	if err != nil {
		h.Fatalf("Apply(%q): %v", cal, err)
	}
	if res == nil {
		h.Fatalf("Apply(%q) returned a nil result and no error", cal)
	}
	return res
}

// put applies upserts of evs in one batch without state.
func (h *harness) put(cal string, evs ...*calsync.Event) *calsync.ApplyResult {
	h.Helper()
	b := &calsync.Batch{}
	for _, e := range evs {
		b.Changes = append(b.Changes, upsert(e))
	}
	return h.apply(cal, b)
}

func (h *harness) event(cal, id string) calsync.Event {
	h.Helper()
	e, err := h.s.Event(h.ctx, cal, id)
	if err != nil {
		h.Fatalf("Event(%q, %q): %v", cal, id, err)
	}
	return e
}

func (h *harness) state(cal string) calsync.SyncState {
	h.Helper()
	st, err := h.s.SyncState(h.ctx, cal)
	if err != nil {
		h.Fatalf("SyncState(%q): %v", cal, err)
	}
	return st
}

func isNotFound(err error) bool { return errors.Is(err, calsync.ErrNotFound) }

// notFound fails unless err wraps calsync.ErrNotFound.
func (h *harness) notFound(err error, format string, args ...any) {
	h.Helper()
	if !errors.Is(err, calsync.ErrNotFound) {
		h.Errorf("%s: err = %v, want one wrapping calsync.ErrNotFound", fmt.Sprintf(format, args...), err)
	}
}

// absent fails unless the event does not exist.
func (h *harness) absent(cal, id string) {
	h.Helper()
	_, err := h.s.Event(h.ctx, cal, id)
	h.notFound(err, "Event(%q, %q) of an absent event", cal, id)
}

// absentNot fails unless the event exists.
func (h *harness) absentNot(cal, id string) {
	h.Helper()
	if _, err := h.s.Event(h.ctx, cal, id); err != nil {
		h.Errorf("Event(%q, %q): %v, want the event", cal, id, err)
	}
}

// allEvents pages through the calendar's events.
func (h *harness) allEvents(cal string) []calsync.Event {
	h.Helper()
	var out []calsync.Event
	after := ""
	for {
		page, err := h.s.ListEvents(h.ctx, cal, after, 100)
		if err != nil {
			h.Fatalf("ListEvents(%q, %q, 100): %v", cal, after, err)
		}
		if len(page) == 0 {
			return out
		}
		for _, e := range page {
			if e.ID <= after {
				h.Fatalf("ListEvents(%q, %q, 100) returned %q, which does not sort after %q", cal, after, e.ID, after)
			}
			after = e.ID
		}
		out = append(out, page...)
	}
}

func (h *harness) eventIDs(cal string) []string {
	h.Helper()
	var ids []string
	for _, e := range h.allEvents(cal) {
		ids = append(ids, e.ID)
	}
	return ids
}

// checkEvent compares every field of got with want (times with Equal, Raw as
// JSON, nil and empty slices alike).
func (h *harness) checkEvent(what string, got, want calsync.Event) {
	h.Helper()
	for _, d := range eventDiff(got, want) {
		h.Errorf("%s: %s", what, d)
	}
}

func eventDiff(got, want calsync.Event) []string {
	var d []string
	str := func(field, g, w string) {
		if g != w {
			d = append(d, fmt.Sprintf("%s = %q, want %q", field, g, w))
		}
	}
	str("ID", got.ID, want.ID)
	str("CalendarID", got.CalendarID, want.CalendarID)
	str("Status", string(got.Status), string(want.Status))
	str("Summary", got.Summary, want.Summary)
	str("RecurringEventID", got.RecurringEventID, want.RecurringEventID)
	str("ICalUID", got.ICalUID, want.ICalUID)
	str("ETag", got.ETag, want.ETag)
	d = append(d, timeDiff("Start", got.Start, want.Start)...)
	d = append(d, timeDiff("End", got.End, want.End)...)
	switch {
	case got.OriginalStart == nil && want.OriginalStart != nil:
		d = append(d, fmt.Sprintf("OriginalStart = nil, want %v", *want.OriginalStart))
	case got.OriginalStart != nil && want.OriginalStart == nil:
		d = append(d, fmt.Sprintf("OriginalStart = %v, want nil", *got.OriginalStart))
	case got.OriginalStart != nil:
		d = append(d, timeDiff("OriginalStart", *got.OriginalStart, *want.OriginalStart)...)
	}
	if !(len(got.Recurrence) == 0 && len(want.Recurrence) == 0) && !slices.Equal(got.Recurrence, want.Recurrence) {
		d = append(d, fmt.Sprintf("Recurrence = %q, want %q", got.Recurrence, want.Recurrence))
	}
	if !got.Updated.Equal(want.Updated) {
		d = append(d, fmt.Sprintf("Updated = %s, want %s", got.Updated.UTC().Format(time.RFC3339Nano), want.Updated.UTC().Format(time.RFC3339Nano)))
	}
	if got.Version != want.Version {
		d = append(d, fmt.Sprintf("Version = %d, want %d", got.Version, want.Version))
	}
	if !sameJSON(got.Raw, want.Raw) {
		d = append(d, fmt.Sprintf("Raw = %s, want %s", got.Raw, want.Raw))
	}
	d = append(d, eventdiff.Details(got.Details, want.Details)...)
	return d
}

func timeDiff(field string, got, want calsync.EventTime) []string {
	var d []string
	if got.Date != want.Date {
		d = append(d, fmt.Sprintf("%s.Date = %q, want %q", field, got.Date, want.Date))
	}
	if !got.DateTime.Equal(want.DateTime) {
		d = append(d, fmt.Sprintf("%s.DateTime = %s, want %s", field, got.DateTime.UTC().Format(time.RFC3339Nano), want.DateTime.UTC().Format(time.RFC3339Nano)))
	}
	if got.TimeZone != want.TimeZone {
		d = append(d, fmt.Sprintf("%s.TimeZone = %q, want %q", field, got.TimeZone, want.TimeZone))
	}
	return d
}

// sameJSON compares JSON documents by value, so that stores that normalise
// JSON (PostgreSQL jsonb) pass; empty and nil are alike.
func sameJSON(a, b json.RawMessage) bool {
	if len(a) == 0 || len(b) == 0 {
		return len(a) == len(b)
	}
	var va, vb any
	if json.Unmarshal(a, &va) != nil || json.Unmarshal(b, &vb) != nil {
		return string(a) == string(b)
	}
	return reflect.DeepEqual(va, vb)
}

// want returns the event as the store should hold it: e with version v.
func want(e *calsync.Event, v int64) calsync.Event {
	w := *e
	w.Version = v
	return w
}

// ops describes changes as "upsert:a delete:b" for messages and comparisons.
func ops(chs []calsync.Change) []string {
	out := make([]string, len(chs))
	for i, c := range chs {
		out[i] = c.Op.String() + ":" + c.EventID
	}
	return out
}

// checkApplied compares the operations and ids of res.Applied with want.
func (h *harness) checkApplied(what string, res *calsync.ApplyResult, want ...string) {
	h.Helper()
	if got := ops(res.Applied); !slices.Equal(got, want) {
		h.Errorf("%s: Applied = %q, want %q", what, got, want)
	}
}

func (h *harness) checkStale(what string, res *calsync.ApplyResult, want int) {
	h.Helper()
	if res.Stale != want {
		h.Errorf("%s: Stale = %d, want %d", what, res.Stale, want)
	}
}

// checkState compares sync states (LastSync with Equal).
func (h *harness) checkState(what string, got, want calsync.SyncState) {
	h.Helper()
	if got.Cursor != want.Cursor || got.PageToken != want.PageToken || got.Generation != want.Generation || !got.LastSync.Equal(want.LastSync) || got.Unavailable != want.Unavailable {
		h.Errorf("%s: SyncState = %+v, want %+v", what, got, want)
	}
}
