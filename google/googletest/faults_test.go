package googletest_test

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"testing"
	"time"

	calendar "google.golang.org/api/calendar/v3"

	"github.com/calsync/calsync/google/googletest"
)

func TestAuthentication(t *testing.T) {
	srv, svc := newEnv(t, googletest.Config{})
	const want401 = `{"error":{"errors":[{"domain":"global","reason":"authError","message":"Invalid Credentials","locationType":"header","location":"Authorization"}],"code":401,"message":"Invalid Credentials"}}`
	for _, auth := range []string{"", "Bearer", "Bearer ", "Basic abc"} {
		req, _ := http.NewRequest("GET", srv.Endpoint()+"calendars/"+url.PathEscape(calID)+"/events", nil)
		if auth != "" {
			req.Header.Set("Authorization", auth)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body := readBody(t, resp)
		if resp.StatusCode != 401 || body != want401 {
			t.Fatalf("Authorization %q: %d %s", auth, resp.StatusCode, body)
		}
	}

	if _, err := svc.Events.List(calID).Do(); err != nil {
		t.Fatal(err)
	}
	other := newService(t, srv, "token-2")
	srv.RevokeToken("token-1")
	_, err := svc.Events.List(calID).Do()
	apiErr(t, err, 401, "authError")
	if _, err := other.Events.List(calID).Do(); err != nil {
		t.Fatalf("other token revoked too: %v", err)
	}
	// RevokeAll revokes what was seen; a new token still works.
	srv.RevokeAll()
	_, err = other.Events.List(calID).Do()
	apiErr(t, err, 401, "authError")
	if _, err := newService(t, srv, "token-3").Events.List(calID).Do(); err != nil {
		t.Fatalf("fresh token after RevokeAll: %v", err)
	}
	// The helper client authenticates.
	resp, err := srv.Client().Get(srv.Endpoint() + "calendars/" + url.PathEscape(calID) + "/events")
	if err != nil {
		t.Fatal(err)
	}
	if body := readBody(t, resp); resp.StatusCode != 200 {
		t.Fatalf("Client(): %d %s", resp.StatusCode, body)
	}
}

func TestFailNextBodies(t *testing.T) {
	srv, svc := newEnv(t, googletest.Config{})
	// The rate-limit bodies of Google's error guide, verbatim.
	cases := []struct {
		status int
		reason string
		body   string
	}{
		{429, "rateLimitExceeded", `{"error":{"errors":[{"domain":"usageLimits","reason":"rateLimitExceeded","message":"Rate Limit Exceeded"}],"code":429,"message":"Rate Limit Exceeded"}}`},
		{403, "rateLimitExceeded", `{"error":{"errors":[{"domain":"usageLimits","reason":"rateLimitExceeded","message":"Rate Limit Exceeded"}],"code":403,"message":"Rate Limit Exceeded"}}`},
		{403, "userRateLimitExceeded", `{"error":{"errors":[{"domain":"usageLimits","reason":"userRateLimitExceeded","message":"User Rate Limit Exceeded"}],"code":403,"message":"User Rate Limit Exceeded"}}`},
		{500, "backendError", `{"error":{"errors":[{"domain":"global","reason":"backendError","message":"Backend Error"}],"code":500,"message":"Backend Error"}}`},
		{503, "", `{"error":{"errors":[{"domain":"global","reason":"backendError","message":"Backend Error"}],"code":503,"message":"Backend Error"}}`},
	}
	for _, tc := range cases {
		srv.FailNext(1, tc.status, tc.reason)
		_, err := svc.Events.List(calID).Do()
		gerr := apiErr(t, err, tc.status, map[bool]string{true: "backendError", false: tc.reason}[tc.reason == ""])
		if gerr.Body != tc.body {
			t.Fatalf("%d %s body\n got %s\nwant %s", tc.status, tc.reason, gerr.Body, tc.body)
		}
		if _, err := svc.Events.List(calID).Do(); err != nil {
			t.Fatalf("fault outlived its count: %v", err)
		}
	}

	// n calls fail, then calls succeed.
	srv.FailNext(2, 500, "backendError")
	for range 2 {
		_, err := svc.Events.List(calID).Do()
		apiErr(t, err, 500, "backendError")
	}
	if _, err := svc.Events.List(calID).Do(); err != nil {
		t.Fatal(err)
	}

	// Filtered by operation; Retry-After only when asked for.
	srv.Fail(googletest.Fault{Op: googletest.OpEventsInsert, Status: 429, Reason: "rateLimitExceeded", RetryAfter: "1.5"})
	if _, err := svc.Events.List(calID).Do(); err != nil {
		t.Fatalf("list hit the insert fault: %v", err)
	}
	_, err := svc.Events.Insert(calID, timedEvent("x", t0, time.Hour)).Do()
	gerr := apiErr(t, err, 429, "rateLimitExceeded")
	if gerr.Header.Get("Retry-After") != "1.5" {
		t.Fatalf("Retry-After = %q", gerr.Header.Get("Retry-After"))
	}
	srv.FailNext(1, 403, "rateLimitExceeded")
	_, err = svc.Events.List(calID).Do()
	if gerr := apiErr(t, err, 403, "rateLimitExceeded"); gerr.Header.Get("Retry-After") != "" {
		t.Fatal("Retry-After sent without being asked for")
	}
	srv.Fail(googletest.Fault{Op: googletest.OpEventsWatch, Times: 5, Status: 503})
	srv.ClearFaults()
	if _, err := svc.Events.Watch(calID, &calendar.Channel{Id: "x", Type: "web_hook", Address: "https://x.example"}).Do(); err != nil {
		t.Fatalf("ClearFaults left a fault: %v", err)
	}
}

// RetryAfterIn is an HTTP-date relative to the moment the call fails, by
// Config.Now, rounded up to the second.
func TestFaultRetryAfterIn(t *testing.T) {
	clock := newClock()
	srv, svc := newEnv(t, googletest.Config{Now: clock.Now})
	srv.Fail(googletest.Fault{Status: 429, Times: 2, RetryAfterIn: 30 * time.Second})
	clock.Advance(time.Hour) // queued earlier, counted from the failure
	_, err := svc.Events.List(calID).Do()
	gerr := apiErr(t, err, 429, "rateLimitExceeded")
	if got, want := gerr.Header.Get("Retry-After"), "Mon, 02 Mar 2026 10:30:30 GMT"; got != want {
		t.Fatalf("Retry-After = %q, want %q", got, want)
	}
	clock.Advance(1500 * time.Millisecond)
	_, err = svc.Events.List(calID).Do()
	gerr = apiErr(t, err, 429, "rateLimitExceeded")
	if got, want := gerr.Header.Get("Retry-After"), "Mon, 02 Mar 2026 10:30:32 GMT"; got != want {
		t.Fatalf("Retry-After = %q, want %q (10:30:31.5 rounded up)", got, want)
	}
	// RetryAfter, when set, wins.
	srv.Fail(googletest.Fault{Status: 503, RetryAfter: "7", RetryAfterIn: time.Minute})
	_, err = svc.Events.List(calID).Do()
	if gerr := apiErr(t, err, 503, "backendError"); gerr.Header.Get("Retry-After") != "7" {
		t.Fatalf("Retry-After = %q, want 7", gerr.Header.Get("Retry-After"))
	}
}

func TestLatencyHonoursContext(t *testing.T) {
	srv, svc := newEnv(t, googletest.Config{})
	srv.SetLatency(time.Hour)
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	_, err := svc.Events.List(calID).Context(ctx).Do()
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err = %v, want deadline exceeded", err)
	}
	srv.SetLatency(20 * time.Millisecond)
	start := time.Now()
	if _, err := svc.Events.List(calID).Do(); err != nil {
		t.Fatal(err)
	}
	if time.Since(start) < 20*time.Millisecond {
		t.Fatal("latency not applied")
	}
	srv.SetLatency(0)
}

