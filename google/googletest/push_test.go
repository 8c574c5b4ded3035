package googletest_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	calendar "google.golang.org/api/calendar/v3"

	"github.com/calsync/calsync/google/googletest"
)

func watch(t *testing.T, svc *calendar.Service, id, address, token string) *calendar.Channel {
	t.Helper()
	ch, err := svc.Events.Watch(calID, &calendar.Channel{Id: id, Type: "web_hook", Address: address, Token: token}).Do()
	if err != nil {
		t.Fatalf("watch %s: %v", id, err)
	}
	return ch
}

func TestWatchStopWithOfficialClient(t *testing.T) {
	clock := newClock()
	rc := newReceiver(t)
	srv, svc := newEnv(t, googletest.Config{Now: clock.Now, PushClient: rc.srv.Client()})

	ch := watch(t, svc, "chan-1", rc.srv.URL+"/hook", "target=app")
	if ch.Kind != "api#channel" || ch.Id != "chan-1" || ch.Token != "target=app" || ch.ResourceId == "" {
		t.Fatalf("channel = %+v", ch)
	}
	if want := clock.Now().Add(googletest.DefaultTTL).UnixMilli(); ch.Expiration != want {
		t.Fatalf("expiration = %d, want now+7d = %d", ch.Expiration, want)
	}
	if want := "https://www.googleapis.com/calendar/v3/calendars/" + calID + "/events?alt=json"; ch.ResourceUri != want {
		t.Fatalf("resourceUri = %q, want %q", ch.ResourceUri, want)
	}
	// resourceId is stable per calendar.
	ch2 := watch(t, svc, "chan-2", rc.srv.URL+"/hook", "")
	if ch2.ResourceId != ch.ResourceId {
		t.Fatalf("resourceId differs between channels of one calendar: %q, %q", ch.ResourceId, ch2.ResourceId)
	}
	live := srv.Channels(calID)
	if len(live) != 2 || live[0].ID != "chan-1" || live[1].ID != "chan-2" || live[0].CalendarID != calID {
		t.Fatalf("Channels = %+v", live)
	}
	live[0].Params = map[string]string{"mutated": "yes"}
	live[0].ID = "mutated"
	if again := srv.Channels(calID); again[0].ID != "chan-1" || again[0].Params != nil {
		t.Fatalf("Channels leaked internal state: %+v", again)
	}

	if err := svc.Channels.Stop(&calendar.Channel{Id: "chan-1", ResourceId: ch.ResourceId}).Do(); err != nil {
		t.Fatalf("stop: %v", err)
	}
	apiErr(t, svc.Channels.Stop(&calendar.Channel{Id: "chan-1", ResourceId: ch.ResourceId}).Do(), 404, "notFound")
	apiErr(t, svc.Channels.Stop(&calendar.Channel{Id: "chan-2", ResourceId: "wrong"}).Do(), 404, "notFound")
	apiErr(t, svc.Channels.Stop(&calendar.Channel{Id: "nope", ResourceId: ch.ResourceId}).Do(), 404, "notFound")
	apiErr(t, svc.Channels.Stop(&calendar.Channel{Id: "chan-2"}).Do(), 400, "required")
	if live := srv.Channels(calID); len(live) != 1 || live[0].ID != "chan-2" {
		t.Fatalf("Channels after stop = %+v", live)
	}
	waitIdle(t, srv)

	// A stopped channel's id may be reused; a live one may not.
	watch(t, svc, "chan-1", rc.srv.URL+"/hook", "")
	_, err := svc.Events.Watch(calID, &calendar.Channel{Id: "chan-2", Type: "web_hook", Address: rc.srv.URL}).Do()
	apiErr(t, err, 400, "channelIdNotUnique")

	// Stop answers 204 with an empty body.
	status, _, body := rawDo(t, srv, "POST", "channels/stop", nil, fmt.Sprintf(`{"id":"chan-2","resourceId":%q}`, ch.ResourceId))
	if status != http.StatusNoContent || body != "" {
		t.Fatalf("stop: %d %q", status, body)
	}

	// An expired channel is gone: not listed, not stoppable.
	clock.Advance(googletest.DefaultTTL)
	if live := srv.Channels(calID); len(live) != 0 {
		t.Fatalf("Channels after expiry = %+v", live)
	}
	apiErr(t, svc.Channels.Stop(&calendar.Channel{Id: "chan-1", ResourceId: ch.ResourceId}).Do(), 404, "notFound")
}

