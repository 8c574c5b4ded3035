package msgraph_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/calsync/calsync"
	"github.com/calsync/calsync/msgraph"
	"github.com/calsync/calsync/msgraph/msgraphtest"
	"github.com/calsync/calsync/provider"
)

// round runs one delta round from pos and returns the event ids of its
// upserts, sorted, and the new cursor.
func (r *rig) round(cal provider.Calendar, pos provider.Position) ([]string, string, error) {
	var ids []string
	for range 100 {
		page, err := r.p.Fetch(context.Background(), cal, pos)
		if err != nil {
			return nil, "", err
		}
		for _, c := range page.Changes {
			if c.Op == provider.Upsert {
				ids = append(ids, c.EventID)
			}
		}
		if page.Last() {
			slices.Sort(ids)
			return ids, page.NextCursor, nil
		}
		pos = provider.Position{Cursor: pos.Cursor, PageToken: page.NextPageToken}
	}
	return nil, "", errors.New("no deltaLink after 100 pages")
}

// Bug 8 against the emulator: v1.0 refuses calendarView delta of a
// secondary calendar (its default: v1.0 documents only the primary one), so the calendar
// syncs on beta, full and incremental rounds alike, and v1.0 is asked once.
// Where v1.0 serves it, v1.0 is used.
func TestSecondaryCalendarSyncsOnBeta(t *testing.T) {
	for _, allow := range []bool{false, true} {
		t.Run(fmt.Sprint("AllowCalendarDeltaV1=", allow), func(t *testing.T) {
			r := newRig(t, rigOptions{emulator: msgraphtest.Config{AllowCalendarDeltaV1: allow}, provider: msgraph.Config{MaxPageSize: 2}})
			r.srv.AddCalendar("alice", "work")
			cal := provider.Calendar{ID: "alice-work", Provider: msgraph.Name, AccountID: "alice", RemoteID: "work"}
			base := time.Now().UTC().Truncate(time.Hour).Add(24 * time.Hour)
			var want []string
			for i := range 3 {
				ev, err := r.srv.CreateEvent("alice", "work", msgraphtest.Event{Subject: fmt.Sprint("work ", i), Start: base.Add(time.Duration(i) * time.Hour), End: base.Add(time.Duration(i)*time.Hour + 30*time.Minute)})
				if err != nil {
					t.Fatal(err)
				}
				want = append(want, ev.ID)
			}
			slices.Sort(want)
			if _, err := r.srv.CreateEvent("alice", "", msgraphtest.Event{Subject: "primary", Start: base, End: base.Add(time.Hour)}); err != nil {
				t.Fatal(err)
			}
			version, refused := "/beta/", 1
			if allow {
				version, refused = "/v1.0/", 0
			}

			ids, cursor, err := r.round(cal, provider.Position{})
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(ids, want) || !strings.Contains(cursor, version+"me/calendars/work/calendarView/delta") {
				t.Fatalf("full sync: %v, cursor %q; want %v on %s", ids, cursor, want, version)
			}
			moved, err := r.srv.UpdateEvent("alice", "work", want[1], msgraphtest.Event{Subject: "moved", Start: base.Add(5 * time.Hour), End: base.Add(6 * time.Hour)})
			if err != nil {
				t.Fatal(err)
			}
			if ids, cursor, err = r.round(cal, provider.Position{Cursor: cursor}); err != nil || !slices.Equal(ids, []string{moved.ID}) {
				t.Fatalf("incremental sync: %v, %v; want the moved event", ids, err)
			}
			if ids, _, err = r.round(cal, provider.Position{}); err != nil || !slices.Equal(ids, want) {
				t.Fatalf("second full sync: %v, %v", ids, err)
			}
			if n := r.srv.RequestCountByStatus(msgraphtest.OpDelta, 400); n != refused {
				t.Errorf("v1.0 refused %d delta requests, want %d (asked once, then remembered)", n, refused)
			}
			for _, q := range r.srv.Requests() {
				if q.Op == msgraphtest.OpDelta && q.Status == 200 && "/"+q.Version+"/" != version {
					t.Errorf("delta served on %s: %+v", q.Version, q)
				}
			}
			// The primary calendar stays on v1.0.
			if ids, cursor, err := r.round(r.cal, provider.Position{}); err != nil || len(ids) != 1 || !strings.Contains(cursor, "/v1.0/me/calendarView/delta") {
				t.Errorf("primary calendar: %v, %q, %v", ids, cursor, err)
			}

			// Bug 13 through the fallback: the deleted calendar is
			// unavailable from its cursor and from a new full sync.
			if err := r.srv.DeleteCalendar("alice", "work"); err != nil {
				t.Fatal(err)
			}
			for _, pos := range []provider.Position{{Cursor: cursor}, {}} {
				if _, _, err := r.round(cal, pos); !errors.Is(err, provider.ErrCalendarUnavailable) {
					t.Errorf("deleted calendar, position %+v: %v, want ErrCalendarUnavailable", pos, err)
				}
			}
		})
	}
}

// The whole chain for a secondary calendar: the Engine connects it (the
// subscription on me/calendars/{id}/events, the full sync on beta), and
// once the calendar is deleted its sync fails with ErrCalendarUnavailable
// and the Engine parks it.
func TestEngineSecondaryCalendarThenDeleted(t *testing.T) {
	ctx := context.Background()
	h := newHarness(t)
	h.srv.AddCalendar("alice", "work")
	h.cal = calsync.Calendar{ID: "alice-work", Provider: msgraph.Name, AccountID: "alice", RemoteID: "work"}
	base := time.Now().UTC().Truncate(time.Hour).Add(24 * time.Hour)
	ev, err := h.srv.CreateEvent("alice", "work", msgraphtest.Event{Subject: "work item", Start: base, End: base.Add(time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	h.connect()
	if live := h.srv.Subscriptions(); len(live) != 1 || live[0].Calendar != "work" {
		t.Fatalf("subscriptions %+v, want one on the work calendar", live)
	}
	if got, err := h.st.Event(ctx, h.cal.ID, ev.ID); err != nil || got.Summary != "work item" {
		t.Fatalf("stored event %+v, %v", got, err)
	}
	if n := h.srv.RequestCount(msgraphtest.OpDelta, "work"); n < 2 {
		t.Errorf("%d delta calls on the calendar, want the refused v1.0 one and beta's", n)
	}

	if err := h.srv.DeleteCalendar("alice", "work"); err != nil {
		t.Fatal(err)
	}
	if _, err := h.e.Sync(ctx, h.cal.ID); !errors.Is(err, calsync.ErrCalendarUnavailable) {
		t.Fatalf("Sync of a deleted calendar = %v, want ErrCalendarUnavailable", err)
	}
	st, err := h.st.SyncState(ctx, h.cal.ID)
	if err != nil || st.Unavailable == "" {
		t.Errorf("calendar not parked: %+v, %v", st, err)
	}
}