func TestPrimaryAndUnknownRoutes(t *testing.T) {
	srv, svc := newEnv(t, googletest.Config{})
	ev := insert(t, svc, timedEvent("x", t0, time.Hour))
	got, err := svc.Events.Get("primary", ev.Id).Do()
	if err != nil || got.Id != ev.Id {
		t.Fatalf("primary: %v", err)
	}
	if err := srv.AddCalendar(calID, "UTC"); err == nil {
		t.Fatal("duplicate AddCalendar succeeded")
	}
	if err := srv.AddCalendar("x@example.com", "Mars/Olympus"); err == nil {
		t.Fatal("AddCalendar with a bad zone succeeded")
	}
	status, _, body := rawDo(t, srv, "GET", "users/me/settings", nil, "")
	if status != 404 || body != `{"error":{"errors":[{"domain":"global","reason":"notFound","message":"Not Found"}],"code":404,"message":"Not Found"}}` {
		t.Fatalf("unknown route: %d %s", status, body)
	}
	// A calendar id that needs escaping.
	if err := srv.AddCalendar("team/ops@group.calendar.google.com", "UTC"); err != nil {
		t.Fatal(err)
	}
	if _, err := svc.Events.Insert("team/ops@group.calendar.google.com", timedEvent("y", t0, time.Hour)).Do(); err != nil {
		t.Fatalf("escaped calendar id: %v", err)
	}
	evs, err := srv.Events("team/ops@group.calendar.google.com", false)
	if err != nil || len(evs) != 1 {
		t.Fatalf("Events: %v %v", evs, err)
	}
}

func readBody(t *testing.T, resp *http.Response) string {
	t.Helper()
	defer resp.Body.Close()
	var b []byte
	buf := make([]byte, 4096)
	for {
		n, err := resp.Body.Read(buf)
		b = append(b, buf[:n]...)
		if err != nil {
			break
		}
	}
	return string(b)
}
