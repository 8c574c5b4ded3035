package webhook_test

import (
	"bytes"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/calsync/calsync/webhook"
)

// FuzzGraph feeds arbitrary methods, query strings and bodies to the Graph
// handler: it must not panic, must answer one of its documented statuses,
// must queue only authentic items of Graph subscriptions, and must never
// echo a secret it was not sent.
func FuzzGraph(f *testing.F) {
	f.Add("POST", "", []byte(batch(change("sub-1", graphSecret, "created", "e1"))))
	f.Add("POST", "", []byte(batch(change("sub-1", graphSecret, "updated", "e1"), change("sub-2", "x", "updated", "e2"), lifecycle("sub-2", graphSecret2, "missed"))))
	f.Add("POST", "", []byte(batch(lifecycle("sub-expired", graphSecret, "subscriptionRemoved"))))
	f.Add("POST", "", []byte(batch(change("chan-google", graphSecret, "updated", "e"))))
	f.Add("POST", "validationToken=Validation%3A%20Testing", []byte(nil))
	f.Add("GET", "validationToken=", []byte(nil))
	f.Add("POST", "", []byte(`{"value":[{"resourceData":7}]}`))
	f.Add("POST", "", []byte(`{"value":null}`))
	f.Add("PUT", "a=b", bytes.Repeat([]byte("x"), 100))
	f.Add("POST", "", []byte("\x00\xff{"))

	f.Fuzz(func(t *testing.T, method, query string, body []byte) {
		sink := newGraphSink()
		h := newGraph(t, sink, nil)
		r := &http.Request{
			Method:        method,
			URL:           &url.URL{Path: "/hooks/graph", RawQuery: query},
			Header:        http.Header{"Content-Type": {"application/json"}},
			Body:          io.NopCloser(bytes.NewReader(body)),
			ContentLength: int64(len(body)),
		}
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)

		validation := r.URL.Query().Has("validationToken")
		switch w.Code {
		case 200:
			if !validation {
				t.Fatalf("200 without a validationToken")
			}
		case 202, 400, 403, 405, 413, 503:
		default:
			t.Fatalf("status %d not in the documented set", w.Code)
		}
		queued := sink.notifications()
		if len(queued) > 0 && (w.Code != 202 || method != "POST" || validation) {
			t.Fatalf("status %d, method %q: queued %+v", w.Code, method, queued)
		}
		for _, n := range queued {
			sub, ok := sink.subs[n.SubscriptionID]
			if !ok || sub.Provider != "msgraph" || n.Provider != "msgraph" || n.CalendarID != sub.CalendarID ||
				!bytes.Contains(body, []byte(sub.Secret)) {
				t.Fatalf("queued %+v for subscription %+v", n, sub)
			}
		}
		if int64(len(body)) > webhook.DefaultGraphMaxBodyBytes && w.Code == 202 {
			t.Fatalf("accepted a body of %d bytes", len(body))
		}
		if !validation {
			for _, s := range graphSecrets {
				if strings.Contains(w.Body.String(), s) {
					t.Fatalf("answer %q contains a secret", w.Body)
				}
			}
		}
	})
}
