package storetest

import (
	"slices"
	"strings"
	"time"

	"github.com/calsync/calsync"
	"github.com/calsync/calsync/provider"
)

func testCalendars(h *harness) {
	cals := []calsync.Calendar{
		{ID: h.ns + "c", Provider: "msgraph", AccountID: "acct-c", RemoteID: ""},
		{ID: h.ns + "a", Provider: "google", AccountID: "acct-a", RemoteID: "primary"},
		{ID: h.ns + "B", Provider: "google", AccountID: "acct-b", RemoteID: "b@group.calendar.google.com"},
	}
	for _, c := range cals {
		if err := h.s.PutCalendar(h.ctx, c); err != nil {
			h.Fatalf("PutCalendar(%q): %v", c.ID, err)
		}
	}
	for _, c := range cals {
		got, err := h.s.Calendar(h.ctx, c.ID)
		if err != nil {
			h.Fatalf("Calendar(%q): %v", c.ID, err)
		}
		if got != c {
			h.Errorf("Calendar(%q) = %+v, want %+v", c.ID, got, c)
		}
	}
	// Replace.
	cals[1].AccountID, cals[1].RemoteID = "acct-a2", "other@example.com"
	if err := h.s.PutCalendar(h.ctx, cals[1]); err != nil {
		h.Fatalf("PutCalendar(%q) replacing: %v", cals[1].ID, err)
	}
	if got, err := h.s.Calendar(h.ctx, cals[1].ID); err != nil || got != cals[1] {
		h.Errorf("Calendar(%q) after replace = %+v, %v; want %+v", cals[1].ID, got, err, cals[1])
	}

	_, err := h.s.Calendar(h.ctx, h.ns+"unknown")
	h.notFound(err, "Calendar of an unknown id")

	all, err := h.s.ListCalendars(h.ctx)
	if err != nil {
		h.Fatalf("ListCalendars: %v", err)
	}
	if !slices.IsSortedFunc(all, func(a, b calsync.Calendar) int { return strings.Compare(a.ID, b.ID) }) {
		h.Errorf("ListCalendars is not ordered by id (byte order): %v", calendarIDs(all))
	}
	var mine []calsync.Calendar
	for _, c := range all {
		if strings.HasPrefix(c.ID, h.ns) {
			mine = append(mine, c)
		}
	}
	wantList := []calsync.Calendar{cals[2], cals[1], cals[0]} // B < a < c in byte order
	if !slices.Equal(mine, wantList) {
		h.Errorf("ListCalendars (this test's) = %+v, want %+v", mine, wantList)
	}
}

func calendarIDs(cs []calsync.Calendar) []string {
	ids := make([]string, len(cs))
	for i, c := range cs {
		ids[i] = c.ID
	}
	return ids
}