func TestWatchExpirationOnTheWire(t *testing.T) {
	clock := newClock()
	srv, _ := newEnv(t, googletest.Config{Now: clock.Now})
	now := clock.Now()
	path := "calendars/" + url.PathEscape(calID) + "/events/watch"
	ms := func(d time.Duration) int64 { return now.Add(d).UnixMilli() }
	cases := []struct {
		name string
		body string
		want int64
	}{
		{"default 7 days", `{"id":"c1","type":"web_hook","address":"https://x.example/h"}`, ms(7 * 24 * time.Hour)},
		{"ttl param", `{"id":"c2","type":"webhook","address":"https://x.example/h","params":{"ttl":"3600"}}`, ms(time.Hour)},
		{"expiration as string", fmt.Sprintf(`{"id":"c3","type":"web_hook","address":"https://x.example/h","expiration":"%d"}`, ms(2*time.Hour)), ms(2 * time.Hour)},
		{"expiration as number", fmt.Sprintf(`{"id":"c4","type":"web_hook","address":"https://x.example/h","expiration":%d}`, ms(3*time.Hour)), ms(3 * time.Hour)},
		{"expiration in 2030 is clamped to 30 days", `{"id":"c5","type":"web_hook","address":"https://x.example/h","expiration":"1893456000000"}`, ms(30 * 24 * time.Hour)},
		{"ttl beyond max is clamped", `{"id":"c6","type":"web_hook","address":"https://x.example/h","params":{"ttl":"99999999"}}`, ms(30 * 24 * time.Hour)},
		{"earlier of ttl and expiration", fmt.Sprintf(`{"id":"c7","type":"web_hook","address":"https://x.example/h","params":{"ttl":"7200"},"expiration":"%d"}`, ms(time.Hour)), ms(time.Hour)},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			status, hdr, body := rawDo(t, srv, "POST", path, nil, tc.body)
			if status != 200 {
				t.Fatalf("status %d: %s", status, body)
			}
			if ct := hdr.Get("Content-Type"); ct != "application/json; charset=UTF-8" {
				t.Errorf("content-type %q", ct)
			}
			var m map[string]json.RawMessage
			if err := json.Unmarshal([]byte(body), &m); err != nil {
				t.Fatal(err)
			}
			// A JSON string, which the official client requires.
			if want := `"` + strconv.FormatInt(tc.want, 10) + `"`; string(m["expiration"]) != want {
				t.Fatalf("expiration = %s, want %s (%s)", m["expiration"], want, body)
			}
			for _, k := range []string{"kind", "id", "resourceId", "resourceUri"} {
				if _, ok := m[k]; !ok {
					t.Errorf("response lacks %q: %s", k, body)
				}
			}
			if _, ok := m["address"]; ok {
				t.Errorf("response echoes address: %s", body)
			}
		})
	}

	bad := []struct {
		name, body, reason string
	}{
		{"no id", `{"type":"web_hook","address":"https://x.example/h"}`, "required"},
		{"id of 65 characters", `{"id":"` + strings.Repeat("a", 65) + `","type":"web_hook","address":"https://x.example/h"}`, "invalid"},
		{"no type", `{"id":"b1","address":"https://x.example/h"}`, "required"},
		{"wrong type", `{"id":"b2","type":"email","address":"https://x.example/h"}`, "invalid"},
		{"no address", `{"id":"b3","type":"web_hook"}`, "required"},
		{"http address", `{"id":"b4","type":"web_hook","address":"http://x.example/h"}`, "push.webhookUrlNotHttps"},
		{"token of 257 characters", `{"id":"b5","type":"web_hook","address":"https://x.example/h","token":"` + strings.Repeat("t", 257) + `"}`, "invalid"},
		{"negative ttl", `{"id":"b6","type":"web_hook","address":"https://x.example/h","params":{"ttl":"-5"}}`, "pushInvalidTtl"},
		{"expiration in the past", `{"id":"b7","type":"web_hook","address":"https://x.example/h","expiration":"1000"}`, "pushInvalidTtl"},
		{"malformed", `{"id":`, "parseError"},
	}
	for _, tc := range bad {
		t.Run(tc.name, func(t *testing.T) {
			status, _, body := rawDo(t, srv, "POST", path, nil, tc.body)
			if status != 400 || !strings.Contains(body, `"reason":"`+tc.reason+`"`) {
				t.Fatalf("status %d body %s, want 400 %s", status, body, tc.reason)
			}
		})
	}
	// 64 characters is fine; so is 256 of token.
	ok := `{"id":"` + strings.Repeat("a", 64) + `","type":"web_hook","address":"https://x.example/h","token":"` + strings.Repeat("t", 256) + `"}`
	if status, _, body := rawDo(t, srv, "POST", path, nil, ok); status != 200 {
		t.Fatalf("limits: %d %s", status, body)
	}
}

