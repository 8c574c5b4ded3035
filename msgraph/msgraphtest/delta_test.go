package msgraphtest_test

import (
	"fmt"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/calsync/calsync/msgraph/msgraphtest"
)

func windowQuery(start, end time.Time) string {
	return "?startDateTime=" + url.QueryEscape(start.Format(time.RFC3339)) + "&endDateTime=" + url.QueryEscape(end.Format(time.RFC3339))
}

func ids(items []map[string]any) []string {
	var out []string
	for _, it := range items {
		out = append(out, it["id"].(string))
	}
	sort.Strings(out)
	return out
}

func removedIDs(items []map[string]any) []string {
	var out []string
	for _, it := range items {
		if r, ok := it["@removed"].(map[string]any); ok {
			if r["reason"] != "deleted" {
				t := fmt.Sprint(r)
				panic("unexpected reason " + t)
			}
			out = append(out, it["id"].(string))
		}
	}
	sort.Strings(out)
	return out
}

func mustCreate(t *testing.T, srv *msgraphtest.Server, ev msgraphtest.Event) msgraphtest.Event {
	t.Helper()
	got, err := srv.CreateEvent("alice", "", ev)
	if err != nil {
		t.Fatal(err)
	}
	return got
}

func TestDeltaRoundsPagingAndTombstones(t *testing.T) {
	srv, _ := newServer(t, msgraphtest.Config{})
	ws, we := t0, t0.Add(30*24*time.Hour)
	var created []msgraphtest.Event
	for i := range 5 {
		created = append(created, mustCreate(t, srv, msgraphtest.Event{
			Subject: fmt.Sprintf("e%d", i), Start: t0.Add(time.Duration(i+1) * 24 * time.Hour), End: t0.Add(time.Duration(i+1)*24*time.Hour + time.Hour),
		}))
	}
	outside := mustCreate(t, srv, msgraphtest.Event{Subject: "outside", Start: t0.Add(-48 * time.Hour), End: t0.Add(-47 * time.Hour)})

	items, pages, link := deltaRound(t, srv, "/me/calendarView/delta"+windowQuery(ws, we), 2)
	if pages != 3 || len(items) != 5 {
		t.Fatalf("initial round: %d pages, %d items; want 3 pages, 5 items", pages, len(items))
	}
	if len(removedIDs(items)) != 0 {
		t.Fatalf("initial round has tombstones: %v", items)
	}
	for _, it := range items {
		if it["@odata.type"] != "#microsoft.graph.event" || it["@odata.etag"] == nil || it["type"] != "singleInstance" {
			t.Fatalf("item shape: %v", it)
		}
		start := it["start"].(map[string]any)
		if start["timeZone"] != "UTC" || !strings.HasSuffix(start["dateTime"].(string), ".0000000") {
			t.Fatalf("start = %v", start)
		}
	}

	// Nothing changed: empty round.
	items, _, link = deltaRound(t, srv, link, 0)
	if len(items) != 0 {
		t.Fatalf("unchanged round returned %v", items)
	}

	// update, delete, move out of the window, change outside the window.
	if _, err := srv.UpdateEvent("alice", "", created[0].ID, msgraphtest.Event{Subject: "renamed", Start: created[0].Start, End: created[0].End}); err != nil {
		t.Fatal(err)
	}
	if err := srv.DeleteEvent("alice", "", created[1].ID); err != nil {
		t.Fatal(err)
	}
	if _, err := srv.UpdateEvent("alice", "", created[2].ID, msgraphtest.Event{Subject: "moved", Start: we.Add(time.Hour), End: we.Add(2 * time.Hour)}); err != nil {
		t.Fatal(err)
	}
	if _, err := srv.UpdateEvent("alice", "", outside.ID, msgraphtest.Event{Subject: "still outside", Start: outside.Start, End: outside.End}); err != nil {
		t.Fatal(err)
	}
	items, _, _ = deltaRound(t, srv, link, 0)
	wantRemoved := []string{created[1].ID, created[2].ID, outside.ID}
	sort.Strings(wantRemoved)
	if got := removedIDs(items); fmt.Sprint(got) != fmt.Sprint(wantRemoved) {
		t.Fatalf("removed = %v, want %v (items %v)", got, wantRemoved, items)
	}
	if len(items) != 4 {
		t.Fatalf("round has %d items, want 4: %v", len(items), items)
	}
	for _, it := range items {
		if it["id"] == created[0].ID && it["subject"] != "renamed" {
			t.Fatalf("updated item = %v", it)
		}
		if _, ok := it["@removed"]; ok && len(it) != 3 {
			t.Fatalf("tombstone has extra fields: %v", it)
		}
	}
}

