package webhook_test

import (
	"bytes"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/calsync/calsync"
	"github.com/calsync/calsync/webhook"
)

// FuzzGoogle feeds arbitrary methods, header values and bodies to the Google
// handler, with a healthy or a full queue. It must not panic; it answers
// one of its documented statuses and no 5xx but the 503 of a full queue; it
// answers 200 and queues only for a request that presents the channel's
// token; it queues exactly one change for an authentic exists or
// not_exists; and neither its answer nor its log holds a secret or more
// than a bounded amount of what the sender chose.
//
// The seeds are the recorded requests of PROTOCOLS.md §C.1 (a gateway's
// capture, a tunnel's sync and exists), the push guide's example, and
// hostile variants.
func FuzzGoogle(f *testing.F) {
	// §C.1 and the guide, as recorded (their subscriptions are in newSink).
	f.Add("POST", c1Channel, c1Token, "sync", "1", c1Resource, []byte(nil), false)
	f.Add("POST", pocChannel, pocToken, "sync", "1", pocResource, []byte(nil), false)
	f.Add("POST", pocChannel, pocToken, "exists", "100566", pocResource, []byte(nil), false)
	f.Add("POST", guideChannel, guideToken, "exists", "10", guideResource, []byte(nil), false)
	f.Add("POST", guideChannel, guideToken, "exists", "10", guideResource, []byte(nil), true)
	// Other states of the handler.
	f.Add("POST", "chan-1", secret, "exists", "7", "res-1", []byte(nil), false)
	f.Add("POST", "chan-1", secret, "not_exists", "007", "res-1", []byte("{}"), false)
	f.Add("POST", "chan-pending", pendingSecret, "exists", "18446744073709551615", "", []byte(nil), false)
	f.Add("POST", "chan-expired", secret, "exists", "2", "res-3", []byte(nil), false)
	f.Add("POST", "chan-nosecret", "", "exists", "2", "res-5", []byte(nil), false)
	f.Add("POST", "sub-graph", secret, "exists", "2", "", []byte(nil), false)
	// Hostile: forged, replayed with another number, over-long, binary.
	f.Add("POST", "chan-1", pendingSecret, "exists", "8", "res-1", []byte(nil), false)
	f.Add("POST", "chan-1", "", "exists", "-1", "res-1", []byte(nil), false)
	f.Add("POST", strings.Repeat("c", 300), secret, "exists", "1", "res-1", []byte(nil), false)
	f.Add("POST", "chan-1", secret, "exists", strings.Repeat("9", 30), "res-1", []byte(nil), false)
	f.Add("GET", "", "", "", "", "", bytes.Repeat([]byte("x"), 5000), false)
	f.Add("POST", "\x00\xff", "\r\n", "sync\x00", "1e3", "\t", []byte("\x00"), false)

	f.Fuzz(func(t *testing.T, method, channelID, token, state, number, resourceID string, body []byte, full bool) {
		sink := newSink()
		if full {
			sink.enqueueErr = calsync.ErrQueueFull
		}
		var logs bytes.Buffer
		h, err := webhook.NewGoogle(webhook.GoogleConfig{Sink: sink, Now: func() time.Time { return testNow }, Logger: jsonLogger(&logs)})
		if err != nil {
			t.Fatal(err)
		}
		r := &http.Request{
			Method: method,
			URL:    &url.URL{Path: "/hooks/google"},
			Header: http.Header{
				"X-Goog-Channel-Id":     {channelID},
				"X-Goog-Channel-Token":  {token},
				"X-Goog-Resource-State": {state},
				"X-Goog-Message-Number": {number},
				"X-Goog-Resource-Id":    {resourceID},
			},
			Body:          io.NopCloser(bytes.NewReader(body)),
			ContentLength: int64(len(body)),
		}
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)

		switch w.Code {
		case 200, 400, 403, 404, 405, 410, 413:
		case 503:
			if !full {
				t.Fatalf("503 with a healthy Store and Queue")
			}
		default:
			t.Fatalf("status %d not in the documented set", w.Code)
		}
		sub, known := sink.subs[channelID]
		authentic := known && sub.Provider == "google" && token != "" && token == sink.secret(channelID)
		if w.Code == 200 && (!authentic || method != "POST" || int64(len(body)) > webhook.DefaultMaxBodyBytes) {
			t.Fatalf("accepted method %q, channel %q, token %q, body of %d bytes", method, channelID, token, len(body))
		}
		queued := sink.notifications()
		wantQueued := w.Code == 200 && (state == "exists" || state == "not_exists")
		if wantQueued != (len(queued) == 1) || len(queued) > 1 {
			t.Fatalf("status %d, state %q: queued %+v", w.Code, state, queued)
		}
		if wantQueued {
			n := queued[0]
			num, err := strconv.ParseUint(number, 10, 64)
			if err != nil || n.MessageID != channelID+"/"+strconv.FormatUint(num, 10) ||
				n.SubscriptionID != channelID || n.CalendarID != sub.CalendarID || n.Provider != "google" {
				t.Fatalf("queued %+v for channel %q, number %q", n, channelID, number)
			}
		}
		sent := method + channelID + state + number + resourceID + string(body)
		for _, s := range allSecrets {
			if strings.Contains(sent, s) {
				continue // the sender put it elsewhere than in the token
			}
			if strings.Contains(w.Body.String(), s) || strings.Contains(logs.String(), s) {
				t.Fatalf("answer %q or log %q contains a secret", w.Body, logs.String())
			}
		}
		if logs.Len() > maxLogBytes {
			t.Fatalf("one request logged %d bytes", logs.Len())
		}
	})
}
