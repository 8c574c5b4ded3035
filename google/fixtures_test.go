package google

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"golang.org/x/oauth2"

	"github.com/calsync/calsync/provider"
)

// fixtureServer answers every request with status and body, and records
// the requests it saw.
type fixtureServer struct {
	status int
	body   []byte
	header http.Header
	reqs   []*http.Request
	bodies [][]byte
}

func (f *fixtureServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	b, _ := io.ReadAll(r.Body)
	f.reqs = append(f.reqs, r)
	f.bodies = append(f.bodies, b)
	for k, v := range f.header {
		w.Header()[k] = v
	}
	w.Header().Set("Content-Type", "application/json; charset=UTF-8")
	w.WriteHeader(f.status)
	w.Write(f.body)
}

func fixture(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func newFixtureProvider(t *testing.T, f *fixtureServer, cfg Config) *Provider {
	t.Helper()
	srv := httptest.NewServer(f)
	t.Cleanup(srv.Close)
	if cfg.HTTPClient == nil {
		cfg.HTTPClient = &http.Client{} // each response as recorded, no retries
	}
	cfg.Endpoint = srv.URL + "/calendar/v3/"
	cfg.TokenSource = func(context.Context, string) (oauth2.TokenSource, error) {
		return oauth2.StaticTokenSource(&oauth2.Token{AccessToken: "test-access-token"}), nil
	}
	p, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

var testCal = provider.Calendar{ID: "cal-1", Provider: Name, AccountID: "acct-1", RemoteID: "primary"}

// A real events.list response, as published by a third party.
func TestFetchRecordedEventsList(t *testing.T) {
	f := &fixtureServer{status: 200, body: fixture(t, "c3_events_list.json")}
	p := newFixtureProvider(t, f, Config{})
	page, err := p.Fetch(context.Background(), testCal, provider.Position{})
	if err != nil {
		t.Fatal(err)
	}
	if !page.Last() || page.NextCursor != prefixExpanded+"CPjflvfe1YEDEPjflvfe1YEDGAUg0_uyjwI=" {
		t.Fatalf("page = %+v, want last page with the recorded nextSyncToken", page)
	}
	if len(page.Changes) != 1 {
		t.Fatalf("changes = %d, want 1", len(page.Changes))
	}
	c := page.Changes[0]
	ev := c.Event
	if c.Op != provider.Upsert || c.EventID != "6egnphrsf9aqj588m7t6bpd3ol" || ev.ID != c.EventID {
		t.Fatalf("change = %+v", c)
	}
	wantStart := time.Date(2023, 10, 2, 0, 0, 0, 0, time.UTC)
	wantUpdated := time.Date(2023, 10, 1, 20, 59, 27, 403e6, time.UTC)
	switch {
	case ev.CalendarID != "cal-1", ev.Status != "confirmed", ev.Summary != "test event":
		t.Errorf("event basics = %+v", ev)
	case !ev.Start.DateTime.Equal(wantStart) || ev.Start.TimeZone != "America/Toronto" || ev.Start.AllDay():
		t.Errorf("start = %+v, want %v America/Toronto", ev.Start, wantStart)
	case !ev.End.DateTime.Equal(wantStart.Add(time.Hour)):
		t.Errorf("end = %+v", ev.End)
	case !ev.Updated.Equal(wantUpdated):
		t.Errorf("updated = %v, want %v", ev.Updated, wantUpdated)
	case ev.ETag != `"3392387934806000"`, ev.ICalUID != "6egnphrsf9aqj588m7t6bpd3ol@google.com":
		t.Errorf("etag/iCalUID = %q %q", ev.ETag, ev.ICalUID)
	}
	wantDetails := provider.EventDetails{
		Availability: provider.AvailabilityBusy, Visibility: provider.VisibilityDefault,
		Organizer: provider.Person{Email: "d823...f601@group.calendar.google.com", Name: "Test Calendar", Self: true},
		Response:  provider.ResponseAccepted,
		WebLink:   "https://www.google.com/calendar/event?eid=NmVn...",
		Created:   time.Date(2023, 10, 1, 20, 59, 27, 0, time.UTC),
	}
	if !reflect.DeepEqual(ev.Details, wantDetails) {
		t.Errorf("details =\n%+v\nwant\n%+v", ev.Details, wantDetails)
	}
	var raw map[string]any
	if err := json.Unmarshal(ev.Raw, &raw); err != nil || raw["htmlLink"] == nil || raw["eventType"] != "default" {
		t.Errorf("raw = %s (%v), want the provider's fields", ev.Raw, err)
	}
	q := f.reqs[0].URL.Query()
	if q.Get("maxResults") != "250" || q.Has("syncToken") || q.Has("pageToken") {
		t.Errorf("full sync query = %v", q)
	}
	if got := f.reqs[0].Header.Get("Authorization"); got != "Bearer test-access-token" {
		t.Errorf("Authorization = %q", got)
	}
}

func TestFetchIncrementalQuery(t *testing.T) {
	f := &fixtureServer{status: 200, body: []byte(`{"kind":"calendar#events","nextPageToken":"p2","items":[
		{"kind":"calendar#event","etag":"\"1\"","id":"gone1","status":"cancelled"},
		{"kind":"calendar#event","etag":"\"2\"","id":"series1_20240102T100000Z","status":"cancelled","recurringEventId":"series1","originalStartTime":{"dateTime":"2024-01-02T10:00:00Z"}},
		{"kind":"calendar#event","etag":"\"3\"","id":"allday1","status":"tentative","updated":"2024-01-01T00:00:00.5Z","start":{"date":"2024-01-05"},"end":{"date":"2024-01-06"}}]}`)}
	p := newFixtureProvider(t, f, Config{SingleEvents: true, PageSize: 2500})
	page, err := p.Fetch(context.Background(), testCal, provider.Position{Cursor: prefixSingle + "SYNC1", PageToken: prefixSingle + "P1"})
	if err != nil {
		t.Fatal(err)
	}
	q := f.reqs[0].URL.Query()
	if q.Get("syncToken") != "SYNC1" || q.Get("pageToken") != "P1" || q.Get("singleEvents") != "true" || q.Get("maxResults") != "2500" {
		t.Errorf("incremental query = %v", q)
	}
	for _, forbidden := range []string{"timeMin", "timeMax", "q", "orderBy", "updatedMin", "iCalUID", "showDeleted", "privateExtendedProperty", "sharedExtendedProperty"} {
		if q.Has(forbidden) {
			t.Errorf("incremental query carries %s, which Google forbids with syncToken", forbidden)
		}
	}
	if page.Last() || page.NextPageToken != prefixSingle+"p2" {
		t.Fatalf("page tokens = %+v", page)
	}
	if c := page.Changes[0]; c.Op != provider.Delete || c.EventID != "gone1" {
		t.Errorf("cancelled event = %+v, want delete", c)
	}
	c := page.Changes[1]
	if c.Op != provider.Delete || c.Event.RecurringEventID != "series1" || c.Event.OriginalStart == nil ||
		!c.Event.OriginalStart.DateTime.Equal(time.Date(2024, 1, 2, 10, 0, 0, 0, time.UTC)) {
		t.Errorf("cancelled occurrence = %+v, want delete keeping recurrence links", c.Event)
	}
	c = page.Changes[2]
	if c.Op != provider.Upsert || !c.Event.Start.AllDay() || c.Event.Start.Date != "2024-01-05" || c.Event.Status != "tentative" {
		t.Errorf("all-day event = %+v", c.Event)
	}
}

func TestFetchCursorFromOtherMode(t *testing.T) {
	f := &fixtureServer{status: 200, body: fixture(t, "c3_events_list.json")}
	p := newFixtureProvider(t, f, Config{SingleEvents: true})
	for _, pos := range []provider.Position{{Cursor: prefixExpanded + "X"}, {Cursor: "raw-token"}, {PageToken: prefixExpanded + "X"}} {
		if _, err := p.Fetch(context.Background(), testCal, pos); !errors.Is(err, provider.ErrFullSyncRequired) {
			t.Errorf("Fetch(%+v) = %v, want ErrFullSyncRequired", pos, err)
		}
	}
	if len(f.reqs) != 0 {
		t.Errorf("%d requests sent with an unusable cursor", len(f.reqs))
	}
}

// The 410 fullSyncRequired sample of Google's error guide, both valid and
// as published (with its
// trailing comma, which is not JSON): either way a full sync is required.
func TestFetch410(t *testing.T) {
	for _, name := range []string{"c4_410.json", "c4_410_as_published.txt"} {
		t.Run(name, func(t *testing.T) {
			f := &fixtureServer{status: 410, body: fixture(t, name)}
			p := newFixtureProvider(t, f, Config{})
			_, err := p.Fetch(context.Background(), testCal, provider.Position{Cursor: prefixExpanded + "old"})
			if !errors.Is(err, provider.ErrFullSyncRequired) {
				t.Fatalf("err = %v, want ErrFullSyncRequired", err)
			}
			var pe *provider.Error
			if !errors.As(err, &pe) || pe.StatusCode != 410 {
				t.Fatalf("err = %#v, want *provider.Error 410", err)
			}
			if name == "c4_410.json" && pe.Reason != "fullSyncRequired" {
				t.Errorf("reason = %q", pe.Reason)
			}
		})
	}
}

// The rate-limit bodies of Google's error guide are reported with status,
// reason and Retry-After, and are none of the sentinels.
func TestFetchRateLimited(t *testing.T) {
	for _, tc := range []struct {
		file   string
		status int
		reason string
	}{
		{"c5_429.json", 429, "rateLimitExceeded"},
		{"c5_403_rate.json", 403, "rateLimitExceeded"},
		{"c5_403_user.json", 403, "userRateLimitExceeded"},
	} {
		t.Run(tc.file, func(t *testing.T) {
			f := &fixtureServer{status: tc.status, body: fixture(t, tc.file), header: http.Header{"Retry-After": {"2.5"}}}
			p := newFixtureProvider(t, f, Config{})
			_, err := p.Fetch(context.Background(), testCal, provider.Position{})
			var pe *provider.Error
			if !errors.As(err, &pe) {
				t.Fatalf("err = %v, want *provider.Error", err)
			}
			if pe.StatusCode != tc.status || pe.Reason != tc.reason || pe.RetryAfter != 2500*time.Millisecond {
				t.Errorf("provider.Error = %+v", pe)
			}
			for _, s := range []error{provider.ErrFullSyncRequired, provider.ErrNotFound, provider.ErrReauthRequired} {
				if errors.Is(err, s) {
					t.Errorf("rate limit matched %v", s)
				}
			}
		})
	}
}

func TestFetchBadResponses(t *testing.T) {
	for _, tc := range []struct {
		name   string
		status int
		body   string
		is     error
	}{
		{"garbage", 200, `{"items": [`, nil},
		{"not json", 200, `<html>oops</html>`, nil},
		{"no token", 200, `{"items":[]}`, nil},
		{"item without id", 200, `{"items":[{"status":"confirmed"}],"nextSyncToken":"x"}`, nil},
		{"bad dateTime", 200, `{"items":[{"id":"a1234","start":{"dateTime":"yesterday"}}],"nextSyncToken":"x"}`, nil},
		{"bad date", 200, `{"items":[{"id":"a1234","start":{"date":"2024-13-45"}}],"nextSyncToken":"x"}`, nil},
		{"bad updated", 200, `{"items":[{"id":"a1234","updated":"now"}],"nextSyncToken":"x"}`, nil},
		{"401", 401, `{"error":{"errors":[{"domain":"global","reason":"authError","message":"Invalid Credentials"}],"code":401,"message":"Invalid Credentials"}}`, provider.ErrReauthRequired},
		{"404", 404, `{"error":{"errors":[{"domain":"global","reason":"notFound","message":"Not Found"}],"code":404,"message":"Not Found"}}`, provider.ErrNotFound},
		{"500 no body", 500, ``, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := &fixtureServer{status: tc.status, body: []byte(tc.body)}
			p := newFixtureProvider(t, f, Config{})
			page, err := p.Fetch(context.Background(), testCal, provider.Position{})
			if err == nil {
				t.Fatalf("Fetch = %+v, want an error", page)
			}
			if !strings.HasPrefix(err.Error(), "google: ") {
				t.Errorf("error %q lacks the package prefix", err)
			}
			if tc.is != nil && !errors.Is(err, tc.is) {
				t.Errorf("err = %v, want %v", err, tc.is)
			}
		})
	}
}

// Real events.watch responses, as published by third parties: expiration
// arrives as a JSON string of milliseconds.
func TestWatchRecordedResponses(t *testing.T) {
	for _, tc := range []struct {
		file       string
		resourceID string
		expiration int64
	}{
		{"c2_watch_poc.json", "8pNgdSzwS_emx0WZgp30VdgdstE", 1667474712000},
		{"c2_watch_discord.json", "nLR4uoL1fandShtZSbrnMTRC7Zk", 1680445147000},
		{"c2_watch_sve.json", "9-xc9GFSc2LvPpsJiw8HveIDA3c", 1599763064000},
	} {
		t.Run(tc.file, func(t *testing.T) {
			body := fixture(t, tc.file)
			var ch struct{ ID string }
			if err := json.Unmarshal(body, &ch); err != nil {
				t.Fatal(err)
			}
			f := &fixtureServer{status: 200, body: body}
			now := time.Date(2022, 10, 27, 11, 25, 13, 0, time.UTC)
			p := newFixtureProvider(t, f, Config{Now: func() time.Time { return now }})
			sub, err := p.Watch(context.Background(), testCal, provider.WatchRequest{
				ID: ch.ID, Secret: "s3cret", Address: "https://example.com/hook", TTL: 48 * time.Hour,
			})
			if err != nil {
				t.Fatal(err)
			}
			if sub.ResourceID != tc.resourceID || !sub.Expiration.Equal(time.UnixMilli(tc.expiration)) || sub.Secret != "s3cret" {
				t.Errorf("subscription = %+v", sub)
			}
			var sent map[string]any
			if err := json.Unmarshal(f.bodies[0], &sent); err != nil {
				t.Fatal(err)
			}
			want := now.Add(48 * time.Hour).UnixMilli()
			if sent["id"] != ch.ID || sent["type"] != "web_hook" || sent["token"] != "s3cret" || sent["address"] != "https://example.com/hook" {
				t.Errorf("watch body = %s", f.bodies[0])
			}
			if exp, ok := sent["expiration"].(string); !ok || exp != jsonInt(want) {
				t.Errorf("watch expiration = %#v, want the string %q", sent["expiration"], jsonInt(want))
			}
			if !strings.HasSuffix(f.reqs[0].URL.Path, "/calendars/primary/events/watch") || f.reqs[0].Method != http.MethodPost {
				t.Errorf("watch request = %s %s", f.reqs[0].Method, f.reqs[0].URL.Path)
			}
		})
	}
}

func jsonInt(n int64) string { b, _ := json.Marshal(n); return string(b) }

func TestWatchRejectsBadRequests(t *testing.T) {
	f := &fixtureServer{status: 200, body: fixture(t, "c2_watch_poc.json")}
	p := newFixtureProvider(t, f, Config{})
	for _, req := range []provider.WatchRequest{
		{ID: "", Address: "https://x"},
		{ID: strings.Repeat("a", 65), Address: "https://x"},
		{ID: "a", Secret: strings.Repeat("s", 257), Address: "https://x"},
		{ID: "a"},
		{ID: "other-id", Address: "https://x"}, // the server answers with another channel id
	} {
		if _, err := p.Watch(context.Background(), testCal, req); err == nil {
			t.Errorf("Watch(%+v) succeeded", req)
		}
	}
}

// The stop request of Google's push guide.
func TestStop(t *testing.T) {
	f := &fixtureServer{status: 204}
	p := newFixtureProvider(t, f, Config{})
	sub := &provider.Subscription{ID: "4ba78bf0-6a47-11e2-bcfd-0800200c9a66", ResourceID: "ret08u3rv24htgh289g"}
	if err := p.Stop(context.Background(), testCal, sub); err != nil {
		t.Fatal(err)
	}
	var body map[string]any
	if err := json.Unmarshal(f.bodies[0], &body); err != nil {
		t.Fatal(err)
	}
	if body["id"] != sub.ID || body["resourceId"] != sub.ResourceID || !strings.HasSuffix(f.reqs[0].URL.Path, "/channels/stop") {
		t.Errorf("stop request %s %s", f.reqs[0].URL.Path, f.bodies[0])
	}
	f.status, f.body = 404, []byte(`{"error":{"errors":[{"domain":"global","reason":"notFound","message":"Not Found"}],"code":404,"message":"Not Found"}}`)
	if err := p.Stop(context.Background(), testCal, sub); !errors.Is(err, provider.ErrNotFound) {
		t.Errorf("stop unknown = %v, want ErrNotFound", err)
	}
}

type refusingSource struct{}

func (refusingSource) Token() (*oauth2.Token, error) {
	return nil, &oauth2.RetrieveError{Response: &http.Response{StatusCode: 400}, ErrorCode: "invalid_grant", Body: []byte(`{"error":"invalid_grant"}`)}
}

func TestRevokedGrant(t *testing.T) {
	f := &fixtureServer{status: 200, body: fixture(t, "c3_events_list.json")}
	p := newFixtureProvider(t, f, Config{})
	p.cfg.TokenSource = func(context.Context, string) (oauth2.TokenSource, error) { return refusingSource{}, nil }
	_, err := p.Fetch(context.Background(), testCal, provider.Position{})
	if !errors.Is(err, provider.ErrReauthRequired) {
		t.Fatalf("err = %v, want ErrReauthRequired", err)
	}
}

func TestRetryAfter(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for v, want := range map[string]time.Duration{
		"":                              0,
		"3":                             3 * time.Second,
		"2.128":                         2128 * time.Millisecond,
		"-1":                            0,
		"soon":                          0,
		"Thu, 01 Jan 2026 00:00:10 GMT": 10 * time.Second,
	} {
		if got := retryAfter(v, now); got != want {
			t.Errorf("retryAfter(%q) = %v, want %v", v, got, want)
		}
	}
}

func TestConfigValidation(t *testing.T) {
	if _, err := New(Config{}); err == nil {
		t.Error("New without TokenSource succeeded")
	}
	ts := func(context.Context, string) (oauth2.TokenSource, error) { return nil, nil }
	if _, err := New(Config{TokenSource: ts, PageSize: 2501}); err == nil {
		t.Error("New with PageSize 2501 succeeded")
	}
	p, err := New(Config{TokenSource: ts})
	if err != nil || p.cfg.PageSize != DefaultPageSize {
		t.Errorf("defaults: %v %+v", err, p)
	}
}

// Which 403 bodies make a calendar unavailable: a reason that is no usage
// limit does; a usage-limit reason or domain, or no reason at all (a proxy's
// page), does not.
func TestForbiddenBodies(t *testing.T) {
	for _, tc := range []struct {
		name, body  string
		unavailable bool
	}{
		{"forbidden", `{"error":{"errors":[{"domain":"global","reason":"forbidden","message":"Forbidden"}],"code":403,"message":"Forbidden"}}`, true},
		{"unknown reason", `{"error":{"errors":[{"domain":"calendar","reason":"somethingNew","message":"x"}],"code":403,"message":"x"}}`, true},
		{"usageLimits domain", `{"error":{"errors":[{"domain":"usageLimits","reason":"rateLimitExceededUnreg","message":"x"}],"code":403,"message":"x"}}`, false},
		{"dailyLimitExceeded", `{"error":{"errors":[{"domain":"global","reason":"dailyLimitExceeded","message":"Daily Limit Exceeded"}],"code":403,"message":"Daily Limit Exceeded"}}`, false},
		{"no body", ``, false},
		{"html", `<html><h1>Forbidden</h1></html>`, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := &fixtureServer{status: 403, body: []byte(tc.body)}
			p := newFixtureProvider(t, f, Config{})
			_, err := p.Fetch(context.Background(), testCal, provider.Position{})
			if err == nil {
				t.Fatal("no error")
			}
			if got := errors.Is(err, provider.ErrCalendarUnavailable); got != tc.unavailable {
				t.Errorf("ErrCalendarUnavailable = %v, want %v (%v)", got, tc.unavailable, err)
			}
		})
	}
}
