package msgraph_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"slices"
	"sync"
	"testing"
	"time"

	"golang.org/x/oauth2"

	"github.com/calsync/calsync"
	"github.com/calsync/calsync/msgraph"
	"github.com/calsync/calsync/msgraph/msgraphtest"
	"github.com/calsync/calsync/store/memory"
)

// The calendarView window moves with time: once a cursor's window is
// Window.Slide old, the next sync is a full one over a new window, so an
// event beyond the original horizon arrives, and events that did not
// change are not reported again.
func TestWindowSlides(t *testing.T) {
	ctx := context.Background()
	var (
		mu  sync.Mutex
		now = time.Date(2027, 1, 4, 9, 0, 0, 0, time.UTC)
	)
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	advance := func(d time.Duration) { mu.Lock(); now = now.Add(d); mu.Unlock() }

	// A notification endpoint that only answers the validation handshake:
	// this test syncs by hand.
	hook := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if tok := r.URL.Query().Get("validationToken"); tok != "" {
			w.Header().Set("Content-Type", "text/plain")
			w.Write([]byte(tok))
			return
		}
		w.WriteHeader(http.StatusAccepted)
	}))
	t.Cleanup(hook.Close)
	srv := msgraphtest.NewServer(msgraphtest.Config{Now: clock, Exact: true, NotificationClient: hook.Client()})
	t.Cleanup(srv.Close)
	srv.AddUser("alice")
	p, err := msgraph.New(msgraph.Config{
		BaseURL: srv.URL() + "/v1.0",
		TokenSource: func(context.Context, string) (oauth2.TokenSource, error) {
			return oauth2.StaticTokenSource(&oauth2.Token{AccessToken: "t"}), nil
		},
		HTTPClient: &http.Client{Transport: srv.Client().Transport},
		Window:     msgraph.Window{After: 20 * 24 * time.Hour, Slide: 7 * 24 * time.Hour},
		Now:        clock,
	})
	if err != nil {
		t.Fatal(err)
	}
	var reported []calsync.Change
	e, err := calsync.NewEngine(calsync.Config{
		Store: memory.New(), Providers: []calsync.Provider{p}, Now: clock,
		OnChange: func(_ context.Context, _ calsync.Calendar, cs []calsync.Change) { reported = append(reported, cs...) },
	})
	if err != nil {
		t.Fatal(err)
	}
	near, err := srv.CreateEvent("alice", "", msgraphtest.Event{Subject: "near", Start: now.Add(48 * time.Hour), End: now.Add(49 * time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	// 25 days ahead: beyond the 20-day window of the first full sync.
	far, err := srv.CreateEvent("alice", "", msgraphtest.Event{Subject: "far", Start: now.Add(25 * 24 * time.Hour), End: now.Add(25*24*time.Hour + time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	cal := calsync.Calendar{ID: "alice", Provider: msgraph.Name, AccountID: "alice"}
	if _, err := e.Connect(ctx, cal, calsync.ConnectRequest{Address: hook.URL}); err != nil {
		t.Fatal(err)
	}
	ids := func() []string {
		var out []string
		for _, c := range reported {
			out = append(out, c.Op.String()+" "+c.EventID)
		}
		return out
	}
	if got := ids(); !slices.Equal(got, []string{"upsert " + near.ID}) {
		t.Fatalf("after the first full sync: %v, want only the near event", got)
	}
	// Within Slide: incremental, the far event stays beyond the horizon.
	advance(6 * 24 * time.Hour)
	if res, err := e.Sync(ctx, cal.ID); err != nil || res.Full {
		t.Fatalf("sync within the slide = %+v, %v; want an incremental one", res, err)
	}
	// Past Slide: a full sync over a new window brings the far event, and
	// the near one, unchanged, is not reported again.
	advance(2 * 24 * time.Hour)
	res, err := e.Sync(ctx, cal.ID)
	if err != nil || !res.Full {
		t.Fatalf("sync past the slide = %+v, %v; want a full one", res, err)
	}
	if got := ids(); !slices.Equal(got, []string{"upsert " + near.ID, "upsert " + far.ID}) {
		t.Errorf("after the window moved: %v, want the far event added and nothing else", got)
	}
}

// The window moves at its start too: the full sync of a slide lists only
// what overlaps [now − Before, now + After], so its sweep removes from the
// local copy an event that ended before the new start, though the mailbox
// still has it, and reports the removal; an event still inside stays. A
// check of the local copy must therefore compare it with the window of the
// calendar's last full sync, not with a window fixed when it was connected.
func TestWindowSlideDropsThePast(t *testing.T) {
	ctx := context.Background()
	var (
		mu  sync.Mutex
		now = time.Date(2027, 3, 1, 18, 0, 0, 0, time.UTC)
	)
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	advance := func(d time.Duration) { mu.Lock(); now = now.Add(d); mu.Unlock() }
	hook := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if tok := r.URL.Query().Get("validationToken"); tok != "" {
			w.Header().Set("Content-Type", "text/plain")
			w.Write([]byte(tok))
			return
		}
		w.WriteHeader(http.StatusAccepted)
	}))
	t.Cleanup(hook.Close)
	srv := msgraphtest.NewServer(msgraphtest.Config{Now: clock, Exact: true, NotificationClient: hook.Client()})
	t.Cleanup(srv.Close)
	srv.AddUser("alice")
	p, err := msgraph.New(msgraph.Config{
		BaseURL: srv.URL() + "/v1.0",
		TokenSource: func(context.Context, string) (oauth2.TokenSource, error) {
			return oauth2.StaticTokenSource(&oauth2.Token{AccessToken: "t"}), nil
		},
		HTTPClient: &http.Client{Transport: srv.Client().Transport},
		Window:     msgraph.Window{Before: 2 * 24 * time.Hour, After: 20 * 24 * time.Hour, Slide: 7 * 24 * time.Hour},
		Now:        clock,
	})
	if err != nil {
		t.Fatal(err)
	}
	st := memory.New()
	var reported []string
	e, err := calsync.NewEngine(calsync.Config{
		Store: st, Providers: []calsync.Provider{p}, Now: clock,
		OnChange: func(_ context.Context, _ calsync.Calendar, cs []calsync.Change) {
			for _, c := range cs {
				reported = append(reported, c.Op.String()+" "+c.EventID)
			}
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	// Four days ahead: inside the first window, 3 days behind the second
	// (set 8 days later, reaching back 2).
	past, err := srv.CreateEvent("alice", "", msgraphtest.Event{Subject: "past", Start: now.Add(4 * 24 * time.Hour), End: now.Add(4*24*time.Hour + time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	// Ten days ahead: inside both windows.
	kept, err := srv.CreateEvent("alice", "", msgraphtest.Event{Subject: "kept", Start: now.Add(10 * 24 * time.Hour), End: now.Add(10*24*time.Hour + time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	cal := calsync.Calendar{ID: "alice", Provider: msgraph.Name, AccountID: "alice"}
	if _, err := e.Connect(ctx, cal, calsync.ConnectRequest{Address: hook.URL}); err != nil {
		t.Fatal(err)
	}
	local := func() []string {
		evs, err := st.ListEvents(ctx, cal.ID, "", 100)
		if err != nil {
			t.Fatal(err)
		}
		var ids []string
		for _, ev := range evs {
			ids = append(ids, ev.ID)
		}
		return ids
	}
	want := []string{past.ID, kept.ID}
	slices.Sort(want)
	if got := local(); !slices.Equal(got, want) {
		t.Fatalf("after the first full sync the local copy holds %v, want %v", got, want)
	}
	advance(8 * 24 * time.Hour)
	res, err := e.Sync(ctx, cal.ID)
	if err != nil || !res.Full {
		t.Fatalf("sync past the slide = %+v, %v; want a full one", res, err)
	}
	if got := local(); !slices.Equal(got, []string{kept.ID}) {
		t.Errorf("after the window moved the local copy holds %v, want only %s (%s ended before the new window)", got, kept.ID, past.ID)
	}
	if !slices.Contains(reported, "delete "+past.ID) {
		t.Errorf("reported %v, want the removal of %s", reported, past.ID)
	}
	if _, err := srv.Event("alice", "", past.ID); err != nil {
		t.Errorf("the mailbox lost %s: %v", past.ID, err)
	}
}