func TestAllowHTTP(t *testing.T) {
	srv, svc := newEnv(t, googletest.Config{AllowHTTP: true})
	ch, err := svc.Events.Watch(calID, &calendar.Channel{Id: "h", Type: "web_hook", Address: "http://127.0.0.1:1/hook"}).Do()
	if err != nil || ch.Id != "h" {
		t.Fatalf("http address with AllowHTTP: %v", err)
	}
	waitIdle(t, srv) // the sync delivery fails (nothing listens) and is logged
	d := srv.Deliveries()
	if len(d) != 1 || d[0].Err == nil || d[0].OK() {
		t.Fatalf("deliveries = %+v", d)
	}
}

func TestNotificationHeaders(t *testing.T) {
	clock := newClock()
	rc := newReceiver(t)
	// Exact: the test counts one push per change and none after stop.
	srv, svc := newEnv(t, googletest.Config{Now: clock.Now, PushClient: rc.srv.Client(), Exact: true})

	ch := watch(t, svc, "4ba78bf0-6a47-11e2-bcfd-0800200c9a66", rc.srv.URL+"/notifications", "target=myApp")
	plain := watch(t, svc, "no-token", rc.srv.URL+"/plain", "")
	waitIdle(t, srv)
	for i := range 3 {
		insert(t, svc, timedEvent("e", t0.Add(time.Duration(i)*time.Hour), time.Hour))
	}
	waitIdle(t, srv)

	var onCh, onPlain []*http.Request
	for _, r := range rc.requests() {
		switch r.URL.Path {
		case "/notifications":
			onCh = append(onCh, r)
		case "/plain":
			onPlain = append(onPlain, r)
		}
	}
	if len(onCh) != 4 || len(onPlain) != 4 {
		t.Fatalf("got %d and %d notifications, want 4 each (sync + 3 exists)", len(onCh), len(onPlain))
	}
	exp := time.UnixMilli(ch.Expiration).UTC().Format("Mon, 02 Jan 2006 15:04:05 GMT")
	last := int64(0)
	for i, r := range onCh {
		state := "exists"
		if i == 0 {
			state = "sync"
		}
		want := map[string]string{
			"X-Goog-Channel-Id":         ch.Id,
			"X-Goog-Channel-Token":      "target=myApp",
			"X-Goog-Channel-Expiration": exp,
			"X-Goog-Resource-Id":        ch.ResourceId,
			"X-Goog-Resource-Uri":       ch.ResourceUri,
			"X-Goog-Resource-State":     state,
			"User-Agent":                "APIs-Google; (+https://developers.google.com/webmasters/APIs-Google.html)",
			"Content-Length":            "0",
		}
		for k, v := range want {
			if got := r.Header.Get(k); got != v {
				t.Errorf("notification %d: %s = %q, want %q", i, k, got, v)
			}
		}
		if r.Method != http.MethodPost || r.ContentLength != 0 || r.Header.Get("Content-Type") != "" {
			t.Errorf("notification %d: %s, length %d, content-type %q", i, r.Method, r.ContentLength, r.Header.Get("Content-Type"))
		}
		n, err := strconv.ParseInt(r.Header.Get("X-Goog-Message-Number"), 10, 64)
		if err != nil {
			t.Fatal(err)
		}
		switch {
		case i == 0 && n != 1:
			t.Errorf("sync message number = %d, want 1", n)
		case i > 0 && n <= last+1:
			t.Errorf("message number %d after %d: want strictly increasing, not consecutive", n, last)
		}
		last = n
	}
	if _, ok := onPlain[0].Header["X-Goog-Channel-Token"]; ok {
		t.Errorf("channel without token got X-Goog-Channel-Token")
	}
	if onPlain[0].Header.Get("X-Goog-Channel-Id") != plain.Id {
		t.Errorf("plain channel id = %q", onPlain[0].Header.Get("X-Goog-Channel-Id"))
	}
	if _, err := time.Parse(http.TimeFormat, onCh[0].Header.Get("X-Goog-Channel-Expiration")); err != nil {
		t.Errorf("expiration header is not an HTTP date: %v", err)
	}

	// The log has every attempt.
	d := srv.Deliveries()
	if len(d) != 8 {
		t.Fatalf("Deliveries has %d entries, want 8", len(d))
	}
	for _, e := range d {
		if !e.OK() || e.Attempt != 1 || e.StatusCode != 200 {
			t.Fatalf("delivery %+v", e)
		}
	}

	// After stop, a change notifies nobody on that channel.
	if err := svc.Channels.Stop(&calendar.Channel{Id: ch.Id, ResourceId: ch.ResourceId}).Do(); err != nil {
		t.Fatal(err)
	}
	insert(t, svc, timedEvent("after stop", t0, time.Hour))
	waitIdle(t, srv)
	for _, e := range srv.Deliveries()[8:] {
		if e.ChannelID == ch.Id {
			t.Fatalf("stopped channel got %+v", e)
		}
	}
}

