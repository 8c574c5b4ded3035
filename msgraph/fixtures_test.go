package msgraph

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"maps"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/oauth2"

	"github.com/calsync/calsync/provider"
)

const graphRoot = "https://graph.microsoft.com/v1.0"

// reply is one canned answer.
type reply struct {
	status int
	body   []byte
	header http.Header
	hangup bool // close the connection without an answer
}

// fixtureServer answers requests with its replies in turn (the last one
// repeats) and records what it saw. Links to graphRoot in bodies are
// rewritten to the server's own root unless keepLinks is set.
type fixtureServer struct {
	mu        sync.Mutex
	replies   []reply
	keepLinks bool
	root      string
	reqs      []*http.Request
	bodies    [][]byte
}

func (f *fixtureServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	b, _ := io.ReadAll(r.Body)
	f.mu.Lock()
	f.reqs = append(f.reqs, r)
	f.bodies = append(f.bodies, b)
	rp := f.replies[min(len(f.reqs), len(f.replies))-1]
	f.mu.Unlock()
	if rp.hangup {
		if c, _, err := http.NewResponseController(w).Hijack(); err == nil {
			c.Close()
		}
		return
	}
	for k, v := range rp.header {
		w.Header()[k] = v
	}
	body := rp.body
	if !f.keepLinks {
		body = bytes.ReplaceAll(body, []byte(graphRoot), []byte(f.root))
	}
	if len(body) > 0 {
		w.Header().Set("Content-Type", "application/json; odata.metadata=minimal")
	}
	w.WriteHeader(rp.status)
	w.Write(body)
}

