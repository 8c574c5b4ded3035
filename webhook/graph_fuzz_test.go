package webhook_test

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/calsync/calsync"
	"github.com/calsync/calsync/webhook"
)

// graphItems decodes body as the handler's tests see a batch: the
// subscriptionId and clientState of each item, or nil if body is not a
// notification collection. It is the oracle of authenticity, independent
// of the handler's own decoding.
func graphItems(body []byte) []struct{ SubscriptionID, ClientState string } {
	var c struct {
		Value []struct {
			SubscriptionID string `json:"subscriptionId"`
			ClientState    string `json:"clientState"`
		} `json:"value"`
	}
	if json.Unmarshal(body, &c) != nil {
		return nil
	}
	out := make([]struct{ SubscriptionID, ClientState string }, len(c.Value))
	for i, v := range c.Value {
		out[i].SubscriptionID, out[i].ClientState = v.SubscriptionID, v.ClientState
	}
	return out
}

// serveFuzzGraph serves one request to a Graph handler over sink and
// checks what holds for every request: no panic, a documented status and
// no 5xx but the 503 of a full queue, nothing queued but for items that
// present their subscription's clientState, no secret and no more than a
// bounded amount of the sender's input in the log, no secret in the
// answer but the validation token echoed.
func serveFuzzGraph(t *testing.T, sink *fakeSink, full bool, method, query string, body []byte) *httptest.ResponseRecorder {
	t.Helper()
	if full {
		sink.enqueueErr = calsync.ErrQueueFull
	}
	var logs bytes.Buffer
	h, err := webhook.NewGraph(webhook.GraphConfig{Sink: sink, Now: func() time.Time { return testNow }, Logger: jsonLogger(&logs)})
	if err != nil {
		t.Fatal(err)
	}
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
	case 202, 400, 403, 405, 413:
	case 503:
		if !full {
			t.Fatalf("503 with a healthy Store and Queue")
		}
	default:
		t.Fatalf("status %d not in the documented set", w.Code)
	}
	queued := sink.notifications()
	if len(queued) > 0 && (w.Code != 202 || method != "POST" || validation) {
		t.Fatalf("status %d, method %q: queued %+v", w.Code, method, queued)
	}
	authentic := 0
	for _, it := range graphItems(body) {
		if sub, ok := sink.subs[it.SubscriptionID]; ok && sub.Provider == "msgraph" && it.ClientState != "" && it.ClientState == sink.secret(it.SubscriptionID) {
			authentic++
		}
	}
	if len(queued) > authentic {
		t.Fatalf("queued %d notifications from %d authentic items: %+v", len(queued), authentic, queued)
	}
	for _, n := range queued {
		sub, ok := sink.subs[n.SubscriptionID]
		if !ok || sub.Provider != "msgraph" || n.Provider != "msgraph" || n.CalendarID != sub.CalendarID {
			t.Fatalf("queued %+v for subscription %+v", n, sub)
		}
	}
	if int64(len(body)) > webhook.DefaultGraphMaxBodyBytes && (w.Code == 202 || w.Code == 200) {
		t.Fatalf("accepted a body of %d bytes", len(body))
	}
	for _, s := range graphSecrets {
		if strings.Contains(logs.String(), s) && !strings.Contains(query, s) {
			// A clientState is never logged; a secret can only be in the
			// log if the sender wrote it where an id goes.
			if items := graphItems(body); !containsID(items, s) {
				t.Fatalf("log %q contains a secret", logs.String())
			}
		}
		if !validation && strings.Contains(w.Body.String(), s) {
			t.Fatalf("answer %q contains a secret", w.Body)
		}
	}
	if logs.Len() > 4*maxLogBytes {
		t.Fatalf("one request logged %d bytes", logs.Len())
	}
	return w
}

func containsID(items []struct{ SubscriptionID, ClientState string }, s string) bool {
	for _, it := range items {
		if strings.Contains(it.SubscriptionID, s) {
			return true
		}
	}
	return false
}