func TestNotificationRetries(t *testing.T) {
	rc := newReceiver(t, 503, 500, 200, 400, 503, 503, 503, 503)
	// Exact: one push per change, so the answers line up with the pushes.
	srv, svc := newEnv(t, googletest.Config{PushClient: rc.srv.Client(), PushBackoff: time.Millisecond, Exact: true})
	watch(t, svc, "r", rc.srv.URL, "")
	waitIdle(t, srv)
	d := srv.Deliveries()
	if len(d) != 3 || d[0].StatusCode != 503 || d[1].StatusCode != 500 || d[2].StatusCode != 200 || d[2].Attempt != 3 {
		t.Fatalf("sync deliveries = %+v, want 503, 500, 200", d)
	}
	// 400 is a failure that is not retried.
	insert(t, svc, timedEvent("a", t0, time.Hour))
	waitIdle(t, srv)
	if d := srv.Deliveries(); len(d) != 4 || d[3].StatusCode != 400 {
		t.Fatalf("after 400: %+v", d)
	}
	// 503 forever: 1 attempt + DefaultPushRetries.
	insert(t, svc, timedEvent("b", t0, time.Hour))
	waitIdle(t, srv)
	if d := srv.Deliveries()[4:]; len(d) != 1+googletest.DefaultPushRetries || d[len(d)-1].Attempt != 4 {
		t.Fatalf("503 forever: %+v", d)
	}
}

func TestNotificationRetriesDisabled(t *testing.T) {
	rc := newReceiver(t, 503)
	srv, svc := newEnv(t, googletest.Config{PushClient: rc.srv.Client(), PushRetries: -1})
	watch(t, svc, "r", rc.srv.URL, "")
	waitIdle(t, srv)
	if d := srv.Deliveries(); len(d) != 1 || d[0].StatusCode != 503 {
		t.Fatalf("deliveries = %+v", d)
	}
}

// numbers returns the message numbers a receiver got, in arrival order.
func numbers(t *testing.T, rc *receiver) []int64 {
	var out []int64
	for _, r := range rc.requests() {
		n, err := strconv.ParseInt(r.Header.Get("X-Goog-Message-Number"), 10, 64)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, n)
	}
	return out
}