func fixture(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

var testNow = time.Date(2016, 12, 1, 0, 0, 0, 0, time.UTC)

const testToken = "test-access-token-5f1e"

func newFixtureProvider(t *testing.T, f *fixtureServer, cfg Config) *Provider {
	t.Helper()
	srv := httptest.NewServer(f)
	t.Cleanup(srv.Close)
	f.root = srv.URL + "/v1.0"
	cfg.BaseURL = f.root
	if cfg.HTTPClient == nil {
		// No retries: these tests look at single answers.
		cfg.HTTPClient = &http.Client{}
	}
	if cfg.TokenSource == nil {
		cfg.TokenSource = func(context.Context, string) (oauth2.TokenSource, error) {
			return oauth2.StaticTokenSource(&oauth2.Token{AccessToken: testToken}), nil
		}
	}
	if cfg.Now == nil {
		cfg.Now = func() time.Time { return testNow }
	}
	p, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

var testCal = provider.Calendar{ID: "cal-1", Provider: Name, AccountID: "acct-1"}

// The calendarView delta round of Microsoft's delta query guide for events
// (https://learn.microsoft.com/en-us/graph/delta-query-events): a first
// page with a nextLink, a last page with the deltaLink, and the next
// round's deletion and update, each request replaying the link verbatim.
func TestFetchRecordedDeltaRound(t *testing.T) {
	f := &fixtureServer{replies: []reply{
		{status: 200, body: fixture(t, "c9_delta_first_page.json")},
		{status: 200, body: fixture(t, "c9_delta_last_page.json")},
		{status: 200, body: fixture(t, "c9_delta_next_round.json")},
	}}
	p := newFixtureProvider(t, f, Config{MaxPageSize: 2})
	ctx := context.Background()

	page, err := p.Fetch(ctx, testCal, provider.Position{})
	if err != nil {
		t.Fatal(err)
	}
	r := f.reqs[0]
	if r.Method != "GET" || r.URL.Path != "/v1.0/me/calendarView/delta()" && r.URL.Path != "/v1.0/me/calendarView/delta" {
		t.Errorf("first request %s %s", r.Method, r.URL.Path)
	}
	q := r.URL.Query()
	if q.Get("startDateTime") != "2016-11-01T00:00:00Z" || q.Get("endDateTime") != "2017-12-01T00:00:00Z" {
		t.Errorf("window = %s .. %s", q.Get("startDateTime"), q.Get("endDateTime"))
	}
	prefer := strings.Join(r.Header.Values("Prefer"), ",")
	if !strings.Contains(prefer, "odata.maxpagesize=2") || !strings.Contains(prefer, `outlook.timezone="UTC"`) {
		t.Errorf("Prefer = %q", prefer)
	}
	if got := r.Header.Get("Authorization"); got != "Bearer "+testToken {
		t.Errorf("Authorization = %q", got)
	}
	if page.Last() || page.NextPageToken != p.prefix(p.cfg.Now())+f.root+"/me/calendarView/delta?$skiptoken=R0usmcCM996atia_s" {
		t.Fatalf("first page token %q", page.NextPageToken)
	}
	if len(page.Changes) != 1 {
		t.Fatalf("changes = %+v", page.Changes)
	}
	c := page.Changes[0]
	ev := c.Event
	if c.Op != provider.Upsert || c.EventID != "AAMkADNVxRAAA=" || ev.Summary != "Plan shopping list" || ev.CalendarID != "cal-1" ||
		ev.ETag != `W/"EZ9r3czxY0m2jz8c45czkwAAFXcvIQ=="` || ev.Status != "confirmed" ||
		!ev.Start.DateTime.Equal(time.Date(2016, 12, 9, 20, 30, 0, 0, time.UTC)) ||
		!ev.End.DateTime.Equal(time.Date(2016, 12, 9, 22, 0, 0, 0, time.UTC)) || ev.Start.AllDay() {
		t.Errorf("change = %+v, event %+v", c, ev)
	}
	var raw map[string]any
	if err := json.Unmarshal(ev.Raw, &raw); err != nil || raw["subject"] != "Plan shopping list" || raw["organizer"] == nil {
		t.Errorf("Raw = %s (%v)", ev.Raw, err)
	}

	page, err = p.Fetch(ctx, testCal, provider.Position{PageToken: page.NextPageToken})
	if err != nil {
		t.Fatal(err)
	}
	if got := f.reqs[1].URL.RequestURI(); got != "/v1.0/me/calendarView/delta?$skiptoken=R0usmcCM996atia_s" {
		t.Errorf("nextLink request %q, want it verbatim", got)
	}
	if !page.Last() || page.NextCursor != p.prefix(p.cfg.Now())+f.root+"/me/calendarView/delta?$deltatoken=R0usmcMDNGg0J1E" || len(page.Changes) != 0 {
		t.Fatalf("last page = %+v", page)
	}

	page, err = p.Fetch(ctx, testCal, provider.Position{Cursor: page.NextCursor})
	if err != nil {
		t.Fatal(err)
	}
	if got := f.reqs[2].URL.RequestURI(); got != "/v1.0/me/calendarView/delta?$deltatoken=R0usmcMDNGg0J1E" {
		t.Errorf("deltaLink request %q", got)
	}
	if len(page.Changes) != 2 || page.NextCursor != p.prefix(p.cfg.Now())+f.root+"/me/calendarView/delta?$deltatoken=R0usmcFuQtZdtpk4" {
		t.Fatalf("next round = %+v", page)
	}
	if d := page.Changes[0]; d.Op != provider.Delete || d.EventID != "AAMkADk0MGFkODE3LWE4MmYtNDRhOS04OGQLkRkXbBznTvAADb6ytyAAA=" {
		t.Errorf("removed item = %+v", d)
	}
	if u := page.Changes[1]; u.Op != provider.Upsert || u.EventID != "AAMkADj1HvAAA=" || u.Event.Summary != "Attend service" {
		t.Errorf("updated item = %+v", u)
	}
	for _, r := range f.reqs {
		if prefer := strings.Join(r.Header.Values("Prefer"), ","); !strings.Contains(prefer, "odata.maxpagesize=2") {
			t.Errorf("%s: Prefer = %q", r.URL, prefer)
		}
	}
}

// A secondary calendar and events/delta use their own paths.
func TestFetchPaths(t *testing.T) {
	for _, tc := range []struct {
		events bool
		remote string
		want   string
	}{
		{false, "cal-x", "/v1.0/me/calendars/cal-x/calendarView/delta"},
		{true, "", "/v1.0/me/events/delta"},
		{true, "cal-x", "/v1.0/me/calendars/cal-x/events/delta"},
	} {
		f := &fixtureServer{replies: []reply{{status: 200, body: fixture(t, "c9_delta_last_page.json")}}}
		p := newFixtureProvider(t, f, Config{UseEventsDelta: tc.events})
		cal := testCal
		cal.RemoteID = tc.remote
		page, err := p.Fetch(context.Background(), cal, provider.Position{})
		if err != nil {
			t.Fatal(err)
		}
		if got := strings.TrimSuffix(f.reqs[0].URL.Path, "()"); got != tc.want {
			t.Errorf("events %v remote %q: path %q, want %q", tc.events, tc.remote, got, tc.want)
		}
		if wantPrefix := map[bool]string{false: prefixCalendarViewV2, true: prefixEvents}[tc.events]; !strings.HasPrefix(page.NextCursor, wantPrefix) {
			t.Errorf("cursor %q", page.NextCursor)
		}
	}
}

// A 410 SyncStateNotFound as recorded from live Graph
// (https://github.com/microsoftgraph/microsoft-graph-docs/issues/2350) and
// the documented spellings of the code mean a full sync; other errors map
// to their sentinels, with Retry-After.
func TestFetchErrors(t *testing.T) {
	graphErr := func(code string) []byte {
		return []byte(`{"error":{"code":"` + code + `","message":"m","innerError":{"request-id":"r"}}}`)
	}
	for _, tc := range []struct {
		name       string
		reply      reply
		want       error
		reason     string
		retryAfter time.Duration
	}{
		{"c10 recorded", reply{status: 410, body: fixture(t, "c10_410.json")}, provider.ErrFullSyncRequired, "SyncStateNotFound", 0},
		{"syncStateNotFound", reply{status: 410, body: graphErr("syncStateNotFound")}, provider.ErrFullSyncRequired, "syncStateNotFound", 0},
		{"resyncRequired", reply{status: 410, body: graphErr("resyncRequired")}, provider.ErrFullSyncRequired, "resyncRequired", 0},
		{"RESYNCREQUIRED 400", reply{status: 400, body: graphErr("RESYNCREQUIRED")}, provider.ErrFullSyncRequired, "RESYNCREQUIRED", 0},
		{"410 no body", reply{status: 410}, provider.ErrFullSyncRequired, "", 0},
		{"410 html", reply{status: 410, body: []byte("<html>gone")}, provider.ErrFullSyncRequired, "", 0},
		{"401", reply{status: 401, body: graphErr("InvalidAuthenticationToken")}, provider.ErrReauthRequired, "InvalidAuthenticationToken", 0},
		{"429 b8", reply{status: 429, body: fixture(t, "b8_429.json"), header: http.Header{"Retry-After": {"2.128"}}}, nil, "TooManyRequests", 2128 * time.Millisecond},
		{"503", reply{status: 503, body: []byte("not json"), header: http.Header{"Retry-After": {"7"}}}, nil, "", 7 * time.Second},
		{"400 other", reply{status: 400, body: graphErr("BadRequest")}, nil, "BadRequest", 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := &fixtureServer{replies: []reply{tc.reply}}
			p := newFixtureProvider(t, f, Config{})
			_, err := p.Fetch(context.Background(), testCal, provider.Position{Cursor: prefixCalendarView + f.root + "/me/calendarView/delta?$deltatoken=x"})
			pe, ok := errors.AsType[*provider.Error](err)
			if !ok {
				t.Fatalf("err = %v, want a *provider.Error", err)
			}
			if pe.StatusCode != tc.reply.status || pe.Reason != tc.reason || pe.RetryAfter != tc.retryAfter || pe.Provider != Name {
				t.Errorf("provider.Error = %+v", pe)
			}
			for _, s := range []error{provider.ErrFullSyncRequired, provider.ErrReauthRequired, provider.ErrNotFound, provider.ErrSubscriptionGone} {
				if errors.Is(err, s) != (s == tc.want) {
					t.Errorf("errors.Is(%v) = %v", s, errors.Is(err, s))
				}
			}
			if strings.Contains(err.Error(), testToken) {
				t.Errorf("error %q contains the token", err)
			}
		})
	}
}

// Bad bodies are clear errors, never panics or empty successes.
func TestFetchMalformed(t *testing.T) {
	for name, body := range map[string]string{
		"empty":          ``,
		"truncated":      `{"value":[{"id":"a"`,
		"not an object":  `[1,2]`,
		"no links":       `{"value":[]}`,
		"id not string":  `{"value":[{"id":5}],"@odata.deltaLink":"` + graphRoot + `/me/calendarView/delta?$deltatoken=x"}`,
		"no id":          `{"value":[{"subject":"x"}],"@odata.deltaLink":"` + graphRoot + `/me/calendarView/delta?$deltatoken=x"}`,
		"bad dateTime":   `{"value":[{"id":"a","start":{"dateTime":"yesterday","timeZone":"UTC"}}],"@odata.deltaLink":"` + graphRoot + `/d"}`,
		"bad modified":   `{"value":[{"id":"a","lastModifiedDateTime":"x"}],"@odata.deltaLink":"` + graphRoot + `/d"}`,
		"value not list": `{"value":{},"@odata.deltaLink":"` + graphRoot + `/d"}`,
		"null item":      `{"value":[null],"@odata.deltaLink":"` + graphRoot + `/d"}`,
	} {
		t.Run(name, func(t *testing.T) {
			f := &fixtureServer{replies: []reply{{status: 200, body: []byte(body)}}}
			p := newFixtureProvider(t, f, Config{})
			page, err := p.Fetch(context.Background(), testCal, provider.Position{})
			if err == nil || !strings.HasPrefix(err.Error(), "msgraph: ") {
				t.Fatalf("Fetch = %+v, %v; want an msgraph error", page, err)
			}
			if errors.Is(err, provider.ErrFullSyncRequired) {
				t.Errorf("malformed body taken for a 410: %v", err)
			}
		})
	}
}

// Tokens go only to the configured host: links elsewhere are refused, and
// cursors of another mode or provider start a full sync.
func TestFetchForeignLinks(t *testing.T) {
	f := &fixtureServer{replies: []reply{{status: 200, body: fixture(t, "c9_delta_first_page.json")}}, keepLinks: true}
	p := newFixtureProvider(t, f, Config{})
	if _, err := p.Fetch(context.Background(), testCal, provider.Position{}); err == nil || !strings.Contains(err.Error(), "nextLink outside") {
		t.Errorf("foreign nextLink accepted: %v", err)
	}
	for _, pos := range []provider.Position{
		{Cursor: prefixCalendarView + graphRoot + "/me/calendarView/delta?$deltatoken=x"},
		{Cursor: prefixEvents + f.root + "/me/events/delta?$deltatoken=x"},
		{Cursor: "g1r:CPjflvfe1YEDEPjflvfe1YEDGAUg0_uyjwI="},
		{Cursor: "c", PageToken: prefixCalendarView + "https://evil.example/steal"},
	} {
		if _, err := p.Fetch(context.Background(), testCal, pos); !errors.Is(err, provider.ErrFullSyncRequired) {
			t.Errorf("Fetch(%+v) = %v, want ErrFullSyncRequired", pos, err)
		}
	}
	if len(f.reqs) != 1 {
		t.Errorf("%d requests sent, want only the first", len(f.reqs))
	}
}

// A token source the authorization server refuses is a reauth, and its
// body is not echoed.
func TestFetchRefusedGrant(t *testing.T) {
	f := &fixtureServer{replies: []reply{{status: 200, body: fixture(t, "c9_delta_last_page.json")}}}
	p := newFixtureProvider(t, f, Config{TokenSource: func(context.Context, string) (oauth2.TokenSource, error) {
		return refusing{}, nil
	}})
	_, err := p.Fetch(context.Background(), testCal, provider.Position{})
	if !errors.Is(err, provider.ErrReauthRequired) || strings.Contains(err.Error(), "refresh-token-secret") {
		t.Fatalf("err = %v", err)
	}
	if len(f.reqs) != 0 {
		t.Errorf("request sent without a token")
	}
}

type refusing struct{}

func (refusing) Token() (*oauth2.Token, error) {
	return nil, &oauth2.RetrieveError{ErrorCode: "invalid_grant", Body: []byte("refresh-token-secret")}
}

// Watch sends the request shape of the lifecycle guide's sample (plus
// deleted) and keeps the id and expiration of the 201 answer.
func TestWatchRequestShape(t *testing.T) {
	f := &fixtureServer{replies: []reply{{status: 201, body: fixture(t, "b1_subscription_created.json")}}}
	p := newFixtureProvider(t, f, Config{})
	secret := strings.Repeat("ab", 32)
	sub, err := p.Watch(context.Background(), testCal, provider.WatchRequest{
		ID: "ignored", Secret: secret, Address: "https://app.example/hooks/graph",
		LifecycleAddress: "https://app.example/hooks/graph-lifecycle", TTL: 30 * 24 * time.Hour,
	})
	if err != nil {
		t.Fatal(err)
	}
	r := f.reqs[0]
	if r.Method != "POST" || r.URL.Path != "/v1.0/subscriptions" || r.Header.Get("Authorization") != "Bearer "+testToken {
		t.Errorf("request %s %s", r.Method, r.URL.Path)
	}
	var got, want map[string]any
	if err := json.Unmarshal(f.bodies[0], &got); err != nil {
		t.Fatalf("body %s: %v", f.bodies[0], err)
	}
	json.Unmarshal(fixture(t, "c11_lifecycle_request.json"), &want)
	if k1, k2 := slices.Sorted(maps.Keys(got)), slices.Sorted(maps.Keys(want)); !slices.Equal(k1, k2) {
		t.Errorf("request keys %v, want those of C.11 %v", k1, k2)
	}
	exp, _ := time.Parse(time.RFC3339Nano, got["expirationDateTime"].(string))
	if got["changeType"] != "created,updated,deleted" || got["resource"] != "me/events" || got["clientState"] != secret ||
		got["notificationUrl"] != "https://app.example/hooks/graph" ||
		got["lifecycleNotificationUrl"] != "https://app.example/hooks/graph-lifecycle" ||
		!exp.Equal(testNow.Add(DefaultSubscriptionTTL)) {
		t.Errorf("request body %s", f.bodies[0])
	}
	if sub.ID != "7f105c7d-2dc5-4530-97cd-4e7ae6534c07" || sub.Secret != secret || sub.Provider != Name || sub.CalendarID != "cal-1" ||
		!sub.Expiration.Equal(time.Date(2016, 11, 20, 18, 23, 45, 935691300, time.UTC)) || !sub.Created.Equal(testNow) {
		t.Errorf("subscription = %+v", sub)
	}

	// Without a lifecycle address the notification address gets both; a
	// secondary calendar has its own resource.
	cal := testCal
	cal.RemoteID = "AAMkAGI2TG93AAA="
	if _, err := p.Watch(context.Background(), cal, provider.WatchRequest{Secret: secret, Address: "https://app.example/h", TTL: time.Hour}); err != nil {
		t.Fatal(err)
	}
	json.Unmarshal(f.bodies[1], &got)
	exp, _ = time.Parse(time.RFC3339Nano, got["expirationDateTime"].(string))
	if got["lifecycleNotificationUrl"] != "https://app.example/h" || got["resource"] != "me/calendars/AAMkAGI2TG93AAA=/events" || !exp.Equal(testNow.Add(time.Hour)) {
		t.Errorf("second request body %s", f.bodies[1])
	}
}

func TestWatchValidates(t *testing.T) {
	f := &fixtureServer{replies: []reply{{status: 201, body: fixture(t, "b1_subscription_created.json")}}}
	p := newFixtureProvider(t, f, Config{})
	for _, req := range []provider.WatchRequest{
		{Secret: "", Address: "https://h"},
		{Secret: strings.Repeat("a", MaxClientStateLength+1), Address: "https://h"},
		{Secret: "not hex!", Address: "https://h"},
		{Secret: "abcd"},
	} {
		if _, err := p.Watch(context.Background(), testCal, req); err == nil {
			t.Errorf("Watch(%+v) accepted", req)
		}
	}
	if len(f.reqs) != 0 {
		t.Errorf("invalid watch sent %d requests", len(f.reqs))
	}
}

// Renewal: the PATCH of Microsoft's subscription-update reference and its
// answer; 404 means gone.
func TestRenewRecorded(t *testing.T) {
	f := &fixtureServer{replies: []reply{{status: 200, body: fixture(t, "c7_renewal_response.json")}}}
	p := newFixtureProvider(t, f, Config{})
	old := &provider.Subscription{ID: "7f105c7d-2dc5-4530-97cd-4e7ae6534c07", CalendarID: "cal-1", Provider: Name, Secret: "ab",
		Address: "https://a", Created: testNow.Add(-time.Hour), Expiration: testNow.Add(time.Hour)}
	sub, err := p.Renew(context.Background(), testCal, old, 2*time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	r := f.reqs[0]
	if r.Method != "PATCH" || r.URL.Path != "/v1.0/subscriptions/"+old.ID {
		t.Errorf("request %s %s", r.Method, r.URL.Path)
	}
	var got, want map[string]any
	json.Unmarshal(f.bodies[0], &got)
	json.Unmarshal(fixture(t, "c7_renewal_request.json"), &want)
	if k1, k2 := slices.Sorted(maps.Keys(got)), slices.Sorted(maps.Keys(want)); !slices.Equal(k1, k2) {
		t.Errorf("PATCH keys %v, want %v (body %s)", k1, k2, f.bodies[0])
	}
	if exp, _ := time.Parse(time.RFC3339Nano, got["expirationDateTime"].(string)); !exp.Equal(testNow.Add(2 * time.Hour)) {
		t.Errorf("asked for expiration %v", got["expirationDateTime"])
	}
	if sub.ID != old.ID || sub.Secret != "ab" || sub.Address != "https://a" || !sub.Created.Equal(testNow) ||
		!sub.Expiration.Equal(time.Date(2016, 11, 22, 18, 23, 45, 935691300, time.UTC)) {
		t.Errorf("renewed = %+v", sub)
	}
	if old.Created.Equal(testNow) {
		t.Error("Renew modified its argument")
	}

	f.replies = []reply{{status: 404, body: []byte(`{"error":{"code":"ResourceNotFound","message":"The object was not found."}}`)}}
	if _, err := p.Renew(context.Background(), testCal, old, 0); !errors.Is(err, provider.ErrSubscriptionGone) {
		t.Errorf("Renew after 404 = %v, want ErrSubscriptionGone", err)
	}
}

func TestStopAndReauthorize(t *testing.T) {
	f := &fixtureServer{replies: []reply{{status: 204}, {status: 204}, {status: 404}, {status: 404}, {status: 401}}}
	p := newFixtureProvider(t, f, Config{})
	sub := &provider.Subscription{ID: "sub-1"}
	ctx := context.Background()
	if err := p.Stop(ctx, testCal, sub); err != nil {
		t.Fatal(err)
	}
	if err := p.Reauthorize(ctx, testCal, sub); err != nil {
		t.Fatal(err)
	}
	if err := p.Stop(ctx, testCal, sub); !errors.Is(err, provider.ErrNotFound) {
		t.Errorf("Stop after 404 = %v", err)
	}
	if err := p.Reauthorize(ctx, testCal, sub); !errors.Is(err, provider.ErrSubscriptionGone) {
		t.Errorf("Reauthorize after 404 = %v", err)
	}
	if err := p.Reauthorize(ctx, testCal, sub); !errors.Is(err, provider.ErrReauthRequired) {
		t.Errorf("Reauthorize after 401 = %v", err)
	}
	want := []string{"DELETE /v1.0/subscriptions/sub-1", "POST /v1.0/subscriptions/sub-1/reauthorize"}
	for i, w := range want {
		if got := f.reqs[i].Method + " " + f.reqs[i].URL.Path; got != w {
			t.Errorf("request %d = %q, want %q", i, got, w)
		}
	}
}

func TestConfigValidate(t *testing.T) {
	ts := func(context.Context, string) (oauth2.TokenSource, error) { return nil, nil }
	for i, cfg := range []Config{
		{},
		{TokenSource: ts, BaseURL: "graph.microsoft.com"},
		{TokenSource: ts, BaseURL: "ftp://graph.microsoft.com"},
		{TokenSource: ts, MaxPageSize: -1},
		{TokenSource: ts, MaxPageSize: LimitMaxPageSize + 1},
		{TokenSource: ts, SubscriptionTTL: MaxSubscriptionTTL + time.Minute},
		{TokenSource: ts, SubscriptionTTL: time.Second},
		{TokenSource: ts, Window: Window{Before: -time.Hour}},
	} {
		if _, err := New(cfg); err == nil {
			t.Errorf("config %d accepted", i)
		}
	}
	p, err := New(Config{TokenSource: ts})
	if err != nil {
		t.Fatal(err)
	}
	c := p.cfg
	if c.BaseURL != DefaultBaseURL || c.MaxPageSize != DefaultMaxPageSize || c.SubscriptionTTL != 10010*time.Minute ||
		c.Window != (Window{DefaultWindowBefore, DefaultWindowAfter, DefaultWindowSlide}) || c.HTTPClient == nil || c.HTTPClient == http.DefaultClient {
		t.Errorf("defaults = %+v", c)
	}
}

func TestRetryAfter(t *testing.T) {
	now := time.Date(2020, 8, 18, 12, 51, 51, 0, time.UTC)
	for in, want := range map[string]time.Duration{
		"":                              0,
		"2.128":                         2128 * time.Millisecond,
		"120":                           2 * time.Minute,
		" 3 ":                           3 * time.Second,
		"-1":                            0,
		"NaN":                           0,
		"1e300":                         0,
		"soon":                          0,
		"Tue, 18 Aug 2020 12:52:01 GMT": 10 * time.Second,
		"Tue, 18 Aug 2020 12:50:00 GMT": 0,
	} {
		if got := retryAfter(in, now); got != want {
			t.Errorf("retryAfter(%q) = %v, want %v", in, got, want)
		}
	}
}

// A nextLink that repeats the request is an error, not an endless round.
func TestFetchNextLinkLoop(t *testing.T) {
	f := &fixtureServer{replies: []reply{{status: 200, body: fixture(t, "c9_delta_first_page.json")}}}
	p := newFixtureProvider(t, f, Config{})
	page, err := p.Fetch(context.Background(), testCal, provider.Position{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.Fetch(context.Background(), testCal, provider.Position{PageToken: page.NextPageToken}); err == nil || !strings.Contains(err.Error(), "own request") {
		t.Errorf("looping nextLink: %v", err)
	}
}

// The default client retries a 429, so the Engine sees only the success.
// (How long it waits for a fractional Retry-After is asserted on a fake
// clock by package retry and TestRetryAfterFractional, not here in real
// time.)
func TestDefaultClientRetries(t *testing.T) {
	f := &fixtureServer{replies: []reply{
		{status: 429, body: fixture(t, "b8_429.json"), header: http.Header{"Retry-After": {"0.01"}}},
		{status: 200, body: fixture(t, "c9_delta_last_page.json")},
	}}
	p := newFixtureProvider(t, f, Config{HTTPClient: DefaultHTTPClient()})
	page, err := p.Fetch(context.Background(), testCal, provider.Position{})
	if err != nil || !page.Last() {
		t.Fatalf("Fetch = %+v, %v", page, err)
	}
	if len(f.reqs) != 2 {
		t.Errorf("%d requests, want the 429 and its retry", len(f.reqs))
	}
}

// Cursors of the first format (no window time) are still read, and keep
// that format; they are never re-windowed.
func TestFetchOldCursorFormat(t *testing.T) {
	f := &fixtureServer{replies: []reply{{status: 200, body: []byte(`{"value":[],"@odata.deltaLink":"ROOT/me/calendarView/delta?$deltatoken=next"}`)}}}
	p := newFixtureProvider(t, f, Config{})
	f.replies[0].body = []byte(strings.ReplaceAll(string(f.replies[0].body), "ROOT", f.root))
	page, err := p.Fetch(context.Background(), testCal, provider.Position{Cursor: prefixCalendarView + f.root + "/me/calendarView/delta?$deltatoken=old"})
	if err != nil {
		t.Fatal(err)
	}
	if want := prefixCalendarView + f.root + "/me/calendarView/delta?$deltatoken=next"; page.NextCursor != want {
		t.Errorf("cursor %q, want %q", page.NextCursor, want)
	}
}