// FuzzGraph feeds arbitrary methods, query strings and bodies to the Graph
// handler, with a healthy or a full queue; serveFuzzGraph checks the
// invariants. The seeds are the recorded payloads of PROTOCOLS.md §C.8 (the
// Outlook sample, as published and wrapped, and its event analogue) and
// §B.5 (the lifecycle sample, each event), and hostile variants.
func FuzzGraph(f *testing.F) {
	f.Add("POST", "", []byte(c8), false)
	f.Add("POST", "", []byte("{"+c8+"}"), false)
	f.Add("POST", "", []byte("{"+c8+"}"), true)
	f.Add("POST", "", []byte(c8EventAnalogue), false)
	for _, ev := range []string{"subscriptionRemoved", "missed", "reauthorizationRequired", "MISSED", "exploded"} {
		f.Add("POST", "", []byte(strings.Replace(b5Lifecycle, "EVENT", ev, 1)), false)
	}
	f.Add("POST", "", []byte(batch(change("sub-1", graphSecret, "created", "e1"))), false)
	f.Add("POST", "", []byte(batch(change("sub-1", graphSecret, "updated", "e1"), change("sub-2", "x", "updated", "e2"), lifecycle("sub-2", graphSecret2, "missed"))), false)
	f.Add("POST", "", []byte(batch(lifecycle("sub-expired", graphSecret, "subscriptionRemoved"))), false)
	f.Add("POST", "", []byte(batch(change("chan-google", graphSecret, "updated", "e"))), false)
	f.Add("POST", "", []byte(batch(change("sub-nosecret", "", "updated", "e"))), false)
	f.Add("POST", "", []byte(batch(change(strings.Repeat("s", 300), graphSecret, "updated", "e"))), false)
	f.Add("POST", "validationToken=Validation%3A%20Testing", []byte(nil), false)
	f.Add("GET", "validationToken=", []byte(nil), false)
	f.Add("POST", "", []byte(`{"value":[{"resourceData":7}]}`), false)
	f.Add("POST", "", []byte(`{"value":null}`), false)
	f.Add("POST", "", []byte(`{"VALUE":[{"SUBSCRIPTIONID":"sub-1","CLIENTSTATE":"cs-9e1f0c2ab77d","changeType":"updated"}]}`), false)
	f.Add("PUT", "a=b", bytes.Repeat([]byte("x"), 100), false)
	f.Add("POST", "", []byte("\x00\xff{"), false)

	f.Fuzz(func(t *testing.T, method, query string, body []byte, full bool) {
		serveFuzzGraph(t, newGraphSink(), full, method, query, body)
	})
}

// FuzzGraphValidation fuzzes the validation handshake, which echoes a value
// the sender chose: a 200 only for POST or GET with exactly one token of
// 1..MaxValidationTokenLength bytes, whose body is exactly the decoded token
// as text/plain with nosniff and no header of the sender's; nothing queued
// or looked up. The seed is the real token of PROTOCOLS.md §B.2 and
// injection attempts (markup, CRLF, a second token).
func FuzzGraphValidation(f *testing.F) {
	f.Add("POST", "Validation%3A%20Testing%20client%20application%20reachability%20for%20subscription%20Request-Id%3A%203b3f9821-ce3f-4b6b-a4f2-7a6c3a5a1f2e", []byte(nil))
	f.Add("GET", "Validation:+Testing", []byte(nil))
	f.Add("POST", "%3Cscript%3Ealert(1)%3C%2Fscript%3E", []byte(nil))
	f.Add("POST", "a%0D%0ASet-Cookie:%20s=1%0D%0A%0D%0A<html>", []byte(nil))
	f.Add("POST", "a&validationToken=b", []byte(nil))
	f.Add("POST", "%zz", []byte(nil))
	f.Add("POST", "", []byte("body"))
	f.Add("DELETE", "abc", []byte(nil))

	f.Fuzz(func(t *testing.T, method, token string, body []byte) {
		sink := newGraphSink()
		query := "validationToken=" + token
		w := serveFuzzGraph(t, sink, false, method, query, body)
		if sink.lookups != 0 || len(sink.notifications()) != 0 {
			t.Fatalf("validation looked up %d subscriptions, queued %v", sink.lookups, sink.notifications())
		}
		if w.Code != 200 {
			return
		}
		// As Request.URL.Query does, keep what parses of a query with a
		// bad escape elsewhere: the token itself was well formed.
		values, _ := url.ParseQuery(query)
		if (method != "POST" && method != "GET") || len(values["validationToken"]) != 1 {
			t.Fatalf("200 for method %q, query %q", method, query)
		}
		want := values.Get("validationToken")
		if want == "" || len(want) > webhook.MaxValidationTokenLength || w.Body.String() != want {
			t.Fatalf("echoed %q for token %q", w.Body, want)
		}
		h := w.Header()
		if h.Get("Content-Type") != "text/plain; charset=utf-8" || h.Get("X-Content-Type-Options") != "nosniff" || len(h) != 3 {
			t.Fatalf("validation answer headers %v", h)
		}
	})
}