// The knobs act on notifications; Exact (one push per change) lets the
// subtests count pushes.
func TestNotificationKnobs(t *testing.T) {
	t.Run("drop", func(t *testing.T) {
		rc := newReceiver(t)
		srv, svc := newEnv(t, googletest.Config{PushClient: rc.srv.Client(), Exact: true})
		watch(t, svc, "c", rc.srv.URL, "")
		waitIdle(t, srv)
		srv.DropNextNotifications(2)
		for i := range 3 {
			insert(t, svc, timedEvent("e", t0.Add(time.Duration(i)*time.Hour), time.Hour))
		}
		waitIdle(t, srv)
		if n := len(rc.requests()); n != 2 {
			t.Fatalf("receiver got %d, want sync + 1", n)
		}
		dropped := 0
		for _, d := range srv.Deliveries() {
			if d.Dropped {
				dropped++
			}
		}
		if dropped != 2 {
			t.Fatalf("log shows %d dropped, want 2", dropped)
		}
	})
	t.Run("duplicate", func(t *testing.T) {
		rc := newReceiver(t)
		srv, svc := newEnv(t, googletest.Config{PushClient: rc.srv.Client(), Exact: true})
		watch(t, svc, "c", rc.srv.URL, "")
		waitIdle(t, srv)
		srv.DuplicateNextNotifications(1)
		insert(t, svc, timedEvent("a", t0, time.Hour))
		insert(t, svc, timedEvent("b", t0, time.Hour))
		waitIdle(t, srv)
		n := numbers(t, rc)
		if len(n) != 4 || n[1] != n[2] || n[3] <= n[2] {
			t.Fatalf("numbers = %v, want sync, x, x, y", n)
		}
		if d := srv.Deliveries(); !d[2].Duplicate || d[1].Duplicate {
			t.Fatalf("duplicate flags: %+v", d)
		}
	})
	t.Run("reorder", func(t *testing.T) {
		rc := newReceiver(t)
		srv, svc := newEnv(t, googletest.Config{PushClient: rc.srv.Client(), Exact: true})
		watch(t, svc, "c", rc.srv.URL, "")
		waitIdle(t, srv)
		srv.ReorderNotifications(3)
		for i := range 3 {
			insert(t, svc, timedEvent("e", t0.Add(time.Duration(i)*time.Hour), time.Hour))
			if i < 2 {
				waitIdle(t, srv) // held notifications are not waited for
				if got := len(rc.requests()); got != 1 {
					t.Fatalf("after %d inserts the receiver got %d, want only sync", i+1, got)
				}
			}
		}
		waitIdle(t, srv)
		n := numbers(t, rc)
		if len(n) != 4 || !(n[1] > n[2] && n[2] > n[3] && n[3] > n[0]) {
			t.Fatalf("numbers = %v, want sync then three in decreasing order", n)
		}
		// Reordering ended: the next one arrives normally.
		insert(t, svc, timedEvent("f", t0, time.Hour))
		waitIdle(t, srv)
		if n := numbers(t, rc); len(n) != 5 || n[4] <= n[1] {
			t.Fatalf("after reorder: %v", n)
		}
		// k <= 0 releases what is held.
		srv.ReorderNotifications(5)
		insert(t, svc, timedEvent("g", t0, time.Hour))
		waitIdle(t, srv)
		if got := len(rc.requests()); got != 5 {
			t.Fatalf("held notification delivered early: %d", got)
		}
		srv.ReorderNotifications(0)
		waitIdle(t, srv)
		if got := len(rc.requests()); got != 6 {
			t.Fatalf("released notification not delivered: %d", got)
		}
	})
	t.Run("delay", func(t *testing.T) {
		rc := newReceiver(t)
		srv, svc := newEnv(t, googletest.Config{PushClient: rc.srv.Client(), Exact: true})
		srv.DelayNotifications(30 * time.Millisecond)
		start := time.Now()
		watch(t, svc, "c", rc.srv.URL, "")
		waitIdle(t, srv)
		if len(rc.requests()) != 1 {
			t.Fatal("delayed sync not delivered")
		}
		if elapsed := time.Since(start); elapsed < 30*time.Millisecond {
			t.Fatalf("delivered after %v, want ≥ 30ms", elapsed)
		}
	})
}

func TestCloseAbandonsDeliveries(t *testing.T) {
	block := make(chan struct{})
	defer close(block)
	rc := httpsBlocking(t, block)
	srv := googletest.NewServer(googletest.Config{PushClient: rc.Client()})
	if err := srv.AddCalendar(calID, "UTC"); err != nil {
		t.Fatal(err)
	}
	svc := newService(t, srv, "tok")
	watch(t, svc, "c", rc.URL, "")
	srv.DelayNotifications(time.Hour)
	insert(t, svc, timedEvent("e", t0, time.Hour))

	done := make(chan struct{})
	go func() {
		srv.Close() // must not wait for the blocked receiver or the hour
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("Close did not return")
	}
	if err := srv.WaitIdle(context.Background()); err != googletest.ErrClosed {
		t.Fatalf("WaitIdle after Close = %v", err)
	}
	srv.Close() // idempotent
}

func TestNotificationRedirectIsAFailure(t *testing.T) {
	target := newReceiver(t)
	redirect := httptest.NewTLSServer(http.RedirectHandler(target.srv.URL, http.StatusFound))
	defer redirect.Close()
	client := redirect.Client()
	srv, svc := newEnv(t, googletest.Config{PushClient: client})
	watch(t, svc, "c", redirect.URL, "")
	waitIdle(t, srv)
	d := srv.Deliveries()
	if len(d) != 1 || d[0].StatusCode != http.StatusFound || d[0].OK() {
		t.Fatalf("deliveries = %+v", d)
	}
	if n := len(target.requests()); n != 0 {
		t.Fatalf("redirect was followed: target got %d requests", n)
	}
	if client.CheckRedirect != nil {
		t.Fatal("the caller's PushClient was modified")
	}
}

