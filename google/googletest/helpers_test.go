package googletest_test

import (
	"context"
	"errors"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/oauth2"
	calendar "google.golang.org/api/calendar/v3"
	"google.golang.org/api/googleapi"
	"google.golang.org/api/option"

	"github.com/calsync/calsync/google/googletest"
)

const calID = "alice@example.com"

// fakeClock is a settable Config.Now.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *fakeClock {
	return &fakeClock{t: time.Date(2026, 3, 2, 9, 30, 0, 0, time.UTC)}
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// newEnv starts a server with one calendar and an official client using a
// static OAuth token.
func newEnv(t *testing.T, cfg googletest.Config) (*googletest.Server, *calendar.Service) {
	t.Helper()
	srv := googletest.NewServer(cfg)
	t.Cleanup(srv.Close)
	if err := srv.AddCalendar(calID, "America/Toronto"); err != nil {
		t.Fatal(err)
	}
	return srv, newService(t, srv, "token-1")
}

func newService(t *testing.T, srv *googletest.Server, token string) *calendar.Service {
	t.Helper()
	ctx := context.Background()
	hc := oauth2.NewClient(ctx, oauth2.StaticTokenSource(&oauth2.Token{AccessToken: token}))
	svc, err := calendar.NewService(ctx, option.WithEndpoint(srv.Endpoint()), option.WithHTTPClient(hc))
	if err != nil {
		t.Fatal(err)
	}
	return svc
}

func timedEvent(summary string, start time.Time, d time.Duration) *calendar.Event {
	return &calendar.Event{
		Summary: summary,
		Start:   &calendar.EventDateTime{DateTime: start.Format(time.RFC3339), TimeZone: "America/Toronto"},
		End:     &calendar.EventDateTime{DateTime: start.Add(d).Format(time.RFC3339), TimeZone: "America/Toronto"},
	}
}

func insert(t *testing.T, svc *calendar.Service, ev *calendar.Event) *calendar.Event {
	t.Helper()
	got, err := svc.Events.Insert(calID, ev).Do()
	if err != nil {
		t.Fatalf("insert %q: %v", ev.Summary, err)
	}
	return got
}

// listAll pages through events.list and returns the items and the
// nextSyncToken of the last page.
func listAll(t *testing.T, call func(pageToken string) *calendar.EventsListCall) ([]*calendar.Event, string) {
	t.Helper()
	var items []*calendar.Event
	pageToken := ""
	for range 1000 {
		resp, err := call(pageToken).Do()
		if err != nil {
			t.Fatalf("events.list: %v", err)
		}
		if (resp.NextPageToken == "") == (resp.NextSyncToken == "") {
			t.Fatalf("page has nextPageToken %q and nextSyncToken %q: want exactly one", resp.NextPageToken, resp.NextSyncToken)
		}
		items = append(items, resp.Items...)
		if resp.NextPageToken == "" {
			return items, resp.NextSyncToken
		}
		pageToken = resp.NextPageToken
	}
	t.Fatal("events.list never ended")
	return nil, ""
}

func fullList(t *testing.T, svc *calendar.Service, single bool, pageSize int64) ([]*calendar.Event, string) {
	return listAll(t, func(pt string) *calendar.EventsListCall {
		c := svc.Events.List(calID).SingleEvents(single).MaxResults(pageSize)
		if pt != "" {
			c = c.PageToken(pt)
		}
		return c
	})
}

func incremental(t *testing.T, svc *calendar.Service, single bool, pageSize int64, syncToken string) ([]*calendar.Event, string) {
	return listAll(t, func(pt string) *calendar.EventsListCall {
		c := svc.Events.List(calID).SingleEvents(single).MaxResults(pageSize).SyncToken(syncToken)
		if pt != "" {
			c = c.PageToken(pt)
		}
		return c
	})
}

// apiErr asserts that err is a *googleapi.Error with code and reason.
func apiErr(t *testing.T, err error, code int, reason string) *googleapi.Error {
	t.Helper()
	var gerr *googleapi.Error
	if !errors.As(err, &gerr) {
		t.Fatalf("error %v (%T) is not a *googleapi.Error", err, err)
	}
	if gerr.Code != code {
		t.Fatalf("code = %d, want %d (%s)", gerr.Code, code, gerr.Body)
	}
	if len(gerr.Errors) == 0 || gerr.Errors[0].Reason != reason {
		t.Fatalf("reason = %+v, want %q (%s)", gerr.Errors, reason, gerr.Body)
	}
	return gerr
}

// rawDo sends a raw request with a bearer token and returns status and body.
func rawDo(t *testing.T, srv *googletest.Server, method, path string, query url.Values, body string) (int, http.Header, string) {
	t.Helper()
	u := srv.Endpoint() + path
	if query != nil {
		u += "?" + query.Encode()
	}
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, u, rd)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer raw")
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, resp.Header, string(b)
}

func ids(evs []*calendar.Event) []string {
	out := make([]string, len(evs))
	for i, e := range evs {
		out[i] = e.Id
	}
	return out
}

func waitIdle(t *testing.T, srv *googletest.Server) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := srv.WaitIdle(ctx); err != nil {
		t.Fatalf("WaitIdle: %v", err)
	}
}

// receiver is an HTTPS notification endpoint recording every request.
type receiver struct {
	srv *httptest.Server

	mu       sync.Mutex
	got      []*http.Request
	bodies   []string
	statuses []int // answers to give, in order; then 200
}

func newReceiver(t *testing.T, statuses ...int) *receiver {
	t.Helper()
	rc := &receiver{statuses: statuses}
	rc.srv = httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		rc.mu.Lock()
		rc.got = append(rc.got, r)
		rc.bodies = append(rc.bodies, string(b))
		status := http.StatusOK
		if len(rc.statuses) > 0 {
			status, rc.statuses = rc.statuses[0], rc.statuses[1:]
		}
		rc.mu.Unlock()
		w.WriteHeader(status)
	}))
	t.Cleanup(rc.srv.Close)
	return rc
}

func (rc *receiver) requests() []*http.Request {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return append([]*http.Request(nil), rc.got...)
}

// httpsBlocking is a TLS receiver whose handler blocks until block is closed
// or the request is cancelled.
func httpsBlocking(t *testing.T, block chan struct{}) *httptest.Server {
	s := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-block:
		case <-r.Context().Done():
		}
	}))
	// Close aborts handshakes in progress; that is the point, not news.
	s.Config.ErrorLog = log.New(io.Discard, "", 0)
	s.StartTLS()
	t.Cleanup(s.Close)
	return s
}
