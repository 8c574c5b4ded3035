package msgraphtest_test

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/calsync/calsync/msgraph/msgraphtest"
)

func TestChangeNotificationShapeAndBatching(t *testing.T) {
	// Exact: the test counts the items of one batch.
	srv, _ := newServer(t, msgraphtest.Config{BatchWindow: time.Hour, ExactNotifications: true}) // only Flush/WaitIdle end windows
	rc := newReceiver(t)
	other := newReceiver(t)
	a := createSub(t, srv, rc.ts.URL+"/n", nil)
	b := createSub(t, srv, rc.ts.URL+"/n", map[string]any{"changeType": "created", "clientState": nil})
	c := createSub(t, srv, other.ts.URL+"/n", map[string]any{"changeType": "updated"})

	ev := mustCreate(t, srv, msgraphtest.Event{Subject: "x", Start: t0.Add(time.Hour), End: t0.Add(2 * time.Hour)})
	if _, err := srv.UpdateEvent("alice", "", ev.ID, msgraphtest.Event{Subject: "y", Start: ev.Start, End: ev.End}); err != nil {
		t.Fatal(err)
	}
	waitIdle(t, srv)

	posts := rc.posts(t)
	if len(posts) != 1 {
		t.Fatalf("receiver got %d POSTs, want 1 batch", len(posts))
	}
	items := posts[0]
	// created for a and b, updated for a.
	if len(items) != 3 {
		t.Fatalf("batch has %d items, want 3: %+v", len(items), items)
	}
	want := []struct{ sub, ct string }{{a["id"].(string), "created"}, {b["id"].(string), "created"}, {a["id"].(string), "updated"}}
	if items[0].SubscriptionID > items[1].SubscriptionID {
		want[0], want[1] = want[1], want[0]
	}
	for i, it := range items {
		if it.SubscriptionID != want[i].sub || it.ChangeType != want[i].ct {
			t.Fatalf("item %d = %s/%s, want %s/%s", i, it.SubscriptionID, it.ChangeType, want[i].sub, want[i].ct)
		}
		if it.Resource != "Users/alice/Events/"+ev.ID || it.TenantID != msgraphtest.DefaultTenantID {
			t.Fatalf("item %d resource %q tenant %q", i, it.Resource, it.TenantID)
		}
		if !strings.HasSuffix(it.SubscriptionExpirationDateTime, "Z") || len(it.SubscriptionExpirationDateTime) != len("2026-03-02T10:00:00.0000000Z") {
			t.Fatalf("subscriptionExpirationDateTime %q", it.SubscriptionExpirationDateTime)
		}
		var rd map[string]string
		if err := json.Unmarshal(it.ResourceData, &rd); err != nil {
			t.Fatal(err)
		}
		if rd["@odata.type"] != "#Microsoft.Graph.Event" || rd["@odata.id"] != it.Resource || rd["id"] != ev.ID || !strings.HasPrefix(rd["@odata.etag"], `W/"`) {
			t.Fatalf("resourceData = %v", rd)
		}
		if it.SubscriptionID == b["id"] && it.ClientState != nil {
			t.Fatalf("subscription without clientState got %q", *it.ClientState)
		}
		if it.SubscriptionID == a["id"] && (it.ClientState == nil || *it.ClientState != "secret-state") {
			t.Fatalf("clientState not echoed")
		}
	}
	op := other.posts(t)
	if len(op) != 1 || len(op[0]) != 1 || op[0][0].SubscriptionID != c["id"] || op[0][0].ChangeType != "updated" {
		t.Fatalf("other receiver got %+v", op)
	}
}