// pushesPerChange returns, for each "exists" notification a receiver got
// on one channel, how many pushes it was: consecutive Push values 1..n.
func pushesPerChange(t *testing.T, d []googletest.Delivery) []int {
	t.Helper()
	var out []int
	last := int64(0)
	for _, e := range d {
		if e.ResourceState != "exists" || e.Attempt != 1 || e.Duplicate {
			continue
		}
		if e.MessageNumber <= last+1 {
			t.Fatalf("message number %d after %d: want strictly increasing, not consecutive", e.MessageNumber, last)
		}
		last = e.MessageNumber
		if e.Push == 1 {
			out = append(out, 0)
		}
		if len(out) == 0 || e.Push != out[len(out)-1]+1 {
			t.Fatalf("push %d out of sequence in %+v", e.Push, d)
		}
		out[len(out)-1]++
	}
	return out
}

// By default one change sends 1 to 3 pushes to each channel, each with its
// own message number; the choice follows Config.Seed.
func TestPushMultiplicity(t *testing.T) {
	const changes = 30
	run := func(cfg googletest.Config) []int {
		rc := newReceiver(t)
		cfg.PushClient = rc.srv.Client()
		srv, svc := newEnv(t, cfg)
		watch(t, svc, "c", rc.srv.URL, "")
		for i := range changes {
			insert(t, svc, timedEvent("e", t0.Add(time.Duration(i)*time.Hour), time.Hour))
		}
		waitIdle(t, srv)
		got := pushesPerChange(t, srv.Deliveries())
		if len(got) != changes {
			t.Fatalf("%d notifications for %d changes: %v", len(got), changes, got)
		}
		total := 0
		for _, n := range got {
			total += n
		}
		if r := len(rc.requests()); r != 1+total {
			t.Fatalf("receiver got %d requests, log says sync + %d", r, total)
		}
		return got
	}

	def := run(googletest.Config{})
	seen := map[int]int{}
	for _, n := range def {
		seen[n]++
	}
	if len(seen) != 3 || seen[0] != 0 || seen[4] != 0 {
		t.Fatalf("pushes per change = %v, want every count from 1 to 3", def)
	}
	if again := run(googletest.Config{}); !slices.Equal(again, def) {
		t.Fatalf("same seed, other pushes: %v then %v", def, again)
	}
	if other := run(googletest.Config{Seed: 42}); slices.Equal(other, def) {
		t.Fatalf("Seed 42 made the same choices as the default seed: %v", other)
	}
	for _, cfg := range []googletest.Config{{MaxPushesPerChange: 1}, {Exact: true}} {
		for _, n := range run(cfg) {
			if n != 1 {
				t.Fatalf("%+v: pushes per change = %d, want exactly 1", cfg, n)
			}
		}
	}
	wide := run(googletest.Config{MaxPushesPerChange: 5, Exact: true}) // explicit values win over Exact
	if slices.Max(wide) < 4 || slices.Max(wide) > 5 {
		t.Fatalf("MaxPushesPerChange 5: %v", wide)
	}
}

// The notification knobs act on a change's pushes together.
func TestNotificationKnobsWithMultiplicity(t *testing.T) {
	rc := newReceiver(t)
	srv, svc := newEnv(t, googletest.Config{PushClient: rc.srv.Client(), MaxPushesPerChange: 3, Seed: 7})
	watch(t, svc, "c", rc.srv.URL, "")
	waitIdle(t, srv)
	srv.DropNextNotifications(1)
	insert(t, svc, timedEvent("dropped", t0, time.Hour))
	waitIdle(t, srv)
	if n := len(rc.requests()); n != 1 {
		t.Fatalf("a dropped change reached the receiver: %d requests", n)
	}
	srv.DuplicateNextNotifications(1)
	insert(t, svc, timedEvent("duplicated", t0, time.Hour))
	waitIdle(t, srv)
	var pushes, dups int
	for _, d := range srv.Deliveries() {
		switch {
		case d.Dropped || d.ResourceState != "exists":
		case d.Duplicate:
			dups++
		default:
			pushes++
		}
	}
	if pushes == 0 || dups != pushes {
		t.Fatalf("%d pushes and %d duplicates, want every push twice", pushes, dups)
	}
}