func testDeleteCalendar(h *harness) {
	gone := h.newCalendar("gone")
	kept := h.newCalendar("kept")
	for _, cal := range []string{gone, kept} {
		h.apply(cal, &calsync.Batch{
			Changes: []calsync.Change{upsert(h.ev(cal, "e1", h.at(1), "1")), upsert(h.ev(cal, "e2", h.at(1), "1"))},
			State:   calsync.SyncState{Cursor: "cursor-" + cal, LastSync: h.at(10)},
		})
		for _, s := range []string{"s1", "s2"} {
			sub := calsync.Subscription{ID: cal + "-" + s, CalendarID: cal, Provider: "google", SecretHash: provider.HashSecret("secret"), Expiration: h.at(100)}
			if err := h.s.PutSubscription(h.ctx, sub); err != nil {
				h.Fatalf("PutSubscription(%q): %v", sub.ID, err)
			}
		}
	}
	if err := h.s.DeleteCalendar(h.ctx, gone); err != nil {
		h.Fatalf("DeleteCalendar(%q): %v", gone, err)
	}

	_, err := h.s.Calendar(h.ctx, gone)
	h.notFound(err, "Calendar after DeleteCalendar")
	_, err = h.s.SyncState(h.ctx, gone)
	h.notFound(err, "SyncState after DeleteCalendar")
	h.absent(gone, "e1")
	_, err = h.s.Apply(h.ctx, gone, &calsync.Batch{Changes: []calsync.Change{upsert(h.ev(gone, "e3", h.at(2), "2"))}})
	h.notFound(err, "Apply after DeleteCalendar")
	for _, s := range []string{"s1", "s2"} {
		_, err := h.s.Subscription(h.ctx, gone+"-"+s)
		h.notFound(err, "Subscription of a deleted calendar")
	}
	if subs, err := h.s.ListSubscriptions(h.ctx, gone); err != nil && !isNotFound(err) {
		h.Errorf("ListSubscriptions of a deleted calendar: %v", err)
	} else if len(subs) != 0 {
		h.Errorf("ListSubscriptions of a deleted calendar = %v, want none", subs)
	}
	exp, err := h.s.ExpiringSubscriptions(h.ctx, h.at(1000))
	if err != nil {
		h.Fatalf("ExpiringSubscriptions: %v", err)
	}
	var expKept []string
	for _, s := range exp {
		if s.CalendarID == gone {
			h.Errorf("ExpiringSubscriptions returns %q of a deleted calendar", s.ID)
		}
		if s.CalendarID == kept {
			expKept = append(expKept, s.ID)
		}
	}
	if len(expKept) != 2 {
		h.Errorf("ExpiringSubscriptions of the kept calendar = %q, want its 2 subscriptions", expKept)
	}
	all, err := h.s.ListCalendars(h.ctx)
	if err != nil {
		h.Fatalf("ListCalendars: %v", err)
	}
	if slices.Contains(calendarIDs(all), gone) {
		h.Errorf("ListCalendars still lists deleted calendar %q", gone)
	}

	// The other calendar, with the same event ids, is untouched.
	if ids := h.eventIDs(kept); !slices.Equal(ids, []string{"e1", "e2"}) {
		h.Errorf("events of the kept calendar = %q, want [e1 e2]", ids)
	}
	if st := h.state(kept); st.Cursor != "cursor-"+kept {
		h.Errorf("SyncState of the kept calendar = %+v, want cursor %q", st, "cursor-"+kept)
	}
	if subs, err := h.s.ListSubscriptions(h.ctx, kept); err != nil || len(subs) != 2 {
		h.Errorf("ListSubscriptions of the kept calendar = %v, %v; want 2", subs, err)
	}

	// A calendar created again under the same id starts empty.
	if err := h.s.PutCalendar(h.ctx, calsync.Calendar{ID: gone, Provider: "google"}); err != nil {
		h.Fatalf("PutCalendar(%q) again: %v", gone, err)
	}
	h.checkState("SyncState of a re-created calendar", h.state(gone), calsync.SyncState{})
	if ids := h.eventIDs(gone); len(ids) != 0 {
		h.Errorf("events of a re-created calendar = %q, want none", ids)
	}
	if subs, err := h.s.ListSubscriptions(h.ctx, gone); err != nil || len(subs) != 0 {
		h.Errorf("ListSubscriptions of a re-created calendar = %v, %v; want none", subs, err)
	}

	// Deleting what does not exist is either a no-op or ErrNotFound.
	if err := h.s.DeleteCalendar(h.ctx, h.ns+"never"); err != nil && !isNotFound(err) {
		h.Errorf("DeleteCalendar of an unknown id: %v, want nil or ErrNotFound", err)
	}
}

func testSyncState(h *harness) {
	cal := h.newCalendar("cal")
	h.checkState("SyncState of a new calendar", h.state(cal), calsync.SyncState{})
	if !h.state(cal).FullSync() {
		h.Errorf("SyncState of a new calendar is not FullSync")
	}
	_, err := h.s.SyncState(h.ctx, h.ns+"unknown")
	h.notFound(err, "SyncState of an unknown calendar")

	// A batch without changes writes only the state.
	mid := calsync.SyncState{PageToken: "page-2", Generation: 42, LastSync: h.at(7)}
	res := h.apply(cal, &calsync.Batch{State: mid, Generation: 42})
	h.checkApplied("state-only batch", res)
	h.checkState("SyncState after a state-only batch", h.state(cal), mid)

	// State replaces the whole SyncState: PageToken and Generation go.
	done := calsync.SyncState{Cursor: "sync-token-1", LastSync: h.at(9).In(time.FixedZone("UTC+9", 9*3600))}
	h.apply(cal, &calsync.Batch{
		Changes: []calsync.Change{upsert(h.ev(cal, "e", h.at(1), "1"))},
		State:   done, Generation: 42, Sweep: true,
	})
	h.checkState("SyncState after the last page", h.state(cal), done)

	// Every field round-trips.
	full := calsync.SyncState{Cursor: "https://graph.microsoft.com/v1.0/me/events/delta?$deltatoken=abc%3D%3D", PageToken: "tok-π", Generation: 1 << 62, LastSync: h.at(12345),
		Unavailable: "google events.list: 404 notFound"}
	h.apply(cal, &calsync.Batch{State: full})
	h.checkState("SyncState round trip", h.state(cal), full)
	// Unavailable is not compared by Expect, and a state without it
	// clears it.
	exp := full
	exp.Unavailable = ""
	h.apply(cal, &calsync.Batch{State: done, Expect: &exp})
	h.checkState("SyncState after clearing Unavailable", h.state(cal), done)
}

func testApplyUnknownCalendar(h *harness) {
	unknown := h.ns + "unknown"
	_, err := h.s.Apply(h.ctx, unknown, &calsync.Batch{Changes: []calsync.Change{upsert(h.ev(unknown, "e", h.at(1), "1"))}, State: calsync.SyncState{Cursor: "c"}})
	h.notFound(err, "Apply with changes to an unknown calendar")
	_, err = h.s.Apply(h.ctx, unknown, &calsync.Batch{State: calsync.SyncState{Cursor: "c"}})
	h.notFound(err, "Apply without changes to an unknown calendar")
	_, err = h.s.Calendar(h.ctx, unknown)
	h.notFound(err, "Calendar after Apply to an unknown calendar (Apply must not create it)")
}
