package retry_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/calsync/calsync/retry"
	"github.com/calsync/calsync/retry/retrytest"
)

// answer is one scripted server reply.
type answer struct {
	status     int
	retryAfter string
	body       string
	reset      bool // hijack and reset the connection instead of answering
}

// script is a test server answering from a list (the last answer repeats)
// and recording what it received.
type script struct {
	t       *testing.T
	srv     *httptest.Server
	mu      sync.Mutex
	answers []answer
	bodies  []string
}

func newScript(t *testing.T, answers ...answer) *script {
	s := &script{t: t, answers: answers}
	s.srv = httptest.NewServer(http.HandlerFunc(s.serve))
	t.Cleanup(s.srv.Close)
	return s
}

func (s *script) serve(w http.ResponseWriter, r *http.Request) {
	b, _ := io.ReadAll(r.Body)
	s.mu.Lock()
	n := len(s.bodies)
	s.bodies = append(s.bodies, string(b))
	a := s.answers[min(n, len(s.answers)-1)]
	s.mu.Unlock()
	if a.reset {
		conn, _, err := http.NewResponseController(w).Hijack()
		if err != nil {
			s.t.Error(err)
			return
		}
		_ = conn.(*net.TCPConn).SetLinger(0) // RST, not FIN
		_ = conn.Close()
		return
	}
	if a.retryAfter != "" {
		w.Header().Set("Retry-After", a.retryAfter)
	}
	w.WriteHeader(a.status)
	body := a.body
	if body == "" {
		body = fmt.Sprintf("answer %d", n+1)
	}
	_, _ = io.WriteString(w, body)
}

func (s *script) requests() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.bodies...)
}

func do(t *testing.T, tr http.RoundTripper, ctx context.Context, method, url, body string) (*http.Response, string, error) {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, url, rd)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := tr.RoundTrip(req)
	if err != nil {
		return nil, "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, string(b), nil
}

// fixed is the default policy without jitter, on clk.
func fixed(clk retry.Clock) retry.Policy { return retry.Policy{Jitter: retry.NoJitter, Clock: clk} }

func sleepsEqual(t *testing.T, clk *retrytest.Clock, want ...time.Duration) {
	t.Helper()
	got := clk.Sleeps()
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("waits = %v, want %v", got, want)
	}
}

func TestTransport429FractionalRetryAfter(t *testing.T) {
	s := newScript(t, answer{status: 429, retryAfter: "2.128"}, answer{status: 200, body: "ok"})
	clk := retrytest.NewClock(time.Time{})
	resp, body, err := do(t, retry.Transport{Policy: retry.Policy{Clock: clk}}, context.Background(), "GET", s.srv.URL, "")
	if err != nil || resp.StatusCode != 200 || body != "ok" {
		t.Fatalf("got %v %q %v", resp, body, err)
	}
	sleepsEqual(t, clk, 2128*time.Millisecond) // exactly: Retry-After wins over the jittered backoff
}

func TestTransportRetryAfterHTTPDate(t *testing.T) {
	clk := retrytest.NewClock(time.Time{})
	date := clk.Now().Add(90 * time.Second).Format(http.TimeFormat)
	s := newScript(t, answer{status: 503, retryAfter: date}, answer{status: 200})
	if resp, _, err := do(t, retry.Transport{Policy: retry.Policy{Clock: clk}}, context.Background(), "GET", s.srv.URL, ""); err != nil || resp.StatusCode != 200 {
		t.Fatalf("got %v %v", resp, err)
	}
	sleepsEqual(t, clk, 90*time.Second)
}

func TestTransportRetryAfterCapped(t *testing.T) {
	s := newScript(t, answer{status: 429, retryAfter: "86400"}, answer{status: 200})
	clk := retrytest.NewClock(time.Time{})
	if _, _, err := do(t, retry.Transport{Policy: retry.Policy{Clock: clk}}, context.Background(), "GET", s.srv.URL, ""); err != nil {
		t.Fatal(err)
	}
	sleepsEqual(t, clk, retry.DefaultMaxRetryAfter)
}

