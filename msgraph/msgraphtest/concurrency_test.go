package msgraphtest_test

import (
	"fmt"
	"net/http"
	"net/url"
	"sync"
	"testing"
	"time"

	"github.com/calsync/calsync/msgraph/msgraphtest"
)

// TestDeltaConvergesUnderConcurrentWrites syncs with delta rounds while
// other goroutines write; after the writers stop, one more round must
// leave the client's copy equal to what calendarView shows.
func TestDeltaConvergesUnderConcurrentWrites(t *testing.T) {
	srv, _ := newServer(t, msgraphtest.Config{})
	ws, we := t0, t0.Add(10*24*time.Hour)
	start := t0.Add(24 * time.Hour)
	mustCreate(t, srv, msgraphtest.Event{Subject: "series", Start: start, End: start.Add(time.Hour),
		Recurrence: &msgraphtest.PatternedRecurrence{
			Pattern: msgraphtest.RecurrencePattern{Type: "daily"},
			Range:   msgraphtest.RecurrenceRange{Type: "noEnd"},
		}})

	var wg sync.WaitGroup
	for w := range 3 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var mine []string
			for i := range 30 {
				at := t0.Add(time.Duration((w*30+i)%200) * time.Hour)
				switch {
				case i%5 == 4 && len(mine) > 0:
					if err := srv.DeleteEvent("alice", "", mine[0]); err != nil {
						t.Error(err)
					}
					mine = mine[1:]
				case i%3 == 2 && len(mine) > 0:
					// move it, sometimes out of the window
					if _, err := srv.UpdateEvent("alice", "", mine[len(mine)-1], msgraphtest.Event{
						Subject: fmt.Sprintf("w%d-%d-moved", w, i), Start: at.Add(time.Duration(i*24) * time.Hour), End: at.Add(time.Duration(i*24+1) * time.Hour)}); err != nil {
						t.Error(err)
					}
				default:
					ev, err := srv.CreateEvent("alice", "", msgraphtest.Event{Subject: fmt.Sprintf("w%d-%d", w, i), Start: at, End: at.Add(time.Hour)})
					if err != nil {
						t.Error(err)
						return
					}
					mine = append(mine, ev.ID)
				}
			}
		}()
	}

	local := map[string]string{}
	apply := func(items []map[string]any) {
		for _, it := range items {
			id := it["id"].(string)
			if _, ok := it["@removed"]; ok {
				delete(local, id)
			} else {
				local[id] = it["subject"].(string)
			}
		}
	}
	items, _, link := deltaRound(t, srv, "/me/calendarView/delta?startDateTime="+url.QueryEscape(ws.Format(time.RFC3339))+"&endDateTime="+url.QueryEscape(we.Format(time.RFC3339)), 3)
	apply(items)
	for range 5 {
		items, _, link = deltaRound(t, srv, link, 4)
		apply(items)
	}
	wg.Wait()
	items, _, _ = deltaRound(t, srv, link, 4)
	apply(items)

	evs, err := srv.Events("alice", "", ws, we)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{}
	for _, ev := range evs {
		want[ev.ID] = ev.Subject
	}
	if len(want) != len(local) {
		t.Fatalf("client has %d events, calendarView %d", len(local), len(want))
	}
	for id, subj := range want {
		if local[id] != subj {
			t.Fatalf("event %s: client %q, server %q", id, local[id], subj)
		}
	}
}

// FuzzDeltaToken feeds arbitrary tokens to delta: the answer is always a
// Graph error (400 or 410) or a page, never a 5xx.
func FuzzDeltaToken(f *testing.F) {
	for _, seed := range []string{"", "garbage", "AAAA", "eyJrIjoiY3YifQ", "%00", "R0usmcMDNGg0J1E"} {
		f.Add(seed, true)
		f.Add(seed, false)
	}
	srv := msgraphtest.NewServer(msgraphtest.Config{})
	f.Cleanup(srv.Close)
	srv.AddUser("alice")
	f.Fuzz(func(t *testing.T, token string, skip bool) {
		param := "$deltatoken"
		if skip {
			param = "$skiptoken"
		}
		req, err := http.NewRequest("GET", srv.URL()+"/v1.0/me/calendarView/delta?"+param+"="+url.QueryEscape(token)+"&startDateTime=2026-01-01T00:00:00Z&endDateTime=2026-02-01T00:00:00Z", nil)
		if err != nil {
			t.Skip()
		}
		req.Header.Set("Authorization", "Bearer t")
		resp, err := srv.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 200 && resp.StatusCode != 400 && resp.StatusCode != 410 {
			t.Fatalf("token %q: status %d", token, resp.StatusCode)
		}
	})
}
