package webhook_test

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/calsync/calsync"
	"github.com/calsync/calsync/webhook"
)

var testNow = time.Date(2021, 2, 24, 15, 51, 47, 0, time.UTC)

// Subscriptions known to the fake sink. The secrets are distinctive so that
// a test can check they never leak into an answer or a log line.
const (
	secret        = "tok-3f9a1c77e2"
	pendingSecret = "tok-pending-81bd"
	c1Channel     = "<channel id>" // a published capture, placeholders as recorded
	c1Token       = "<token>"
	c1Resource    = "<resource id>"
	pocChannel    = "d1f846c0-730c-4854-860d-b1abfdf8518d" // a second capture, through a tunnel
	pocToken      = "channel=all_events"
	pocResource   = "8pNgdSzwS_emx0WZgp30VdgdstE"
	guideChannel  = "4ba78bf0-6a47-11e2-bcfd-0800200c9a66" // the push guide's example
	guideToken    = "398348u3tu83ut8uu38"
	guideResource = "ret08u3rv24htgh289g"
)

var allSecrets = []string{secret, pendingSecret, c1Token, pocToken, guideToken}

func newSink() *fakeSink {
	exp := testNow.Add(time.Hour)
	g := func(id, cal, secret, resource string, exp time.Time) calsync.Subscription {
		return calsync.Subscription{ID: id, CalendarID: cal, Provider: "google", Secret: secret, ResourceID: resource, Expiration: exp}
	}
	// Secret here is the plaintext the sender presents; the sink keeps
	// only its hash.
	subs := []calsync.Subscription{
		g("chan-1", "cal-1", secret, "res-1", exp),
		g("chan-pending", "cal-2", pendingSecret, "", exp), // stored before the watch call answered
		g("chan-expired", "cal-3", secret, "res-3", testNow),
		g("chan-noexp", "cal-4", secret, "res-4", time.Time{}),
		g("chan-nosecret", "cal-5", "", "res-5", exp),
		{ID: "sub-graph", CalendarID: "cal-6", Provider: "msgraph", Secret: secret, Expiration: exp},
		g(c1Channel, "cal-c1", c1Token, c1Resource, testNow.Add(30*24*time.Hour)),
		g(pocChannel, "cal-poc", pocToken, pocResource, exp),
		g(guideChannel, "cal-guide", guideToken, guideResource, exp),
	}
	s := &fakeSink{subs: make(map[string]calsync.Subscription), plaintext: make(map[string]string)}
	for _, sub := range subs {
		s.subs[sub.ID], s.plaintext[sub.ID] = hashed(sub, sub.Secret), sub.Secret
	}
	return s
}

// recordedSync is a real "sync" notification as a public capture behind an
// AWS API Gateway recorded it (lower-case header names, empty body).
const recordedSync = "POST /webhook/events HTTP/1.1\r\n" +
	"accept: */*\r\n" +
	"accept-encoding: gzip,deflate,br\r\n" +
	"content-length: 0\r\n" +
	"user-agent: APIs-Google; (+https://developers.google.com/webmasters/APIs-Google.html)\r\n" +
	"x-forwarded-for: 66.102.8.222\r\n" +
	"x-forwarded-proto: https\r\n" +
	"x-goog-channel-token: <token>\r\n" +
	"x-goog-channel-expiration: Fri, 26 Mar 2021 15:51:47 GMT\r\n" +
	"x-goog-channel-id: <channel id>\r\n" +
	"x-goog-message-number: 1\r\n" +
	"x-goog-resource-id: <resource id>\r\n" +
	"x-goog-resource-state: sync\r\n" +
	"x-goog-resource-uri: https://www.googleapis.com/calendar/v3/calendars/c_5u3bak8da7gsfkd34atk0211rg@group.calendar.google.com/events?alt=json\r\n" +
	"\r\n"

