package google_test

import (
	"context"
	"errors"
	"net/http"
	"testing"
	"time"

	"golang.org/x/oauth2"

	"github.com/calsync/calsync/google"
	"github.com/calsync/calsync/google/googletest"
	"github.com/calsync/calsync/provider"
)

const emuCal = "cal@example.com"

var emuCalendar = provider.Calendar{ID: "cal-1", Provider: google.Name, AccountID: "acct", RemoteID: emuCal}

// newEmuProvider is a Provider without retries against an emulator (with
// emuCfg) holding emuCal and a few events.
func newEmuProvider(t *testing.T, emuCfg googletest.Config, cfg google.Config) (*googletest.Server, *google.Provider) {
	t.Helper()
	emu := googletest.NewServer(emuCfg)
	t.Cleanup(emu.Close)
	if err := emu.AddCalendar(emuCal, "UTC"); err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		if _, err := emu.InsertEvent(emuCal, event("e", i)); err != nil {
			t.Fatal(err)
		}
	}
	cfg.HTTPClient = &http.Client{}
	cfg.Endpoint = emu.Endpoint()
	cfg.TokenSource = func(context.Context, string) (oauth2.TokenSource, error) { return staticToken, nil }
	p, err := google.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return emu, p
}

// fetchAll pages from pos to the end and returns the new cursor.
func fetchAll(t *testing.T, p *google.Provider, pos provider.Position) string {
	t.Helper()
	for range 100 {
		page, err := p.Fetch(context.Background(), emuCalendar, pos)
		if err != nil {
			t.Fatal(err)
		}
		if page.Last() {
			return page.NextCursor
		}
		pos.PageToken = page.NextPageToken
	}
	t.Fatal("Fetch never reached the last page")
	return ""
}

// A stale sync token answered with Google's 400 "Invalid sync token value."
// means resync, exactly like the 410, on the first
// page of an incremental list and on a later one.
func TestFetchStaleSyncToken400IsFullSyncRequired(t *testing.T) {
	for _, answer := range []googletest.StaleTokenAnswer{googletest.StaleToken400, googletest.StaleToken410} {
		t.Run(answer.String(), func(t *testing.T) {
			emu, p := newEmuProvider(t, googletest.Config{StaleSyncToken: answer}, google.Config{PageSize: 1})
			cursor := fetchAll(t, p, provider.Position{})
			// A page token of an incremental list, for the second case.
			for i := range 2 {
				if _, err := emu.InsertEvent(emuCal, event("later", i)); err != nil {
					t.Fatal(err)
				}
			}
			page, err := p.Fetch(context.Background(), emuCalendar, provider.Position{Cursor: cursor})
			if err != nil || page.Last() {
				t.Fatalf("incremental first page = %+v, %v", page, err)
			}
			if err := emu.ExpireSyncTokens(emuCal); err != nil {
				t.Fatal(err)
			}
			for _, pos := range []provider.Position{{Cursor: cursor}, {Cursor: cursor, PageToken: page.NextPageToken}} {
				_, err := p.Fetch(context.Background(), emuCalendar, pos)
				if !errors.Is(err, provider.ErrFullSyncRequired) {
					t.Fatalf("Fetch(%+v) = %v, want ErrFullSyncRequired", pos, err)
				}
				var pe *provider.Error
				if !errors.As(err, &pe) || pe.Op != "events.list" {
					t.Fatalf("err = %#v, want a ProviderError of events.list", err)
				}
			}
			if got := emu.RequestCount(googletest.OpEventsList, emuCal); got < 6 {
				t.Fatalf("%d events.list calls: the stale token never reached the emulator", got)
			}
		})
	}
}

