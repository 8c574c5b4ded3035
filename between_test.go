package calsync_test

import (
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/calsync/calsync"
	"github.com/calsync/calsync/store/memory"
)

// plainStore hides the memory Store's TimeIndex.
type plainStore struct{ calsync.Store }

// Engine.EventsBetween gives the same occurrences with the Store's
// TimeIndex and without it: a Google series expanded with a moved and a
// cancelled exception (one moved into the range from before it), Graph
// occurrences as stored, single events, cancelled events left out.
func TestEngineEventsBetween(t *testing.T) {
	st := memory.New()
	ctx := t.Context()
	if err := st.PutCalendar(ctx, calsync.Calendar{ID: "c", Provider: "google"}); err != nil {
		t.Fatal(err)
	}
	at := func(d, h int) calsync.EventTime {
		return calsync.EventTime{DateTime: time.Date(2026, 3, d, h, 0, 0, 0, time.UTC), TimeZone: "UTC"}
	}
	orig := func(d int) *calsync.EventTime { o := at(d, 9); return &o }
	evs := []calsync.Event{
		{ID: "s", Status: "confirmed", Summary: "daily", Start: at(1, 9), End: at(1, 10), Recurrence: []string{"RRULE:FREQ=DAILY;COUNT=20"}},
		{ID: "s_20260311T090000Z", Status: "confirmed", Summary: "moved", RecurringEventID: "s", OriginalStart: orig(11), Start: at(12, 15), End: at(12, 16)},
		{ID: "s_20260313T090000Z", Status: "cancelled", RecurringEventID: "s", OriginalStart: orig(13)},
		{ID: "s_20260302T090000Z", Status: "confirmed", Summary: "from before", RecurringEventID: "s", OriginalStart: orig(2), Start: at(14, 18), End: at(14, 19)},
		{ID: "g1", Status: "confirmed", Summary: "graph occurrence", RecurringEventID: "gm", OriginalStart: orig(12), Start: at(12, 9), End: at(12, 10)},
		{ID: "x", Status: "confirmed", Summary: "single", Start: at(13, 8), End: at(13, 20)},
		{ID: "y", Status: "confirmed", Summary: "later", Start: at(20, 8), End: at(20, 9)},
	}
	b := &calsync.Batch{}
	for i := range evs {
		evs[i].Updated = time.Unix(1, 0)
		b.Changes = append(b.Changes, calsync.Change{Op: calsync.Upsert, EventID: evs[i].ID, Event: &evs[i]})
	}
	if _, err := st.Apply(ctx, "c", b); err != nil {
		t.Fatal(err)
	}
	want := []string{"g1", "s_20260312T090000Z", "s_20260311T090000Z", "x", "s_20260314T090000Z", "s_20260302T090000Z"}
	for _, s := range []calsync.Store{st, plainStore{st}} {
		e, err := calsync.NewEngine(calsync.Config{Store: s, Providers: []calsync.Provider{newFakeProvider(10)}})
		if err != nil {
			t.Fatal(err)
		}
		got, err := e.EventsBetween(ctx, "c", time.Date(2026, 3, 11, 12, 0, 0, 0, time.UTC), time.Date(2026, 3, 15, 0, 0, 0, 0, time.UTC))
		if err != nil {
			t.Fatal(err)
		}
		var ids []string
		for _, ev := range got {
			ids = append(ids, ev.ID)
		}
		if !slices.Equal(ids, want) {
			t.Errorf("%T: EventsBetween = %v, want %v", s, ids, want)
		}
	}
	if _, err := (func() ([]calsync.Event, error) {
		e, _ := calsync.NewEngine(calsync.Config{Store: plainStore{st}, Providers: []calsync.Provider{newFakeProvider(10)}})
		return e.EventsBetween(ctx, "missing", time.Unix(0, 0), time.Unix(1, 0))
	})(); !errors.Is(err, calsync.ErrNotFound) {
		t.Errorf("unknown calendar: %v", err)
	}
}
