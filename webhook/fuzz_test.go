package webhook_test

import (
	"bytes"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/calsync/calsync/webhook"
)

// FuzzGoogle feeds arbitrary methods, header values and bodies to the Google
// handler: it must not panic, must answer one of its documented statuses,
// must queue exactly the accepted changes, and must never echo a secret.
func FuzzGoogle(f *testing.F) {
	f.Add("POST", "chan-1", secret, "exists", "7", "res-1", []byte(nil))
	f.Add("POST", "chan-1", secret, "sync", "1", "res-1", []byte(""))
	f.Add("POST", "chan-1", secret, "not_exists", "007", "res-1", []byte("{}"))
	f.Add("POST", "chan-pending", pendingSecret, "exists", "18446744073709551615", "", []byte(nil))
	f.Add("POST", "chan-expired", secret, "exists", "2", "res-3", []byte(nil))
	f.Add("POST", "sub-graph", secret, "exists", "2", "", []byte(nil))
	f.Add("POST", "chan-1", "", "exists", "-1", "res-1", []byte(nil))
	f.Add("GET", "", "", "", "", "", bytes.Repeat([]byte("x"), 5000))
	f.Add("POST", "\x00\xff", "\r\n", "sync\x00", "1e3", "\t", []byte("\x00"))

	f.Fuzz(func(t *testing.T, method, channelID, token, state, number, resourceID string, body []byte) {
		sink := newSink()
		h, err := webhook.NewGoogle(webhook.GoogleConfig{Sink: sink, Now: func() time.Time { return testNow }})
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
		case 200, 400, 403, 404, 405, 410, 413, 503:
		default:
			t.Fatalf("status %d not in the documented set", w.Code)
		}
		queued := sink.notifications()
		wantQueued := w.Code == 200 && (state == "exists" || state == "not_exists")
		if wantQueued != (len(queued) == 1) || len(queued) > 1 {
			t.Fatalf("status %d, state %q: queued %+v", w.Code, state, queued)
		}
		if wantQueued && !strings.HasPrefix(queued[0].MessageID, channelID+"/") {
			t.Fatalf("MessageID %q does not start with the channel id", queued[0].MessageID)
		}
		if w.Code == 200 && (method != "POST" || token == "" || int64(len(body)) > webhook.DefaultMaxBodyBytes) {
			t.Fatalf("accepted method %q, token %q, body of %d bytes", method, token, len(body))
		}
		for _, s := range allSecrets {
			if s != token && strings.Contains(w.Body.String(), s) {
				t.Fatalf("answer %q contains a secret", w.Body)
			}
		}
	})
}
