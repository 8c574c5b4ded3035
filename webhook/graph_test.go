package webhook_test

import (
	"bytes"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/calsync/calsync"
	"github.com/calsync/calsync/webhook"
)

// Graph subscriptions known to the fake sink. The secrets are distinctive
// so that a test can check they never leak.
const (
	graphSecret  = "cs-9e1f0c2ab77d"
	graphSecret2 = "cs-2-4410aa0e"
	c8SubID      = "c6126aa3-0ed8-412f-a988-71e6cee627c4" // Microsoft's Outlook notification sample
	c8State      = "<<--SpecifiedClientState-->>"
	b5SubID      = "<subscription_guid>" // the lifecycle sample, placeholders as published
	b5State      = "<secretClientState>"
)

var graphSecrets = []string{graphSecret, graphSecret2, c8State, b5State}

func newGraphSink() *fakeSink {
	exp := testNow.Add(time.Hour)
	m := func(id, cal, secret string, exp time.Time) calsync.Subscription {
		return calsync.Subscription{ID: id, CalendarID: cal, Provider: "msgraph", Secret: secret, Expiration: exp}
	}
	subs := []calsync.Subscription{
		m("sub-1", "cal-1", graphSecret, exp),
		m("sub-2", "cal-2", graphSecret2, exp),
		m("sub-expired", "cal-3", graphSecret, testNow),
		m("sub-nosecret", "cal-5", "", exp),
		{ID: "chan-google", CalendarID: "cal-6", Provider: "google", Secret: graphSecret, ResourceID: "r", Expiration: exp},
		m(c8SubID, "cal-c8", c8State, exp),
		m(b5SubID, "cal-b5", b5State, exp),
	}
	s := &fakeSink{subs: make(map[string]calsync.Subscription), plaintext: make(map[string]string)}
	for _, sub := range subs {
		s.subs[sub.ID], s.plaintext[sub.ID] = hashed(sub, sub.Secret), sub.Secret
	}
	return s
}