func TestTransportGoogle403(t *testing.T) {
	const rateLimited = `{"error":{"errors":[{"domain":"usageLimits","reason":"rateLimitExceeded","message":"Rate Limit Exceeded"}],"code":403,"message":"Rate Limit Exceeded"}}`
	const organizer = `{"error":{"errors":[{"domain":"calendar","reason":"forbiddenForNonOrganizer","message":"Shared properties can only be changed by the organizer of the event."}],"code":403,"message":"Shared properties can only be changed by the organizer of the event."}}`

	s := newScript(t, answer{status: 403, body: rateLimited}, answer{status: 200, body: "ok"})
	clk := retrytest.NewClock(time.Time{})
	if resp, body, err := do(t, retry.Transport{Policy: fixed(clk)}, context.Background(), "GET", s.srv.URL, ""); err != nil || body != "ok" {
		t.Fatalf("rateLimitExceeded: got %v %q %v", resp, body, err)
	}
	sleepsEqual(t, clk, time.Second)

	s = newScript(t, answer{status: 403, body: organizer}, answer{status: 200})
	clk = retrytest.NewClock(time.Time{})
	resp, body, err := do(t, retry.Transport{Policy: fixed(clk)}, context.Background(), "GET", s.srv.URL, "")
	if err != nil || resp.StatusCode != 403 || body != organizer {
		t.Fatalf("forbiddenForNonOrganizer: got %v %q %v; want the 403 with its whole body", resp, body, err)
	}
	if n := len(s.requests()); n != 1 {
		t.Fatalf("forbiddenForNonOrganizer sent %d times", n)
	}
	sleepsEqual(t, clk)
}

func TestTransportPermanent(t *testing.T) {
	for _, status := range []int{400, 401, 404, 409, 410, 501} {
		s := newScript(t, answer{status: status, body: "no"}, answer{status: 200})
		clk := retrytest.NewClock(time.Time{})
		resp, body, err := do(t, retry.Transport{Policy: fixed(clk)}, context.Background(), "GET", s.srv.URL, "")
		if err != nil || resp.StatusCode != status || body != "no" {
			t.Fatalf("%d: got %v %q %v", status, resp, body, err)
		}
		if n := len(s.requests()); n != 1 {
			t.Errorf("%d sent %d times", status, n)
		}
		sleepsEqual(t, clk)
	}
}

// Once retries run out the last response comes back as it is, unread.
func TestTransportExhaustedReturnsLastResponse(t *testing.T) {
	s := newScript(t, answer{status: 503})
	clk := retrytest.NewClock(time.Time{})
	resp, body, err := do(t, retry.Transport{Policy: fixed(clk)}, context.Background(), "GET", s.srv.URL, "")
	if err != nil || resp.StatusCode != 503 || body != "answer 6" {
		t.Fatalf("got %v %q %v; want the 6th answer", resp, body, err)
	}
	sleepsEqual(t, clk, 1*time.Second, 2*time.Second, 4*time.Second, 8*time.Second, 16*time.Second)
}

func TestTransportJitteredWaits(t *testing.T) {
	s := newScript(t, answer{status: 500}, answer{status: 502}, answer{status: 504}, answer{status: 200})
	clk := retrytest.NewClock(time.Time{})
	if _, _, err := do(t, retry.Transport{Policy: retry.Policy{Clock: clk}}, context.Background(), "GET", s.srv.URL, ""); err != nil {
		t.Fatal(err)
	}
	got := clk.Sleeps()
	if len(got) != 3 {
		t.Fatalf("waits = %v", got)
	}
	for i, base := range []time.Duration{time.Second, 2 * time.Second, 4 * time.Second} {
		if got[i] < base || got[i] >= base*13/10 {
			t.Errorf("wait %d = %v, want in [%v, %v)", i+1, got[i], base, base*13/10)
		}
	}
}