func TestNotificationRetryAndKnobs(t *testing.T) {
	// Exact: the test counts POSTs per change.
	srv, _ := newServer(t, msgraphtest.Config{BatchWindow: -1, DeliveryBackoff: time.Millisecond, ExactNotifications: true})
	rc := newReceiver(t)
	createSub(t, srv, rc.ts.URL, nil)
	write := func() {
		t.Helper()
		mustCreate(t, srv, msgraphtest.Event{Subject: "x", Start: t0.Add(time.Hour), End: t0.Add(2 * time.Hour)})
		waitIdle(t, srv)
	}
	count := func(pred func(d msgraphtest.Delivery) bool) int {
		n := 0
		for _, d := range srv.Deliveries() {
			if d.Kind == msgraphtest.KindNotification && pred(d) {
				n++
			}
		}
		return n
	}

	// 5xx is retried DefaultDeliveryRetries times.
	rc.setStatus(http.StatusServiceUnavailable)
	write()
	if n := count(func(d msgraphtest.Delivery) bool { return d.StatusCode == 503 }); n != 1+msgraphtest.DefaultDeliveryRetries {
		t.Fatalf("%d attempts on 503, want %d", n, 1+msgraphtest.DefaultDeliveryRetries)
	}
	rc.setStatus(0)

	srv.DropNextNotifications(1)
	before := len(rc.rawBodies())
	write()
	if len(rc.rawBodies()) != before || count(func(d msgraphtest.Delivery) bool { return d.Dropped }) != 1 {
		t.Fatalf("dropped notification arrived")
	}

	srv.DuplicateNextNotifications(1)
	write()
	bodies := rc.rawBodies()
	if len(bodies) != before+2 || string(bodies[len(bodies)-1]) != string(bodies[len(bodies)-2]) {
		t.Fatalf("duplicate not delivered twice: %d bodies", len(bodies)-before)
	}

	const delay = 150 * time.Millisecond
	srv.DelayNotifications(delay)
	start := time.Now()
	mustCreate(t, srv, msgraphtest.Event{Subject: "late", Start: t0.Add(time.Hour), End: t0.Add(2 * time.Hour)})
	waitIdle(t, srv)
	if elapsed := time.Since(start); elapsed < delay {
		t.Fatalf("delayed notification delivered after %v, before the %v delay", elapsed, delay)
	}
	if got := len(rc.rawBodies()); got != before+3 {
		t.Fatalf("delayed notification missing after WaitIdle: %d", got-before)
	}
}

func TestLifecycleNotifications(t *testing.T) {
	srv, _ := newServer(t, msgraphtest.Config{})
	rc := newReceiver(t)
	lc := newReceiver(t)
	sub := createSub(t, srv, rc.ts.URL, map[string]any{"lifecycleNotificationUrl": lc.ts.URL + "/lc"})
	id := sub["id"].(string)
	for _, ev := range []string{msgraphtest.LifecycleReauthorizationRequired, msgraphtest.LifecycleMissed, msgraphtest.LifecycleSubscriptionRemoved} {
		if err := srv.SendLifecycle(id, ev); err != nil {
			t.Fatal(err)
		}
		waitIdle(t, srv)
	}
	var events []string
	for _, body := range lc.rawBodies() {
		var c struct {
			Value []map[string]any `json:"value"`
		}
		decode(t, body, &c)
		for _, it := range c.Value {
			events = append(events, it["lifecycleEvent"].(string))
			for _, k := range []string{"changeType", "resource", "resourceData"} {
				if _, ok := it[k]; ok {
					t.Fatalf("lifecycle item has %s: %v", k, it)
				}
			}
			if it["subscriptionId"] != id || it["tenantId"] == nil || it["clientState"] != "secret-state" || it["subscriptionExpirationDateTime"] == nil {
				t.Fatalf("lifecycle item = %v", it)
			}
		}
	}
	if strings.Join(events, ",") != "reauthorizationRequired,missed,subscriptionRemoved" {
		t.Fatalf("lifecycle events = %v", events)
	}
	if len(rc.rawBodies()) != 0 {
		t.Fatal("lifecycle notification went to notificationUrl")
	}
	// subscriptionRemoved removed it.
	resp, b := api(t, srv, "GET", "/subscriptions/"+id, nil, nil)
	expectError(t, resp, b, http.StatusNotFound, "ResourceNotFound")
	if err := srv.SendLifecycle(id, msgraphtest.LifecycleMissed); err == nil {
		t.Fatal("SendLifecycle on a removed subscription succeeded")
	}
}