func newGraph(t testing.TB, sink webhook.Sink, logs *bytes.Buffer) *webhook.Graph {
	t.Helper()
	cfg := webhook.GraphConfig{Sink: sink, Now: func() time.Time { return testNow }}
	if logs != nil {
		cfg.Logger = slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	h, err := webhook.NewGraph(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return h
}

// change is one change notification item on subID.
func change(subID, clientState, changeType, etag string) string {
	return `{"subscriptionId":"` + subID + `","subscriptionExpirationDateTime":"2021-02-24T16:51:47.0000000Z",` +
		`"changeType":"` + changeType + `","resource":"Users/u1/Events/ev-1",` +
		`"resourceData":{"@odata.type":"#Microsoft.Graph.Event","@odata.id":"Users/u1/Events/ev-1","@odata.etag":"` + etag + `","id":"ev-1"},` +
		`"clientState":"` + clientState + `","tenantId":"84bd8158-6d4d-4958-8b9f-9d6445542f95"}`
}

// lifecycle is one lifecycle notification item on subID, shaped like the
// sample in https://learn.microsoft.com/en-us/graph/change-notifications-lifecycle-events.
func lifecycle(subID, clientState, event string) string {
	return `{"subscriptionId":"` + subID + `","subscriptionExpirationDateTime":"2019-03-20T11:00:00.0000000Z",` +
		`"tenantId":"<tenant_guid>","clientState":"` + clientState + `","lifecycleEvent":"` + event + `"}`
}

func batch(items ...string) string { return `{"value":[` + strings.Join(items, ",") + `]}` }

func serveGraph(h http.Handler, method, target, body string) *httptest.ResponseRecorder {
	r := httptest.NewRequest(method, target, strings.NewReader(body))
	if body != "" {
		r.Header.Set("Content-Type", "application/json")
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w
}

// The validation handshake with the real token shape, URL-encoded on the
// wire and answered decoded, as Graph requires within 10 seconds
// (https://learn.microsoft.com/en-us/graph/change-notifications-delivery-webhooks).
func TestGraphValidation(t *testing.T) {
	const token = "Validation: Testing client application reachability for subscription Request-Id: 3b3f9821-ce3f-4b6b-a4f2-7a6c3a5a1f2e"
	sink := newGraphSink()
	h := newGraph(t, sink, nil)
	for _, method := range []string{"POST", "GET"} {
		r := httptest.NewRequest(method, "/hooks/graph?validationToken="+url.QueryEscape(token), strings.NewReader(""))
		r.Header.Set("Content-Type", "text/plain; charset=utf-8")
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		if w.Code != 200 || w.Body.String() != token || w.Header().Get("Content-Type") != "text/plain; charset=utf-8" ||
			w.Header().Get("X-Content-Type-Options") != "nosniff" {
			t.Errorf("%s: %d %q %v", method, w.Code, w.Body, w.Header())
		}
	}
	// %20 and + both decode to a space, as Graph's encoder may use either.
	if w := serveGraph(h, "POST", "/hooks/graph?validationToken=a+b%20c%3Cd%3E", ""); w.Code != 200 || w.Body.String() != "a b c<d>" {
		t.Errorf("decoded token = %d %q", w.Code, w.Body)
	}
	for name, target := range map[string]string{
		"empty":     "/hooks/graph?validationToken=",
		"too long":  "/hooks/graph?validationToken=" + strings.Repeat("x", webhook.MaxValidationTokenLength+1),
		"two":       "/hooks/graph?validationToken=a&validationToken=b",
		"bad query": "/hooks/graph?validationToken=%zz",
	} {
		if w := serveGraph(h, "POST", target, ""); w.Code != 400 && !(name == "bad query" && w.Code == 405) {
			t.Errorf("%s: %d", name, w.Code)
		}
	}
	if w := serveGraph(h, "POST", "/hooks/graph?validationToken="+strings.Repeat("x", webhook.MaxValidationTokenLength), ""); w.Code != 200 {
		t.Errorf("token of the maximum length: %d", w.Code)
	}
	if w := serveGraph(h, "PUT", "/hooks/graph?validationToken=abc", ""); w.Code != 405 {
		t.Errorf("PUT validation: %d", w.Code)
	}
	if q := sink.notifications(); len(q) != 0 {
		t.Errorf("validation queued %+v", q)
	}
}

func TestGraphStatuses(t *testing.T) {
	big := batch(change("sub-1", graphSecret, "updated", strings.Repeat("x", int(webhook.DefaultGraphMaxBodyBytes))))
	for _, tc := range []struct {
		name       string
		method     string
		body       string
		lookupErr  error
		enqueueErr error
		want       int
		queued     int
	}{
		{"valid change", "POST", batch(change("sub-1", graphSecret, "created", "e1")), nil, nil, 202, 1},
		{"GET", "GET", "", nil, nil, 405, 0},
		{"DELETE", "DELETE", batch(change("sub-1", graphSecret, "created", "e1")), nil, nil, 405, 0},
		{"too large", "POST", big, nil, nil, 413, 0},
		{"malformed", "POST", `{"value":[{"subscriptionId":`, nil, nil, 400, 0},
		{"not json", "POST", `subscriptionId=sub-1`, nil, nil, 400, 0},
		{"no value", "POST", `{}`, nil, nil, 400, 0},
		{"value not array", "POST", `{"value":{}}`, nil, nil, 400, 0},
		{"empty body", "POST", ``, nil, nil, 400, 0},
		{"empty batch", "POST", `{"value":[]}`, nil, nil, 202, 0},
		{"unknown only", "POST", batch(change("nope", graphSecret, "updated", "e"), change("nope2", "x", "updated", "e")), nil, nil, 202, 0},
		{"all forged", "POST", batch(change("sub-1", "guess", "updated", "e"), change("sub-2", graphSecret, "updated", "e")), nil, nil, 403, 0},
		{"forged empty clientState", "POST", batch(change("sub-1", "", "updated", "e")), nil, nil, 403, 0},
		{"subscription without secret", "POST", batch(change("sub-nosecret", "", "updated", "e")), nil, nil, 403, 0},
		{"forged and unknown", "POST", batch(change("sub-1", "guess", "updated", "e"), change("nope", "x", "updated", "e")), nil, nil, 202, 0},
		{"google subscription", "POST", batch(change("chan-google", graphSecret, "updated", "e")), nil, nil, 202, 0},
		{"expired", "POST", batch(change("sub-expired", graphSecret, "updated", "e")), nil, nil, 202, 0},
		{"no changeType", "POST", batch(`{"subscriptionId":"sub-1","clientState":"` + graphSecret + `"}`), nil, nil, 202, 0},
		{"unknown lifecycle event", "POST", batch(lifecycle("sub-1", graphSecret, "exploded")), nil, nil, 202, 0},
		{"lookup fails", "POST", batch(change("sub-1", graphSecret, "updated", "e")), errors.New("store down"), nil, 503, 0},
		{"enqueue fails", "POST", batch(change("sub-1", graphSecret, "updated", "e")), nil, calsync.ErrQueueFull, 503, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sink := newGraphSink()
			sink.lookupErr, sink.enqueueErr = tc.lookupErr, tc.enqueueErr
			var logs bytes.Buffer
			w := serveGraph(newGraph(t, sink, &logs), tc.method, "/hooks/graph", tc.body)
			if w.Code != tc.want {
				t.Errorf("status %d (%q), want %d", w.Code, w.Body, tc.want)
			}
			if q := sink.notifications(); len(q) != tc.queued {
				t.Errorf("queued %+v, want %d", q, tc.queued)
			}
			if w.Code == 503 && w.Header().Get("Retry-After") == "" {
				t.Error("503 without Retry-After")
			}
			if w.Code == 405 && w.Header().Get("Allow") != "POST" {
				t.Errorf("Allow = %q", w.Header().Get("Allow"))
			}
			for _, s := range graphSecrets {
				if strings.Contains(w.Body.String(), s) || strings.Contains(logs.String(), s) {
					t.Errorf("secret %q in answer %q or logs %q", s, w.Body, logs.String())
				}
			}
		})
	}
}

// A batch mixing subscriptions: the forged item is dropped, the rest
// queued, and the answer is 202.
func TestGraphMixedBatch(t *testing.T) {
	sink := newGraphSink()
	body := batch(
		change("sub-1", graphSecret, "updated", `W/\"e1\"`),
		change("sub-2", graphSecret, "updated", "e2"), // sub-1's secret on sub-2: forged
		change("unknown", graphSecret, "created", "e3"),
		change("sub-2", graphSecret2, "deleted", "e4"),
		lifecycle("sub-1", graphSecret, "missed"),
	)
	w := serveGraph(newGraph(t, sink, nil), "POST", "/hooks/graph", body)
	if w.Code != 202 {
		t.Fatalf("status %d", w.Code)
	}
	q := sink.notifications()
	if len(q) != 3 {
		t.Fatalf("queued %+v", q)
	}
	want := []calsync.Notification{
		{Kind: calsync.Changed, Provider: "msgraph", SubscriptionID: "sub-1", CalendarID: "cal-1", Received: testNow},
		{Kind: calsync.Changed, Provider: "msgraph", SubscriptionID: "sub-2", CalendarID: "cal-2", Received: testNow},
		{Kind: calsync.Resync, Provider: "msgraph", SubscriptionID: "sub-1", CalendarID: "cal-1", Received: testNow},
	}
	for i, n := range q {
		n.MessageID = ""
		if n != want[i] {
			t.Errorf("queued[%d] = %+v, want %+v", i, n, want[i])
		}
	}
	if q[0].MessageID == q[1].MessageID || q[0].MessageID == q[2].MessageID || !strings.HasPrefix(q[0].MessageID, "sub-1/updated/") {
		t.Errorf("message ids %q %q %q", q[0].MessageID, q[1].MessageID, q[2].MessageID)
	}
}

// Each lifecycle event maps to its kind, also on a subscription whose
// stored expiry has passed (subscriptionRemoved comes exactly then).
func TestGraphLifecycleEvents(t *testing.T) {
	for event, kind := range map[string]calsync.NotificationKind{
		"reauthorizationRequired": calsync.ReauthorizationRequired,
		"subscriptionRemoved":     calsync.SubscriptionRemoved,
		"missed":                  calsync.Resync,
	} {
		for _, sub := range []string{"sub-1", "sub-expired"} {
			sink := newGraphSink()
			w := serveGraph(newGraph(t, sink, nil), "POST", "/hooks/graph-lifecycle", batch(lifecycle(sub, graphSecret, event)))
			q := sink.notifications()
			if w.Code != 202 || len(q) != 1 || q[0].Kind != kind || q[0].SubscriptionID != sub {
				t.Errorf("%s on %s: %d %+v", event, sub, w.Code, q)
			}
		}
		// Forged lifecycle events are refused like forged changes.
		sink := newGraphSink()
		if w := serveGraph(newGraph(t, sink, nil), "POST", "/hooks/graph-lifecycle", batch(lifecycle("sub-1", "x", event))); w.Code != 403 || len(sink.notifications()) != 0 {
			t.Errorf("forged %s: %d", event, w.Code)
		}
	}
}

// The recorded payloads of PROTOCOLS.md §C.8 and §B.5, used by
// TestGraphRecordedPayloads and as fuzz seeds.

// c8 is Microsoft's Outlook notification sample
// (https://learn.microsoft.com/en-us/graph/outlook-change-notifications-overview),
// published as a fragment: {"value": […]} without the braces.
const c8 = `"value": [
 {
   "subscriptionId": "c6126aa3-0ed8-412f-a988-71e6cee627c4",
   "subscriptionExpirationDateTime": "2022-01-02T03:12:18.2257768+05:30",
   "changeType": "created",
   "resource": "Users/622eaaff-0683-4862-9de4-f2ec83c2bd98/Messages/AAMkAGUwNjQ4ZjIxAAA=",
   "resourceData": {
     "@odata.type": "#Microsoft.Graph.Message",
     "@odata.id": "Users/622eaaff-0683-4862-9de4-f2ec83c2bd98/Messages/AAMkAGUwNjQ4ZjIAAA=",
     "@odata.etag": "W/\"CQAAABYAAACQ2fKdhq8oSKEDSVrdi3lRAAGDUUXn\"",
     "id": "AAMkAGUwNjQ4ZjIxAAA="
   },
   "clientState": "<<--SpecifiedClientState-->>",
   "tenantId": "<<--TenantForWhichNotificationWasSent-->>"
 }
]`

// c8EventAnalogue is a third party's event analogue of c8.
const c8EventAnalogue = `{"value":[{"changeType":"updated","clientState":"<<--SpecifiedClientState-->>","resource":"/users/u1/calendars/cal-999/events/e1",
 "resourceData":{"@odata.type":"#Microsoft.Graph.Event","id":"event-1"},
 "subscriptionExpirationDateTime":"2026-08-19T00:00:00.000Z","subscriptionId":"c6126aa3-0ed8-412f-a988-71e6cee627c4","tenantId":"tenant-1"}]}`

// b5Lifecycle is the lifecycle notification sample
// (https://learn.microsoft.com/en-us/graph/change-notifications-lifecycle-events);
// EVENT stands for its lifecycleEvent.
const b5Lifecycle = `{
  "value": [
    {
      "subscriptionId":"<subscription_guid>",
      "subscriptionExpirationDateTime":"2019-03-20T11:00:00.0000000Z",
      "tenantId": "<tenant_guid>",
      "clientState":"<secretClientState>",
      "lifecycleEvent": "EVENT"
    }
  ]
}`

// The recorded payloads: Microsoft's Outlook notification sample
// (wrapped, as published it is a fragment), a third party's event
// analogue, and the lifecycle sample.
func TestGraphRecordedPayloads(t *testing.T) {
	sink := newGraphSink()
	h := newGraph(t, sink, nil)
	if w := serveGraph(h, "POST", "/hooks/graph", c8); w.Code != 400 {
		t.Errorf("the bare fragment is not a JSON object: %d", w.Code)
	}
	if w := serveGraph(h, "POST", "/hooks/graph", "{"+c8+"}"); w.Code != 202 {
		t.Fatalf("C.8: %d %q", w.Code, w.Body)
	}
	if w := serveGraph(h, "POST", "/hooks/graph", c8EventAnalogue); w.Code != 202 {
		t.Fatalf("event analogue: %d %q", w.Code, w.Body)
	}
	for _, ev := range []string{"subscriptionRemoved", "missed", "reauthorizationRequired"} {
		if w := serveGraph(h, "POST", "/hooks/graph-lifecycle", strings.Replace(b5Lifecycle, "EVENT", ev, 1)); w.Code != 202 {
			t.Fatalf("B.5 %s: %d %q", ev, w.Code, w.Body)
		}
	}
	q := sink.notifications()
	if len(q) != 5 {
		t.Fatalf("queued %+v", q)
	}
	if q[0].Kind != calsync.Changed || q[0].CalendarID != "cal-c8" || q[0].SubscriptionID != c8SubID ||
		!strings.Contains(q[0].MessageID, url.PathEscape(`W/"CQAAABYAAACQ2fKdhq8oSKEDSVrdi3lRAAGDUUXn"`)) ||
		!strings.Contains(q[0].MessageID, "/created/") {
		t.Errorf("C.8 queued %+v", q[0])
	}
	if q[1].Kind != calsync.Changed || q[1].MessageID == q[0].MessageID {
		t.Errorf("event analogue queued %+v", q[1])
	}
	for i, kind := range []calsync.NotificationKind{calsync.SubscriptionRemoved, calsync.Resync, calsync.ReauthorizationRequired} {
		if n := q[2+i]; n.Kind != kind || n.CalendarID != "cal-b5" || n.Provider != "msgraph" {
			t.Errorf("B.5 queued %+v, want kind %v", n, kind)
		}
	}
}

// A redelivered message has the same MessageID; another version of the
// event (etag), change type or resource does not.
func TestGraphMessageIDIdentifiesMessage(t *testing.T) {
	id := func(item string) string {
		sink := newGraphSink()
		serveGraph(newGraph(t, sink, nil), "POST", "/hooks/graph", batch(item))
		q := sink.notifications()
		if len(q) != 1 {
			t.Fatalf("queued %+v", q)
		}
		return q[0].MessageID
	}
	a := id(change("sub-1", graphSecret, "updated", "e1"))
	if b := id(change("sub-1", graphSecret, "updated", "e1")); a != b {
		t.Errorf("redelivery: %q != %q", a, b)
	}
	for _, other := range []string{
		change("sub-1", graphSecret, "updated", "e2"),
		change("sub-1", graphSecret, "deleted", "e1"),
		strings.Replace(change("sub-1", graphSecret, "updated", "e1"), "Events/ev-1", "Events/ev-2", 1),
		// Separators inside values cannot make two messages collide.
		strings.Replace(change("sub-1", graphSecret, "updated", "e1"), `"Users/u1/Events/ev-1"`, `"Users/u1/Events/ev-1/e1"`, 1),
	} {
		if b := id(other); a == b {
			t.Errorf("different message, same id %q", a)
		}
	}
}

func TestNewGraphValidates(t *testing.T) {
	if _, err := webhook.NewGraph(webhook.GraphConfig{}); err == nil {
		t.Error("nil Sink accepted")
	}
	if _, err := webhook.NewGraph(webhook.GraphConfig{Sink: newGraphSink(), MaxBodyBytes: -1}); err == nil {
		t.Error("negative MaxBodyBytes accepted")
	}
	if _, err := webhook.NewGraph(webhook.GraphConfig{Sink: newGraphSink(), ReadTimeout: -1}); err == nil {
		t.Error("negative ReadTimeout accepted")
	}
	if c := (webhook.GraphConfig{}).WithDefaults(); c.ReadTimeout != webhook.DefaultReadTimeout {
		t.Errorf("default ReadTimeout = %v", c.ReadTimeout)
	}
	h, err := webhook.NewGraph(webhook.GraphConfig{Sink: newGraphSink(), MaxBodyBytes: 64})
	if err != nil {
		t.Fatal(err)
	}
	if w := serveGraph(h, "POST", "/hooks/graph", batch(change("sub-1", graphSecret, "updated", "e1"))); w.Code != 413 {
		t.Errorf("body over a configured cap: %d", w.Code)
	}
}

// Graph's optional notification id identifies the message when present; a
// change with neither id nor etag gets no MessageID (not deduplicated), so
// two different updates of one event are never taken for one message.
func TestGraphMessageIDWithoutEtag(t *testing.T) {
	ids := func(items ...string) []string {
		sink := newGraphSink()
		serveGraph(newGraph(t, sink, nil), "POST", "/hooks/graph", batch(items...))
		var out []string
		for _, n := range sink.notifications() {
			out = append(out, n.MessageID)
		}
		return out
	}
	noEtag := strings.Replace(change("sub-1", graphSecret, "updated", "e1"), `"@odata.etag"`, `"@odata.notEtag"`, 1)
	if got := ids(noEtag, noEtag); len(got) != 2 || got[0] != "" || got[1] != "" {
		t.Errorf("message ids without etag = %q, want two empty ids", got)
	}
	withID := strings.Replace(noEtag, `"subscriptionId"`, `"id":"lsgTZMr9KwAAA","subscriptionId"`, 1)
	got := ids(withID, withID)
	if len(got) != 2 || got[0] == "" || got[0] != got[1] || !strings.Contains(got[0], "lsgTZMr9KwAAA") {
		t.Errorf("message ids with a notification id = %q", got)
	}
}

// A batch of several changes of one subscription looks it up once.
func TestGraphBatchLooksUpEachSubscriptionOnce(t *testing.T) {
	sink := newGraphSink()
	w := serveGraph(newGraph(t, sink, nil), "POST", "/hooks/graph", batch(
		change("sub-1", graphSecret, "updated", "e1"),
		change("sub-1", graphSecret, "updated", "e2"),
		change("sub-2", graphSecret2, "created", "e3"),
		change("sub-1", graphSecret, "deleted", "e4"),
	))
	if w.Code != 202 || len(sink.notifications()) != 4 {
		t.Fatalf("status %d, queued %d", w.Code, len(sink.notifications()))
	}
	if sink.lookups != 2 {
		t.Errorf("subscription lookups = %d, want 2 (one per subscription)", sink.lookups)
	}
}