func TestTransportCancelDuringWait(t *testing.T) {
	s := newScript(t, answer{status: 429})
	clk := retrytest.NewManualClock(time.Time{})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		_, _, err := do(t, retry.Transport{Policy: retry.Policy{Clock: clk}}, ctx, "GET", s.srv.URL, "")
		done <- err
	}()
	wctx, wcancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer wcancel()
	if !clk.WaitSleepers(wctx, 1) {
		t.Fatal("the transport never waited")
	}
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
	if n := len(s.requests()); n != 1 {
		t.Fatalf("%d requests after cancel, want 1", n)
	}
}

// A wait that cannot end before the context's deadline is not started: the
// caller gets the 429 (with its Retry-After) at once.
func TestTransportWaitBeyondDeadline(t *testing.T) {
	s := newScript(t, answer{status: 429, retryAfter: "7200"}, answer{status: 200})
	clk := retrytest.NewClock(time.Now())
	ctx, cancel := context.WithTimeout(context.Background(), time.Hour)
	defer cancel()
	resp, _, err := do(t, retry.Transport{Policy: retry.Policy{Clock: clk, MaxRetryAfter: 3 * time.Hour}}, ctx, "GET", s.srv.URL, "")
	if err != nil || resp.StatusCode != 429 || resp.Header.Get("Retry-After") != "7200" {
		t.Fatalf("got %v %v", resp, err)
	}
	sleepsEqual(t, clk)
}

func TestTransportReplaysBody(t *testing.T) {
	for _, method := range []string{"PUT", "POST", "PATCH"} {
		// 429 and 503 mean the server refused the request, so even a POST
		// is resent.
		s := newScript(t, answer{status: 503}, answer{status: 429}, answer{status: 200})
		clk := retrytest.NewClock(time.Time{})
		if resp, _, err := do(t, retry.Transport{Policy: fixed(clk)}, context.Background(), method, s.srv.URL, `{"id":"ch-1"}`); err != nil || resp.StatusCode != 200 {
			t.Fatalf("%s: got %v %v", method, resp, err)
		}
		if got := s.requests(); fmt.Sprint(got) != `[{"id":"ch-1"} {"id":"ch-1"} {"id":"ch-1"}]` {
			t.Fatalf("%s: server saw %q", method, got)
		}
	}
}

// A body without GetBody that is too long to buffer is sent once, whole.
func TestTransportUnreplayableBodySentOnce(t *testing.T) {
	s := newScript(t, answer{status: 503}, answer{status: 200})
	clk := retrytest.NewClock(time.Time{})
	req, _ := http.NewRequest("PUT", s.srv.URL, io.NopCloser(strings.NewReader("once")))
	req.GetBody = nil
	resp, err := retry.Transport{Policy: fixed(clk), MaxReplayBody: 3}.RoundTrip(req)
	if err != nil || resp.StatusCode != 503 {
		t.Fatalf("got %v %v", resp, err)
	}
	resp.Body.Close()
	if got := s.requests(); fmt.Sprint(got) != "[once]" {
		t.Fatalf("server saw %q, want the whole body once", got)
	}
}