func TestDeltaRecurringExpansionExceptionAndCancel(t *testing.T) {
	srv, _ := newServer(t, msgraphtest.Config{})
	// Weekly on Monday and Wednesday, 6 occurrences, from Monday 2026-03-02 10:00.
	start := time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC)
	master := mustCreate(t, srv, msgraphtest.Event{
		Subject: "standup", Start: start, End: start.Add(30 * time.Minute),
		Recurrence: &msgraphtest.PatternedRecurrence{
			Pattern: msgraphtest.RecurrencePattern{Type: "weekly", Interval: 1, DaysOfWeek: []string{"monday", "wednesday"}},
			Range:   msgraphtest.RecurrenceRange{Type: "numbered", NumberOfOccurrences: 6},
		},
	})
	ws, we := t0.Add(-time.Hour), t0.Add(60*24*time.Hour)
	evs, err := srv.Events("alice", "", ws, we)
	if err != nil {
		t.Fatal(err)
	}
	wantDays := []string{"03-02", "03-04", "03-09", "03-11", "03-16", "03-18"}
	if len(evs) != len(wantDays) {
		t.Fatalf("Events = %d, want %d", len(evs), len(wantDays))
	}
	for i, ev := range evs {
		if ev.Start.Format("01-02") != wantDays[i] || ev.Type != "occurrence" || ev.SeriesMasterID != master.ID {
			t.Fatalf("occurrence %d = %+v", i, ev)
		}
	}
	items, _, link := deltaRound(t, srv, "/me/calendarView/delta"+windowQuery(ws, we), 4)
	if len(items) != 6 {
		t.Fatalf("initial round %d items, want 6 occurrences (no master)", len(items))
	}
	for _, it := range items {
		if it["type"] != "occurrence" || it["seriesMasterId"] != master.ID {
			t.Fatalf("item %v", it)
		}
	}
	// Exception: move the second occurrence; cancel the third.
	exc := evs[1]
	if _, err := srv.UpdateEvent("alice", "", exc.ID, msgraphtest.Event{Subject: "moved standup", Start: exc.Start.Add(2 * time.Hour), End: exc.End.Add(2 * time.Hour)}); err != nil {
		t.Fatal(err)
	}
	if err := srv.DeleteEvent("alice", "", evs[2].ID); err != nil {
		t.Fatal(err)
	}
	items, _, link = deltaRound(t, srv, link, 0)
	if len(items) != 2 {
		t.Fatalf("round after exception+cancel: %v", items)
	}
	for _, it := range items {
		switch it["id"] {
		case exc.ID:
			if it["type"] != "exception" || it["subject"] != "moved standup" || it["seriesMasterId"] != master.ID {
				t.Fatalf("exception item %v", it)
			}
		case evs[2].ID:
			if it["@removed"] == nil {
				t.Fatalf("cancelled occurrence not removed: %v", it)
			}
		default:
			t.Fatalf("unexpected item %v", it)
		}
	}
	now, _ := srv.Events("alice", "", ws, we)
	if len(now) != 5 {
		t.Fatalf("Events after cancel = %d, want 5", len(now))
	}
	// Deleting the series removes every remaining instance.
	if err := srv.DeleteEvent("alice", "", master.ID); err != nil {
		t.Fatal(err)
	}
	items, _, _ = deltaRound(t, srv, link, 0)
	if got := removedIDs(items); len(got) != 5 || len(items) != 5 {
		t.Fatalf("after series delete: %v", items)
	}
}

func TestDeltaDailyRecurrenceWindow(t *testing.T) {
	srv, _ := newServer(t, msgraphtest.Config{})
	start := time.Date(2026, 3, 1, 8, 0, 0, 0, time.UTC)
	mustCreate(t, srv, msgraphtest.Event{
		Subject: "daily", Start: start, End: start.Add(time.Hour),
		Recurrence: &msgraphtest.PatternedRecurrence{
			Pattern: msgraphtest.RecurrencePattern{Type: "daily", Interval: 2},
			Range:   msgraphtest.RecurrenceRange{Type: "endDate", EndDate: "2026-03-31"},
		},
	})
	items, _, _ := deltaRound(t, srv, "/me/calendarView/delta"+windowQuery(time.Date(2026, 3, 10, 0, 0, 0, 0, time.UTC), time.Date(2026, 3, 20, 0, 0, 0, 0, time.UTC)), 0)
	// Mar 11, 13, 15, 17, 19.
	if len(items) != 5 {
		t.Fatalf("got %d occurrences in window, want 5: %v", len(items), ids(items))
	}
}