// pocCapture is a second public capture of real notifications, received
// through a localtunnel proxy, as a request.
func pocCapture(state, number string) string {
	return "POST /hooks/google HTTP/1.1\r\n" +
		"host: example.loca.lt\r\n" +
		"user-agent: APIs-Google; (+https://developers.google.com/webmasters/APIs-Google.html)\r\n" +
		"x-goog-channel-token: channel=all_events\r\n" +
		"x-goog-resource-uri: https://www.googleapis.com/calendar/v3/calendars/primary/events?alt=json\r\n" +
		"x-goog-resource-id: 8pNgdSzwS_emx0WZgp30VdgdstE\r\n" +
		"x-goog-message-number: " + number + "\r\n" +
		"x-goog-resource-state: " + state + "\r\n" +
		"x-goog-channel-expiration: Thu, 03 Nov 2022 12:41:23 GMT\r\n" +
		"x-goog-channel-id: d1f846c0-730c-4854-860d-b1abfdf8518d\r\n" +
		"accept: */*\r\n" +
		"content-length: 0\r\n" +
		"x-forwarded-for: 74.125.210.38\r\n" +
		"\r\n"
}

// guideExample is the change notification of Google's push guide
// (https://developers.google.com/workspace/calendar/api/guides/push),
// with its mixed-case names (X-Goog-Channel-ID) and Content-Type.
const guideExample = "POST /notifications HTTP/1.1\r\n" +
	"Host: mydomain.com\r\n" +
	"Content-Type: application/json; utf-8\r\n" +
	"Content-Length: 0\r\n" +
	"X-Goog-Channel-ID: 4ba78bf0-6a47-11e2-bcfd-0800200c9a66\r\n" +
	"X-Goog-Channel-Token: 398348u3tu83ut8uu38\r\n" +
	"X-Goog-Channel-Expiration: Tue, 19 Nov 2013 01:13:52 GMT\r\n" +
	"X-Goog-Resource-ID: ret08u3rv24htgh289g\r\n" +
	"X-Goog-Resource-URI: https://www.googleapis.com/calendar/v3/calendars/my_calendar@gmail.com/events\r\n" +
	"X-Goog-Resource-State: exists\r\n" +
	"X-Goog-Message-Number: 10\r\n" +
	"\r\n"

// hdrs is an ordered list of header lines, written to the wire as given so
// that the server's parser, not the test, canonicalises their names.
type hdrs [][2]string

// valid returns the headers of a correct notification on chan-1, with
// state and number as given.
func valid(state, number string) hdrs {
	return hdrs{
		{"X-Goog-Channel-ID", "chan-1"},
		{"X-Goog-Channel-Token", secret},
		{"X-Goog-Resource-ID", "res-1"},
		{"X-Goog-Resource-URI", "https://www.googleapis.com/calendar/v3/calendars/primary/events?alt=json"},
		{"X-Goog-Resource-State", state},
		{"X-Goog-Message-Number", number},
	}
}

// set returns a copy of h with the header named name (any case) replaced
// by value, or removed if value is "-".
func (h hdrs) set(name, value string) hdrs {
	out := make(hdrs, 0, len(h)+1)
	found := false
	for _, kv := range h {
		if strings.EqualFold(kv[0], name) {
			found = true
			if value == "-" {
				continue
			}
			kv[1] = value
		}
		out = append(out, kv)
	}
	if !found && value != "-" {
		out = append(out, [2]string{name, value})
	}
	return out
}

// rename returns h with every header name passed through f.
func (h hdrs) rename(f func(string) string) hdrs {
	out := make(hdrs, len(h))
	for i, kv := range h {
		out[i] = [2]string{f(kv[0]), kv[1]}
	}
	return out
}

// wire builds an HTTP/1.1 request with a Content-Length body.
func wire(method string, h hdrs, body string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s /hooks/google HTTP/1.1\r\nHost: calsync.example\r\n", method)
	for _, kv := range h {
		fmt.Fprintf(&b, "%s: %s\r\n", kv[0], kv[1])
	}
	fmt.Fprintf(&b, "Content-Length: %d\r\n\r\n%s", len(body), body)
	return b.String()
}