// A POST that may have reached the server is not resent: 500 and a
// connection reset after the request was written.
func TestTransportPOSTNotResentWhenAmbiguous(t *testing.T) {
	for _, a := range []answer{{status: 500}, {status: 502}, {status: 504}, {reset: true}} {
		s := newScript(t, a, answer{status: 200})
		clk := retrytest.NewClock(time.Time{})
		resp, _, err := do(t, retry.Transport{Policy: fixed(clk)}, context.Background(), "POST", s.srv.URL, "watch")
		if a.reset && err == nil || !a.reset && (err != nil || resp.StatusCode != a.status) {
			t.Fatalf("%+v: got %v %v", a, resp, err)
		}
		if n := len(s.requests()); n != 1 {
			t.Fatalf("%+v: POST sent %d times", a, n)
		}
		// The same failures are retried for an idempotent request, and for
		// a POST that carries an Idempotency-Key.
		s = newScript(t, a, answer{status: 200})
		if resp, _, err := do(t, retry.Transport{Policy: fixed(clk)}, context.Background(), "GET", s.srv.URL, ""); err != nil || resp.StatusCode != 200 {
			t.Fatalf("%+v: GET got %v %v", a, resp, err)
		}
		s = newScript(t, a, answer{status: 200})
		req, _ := http.NewRequest("POST", s.srv.URL, strings.NewReader("watch"))
		req.Header["Idempotency-Key"] = []string{"k-1"}
		if resp, err := (retry.Transport{Policy: fixed(clk)}).RoundTrip(req); err != nil || resp.StatusCode != 200 {
			t.Fatalf("%+v: keyed POST got %v %v", a, resp, err)
		} else {
			resp.Body.Close()
		}
	}
}

// A POST that never left (connection refused) is resent; when every
// attempt fails the error says how many were made and wraps the cause.
func TestTransportPOSTResentWhenNotSent(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	clk := retrytest.NewClock(time.Time{})
	var attempts []int
	tr := retry.Transport{Policy: fixed(clk), OnRetry: func(_ *http.Request, resp *http.Response, err error, attempt int, _ time.Duration) {
		if resp != nil || err == nil {
			t.Errorf("OnRetry(resp %v, err %v)", resp, err)
		}
		attempts = append(attempts, attempt)
	}}
	_, _, err = do(t, tr, context.Background(), "POST", "http://"+addr+"/subscriptions", "{}")
	if !errors.Is(err, syscall.ECONNREFUSED) || !strings.HasPrefix(err.Error(), "retry: 6 attempts: ") {
		t.Fatalf("err = %v", err)
	}
	if fmt.Sprint(attempts) != "[1 2 3 4 5]" {
		t.Fatalf("OnRetry attempts = %v", attempts)
	}
}

func TestTransportNoRetries(t *testing.T) {
	s := newScript(t, answer{status: 503}, answer{status: 200})
	clk := retrytest.NewClock(time.Time{})
	resp, _, err := do(t, retry.Transport{Policy: retry.Policy{MaxRetries: retry.NoRetries, Clock: clk}}, context.Background(), "GET", s.srv.URL, "")
	if err != nil || resp.StatusCode != 503 || len(s.requests()) != 1 {
		t.Fatalf("got %v %v after %d requests", resp, err, len(s.requests()))
	}
}

func TestTransportInvalidPolicy(t *testing.T) {
	closed := false
	req, _ := http.NewRequest("PUT", "http://127.0.0.1:1", struct {
		io.Reader
		io.Closer
	}{strings.NewReader("x"), closerFunc(func() error { closed = true; return nil })})
	_, err := retry.Transport{Policy: retry.Policy{Multiplier: 0.5}}.RoundTrip(req)
	if err == nil || !strings.Contains(err.Error(), "Multiplier") || !closed {
		t.Fatalf("err = %v, body closed %v", err, closed)
	}
}

