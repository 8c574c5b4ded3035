package retry_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/calsync/calsync/retry"
	"github.com/calsync/calsync/retry/retrytest"
)

// bodyWithoutGetBody builds a request the way msgraph-sdk-go does: the
// body is set after NewRequest, so GetBody stays nil.
func bodyWithoutGetBody(t *testing.T, method, url, body string) *http.Request {
	t.Helper()
	req, err := http.NewRequestWithContext(context.Background(), method, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Body = io.NopCloser(strings.NewReader(body))
	return req
}

// A POST or PATCH whose body has no GetBody is buffered and so retried
// after a 429, with "Retry-After: 1" (waited exactly) or none (backoff),
// as Outlook's MailboxConcurrency 429 comes with either.
func TestTransportReplaysBodyWithoutGetBody(t *testing.T) {
	for _, method := range []string{"POST", "PATCH"} {
		for _, ra := range []string{"1", ""} {
			s := newScript(t, answer{status: 429, retryAfter: ra}, answer{status: 201})
			clk := retrytest.NewClock(time.Time{})
			resp, err := retry.Transport{Policy: fixed(clk)}.RoundTrip(bodyWithoutGetBody(t, method, s.srv.URL, `{"changeType":"created"}`))
			if err != nil || resp.StatusCode != 201 {
				t.Fatalf("%s, Retry-After %q: got %v %v", method, ra, resp, err)
			}
			resp.Body.Close()
			if got := s.requests(); fmt.Sprint(got) != `[{"changeType":"created"} {"changeType":"created"}]` {
				t.Fatalf("%s, Retry-After %q: server saw %q", method, ra, got)
			}
			if ra == "1" {
				sleepsEqual(t, clk, time.Second)
			} else {
				sleepsEqual(t, clk, retry.DefaultInitial)
			}
		}
	}
}

// Buffering does not change what is sent: an empty body stays empty, and
// a body of exactly MaxReplayBody bytes is replayed whole.
func TestTransportBufferedBodyEdges(t *testing.T) {
	s := newScript(t, answer{status: 503}, answer{status: 204})
	clk := retrytest.NewClock(time.Time{})
	resp, err := retry.Transport{Policy: fixed(clk), MaxReplayBody: 4}.RoundTrip(bodyWithoutGetBody(t, "POST", s.srv.URL, "four"))
	if err != nil || resp.StatusCode != 204 {
		t.Fatalf("got %v %v", resp, err)
	}
	resp.Body.Close()
	if got := s.requests(); fmt.Sprint(got) != "[four four]" {
		t.Fatalf("server saw %q", got)
	}

	s = newScript(t, answer{status: 503}, answer{status: 204})
	resp, err = retry.Transport{Policy: fixed(clk)}.RoundTrip(bodyWithoutGetBody(t, "POST", s.srv.URL, ""))
	if err != nil || resp.StatusCode != 204 {
		t.Fatalf("empty body: got %v %v", resp, err)
	}
	resp.Body.Close()
	if got := s.requests(); fmt.Sprint(got) != "[ ]" {
		t.Fatalf("empty body: server saw %q", got)
	}

	// Negative MaxReplayBody: never buffer, so no retry.
	s = newScript(t, answer{status: 503}, answer{status: 204})
	resp, err = retry.Transport{Policy: fixed(clk), MaxReplayBody: -1}.RoundTrip(bodyWithoutGetBody(t, "POST", s.srv.URL, "x"))
	if err != nil || resp.StatusCode != 503 {
		t.Fatalf("no buffering: got %v %v", resp, err)
	}
	resp.Body.Close()
}