// chunked builds an HTTP/1.1 request whose body has no declared length.
func chunked(h hdrs, body string) string {
	var b strings.Builder
	b.WriteString("POST /hooks/google HTTP/1.1\r\nHost: calsync.example\r\nTransfer-Encoding: chunked\r\n")
	for _, kv := range h {
		fmt.Fprintf(&b, "%s: %s\r\n", kv[0], kv[1])
	}
	fmt.Fprintf(&b, "\r\n%x\r\n%s\r\n0\r\n\r\n", len(body), body)
	return b.String()
}

func changed(sub, cal, msg string) *calsync.Notification {
	return &calsync.Notification{
		Kind: calsync.Changed, Provider: "google", SubscriptionID: sub, CalendarID: cal,
		MessageID: msg, Received: testNow,
	}
}

func TestGoogle(t *testing.T) {
	storeDown := errors.New("store: connection refused")
	tests := []struct {
		name       string
		req        string
		lookupErr  error
		enqueueErr error
		want       int
		queued     *calsync.Notification // nil: nothing queued
		retryAfter bool                  // the answer carries Retry-After
	}{
		// Recorded and documented requests.
		{name: "recorded sync behind a gateway", req: recordedSync, want: 200},
		{name: "recorded sync through a tunnel", req: pocCapture("sync", "1"), want: 200},
		{name: "recorded exists through a tunnel", req: pocCapture("exists", "100566"), want: 200,
			queued: changed(pocChannel, "cal-poc", pocChannel+"/100566")},
		{name: "push guide example", req: guideExample, want: 200,
			queued: changed(guideChannel, "cal-guide", guideChannel+"/10")},

		// Acknowledged.
		{name: "exists", req: wire("POST", valid("exists", "7"), ""), want: 200, queued: changed("chan-1", "cal-1", "chan-1/7")},
		{name: "not_exists", req: wire("POST", valid("not_exists", "8"), ""), want: 200, queued: changed("chan-1", "cal-1", "chan-1/8")},
		{name: "sync queues nothing", req: wire("POST", valid("sync", "1"), ""), want: 200},
		{name: "message number with leading zeros is canonical", req: wire("POST", valid("exists", "0042"), ""), want: 200,
			queued: changed("chan-1", "cal-1", "chan-1/42")},
		{name: "largest message number", req: wire("POST", valid("exists", "18446744073709551615"), ""), want: 200,
			queued: changed("chan-1", "cal-1", "chan-1/18446744073709551615")},
		{name: "small body under the cap", req: wire("POST", valid("exists", "9"), "{}"), want: 200,
			queued: changed("chan-1", "cal-1", "chan-1/9")},
		{name: "chunked body under the cap", req: chunked(valid("exists", "9"), "{}"), want: 200,
			queued: changed("chan-1", "cal-1", "chan-1/9")},
		{name: "pending subscription accepts any resource id",
			req: wire("POST", valid("exists", "3").set("X-Goog-Channel-Id", "chan-pending").
				set("X-Goog-Channel-Token", pendingSecret).set("X-Goog-Resource-Id", "whatever"), ""),
			want: 200, queued: changed("chan-pending", "cal-2", "chan-pending/3")},
		{name: "subscription without expiration",
			req:  wire("POST", valid("exists", "5").set("X-Goog-Channel-Id", "chan-noexp").set("X-Goog-Resource-Id", "res-4"), ""),
			want: 200, queued: changed("chan-noexp", "cal-4", "chan-noexp/5")},

		// Header name case.
		{name: "lower-case names", req: wire("POST", valid("exists", "11").rename(strings.ToLower), ""), want: 200,
			queued: changed("chan-1", "cal-1", "chan-1/11")},
		{name: "upper-case names", req: wire("POST", valid("exists", "12").rename(strings.ToUpper), ""), want: 200,
			queued: changed("chan-1", "cal-1", "chan-1/12")},
		{name: "canonical names", req: wire("POST", valid("exists", "13").rename(http.CanonicalHeaderKey), ""), want: 200,
			queued: changed("chan-1", "cal-1", "chan-1/13")},

		// 405.
		{name: "GET", req: wire("GET", valid("exists", "1"), ""), want: 405},
		{name: "PUT", req: wire("PUT", valid("exists", "1"), ""), want: 405},
		{name: "HEAD", req: wire("HEAD", valid("exists", "1"), ""), want: 405},
		{name: "lower-case post is another method", req: wire("post", valid("exists", "1"), ""), want: 405},
		{name: "method before body", req: wire("GET", nil, strings.Repeat("x", 10000)), want: 405},

		// 413.
		{name: "body over the cap", req: wire("POST", valid("exists", "1"), strings.Repeat("x", int(webhook.DefaultMaxBodyBytes)+1)), want: 413},
		{name: "chunked body over the cap", req: chunked(valid("exists", "1"), strings.Repeat("x", int(webhook.DefaultMaxBodyBytes)+1)), want: 413},
		{name: "body at the cap", req: wire("POST", valid("exists", "1"), strings.Repeat("x", int(webhook.DefaultMaxBodyBytes))), want: 200,
			queued: changed("chan-1", "cal-1", "chan-1/1")},
		{name: "body before headers", req: wire("POST", nil, strings.Repeat("x", 10000)), want: 413},

		// 400.
		{name: "no headers", req: wire("POST", nil, ""), want: 400},
		{name: "missing channel id", req: wire("POST", valid("exists", "1").set("X-Goog-Channel-Id", "-"), ""), want: 400},
		{name: "empty channel id", req: wire("POST", valid("exists", "1").set("X-Goog-Channel-Id", ""), ""), want: 400},
		{name: "missing state", req: wire("POST", valid("exists", "1").set("X-Goog-Resource-State", "-"), ""), want: 400},
		{name: "unknown state", req: wire("POST", valid("deleted", "1"), ""), want: 400},
		{name: "state in upper case", req: wire("POST", valid("EXISTS", "1"), ""), want: 400},
		{name: "missing message number", req: wire("POST", valid("exists", "1").set("X-Goog-Message-Number", "-"), ""), want: 400},
		{name: "message number zero", req: wire("POST", valid("exists", "0"), ""), want: 400},
		{name: "negative message number", req: wire("POST", valid("exists", "-1"), ""), want: 400},
		{name: "signed message number", req: wire("POST", valid("exists", "+1"), ""), want: 400},
		{name: "fractional message number", req: wire("POST", valid("exists", "1.5"), ""), want: 400},
		{name: "hex message number", req: wire("POST", valid("exists", "0x10"), ""), want: 400},
		{name: "overflowing message number", req: wire("POST", valid("exists", "18446744073709551616"), ""), want: 400},
		{name: "missing resource id", req: wire("POST", valid("exists", "1").set("X-Goog-Resource-Id", "-"), ""), want: 400},
		{name: "headers before lookup", req: wire("POST", valid("exists", "1").set("X-Goog-Resource-Id", "-"), ""), lookupErr: storeDown, want: 400},

		// 404.
		{name: "unknown channel", req: wire("POST", valid("exists", "1").set("X-Goog-Channel-Id", "nope"), ""), want: 404},
		{name: "graph subscription id", req: wire("POST", valid("exists", "1").set("X-Goog-Channel-Id", "sub-graph"), ""), want: 404},
		{name: "not found wrapped by the store", req: wire("POST", valid("exists", "1"), ""),
			lookupErr: fmt.Errorf("store: %w", calsync.ErrNotFound), want: 404},

		// 503 from the lookup.
		{name: "store down", req: wire("POST", valid("exists", "1"), ""), lookupErr: storeDown, want: 503, retryAfter: true},

		// 403.
		{name: "wrong token", req: wire("POST", valid("exists", "1").set("X-Goog-Channel-Token", "tok-3f9a1c77e3"), ""), want: 403},
		{name: "missing token", req: wire("POST", valid("exists", "1").set("X-Goog-Channel-Token", "-"), ""), want: 403},
		{name: "empty token", req: wire("POST", valid("exists", "1").set("X-Goog-Channel-Token", ""), ""), want: 403},
		{name: "token prefix of the secret", req: wire("POST", valid("exists", "1").set("X-Goog-Channel-Token", secret[:len(secret)-1]), ""), want: 403},
		{name: "token extends the secret", req: wire("POST", valid("exists", "1").set("X-Goog-Channel-Token", secret+"0"), ""), want: 403},
		{name: "token of another channel", req: wire("POST", valid("exists", "1").set("X-Goog-Channel-Token", pendingSecret), ""), want: 403},
		{name: "subscription without secret, no token",
			req:  wire("POST", valid("exists", "1").set("X-Goog-Channel-Id", "chan-nosecret").set("X-Goog-Channel-Token", "-").set("X-Goog-Resource-Id", "res-5"), ""),
			want: 403},
		{name: "wrong resource id", req: wire("POST", valid("exists", "1").set("X-Goog-Resource-Id", "res-2"), ""), want: 403},
		{name: "token before expiry",
			req:  wire("POST", valid("exists", "1").set("X-Goog-Channel-Id", "chan-expired").set("X-Goog-Resource-Id", "res-3").set("X-Goog-Channel-Token", "bad"), ""),
			want: 403},
		{name: "resource before expiry",
			req:  wire("POST", valid("exists", "1").set("X-Goog-Channel-Id", "chan-expired"), ""),
			want: 403},

		// 410.
		{name: "expired", req: wire("POST", valid("exists", "1").set("X-Goog-Channel-Id", "chan-expired").set("X-Goog-Resource-Id", "res-3"), ""), want: 410},
		{name: "expired sync", req: wire("POST", valid("sync", "1").set("X-Goog-Channel-Id", "chan-expired").set("X-Goog-Resource-Id", "res-3"), ""), want: 410},

		// 503 from the queue.
		{name: "queue full", req: wire("POST", valid("exists", "1"), ""), enqueueErr: fmt.Errorf("calsync: enqueue: %w", calsync.ErrQueueFull), want: 503, retryAfter: true},
		{name: "already queued", req: wire("POST", valid("exists", "1"), ""), enqueueErr: calsync.ErrAlreadyQueued, want: 200},
		{name: "sync does not touch the queue", req: wire("POST", valid("sync", "1"), ""), enqueueErr: calsync.ErrQueueFull, want: 200},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sink := newSink()
			sink.lookupErr, sink.enqueueErr = tt.lookupErr, tt.enqueueErr
			var logs bytes.Buffer
			h, err := webhook.NewGoogle(webhook.GoogleConfig{
				Sink:   sink,
				Now:    func() time.Time { return testNow },
				Logger: slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
			})
			if err != nil {
				t.Fatal(err)
			}
			r, err := http.ReadRequest(bufio.NewReader(strings.NewReader(tt.req)))
			if err != nil {
				t.Fatalf("test request does not parse: %v", err)
			}
			w := httptest.NewRecorder()
			h.ServeHTTP(w, r)

			if w.Code != tt.want {
				t.Errorf("status = %d, want %d (body %q)", w.Code, tt.want, w.Body)
			}
			if w.Code == http.StatusMethodNotAllowed {
				if got := w.Header().Get("Allow"); got != "POST" {
					t.Errorf("Allow = %q, want POST", got)
				}
			}
			if got := w.Header().Get("Retry-After"); (got != "") != tt.retryAfter {
				t.Errorf("Retry-After = %q, want present: %v", got, tt.retryAfter)
			}
			if w.Code == http.StatusOK && w.Body.Len() != 0 {
				t.Errorf("200 answer has a body %q", w.Body)
			}
			got := sink.notifications()
			switch {
			case tt.queued == nil && len(got) != 0:
				t.Errorf("queued %+v, want nothing", got)
			case tt.queued != nil && (len(got) != 1 || got[0] != *tt.queued):
				t.Errorf("queued %+v, want [%+v]", got, *tt.queued)
			}
			for _, s := range allSecrets {
				if strings.Contains(w.Body.String(), s) {
					t.Errorf("answer %q contains a secret", w.Body)
				}
				if strings.Contains(logs.String(), s) {
					t.Errorf("log %q contains a secret", logs.String())
				}
			}
		})
	}
}