func TestSubscriptionLifetime(t *testing.T) {
	srv, clk := newServer(t, msgraphtest.Config{})
	rc := newReceiver(t)
	cases := []struct {
		name   string
		exp    time.Time
		status int
		code   string
	}{
		{"at ceiling", t0.Add(10070 * time.Minute), 201, ""},
		{"doc value 10080 is beyond the observed ceiling", t0.Add(10080 * time.Minute), 400, "ExtensionError"},
		{"past", t0.Add(-time.Minute), 400, "InvalidRequest"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			resp, b := api(t, srv, "POST", "/subscriptions", subBody(rc.ts.URL, tc.exp, nil), nil)
			if tc.status == 201 {
				if resp.StatusCode != 201 {
					t.Fatalf("%d %s", resp.StatusCode, b)
				}
				return
			}
			e := expectError(t, resp, b, tc.status, tc.code)
			if tc.code == "ExtensionError" && e.Error.Message != "Subscription expiration can only be 10070 minutes in the future." {
				t.Fatalf("message = %q", e.Error.Message)
			}
		})
	}
	resp, b := api(t, srv, "POST", "/subscriptions", subBody(rc.ts.URL, t0.Add(time.Hour), map[string]any{"expirationDateTime": nil}), nil)
	expectError(t, resp, b, 400, "InvalidRequest")
	resp, b = api(t, srv, "POST", "/subscriptions", subBody(rc.ts.URL, t0.Add(time.Hour), map[string]any{"clientState": strings.Repeat("x", 129)}), nil)
	expectError(t, resp, b, 400, "InvalidRequest")
	resp, b = api(t, srv, "POST", "/subscriptions", subBody(strings.Replace(rc.ts.URL, "https", "http", 1), t0.Add(time.Hour), nil), nil)
	expectError(t, resp, b, 400, "InvalidRequest")
	resp, b = api(t, srv, "POST", "/subscriptions", subBody(rc.ts.URL, t0.Add(time.Hour), map[string]any{"changeType": "created,moved"}), nil)
	expectError(t, resp, b, 400, "InvalidRequest")

	// Renewal: same ceiling; unknown id 404; expiry deletes.
	sub := createSub(t, srv, rc.ts.URL, nil)
	id := sub["id"].(string)
	resp, b = api(t, srv, "PATCH", "/subscriptions/"+id, map[string]string{"expirationDateTime": t0.Add(10071 * time.Minute).Format(time.RFC3339)}, nil)
	expectError(t, resp, b, 400, "ExtensionError")
	resp, b = api(t, srv, "PATCH", "/subscriptions/"+id, map[string]string{"expirationDateTime": "2026-03-04T11:00:00.0000000Z"}, nil)
	if resp.StatusCode != 200 || !strings.Contains(string(b), `"expirationDateTime":"2026-03-04T11:00:00.0000000Z"`) {
		t.Fatalf("renew: %d %s", resp.StatusCode, b)
	}
	resp, b = api(t, srv, "PATCH", "/subscriptions/00000000-0000-0000-0000-000000000000", map[string]string{"expirationDateTime": "2026-03-04T11:00:00Z"}, nil)
	expectError(t, resp, b, 404, "ResourceNotFound")
	resp, _ = api(t, srv, "POST", "/subscriptions/"+id+"/reauthorize", nil, nil)
	if resp.StatusCode != http.StatusNoContent {
		t.Fatalf("reauthorize = %d, want 204", resp.StatusCode)
	}
	clk.Add(3 * 24 * time.Hour)
	resp, b = api(t, srv, "GET", "/subscriptions/"+id, nil, nil)
	expectError(t, resp, b, 404, "ResourceNotFound")
	resp, b = api(t, srv, "DELETE", "/subscriptions/"+id, nil, nil)
	expectError(t, resp, b, 404, "ResourceNotFound")
}