// FuzzGraphLifecycle builds well-formed lifecycle batches from arbitrary
// field values, so that every input reaches the lookup and authentication:
// an item is queued only if its clientState is its subscription's, with the
// kind its lifecycleEvent names, and the same item delivered twice gets the
// same MessageID (a redelivery is recognised).
func FuzzGraphLifecycle(f *testing.F) {
	f.Add(b5SubID, b5State, "subscriptionRemoved", "2019-03-20T11:00:00.0000000Z")
	f.Add(b5SubID, b5State, "missed", "2019-03-20T11:00:00.0000000Z")
	f.Add(b5SubID, b5State, "reauthorizationRequired", "2019-03-20T11:00:00.0000000Z")
	f.Add("sub-1", graphSecret, "ReauthorizationRequired", "")
	f.Add("sub-1", graphSecret2, "missed", "")
	f.Add("sub-expired", graphSecret, "subscriptionRemoved", "2021-02-24T15:51:47Z")
	f.Add("chan-google", graphSecret, "missed", "")
	f.Add("sub-nosecret", "", "missed", "")
	f.Add("nope", graphSecret, "missed", "")
	f.Add("sub-1", graphSecret, "", "")

	f.Fuzz(func(t *testing.T, subID, clientState, event, expiration string) {
		item, err := json.Marshal(map[string]string{
			"subscriptionId": subID, "clientState": clientState, "lifecycleEvent": event,
			"subscriptionExpirationDateTime": expiration, "tenantId": "<tenant_guid>",
		})
		if err != nil {
			t.Fatal(err)
		}
		sink := newGraphSink()
		body := []byte(batch(string(item), string(item)))
		serveFuzzGraph(t, sink, false, "POST", "", body)
		queued := sink.notifications()
		sub, known := sink.subs[subID]
		authentic := known && sub.Provider == "msgraph" && clientState != "" && clientState == sink.secret(subID) &&
			len(subID) <= webhook.MaxIDLength && len(clientState) <= webhook.MaxIDLength
		var kind calsync.NotificationKind
		switch {
		case strings.EqualFold(event, "subscriptionRemoved"):
			kind = calsync.SubscriptionRemoved
		case strings.EqualFold(event, "missed"):
			kind = calsync.Resync
		case strings.EqualFold(event, "reauthorizationRequired"):
			kind = calsync.ReauthorizationRequired
		}
		if !authentic || kind == 0 {
			if len(queued) != 0 {
				t.Fatalf("queued %+v for subscription %q, clientState %q, event %q", queued, subID, clientState, event)
			}
			return
		}
		if len(queued) != 2 || queued[0].Kind != kind || queued[0].MessageID == "" || queued[0].MessageID != queued[1].MessageID ||
			queued[0].CalendarID != sub.CalendarID {
			t.Fatalf("event %q on %q: queued %+v, want twice kind %v with one MessageID", event, subID, queued, kind)
		}
	})
}
