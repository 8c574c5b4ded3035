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

// windowRig is the Graph emulator on a settable clock (exact counts), a
// notification endpoint that only answers the validation handshake (the
// window tests sync by hand), and a Provider with window w.
type windowRig struct {
	mu   sync.Mutex
	t    time.Time
	hook *httptest.Server
	srv  *msgraphtest.Server
	p    *msgraph.Provider
}

func (r *windowRig) clock() time.Time { r.mu.Lock(); defer r.mu.Unlock(); return r.t }
func (r *windowRig) advance(d time.Duration) {
	r.mu.Lock()
	r.t = r.t.Add(d)
	r.mu.Unlock()
}

func newWindowRig(t *testing.T, start time.Time, w msgraph.Window) *windowRig {
	t.Helper()
	r := &windowRig{t: start}
	r.hook = httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		if tok := req.URL.Query().Get("validationToken"); tok != "" {
			w.Header().Set("Content-Type", "text/plain")
			w.Write([]byte(tok))
			return
		}
		w.WriteHeader(http.StatusAccepted)
	}))
	t.Cleanup(r.hook.Close)
	r.srv = msgraphtest.NewServer(msgraphtest.Config{Now: r.clock, Exact: true, NotificationClient: r.hook.Client()})
	t.Cleanup(r.srv.Close)
	r.srv.AddUser("alice")
	p, err := msgraph.New(msgraph.Config{
		BaseURL: r.srv.URL() + "/v1.0",
		TokenSource: func(context.Context, string) (oauth2.TokenSource, error) {
			return oauth2.StaticTokenSource(&oauth2.Token{AccessToken: "t"}), nil
		},
		HTTPClient: &http.Client{Transport: r.srv.Client().Transport},
		Window:     w,
		Now:        r.clock,
	})
	if err != nil {
		t.Fatal(err)
	}
	r.p = p
	return r
}

// The calendarView window moves with time: once a cursor's window is
// Window.Slide old, the next sync is a full one over a new window, so an
// event beyond the original horizon arrives, and events that did not
// change are not reported again.
func TestWindowSlides(t *testing.T) {
	ctx := context.Background()
	r := newWindowRig(t, time.Date(2027, 1, 4, 9, 0, 0, 0, time.UTC), msgraph.Window{After: 20 * 24 * time.Hour, Slide: 7 * 24 * time.Hour})
	now, clock, advance, hook, srv, p := r.clock(), r.clock, r.advance, r.hook, r.srv, r.p
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
	r := newWindowRig(t, time.Date(2027, 3, 1, 18, 0, 0, 0, time.UTC), msgraph.Window{Before: 2 * 24 * time.Hour, After: 20 * 24 * time.Hour, Slide: 7 * 24 * time.Hour})
	now, clock, advance, hook, srv, p := r.clock(), r.clock, r.advance, r.hook, r.srv, r.p
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