func TestFaultKnobs(t *testing.T) {
	srv, _ := newServer(t, msgraphtest.Config{})
	path := "/me/calendarView/delta" + windowQuery(t0, t0.Add(time.Hour))

	srv.Fail(msgraphtest.Fault{Op: msgraphtest.OpDelta, Status: 429, RetryAfter: "2.128"})
	resp, b := api(t, srv, "GET", "/subscriptions", nil, nil) // other ops are not affected
	if resp.StatusCode != 200 {
		t.Fatalf("list subscriptions = %d %s", resp.StatusCode, b)
	}
	resp, b = api(t, srv, "GET", path, nil, nil)
	e := expectError(t, resp, b, 429, "TooManyRequests")
	if resp.Header.Get("Retry-After") != "2.128" || e.Error.InnerError["status"] != "429" {
		t.Fatalf("Retry-After %q innerError %v", resp.Header.Get("Retry-After"), e.Error.InnerError)
	}
	resp, _ = api(t, srv, "GET", path, nil, nil)
	if resp.StatusCode != 200 {
		t.Fatalf("fault not consumed: %d", resp.StatusCode)
	}

	srv.FailNext(2, 503, "")
	for range 2 {
		resp, b = api(t, srv, "GET", path, nil, nil)
		expectError(t, resp, b, 503, "serviceNotAvailable")
	}
	srv.FailNext(1, 429, "", msgraphtest.OpCreateSubscription)
	resp, _ = api(t, srv, "GET", path, nil, nil)
	if resp.StatusCode != 200 {
		t.Fatalf("op-scoped fault hit delta: %d", resp.StatusCode)
	}
	srv.ClearFaults()

	srv.RevokeToken("token-1")
	resp, b = api(t, srv, "GET", path, nil, nil)
	expectError(t, resp, b, 401, "InvalidAuthenticationToken")

	srv2, _ := newServer(t, msgraphtest.Config{})
	api(t, srv2, "GET", path, nil, nil)
	srv2.RevokeAll()
	resp, b = api(t, srv2, "GET", path, nil, nil)
	expectError(t, resp, b, 401, "InvalidAuthenticationToken")

	srv2.SetLatency(time.Hour)
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "GET", srv2.URL()+"/v1.0"+path, nil)
	req.Header.Set("Authorization", "Bearer fresh")
	if resp, err := srv2.Client().Do(req); err == nil {
		resp.Body.Close()
		t.Fatalf("request under an hour of latency answered %d", resp.StatusCode)
	}
}

func TestRESTEventsAndMapToken(t *testing.T) {
	// Exact: the test checks one notification per REST write.
	srv, _ := newServer(t, msgraphtest.Config{ExactNotifications: true})
	srv.AddUser("bob")
	srv.AddCalendar("bob", "work")
	srv.MapToken("token-1", "bob")
	rc := newReceiver(t)
	sub := createSub(t, srv, rc.ts.URL, map[string]any{"resource": "/users/bob/calendars/work/events"})
	if sub["creatorId"] != "bob" {
		t.Fatalf("creatorId = %v", sub["creatorId"])
	}
	resp, b := api(t, srv, "POST", "/me/calendars/work/events", map[string]any{
		"subject": "rest",
		"start":   map[string]string{"dateTime": "2026-03-03T10:00:00", "timeZone": "Europe/Berlin"},
		"end":     map[string]string{"dateTime": "2026-03-03T11:00:00", "timeZone": "Europe/Berlin"},
	}, nil)
	if resp.StatusCode != 201 {
		t.Fatalf("create event: %d %s", resp.StatusCode, b)
	}
	var ev map[string]any
	decode(t, b, &ev)
	id := ev["id"].(string)
	if ev["start"].(map[string]any)["dateTime"] != "2026-03-03T09:00:00.0000000" {
		t.Fatalf("start = %v", ev["start"])
	}
	resp, b = api(t, srv, "PATCH", "/me/events/"+id, map[string]any{"subject": "patched"}, nil)
	if resp.StatusCode != 200 || !strings.Contains(string(b), `"subject":"patched"`) {
		t.Fatalf("patch: %d %s", resp.StatusCode, b)
	}
	resp, _ = api(t, srv, "DELETE", "/users/bob/calendars/work/events/"+id, nil, nil)
	if resp.StatusCode != 204 {
		t.Fatalf("delete = %d", resp.StatusCode)
	}
	resp, b = api(t, srv, "GET", "/me/events/"+id, nil, nil)
	expectError(t, resp, b, 404, "ErrorItemNotFound")
	waitIdle(t, srv)
	var cts []string
	for _, p := range rc.posts(t) {
		for _, it := range p {
			cts = append(cts, it.ChangeType)
		}
	}
	if strings.Join(cts, ",") != "created,updated,deleted" {
		t.Fatalf("change types = %v", cts)
	}
	// alice's calendar saw nothing.
	if evs, _ := srv.Events("alice", "", t0.Add(-time.Hour), t0.Add(48*time.Hour)); len(evs) != 0 {
		t.Fatalf("alice has %d events", len(evs))
	}
}