// A 400 on a list without a sync token is a permanent error of the
// request, not a stale cursor: a full sync would fail the same way.
func TestFetch400WithoutSyncTokenIsPermanent(t *testing.T) {
	emu, p := newEmuProvider(t, googletest.Config{}, google.Config{})
	for _, f := range []googletest.Fault{
		{Op: googletest.OpEventsList, Status: 400, Reason: "invalid", Message: "Invalid sync token value."},
		{Op: googletest.OpEventsList, Status: 400, Reason: "invalid"},
		{Op: googletest.OpEventsList, Status: 400, Reason: "timeRangeEmpty"},
	} {
		emu.Fail(f)
		_, err := p.Fetch(context.Background(), emuCalendar, provider.Position{})
		var pe *provider.Error
		if !errors.As(err, &pe) || pe.StatusCode != 400 {
			t.Fatalf("%+v: err = %v, want a ProviderError 400", f, err)
		}
		if errors.Is(err, provider.ErrFullSyncRequired) {
			t.Fatalf("%+v: a 400 without a sync token asks for a full sync: %v", f, err)
		}
	}
}

// Other 400s on an incremental list: a reason that names another problem
// stays permanent; "invalid" (the sync token's reason) resyncs.
func TestFetchIncremental400Reasons(t *testing.T) {
	emu, p := newEmuProvider(t, googletest.Config{}, google.Config{})
	cursor := fetchAll(t, p, provider.Position{})
	for _, tc := range []struct {
		fault  googletest.Fault
		resync bool
	}{
		{googletest.Fault{Status: 400, Reason: "invalid", Message: "Invalid sync token value."}, true},
		{googletest.Fault{Status: 400, Reason: "invalid", Message: "Invalid Value"}, true},
		{googletest.Fault{Status: 400, Reason: "badRequest", Message: "Invalid sync token value."}, true},
		{googletest.Fault{Status: 400, Reason: "syncTokenWithRequestRestrictions", Message: "Sync token cannot be used with other request restrictions."}, false},
		{googletest.Fault{Status: 400, Reason: "timeRangeEmpty"}, false},
	} {
		tc.fault.Op = googletest.OpEventsList
		emu.Fail(tc.fault)
		_, err := p.Fetch(context.Background(), emuCalendar, provider.Position{Cursor: cursor})
		if err == nil {
			t.Fatalf("%+v: no error", tc.fault)
		}
		if got := errors.Is(err, provider.ErrFullSyncRequired); got != tc.resync {
			t.Errorf("%+v: ErrFullSyncRequired = %v, want %v (%v)", tc.fault, got, tc.resync, err)
		}
	}
}

// A Retry-After date is measured against the Provider's clock (Config.Now),
// the same clock the emulator dated it with, not the machine's.
func TestFetchRetryAfterDateUsesConfigNow(t *testing.T) {
	now := time.Date(2026, 3, 2, 9, 30, 0, 0, time.UTC)
	clock := func() time.Time { return now }
	emu, p := newEmuProvider(t, googletest.Config{Now: clock}, google.Config{Now: clock})
	emu.Fail(googletest.Fault{Op: googletest.OpEventsList, Status: 429, RetryAfterIn: 30 * time.Second})
	_, err := p.Fetch(context.Background(), emuCalendar, provider.Position{})
	var pe *provider.Error
	if !errors.As(err, &pe) || pe.StatusCode != 429 {
		t.Fatalf("err = %v, want a ProviderError 429", err)
	}
	if pe.RetryAfter != 30*time.Second {
		t.Fatalf("RetryAfter = %v, want 30s", pe.RetryAfter)
	}
}

// calls runs the calendar's own calls (a full list, an incremental list,
// a watch) and returns their errors by name.
func calendarCalls(t *testing.T, p *google.Provider, cursor string) map[string]error {
	t.Helper()
	ctx := context.Background()
	out := map[string]error{}
	_, out["events.list (full)"] = p.Fetch(ctx, emuCalendar, provider.Position{})
	_, out["events.list (incremental)"] = p.Fetch(ctx, emuCalendar, provider.Position{Cursor: cursor})
	_, out["events.watch"] = p.Watch(ctx, emuCalendar, provider.WatchRequest{ID: "ch-unavailable", Secret: "s", Address: "https://hooks.example/g", TTL: time.Hour})
	return out
}