func TestDeltaTokenErrors(t *testing.T) {
	srv, _ := newServer(t, msgraphtest.Config{})
	mustCreate(t, srv, msgraphtest.Event{Subject: "a", Start: t0.Add(time.Hour), End: t0.Add(2 * time.Hour)})
	ws, we := t0, t0.Add(24*time.Hour)
	_, _, link := deltaRound(t, srv, "/me/calendarView/delta"+windowQuery(ws, we), 0)

	t.Run("garbage", func(t *testing.T) {
		resp, b := api(t, srv, "GET", "/me/calendarView/delta?$deltatoken=garbage", nil, nil)
		expectError(t, resp, b, http.StatusBadRequest, "InvalidDeltaToken")
		resp, b = api(t, srv, "GET", "/me/calendarView/delta?$skiptoken=AAAA", nil, nil)
		expectError(t, resp, b, http.StatusBadRequest, "InvalidDeltaToken")
	})
	t.Run("missing window", func(t *testing.T) {
		resp, b := api(t, srv, "GET", "/me/calendarView/delta", nil, nil)
		expectError(t, resp, b, http.StatusBadRequest, "ErrorInvalidParameter")
	})
	t.Run("events delta is beta only", func(t *testing.T) {
		resp, b := api(t, srv, "GET", "/me/events/delta", nil, nil)
		expectError(t, resp, b, http.StatusBadRequest, "BadRequest")
		items, _, _ := deltaRound(t, srv, srv.URL()+"/beta/me/events/delta", 0)
		if len(items) != 1 {
			t.Fatalf("beta events delta: %v", items)
		}
	})
	t.Run("expired", func(t *testing.T) {
		if err := srv.ExpireDeltaTokens("alice", "", ""); err != nil {
			t.Fatal(err)
		}
		resp, b := api(t, srv, "GET", link, nil, nil)
		e := expectError(t, resp, b, http.StatusGone, "SyncStateNotFound")
		if !strings.HasPrefix(e.Error.Message, "The sync state generation is not found; generation=") {
			t.Errorf("message = %q", e.Error.Message)
		}
		loc := resp.Header.Get("Location")
		if !strings.Contains(loc, "/v1.0/me/calendarView/delta?startDateTime=") || strings.Contains(loc, "token") {
			t.Fatalf("Location = %q", loc)
		}
		// The Location is a working initial query.
		items, _, _ := deltaRound(t, srv, loc, 0)
		if len(items) != 1 {
			t.Fatalf("resync via Location: %v", items)
		}
	})
	t.Run("resyncRequired", func(t *testing.T) {
		_, _, link := deltaRound(t, srv, "/me/calendarView/delta"+windowQuery(ws, we), 0)
		if err := srv.ExpireDeltaTokens("", "", msgraphtest.CodeResyncRequired); err != nil {
			t.Fatal(err)
		}
		resp, b := api(t, srv, "GET", link, nil, nil)
		expectError(t, resp, b, http.StatusGone, "resyncRequired")
	})
}

func TestDeltaPreferenceApplied(t *testing.T) {
	srv, _ := newServer(t, msgraphtest.Config{})
	resp, b := api(t, srv, "GET", "/me/calendarView/delta()"+windowQuery(t0, t0.Add(time.Hour)), nil, map[string]string{"Prefer": "odata.maxpagesize=7"})
	if resp.StatusCode != 200 {
		t.Fatalf("%d %s", resp.StatusCode, b)
	}
	if got := resp.Header.Get("Preference-Applied"); !strings.Contains(got, "odata.maxpagesize=7") {
		t.Fatalf("Preference-Applied = %q", got)
	}
	if !strings.Contains(string(b), `"@odata.context":"`+srv.URL()+`/v1.0/$metadata#Collection(event)"`) {
		t.Fatalf("context missing: %s", b)
	}
}