// OnRetry sees every retried attempt and its wait; the log names the
// attempt but carries no query string or header.
func TestTransportHookAndLog(t *testing.T) {
	s := newScript(t, answer{status: 429, retryAfter: "3"}, answer{status: 500}, answer{status: 200})
	clk := retrytest.NewClock(time.Time{})
	var buf bytes.Buffer
	type call struct {
		status, attempt int
		wait            time.Duration
	}
	var calls []call
	tr := retry.Transport{
		Policy: fixed(clk),
		Logger: slog.New(slog.NewJSONHandler(&buf, nil)),
		OnRetry: func(_ *http.Request, resp *http.Response, _ error, attempt int, wait time.Duration) {
			calls = append(calls, call{resp.StatusCode, attempt, wait})
		},
	}
	req, _ := http.NewRequestWithContext(retry.WithAccount(context.Background(), "acct-7"), "GET", s.srv.URL+"/calendars/x/events?syncToken=secret-cursor", nil)
	req.Header.Set("Authorization", "Bearer secret-token")
	resp, err := tr.RoundTrip(req)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("got %v %v", resp, err)
	}
	resp.Body.Close()
	if want := []call{{429, 1, 3 * time.Second}, {500, 2, 2 * time.Second}}; fmt.Sprint(calls) != fmt.Sprint(want) {
		t.Fatalf("OnRetry calls = %v, want %v", calls, want)
	}
	log := buf.String()
	if strings.Contains(log, "secret") {
		t.Fatalf("log leaks a secret: %s", log)
	}
	for _, want := range []string{`"msg":"retry: retrying"`, `"account":"acct-7"`, `"path":"/calendars/x/events"`, `"attempt":2`, `"status":500`} {
		if !strings.Contains(log, want) {
			t.Errorf("log lacks %s: %s", want, log)
		}
	}
}

// stubTransport answers from a list and records the bodies it handed out.
type stubTransport struct {
	statuses []int
	bodies   []*trackedBody
}

type trackedBody struct {
	io.Reader
	closed bool
}

func (b *trackedBody) Close() error { b.closed = true; return nil }

func (s *stubTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.Body != nil {
		req.Body.Close()
	}
	b := &trackedBody{Reader: strings.NewReader(strings.Repeat("x", 100))}
	s.bodies = append(s.bodies, b)
	return &http.Response{StatusCode: s.statuses[len(s.bodies)-1], Header: http.Header{}, Body: b, Request: req}, nil
}

func TestTransportClosesDiscardedResponses(t *testing.T) {
	stub := &stubTransport{statuses: []int{503, 429, 200}}
	clk := retrytest.NewClock(time.Time{})
	req, _ := http.NewRequest("GET", "http://calendar.example/x", nil)
	resp, err := retry.Transport{Base: stub, Policy: fixed(clk)}.RoundTrip(req)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("got %v %v", resp, err)
	}
	for i, b := range stub.bodies[:2] {
		if !b.closed {
			t.Errorf("discarded body %d not closed", i+1)
		}
		if n, _ := b.Read(make([]byte, 1)); n != 0 {
			t.Errorf("discarded body %d not drained", i+1)
		}
	}
	if stub.bodies[2].closed {
		t.Error("the returned body was closed")
	}
}

// The providers' pooled transport keeps enough idle connections per host
// for the workers: calls made in parallel, then again, reuse their
// connections instead of opening new ones.
func TestPooledTransportReusesConnections(t *testing.T) {
	var mu sync.Mutex
	conns := map[string]bool{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		conns[r.RemoteAddr] = true
		mu.Unlock()
	}))
	defer srv.Close()
	tr := retry.NewPooledTransport()
	defer tr.CloseIdleConnections()
	if tr.MaxIdleConnsPerHost != retry.DefaultIdleConnsPerHost {
		t.Fatalf("MaxIdleConnsPerHost = %d, want %d", tr.MaxIdleConnsPerHost, retry.DefaultIdleConnsPerHost)
	}
	c := &http.Client{Transport: tr}
	const parallel = 16
	round := func() {
		var wg sync.WaitGroup
		start := make(chan struct{})
		for range parallel {
			wg.Go(func() {
				<-start
				resp, err := c.Get(srv.URL)
				if err != nil {
					t.Error(err)
					return
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
			})
		}
		close(start)
		wg.Wait()
	}
	for range 6 {
		round()
	}
	// Never more than parallel calls are in flight: a pool that keeps
	// them all idle needs at most that many connections in all; one that
	// keeps two (http.DefaultTransport) opens most of them again each
	// round.
	mu.Lock()
	defer mu.Unlock()
	if len(conns) > parallel {
		t.Errorf("%d connections for 6 rounds of %d parallel calls, want at most %d: idle connections were dropped", len(conns), parallel, parallel)
	}
}