// TestGoogleRedelivery checks that a redelivered message (same channel and
// message number) yields the same MessageID, whatever its arrival time.
func TestGoogleRedelivery(t *testing.T) {
	sink := newSink()
	now := testNow
	h, err := webhook.NewGoogle(webhook.GoogleConfig{Sink: sink, Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	for range 2 {
		r, err := http.ReadRequest(bufio.NewReader(strings.NewReader(pocCapture("exists", "100566"))))
		if err != nil {
			t.Fatal(err)
		}
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		if w.Code != http.StatusOK {
			t.Fatalf("status = %d", w.Code)
		}
		now = now.Add(time.Minute)
	}
	got := sink.notifications()
	if len(got) != 2 || got[0].MessageID != got[1].MessageID || got[0].Received.Equal(got[1].Received) {
		t.Fatalf("redelivery: %+v", got)
	}
}

func TestGoogleMaxBodyBytes(t *testing.T) {
	h, err := webhook.NewGoogle(webhook.GoogleConfig{Sink: newSink(), MaxBodyBytes: 2, Now: func() time.Time { return testNow }})
	if err != nil {
		t.Fatal(err)
	}
	for body, want := range map[string]int{"{}": 200, "{ }": 413} {
		r, err := http.ReadRequest(bufio.NewReader(strings.NewReader(wire("POST", valid("sync", "1"), body))))
		if err != nil {
			t.Fatal(err)
		}
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		if w.Code != want {
			t.Errorf("body %q: status = %d, want %d", body, w.Code, want)
		}
	}
}

// TestGoogleBareRequest serves requests built by hand rather than parsed:
// no body, no header map.
func TestGoogleBareRequest(t *testing.T) {
	h, err := webhook.NewGoogle(webhook.GoogleConfig{Sink: newSink()})
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range []*http.Request{{Method: "POST"}, {Method: ""}, {Method: "POST", Header: http.Header{}}} {
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		if w.Code != 400 && w.Code != 405 {
			t.Errorf("%+v: status = %d", r, w.Code)
		}
	}
}

// TestGoogleServer runs the handler behind a real server and client, as
// Google would reach it, with the recorded request's headers.
func TestGoogleServer(t *testing.T) {
	sink := newSink()
	h, err := webhook.NewGoogle(webhook.GoogleConfig{Sink: sink, Now: func() time.Time { return testNow }})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h)
	defer srv.Close()
	for _, state := range []string{"sync", "exists"} {
		req, err := http.NewRequest("POST", srv.URL+"/hooks/google", nil)
		if err != nil {
			t.Fatal(err)
		}
		for _, kv := range hdrs(valid(state, "21")).rename(strings.ToLower) {
			req.Header[kv[0]] = []string{kv[1]} // sent lower-case, as behind the gateway of recordedSync
		}
		resp, err := srv.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Errorf("%s: status = %d", state, resp.StatusCode)
		}
	}
	if got := sink.notifications(); len(got) != 1 || got[0].MessageID != "chan-1/21" {
		t.Errorf("queued %+v", got)
	}
}

func TestNewGoogleConfig(t *testing.T) {
	if _, err := webhook.NewGoogle(webhook.GoogleConfig{}); err == nil || !strings.HasPrefix(err.Error(), "webhook: ") {
		t.Errorf("nil Sink: err = %v", err)
	}
	if _, err := webhook.NewGoogle(webhook.GoogleConfig{Sink: newSink(), MaxBodyBytes: -1}); err == nil {
		t.Error("negative MaxBodyBytes accepted")
	}
	if _, err := webhook.NewGoogle(webhook.GoogleConfig{Sink: newSink(), ReadTimeout: -1}); err == nil {
		t.Error("negative ReadTimeout accepted")
	}
	c := webhook.GoogleConfig{Sink: newSink()}.WithDefaults()
	if c.MaxBodyBytes != webhook.DefaultMaxBodyBytes || c.ReadTimeout != webhook.DefaultReadTimeout || c.Now == nil || c.Logger == nil {
		t.Errorf("WithDefaults = %+v", c)
	}
	c = webhook.GoogleConfig{MaxBodyBytes: 10}.WithDefaults()
	if c.MaxBodyBytes != 10 {
		t.Errorf("WithDefaults changed MaxBodyBytes to %d", c.MaxBodyBytes)
	}
}