// Bug 13: a calendar that was deleted, or that the account can no longer
// see or read, answers its own list and watch with 404 or a 403 that is not
// a rate limit, for good: the error wraps provider.ErrCalendarUnavailable
// (a 404 still wraps provider.ErrNotFound too).
func TestCalendarUnavailable(t *testing.T) {
	for _, tc := range []struct {
		name     string
		refuse   func(*googletest.Server) error
		status   int
		notFound bool
	}{
		{"deleted", func(s *googletest.Server) error { return s.DeleteCalendar(emuCal) }, 404, true},
		{"access revoked, 404", func(s *googletest.Server) error { return s.RevokeCalendarAccess(emuCal, 0, "") }, 404, true},
		{"access revoked, 403 forbidden", func(s *googletest.Server) error { return s.RevokeCalendarAccess(emuCal, 403, "forbidden") }, 403, false},
		{"access revoked, 403 requiredAccessLevel", func(s *googletest.Server) error {
			return s.RevokeCalendarAccess(emuCal, 403, "requiredAccessLevel")
		}, 403, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			emu, p := newEmuProvider(t, googletest.Config{}, google.Config{})
			cursor := fetchAll(t, p, provider.Position{})
			if err := tc.refuse(emu); err != nil {
				t.Fatal(err)
			}
			for call, err := range calendarCalls(t, p, cursor) {
				var pe *provider.Error
				if !errors.As(err, &pe) || pe.StatusCode != tc.status {
					t.Fatalf("%s: err = %v, want a ProviderError %d", call, err, tc.status)
				}
				if !errors.Is(err, provider.ErrCalendarUnavailable) {
					t.Errorf("%s: %v does not wrap ErrCalendarUnavailable", call, err)
				}
				if got := errors.Is(err, provider.ErrNotFound); got != tc.notFound {
					t.Errorf("%s: ErrNotFound = %v, want %v", call, got, tc.notFound)
				}
				if errors.Is(err, provider.ErrFullSyncRequired) || errors.Is(err, provider.ErrReauthRequired) {
					t.Errorf("%s: %v wraps another sentinel", call, err)
				}
			}
		})
	}
}

// Rate limits (403 rateLimitExceeded, userRateLimitExceeded, quotaExceeded,
// dailyLimitExceeded, and 429), a revoked token (401), and a 404 of
// channels.stop (an unknown channel, not a calendar) do not make the
// calendar unavailable.
func TestCalendarAvailableDespiteErrors(t *testing.T) {
	faults := []googletest.Fault{
		{Status: 403, Reason: "rateLimitExceeded"},
		{Status: 403, Reason: "userRateLimitExceeded"},
		{Status: 403, Reason: "quotaExceeded"},
		{Status: 403, Reason: "dailyLimitExceeded"},
		{Status: 429, Reason: "rateLimitExceeded"},
		{Status: 500},
	}
	for _, f := range faults {
		t.Run(f.Reason+" "+http.StatusText(f.Status), func(t *testing.T) {
			emu, p := newEmuProvider(t, googletest.Config{}, google.Config{})
			cursor := fetchAll(t, p, provider.Position{})
			f.Times = 3
			emu.Fail(f)
			for call, err := range calendarCalls(t, p, cursor) {
				var pe *provider.Error
				if !errors.As(err, &pe) || pe.StatusCode != f.Status {
					t.Fatalf("%s: err = %v, want a ProviderError %d", call, err, f.Status)
				}
				if errors.Is(err, provider.ErrCalendarUnavailable) {
					t.Errorf("%s: %v makes the calendar unavailable", call, err)
				}
			}
		})
	}
	t.Run("401", func(t *testing.T) {
		emu, p := newEmuProvider(t, googletest.Config{}, google.Config{})
		cursor := fetchAll(t, p, provider.Position{})
		emu.RevokeAll()
		for call, err := range calendarCalls(t, p, cursor) {
			if !errors.Is(err, provider.ErrReauthRequired) || errors.Is(err, provider.ErrCalendarUnavailable) {
				t.Errorf("%s: err = %v, want ErrReauthRequired only", call, err)
			}
		}
	})
	t.Run("channels.stop 404", func(t *testing.T) {
		_, p := newEmuProvider(t, googletest.Config{}, google.Config{})
		err := p.Stop(context.Background(), emuCalendar, &provider.Subscription{ID: "nope", ResourceID: "nope"})
		if !errors.Is(err, provider.ErrNotFound) || errors.Is(err, provider.ErrCalendarUnavailable) {
			t.Errorf("err = %v, want ErrNotFound only", err)
		}
	})
}
