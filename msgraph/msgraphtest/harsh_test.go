package msgraphtest_test

import (
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/calsync/calsync/msgraph/msgraphtest"
)

// changes returns "changeType id" of every item received, in order.
func changes(t *testing.T, rc *receiver) []string {
	t.Helper()
	var out []string
	for _, p := range rc.posts(t) {
		for _, it := range p {
			id := strings.TrimPrefix(it.Resource, "Users/alice/Events/")
			out = append(out, it.ChangeType+" "+id)
		}
	}
	return out
}

// A creation notifies created then updated, an update 1 to 3 times
// updated, a change to an occurrence the occurrence and its series master
// (as Graph does); ExactNotifications makes each one notification.
func TestNotificationMultiplicity(t *testing.T) {
	series := msgraphtest.Event{Subject: "series", Start: t0.Add(24 * time.Hour), End: t0.Add(25 * time.Hour),
		Recurrence: &msgraphtest.PatternedRecurrence{
			Pattern: msgraphtest.RecurrencePattern{Type: "daily"},
			Range:   msgraphtest.RecurrenceRange{Type: "numbered", NumberOfOccurrences: 3},
		}}
	// run makes the same changes on a fresh server and returns the
	// notifications of each step.
	run := func(t *testing.T, cfg msgraphtest.Config) (created, updated, occUpdated, occCancelled []string, ids map[string]string) {
		cfg.BatchWindow = -1
		srv, _ := newServer(t, cfg)
		rc := newReceiver(t)
		createSub(t, srv, rc.ts.URL, nil)
		step := func(f func()) []string {
			t.Helper()
			before := len(changes(t, rc))
			f()
			waitIdle(t, srv)
			return changes(t, rc)[before:]
		}
		var ev, master msgraphtest.Event
		var occ []msgraphtest.Event
		created = step(func() {
			ev = mustCreate(t, srv, msgraphtest.Event{Subject: "x", Start: t0.Add(time.Hour), End: t0.Add(2 * time.Hour)})
		})
		updated = step(func() {
			if _, err := srv.UpdateEvent("alice", "", ev.ID, msgraphtest.Event{Subject: "y", Start: ev.Start, End: ev.End}); err != nil {
				t.Fatal(err)
			}
		})
		master = mustCreate(t, srv, series)
		waitIdle(t, srv)
		occ, _ = srv.Events("alice", "", series.Start, series.Start.Add(7*24*time.Hour))
		occUpdated = step(func() {
			if _, err := srv.UpdateEvent("alice", "", occ[0].ID, msgraphtest.Event{Subject: "moved", Start: occ[0].Start.Add(time.Hour), End: occ[0].End.Add(time.Hour)}); err != nil {
				t.Fatal(err)
			}
		})
		occCancelled = step(func() {
			if err := srv.DeleteEvent("alice", "", occ[1].ID); err != nil {
				t.Fatal(err)
			}
		})
		return created, updated, occUpdated, occCancelled, map[string]string{"ev": ev.ID, "master": master.ID, "occ0": occ[0].ID, "occ1": occ[1].ID}
	}
	repeated := func(got []string, want string) bool {
		if len(got) < 1 || len(got) > 3 {
			return false
		}
		for _, g := range got {
			if g != want {
				return false
			}
		}
		return true
	}

	t.Run("harsh by default", func(t *testing.T) {
		created, updated, occUpdated, occCancelled, ids := run(t, msgraphtest.Config{})
		if want := []string{"created " + ids["ev"], "updated " + ids["ev"]}; !slices.Equal(created, want) {
			t.Errorf("creation notified %v, want %v", created, want)
		}
		if !repeated(updated, "updated "+ids["ev"]) {
			t.Errorf("update notified %v, want 1..3 × updated %s", updated, ids["ev"])
		}
		if len(occUpdated) < 2 || occUpdated[0] != "updated "+ids["occ0"] || !repeated(occUpdated[1:], "updated "+ids["master"]) {
			t.Errorf("occurrence update notified %v, want the occurrence then 1..3 × the master", occUpdated)
		}
		if len(occCancelled) < 2 || occCancelled[0] != "deleted "+ids["occ1"] || !repeated(occCancelled[1:], "updated "+ids["master"]) {
			t.Errorf("occurrence cancellation notified %v, want the occurrence deleted then 1..3 × the master updated", occCancelled)
		}
	})

	t.Run("exact", func(t *testing.T) {
		created, updated, occUpdated, occCancelled, ids := run(t, msgraphtest.Config{Exact: true})
		for _, c := range []struct {
			name      string
			got, want []string
		}{
			{"creation", created, []string{"created " + ids["ev"]}},
			{"update", updated, []string{"updated " + ids["ev"]}},
			{"occurrence update", occUpdated, []string{"updated " + ids["master"]}},
			{"occurrence cancellation", occCancelled, []string{"updated " + ids["master"]}},
		} {
			if !slices.Equal(c.got, c.want) {
				t.Errorf("%s notified %v, want %v", c.name, c.got, c.want)
			}
		}
	})

	t.Run("seeded", func(t *testing.T) {
		counts := func(seed uint64) []int {
			srv, _ := newServer(t, msgraphtest.Config{Seed: seed, BatchWindow: -1})
			rc := newReceiver(t)
			createSub(t, srv, rc.ts.URL, map[string]any{"changeType": "updated"})
			ev := mustCreate(t, srv, msgraphtest.Event{Subject: "x", Start: t0.Add(time.Hour), End: t0.Add(2 * time.Hour)})
			waitIdle(t, srv)
			var out []int
			for i := range 12 {
				before := len(rc.rawBodies())
				if _, err := srv.UpdateEvent("alice", "", ev.ID, msgraphtest.Event{Subject: "v" + string(rune('a'+i)), Start: ev.Start, End: ev.End}); err != nil {
					t.Fatal(err)
				}
				waitIdle(t, srv)
				out = append(out, len(rc.rawBodies())-before)
			}
			return out
		}
		a, b := counts(7), counts(7)
		if !slices.Equal(a, b) {
			t.Errorf("same seed, different multiplicity: %v and %v", a, b)
		}
		if slices.Min(a) < 1 || slices.Max(a) > 3 || slices.Min(a) == slices.Max(a) {
			t.Errorf("updates notified %v times; want 1..3, not always the same", a)
		}
	})
}

// validations counts the validation deliveries so far.
func validations(srv *msgraphtest.Server) int {
	n := 0
	for _, d := range srv.Deliveries() {
		if d.Kind == msgraphtest.KindValidation {
			n++
		}
	}
	return n
}

// PATCH and reauthorize run the validation handshake again, on both URLs,
// and fail when the receiver does not answer it.
func TestValidationOnRenewAndReauthorize(t *testing.T) {
	srv, _ := newServer(t, msgraphtest.Config{})
	rc := newReceiver(t)
	sub := createSub(t, srv, rc.ts.URL+"/n", map[string]any{"lifecycleNotificationUrl": rc.ts.URL + "/lc"})
	id := sub["id"].(string)
	renew := map[string]string{"expirationDateTime": t0.Add(2 * time.Hour).Format(time.RFC3339)}

	before := validations(srv)
	if resp, b := api(t, srv, "PATCH", "/subscriptions/"+id, renew, nil); resp.StatusCode != 200 {
		t.Fatalf("renew: %d %s", resp.StatusCode, b)
	}
	if resp, _ := api(t, srv, "POST", "/subscriptions/"+id+"/reauthorize", nil, nil); resp.StatusCode != http.StatusNoContent {
		t.Fatalf("reauthorize: %d", resp.StatusCode)
	}
	if got := validations(srv) - before; got != 4 {
		t.Fatalf("renew and reauthorize validated %d times, want 4 (both URLs each)", got)
	}

	rc.setValidate(func(w http.ResponseWriter, r *http.Request, token string) { w.WriteHeader(http.StatusNotFound) })
	later := map[string]string{"expirationDateTime": t0.Add(3 * time.Hour).Format(time.RFC3339)}
	resp, b := api(t, srv, "PATCH", "/subscriptions/"+id, later, nil)
	if e := expectError(t, resp, b, 400, "InvalidRequest"); !strings.HasPrefix(e.Error.Message, "Subscription validation request failed.") {
		t.Errorf("message %q", e.Error.Message)
	}
	if subs := srv.Subscriptions(); len(subs) != 1 || !subs[0].ExpirationDateTime.Equal(t0.Add(2*time.Hour)) {
		t.Errorf("a renewal that failed validation changed the subscription: %+v", subs)
	}
	resp, b = api(t, srv, "POST", "/subscriptions/"+id+"/reauthorize", nil, nil)
	expectError(t, resp, b, 400, "InvalidRequest")

	t.Run("ValidateOnCreateOnly", func(t *testing.T) {
		srv, _ := newServer(t, msgraphtest.Config{ValidateOnCreateOnly: true})
		rc := newReceiver(t)
		id := createSub(t, srv, rc.ts.URL, nil)["id"].(string)
		rc.setValidate(func(w http.ResponseWriter, r *http.Request, token string) { w.WriteHeader(http.StatusNotFound) })
		before := validations(srv)
		if resp, b := api(t, srv, "PATCH", "/subscriptions/"+id, renew, nil); resp.StatusCode != 200 {
			t.Fatalf("renew: %d %s", resp.StatusCode, b)
		}
		if resp, _ := api(t, srv, "POST", "/subscriptions/"+id+"/reauthorize", nil, nil); resp.StatusCode != http.StatusNoContent {
			t.Fatalf("reauthorize: %d", resp.StatusCode)
		}
		if validations(srv) != before {
			t.Error("validated on renew although ValidateOnCreateOnly")
		}
	})
}

// A timed-out validation is a 400 whose repetition succeeds, on create,
// renew and reauthorize.
func TestTimeOutNextValidations(t *testing.T) {
	srv, _ := newServer(t, msgraphtest.Config{})
	rc := newReceiver(t)
	timedOut := func(resp *http.Response, b []byte) {
		t.Helper()
		if e := expectError(t, resp, b, 400, "InvalidRequest"); e.Error.Message != "Subscription validation request timed out." {
			t.Fatalf("message %q", e.Error.Message)
		}
	}
	srv.TimeOutNextValidations(1)
	timedOut(api(t, srv, "POST", "/subscriptions", subBody(rc.ts.URL, t0.Add(time.Hour), nil), nil))
	if len(srv.Subscriptions()) != 0 {
		t.Fatal("subscription created although its validation timed out")
	}
	id := createSub(t, srv, rc.ts.URL, nil)["id"].(string)

	renew := map[string]string{"expirationDateTime": t0.Add(2 * time.Hour).Format(time.RFC3339)}
	srv.TimeOutNextValidations(1)
	timedOut(api(t, srv, "PATCH", "/subscriptions/"+id, renew, nil))
	if resp, b := api(t, srv, "PATCH", "/subscriptions/"+id, renew, nil); resp.StatusCode != 200 {
		t.Fatalf("renew after a timeout: %d %s", resp.StatusCode, b)
	}
	srv.TimeOutNextValidations(1)
	timedOut(api(t, srv, "POST", "/subscriptions/"+id+"/reauthorize", nil, nil))
	if resp, _ := api(t, srv, "POST", "/subscriptions/"+id+"/reauthorize", nil, nil); resp.StatusCode != http.StatusNoContent {
		t.Fatalf("reauthorize after a timeout: %d", resp.StatusCode)
	}
	dropped := 0
	for _, d := range srv.Deliveries() {
		if d.Kind == msgraphtest.KindValidation && d.Dropped {
			dropped++
		}
	}
	if dropped != 3 {
		t.Errorf("%d timed-out validations logged, want 3", dropped)
	}
}

// A lower ceiling is enforced on create and renew with Graph's message.
func TestLowerLifetimeCeiling(t *testing.T) {
	srv, _ := newServer(t, msgraphtest.Config{})
	rc := newReceiver(t)
	srv.SetMaxSubscriptionLifetime(4230 * time.Minute)
	resp, b := api(t, srv, "POST", "/subscriptions", subBody(rc.ts.URL, t0.Add(4231*time.Minute), nil), nil)
	if e := expectError(t, resp, b, 400, "ExtensionError"); e.Error.Message != "Subscription expiration can only be 4230 minutes in the future." {
		t.Fatalf("message %q", e.Error.Message)
	}
	resp, b = api(t, srv, "POST", "/subscriptions", subBody(rc.ts.URL, t0.Add(4230*time.Minute), nil), nil)
	if resp.StatusCode != 201 {
		t.Fatalf("create at the lower ceiling: %d %s", resp.StatusCode, b)
	}
	var sub map[string]any
	decode(t, b, &sub)
	resp, b = api(t, srv, "PATCH", "/subscriptions/"+sub["id"].(string), map[string]string{"expirationDateTime": t0.Add(5000 * time.Minute).Format(time.RFC3339)}, nil)
	expectError(t, resp, b, 400, "ExtensionError")
	srv.SetMaxSubscriptionLifetime(0)
	if resp, b = api(t, srv, "PATCH", "/subscriptions/"+sub["id"].(string), map[string]string{"expirationDateTime": t0.Add(5000 * time.Minute).Format(time.RFC3339)}, nil); resp.StatusCode != 200 {
		t.Fatalf("renew after restoring the ceiling: %d %s", resp.StatusCode, b)
	}
}

// holdSlots starts n subscription creates for alice whose validation the
// receiver holds until the returned release is called: n requests in
// flight for alice's mailbox, for as long as the test wants.
func holdSlots(t *testing.T, srv *msgraphtest.Server, n int) (release func()) {
	t.Helper()
	rc := newReceiver(t)
	arrived, unblock := make(chan struct{}, n), make(chan struct{})
	rc.setValidate(func(w http.ResponseWriter, r *http.Request, token string) {
		arrived <- struct{}{}
		select {
		case <-unblock:
		case <-r.Context().Done():
		}
		w.Header().Set("Content-Type", "text/plain")
		w.Write([]byte(token))
	})
	var wg sync.WaitGroup
	for range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if resp, b := api(t, srv, "POST", "/subscriptions", subBody(rc.ts.URL, t0.Add(time.Hour), nil), nil); resp.StatusCode != 201 {
				t.Errorf("held create: %d %s", resp.StatusCode, b)
			}
		}()
	}
	for range n {
		<-arrived
	}
	var once sync.Once
	release = func() { once.Do(func() { close(unblock); wg.Wait() }) }
	t.Cleanup(release)
	return release
}

// A fifth concurrent request on one mailbox is 429 ApplicationThrottled
// with Retry-After 1 or none; other mailboxes are
// not affected, and the slot frees when a request ends.
func TestMailboxConcurrency(t *testing.T) {
	delta := "/me/calendarView/delta" + windowQuery(t0, t0.Add(time.Hour))
	for _, tc := range []struct {
		name  string
		mode  msgraphtest.RetryAfterMode
		wants []string // Retry-After values that must all be seen
	}{
		{"mixed", msgraphtest.RetryAfterMixed, []string{"1", ""}},
		{"one", msgraphtest.RetryAfterOne, []string{"1"}},
		{"none", msgraphtest.RetryAfterNone, []string{""}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv, _ := newServer(t, msgraphtest.Config{ThrottleRetryAfter: tc.mode})
			srv.AddUser("bob")
			release := holdSlots(t, srv, msgraphtest.DefaultMailboxConcurrency)
			seen := map[string]bool{}
			for range 16 {
				resp, b := api(t, srv, "GET", delta, nil, nil)
				e := expectError(t, resp, b, http.StatusTooManyRequests, "ApplicationThrottled")
				if e.Error.Message != "Application is over its MailboxConcurrency limit." {
					t.Fatalf("message %q", e.Error.Message)
				}
				seen[resp.Header.Get("Retry-After")] = true
			}
			for _, w := range tc.wants {
				if !seen[w] {
					t.Errorf("Retry-After %q never seen (seen %v)", w, seen)
				}
			}
			if len(seen) != len(tc.wants) {
				t.Errorf("Retry-After values %v, want only %q", seen, tc.wants)
			}
			if resp, b := api(t, srv, "GET", "/users/bob/calendarView/delta"+windowQuery(t0, t0.Add(time.Hour)), nil, nil); resp.StatusCode != 200 {
				t.Errorf("another mailbox was throttled: %d %s", resp.StatusCode, b)
			}
			if got := srv.RequestCountByStatus(msgraphtest.OpDelta, http.StatusTooManyRequests); got != 16 {
				t.Errorf("request log has %d throttled deltas, want 16", got)
			}
			release()
			if resp, b := api(t, srv, "GET", delta, nil, nil); resp.StatusCode != 200 {
				t.Errorf("after the held requests ended: %d %s", resp.StatusCode, b)
			}
		})
	}
	t.Run("per app", func(t *testing.T) {
		srv, _ := newServer(t, msgraphtest.Config{ConcurrencyPerApp: true})
		srv.AddUser("bob")
		holdSlots(t, srv, msgraphtest.DefaultMailboxConcurrency)
		resp, b := api(t, srv, "GET", "/users/bob/calendarView/delta"+windowQuery(t0, t0.Add(time.Hour)), nil, nil)
		expectError(t, resp, b, http.StatusTooManyRequests, "ApplicationThrottled")
	})
	t.Run("unlimited", func(t *testing.T) {
		srv, _ := newServer(t, msgraphtest.Config{MailboxConcurrency: -1})
		holdSlots(t, srv, msgraphtest.DefaultMailboxConcurrency)
		if resp, b := api(t, srv, "GET", delta, nil, nil); resp.StatusCode != 200 {
			t.Errorf("limit disabled, still: %d %s", resp.StatusCode, b)
		}
	})
}

// A deleted subscription is gone for the API at once but still receives
// notifications for a while.
func TestDeletedSubscriptionLingers(t *testing.T) {
	for _, tc := range []struct {
		name    string
		cfg     msgraphtest.Config
		lingers bool
	}{
		{"default", msgraphtest.Config{ExactNotifications: true}, true},
		{"off", msgraphtest.Config{ExactNotifications: true, DeletedSubscriptionLinger: -1}, false},
		{"Exact", msgraphtest.Config{Exact: true}, false},
		{"Exact but set", msgraphtest.Config{Exact: true, DeletedSubscriptionLinger: time.Minute}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.cfg.BatchWindow = -1
			srv, clk := newServer(t, tc.cfg)
			rc := newReceiver(t)
			id := createSub(t, srv, rc.ts.URL, nil)["id"].(string)
			if resp, _ := api(t, srv, "DELETE", "/subscriptions/"+id, nil, nil); resp.StatusCode != http.StatusNoContent {
				t.Fatalf("delete = %d", resp.StatusCode)
			}
			resp, b := api(t, srv, "GET", "/subscriptions/"+id, nil, nil)
			expectError(t, resp, b, http.StatusNotFound, "ResourceNotFound")
			if len(srv.Subscriptions()) != 0 {
				t.Fatal("deleted subscription listed")
			}
			mustCreate(t, srv, msgraphtest.Event{Subject: "late", Start: t0.Add(time.Hour), End: t0.Add(2 * time.Hour)})
			waitIdle(t, srv)
			posts := rc.posts(t)
			if got := len(posts) == 1 && posts[0][0].SubscriptionID == id; got != tc.lingers {
				t.Fatalf("notifications after delete: %+v; want a late one: %v", posts, tc.lingers)
			}
			clk.Add(time.Minute)
			mustCreate(t, srv, msgraphtest.Event{Subject: "later", Start: t0.Add(time.Hour), End: t0.Add(2 * time.Hour)})
			waitIdle(t, srv)
			if got := len(rc.posts(t)); got != len(posts) {
				t.Errorf("still notified after the linger window: %d POSTs", got)
			}
		})
	}
}

// v1.0 refuses calendarView delta of a named calendar unless allowed;
// beta serves it.
func TestCalendarDeltaV1(t *testing.T) {
	window := windowQuery(t0, t0.Add(48*time.Hour))
	for _, allow := range []bool{false, true} {
		srv, _ := newServer(t, msgraphtest.Config{AllowCalendarDeltaV1: allow})
		srv.AddCalendar("alice", "work")
		if _, err := srv.CreateEvent("alice", "work", msgraphtest.Event{Subject: "w", Start: t0.Add(time.Hour), End: t0.Add(2 * time.Hour)}); err != nil {
			t.Fatal(err)
		}
		for _, path := range []string{"/me/calendars/work/calendarView/delta", "/users/alice/calendars/work/calendarView/delta()", "/me/calendar/calendarView/delta"} {
			resp, b := api(t, srv, "GET", path+window, nil, nil)
			switch {
			case allow && resp.StatusCode != 200:
				t.Errorf("allowed v1.0 %s: %d %s", path, resp.StatusCode, b)
			case !allow:
				if e := expectError(t, resp, b, http.StatusBadRequest, "BadRequest"); e.Error.Message != "Unsupported request: Change tracking is not supported against 'microsoft.graph.event'." {
					t.Errorf("v1.0 %s: message %q", path, e.Error.Message)
				}
			}
		}
		items, _, link := deltaRound(t, srv, srv.URL()+"/beta/me/calendars/work/calendarView/delta"+window, 0)
		if len(items) != 1 || items[0]["subject"] != "w" || !strings.Contains(link, "/beta/me/calendars/work/calendarView/delta?$deltatoken=") {
			t.Errorf("beta round: %v, deltaLink %q", items, link)
		}
		deltaRound(t, srv, link, 0) // the beta deltaLink works as it is
		if items, _, _ := deltaRound(t, srv, "/me/calendarView/delta"+window, 0); len(items) != 0 {
			t.Errorf("primary calendar shows the secondary's events: %v", items)
		}
	}
}

// DeleteCalendar makes the calendar 404 for delta and new subscriptions.
func TestDeleteCalendar(t *testing.T) {
	srv, _ := newServer(t, msgraphtest.Config{})
	rc := newReceiver(t)
	srv.AddCalendar("alice", "work")
	if err := srv.DeleteCalendar("alice", srv.PrimaryCalendar("alice")); err == nil {
		t.Error("primary calendar deleted")
	}
	if err := srv.DeleteCalendar("alice", "work"); err != nil {
		t.Fatal(err)
	}
	resp, b := api(t, srv, "GET", srv.URL()+"/beta/me/calendars/work/calendarView/delta"+windowQuery(t0, t0.Add(time.Hour)), nil, nil)
	expectError(t, resp, b, http.StatusNotFound, "ErrorItemNotFound")
	resp, b = api(t, srv, "POST", "/subscriptions", subBody(rc.ts.URL, t0.Add(time.Hour), map[string]any{"resource": "me/calendars/work/events"}), nil)
	expectError(t, resp, b, http.StatusNotFound, "ResourceNotFound")
	if err := srv.DeleteCalendar("alice", "work"); err == nil {
		t.Error("deleted twice")
	}
}

// Every API request is logged with its operation, mailbox, calendar and
// answer; a fault's Retry-After can be an HTTP date counted from the
// failure, or absent.
func TestRequestLog(t *testing.T) {
	srv, clk := newServer(t, msgraphtest.Config{})
	rc := newReceiver(t)
	srv.AddCalendar("alice", "work")
	primary := srv.PrimaryCalendar("alice")
	delta := "/me/calendarView/delta" + windowQuery(t0, t0.Add(time.Hour))

	srv.Fail(msgraphtest.Fault{Op: msgraphtest.OpDelta, Status: 429, RetryAfterIn: 2500 * time.Millisecond})
	clk.Add(time.Minute) // the date counts from the failure, not from Fail
	resp, _ := api(t, srv, "GET", delta, nil, nil)
	if got, want := resp.Header.Get("Retry-After"), t0.Add(time.Minute+3*time.Second).Format(http.TimeFormat); got != want {
		t.Errorf("Retry-After = %q, want %q", got, want)
	}
	srv.Fail(msgraphtest.Fault{Op: msgraphtest.OpDelta, Status: 429, OmitRetryAfter: true})
	resp, b := api(t, srv, "GET", delta, nil, nil)
	expectError(t, resp, b, 429, "TooManyRequests")
	if _, ok := resp.Header["Retry-After"]; ok {
		t.Errorf("Retry-After %q sent although omitted", resp.Header.Get("Retry-After"))
	}
	api(t, srv, "GET", delta, nil, nil)
	id := createSub(t, srv, rc.ts.URL, map[string]any{"resource": "me/calendars/work/events"})["id"].(string)
	api(t, srv, "DELETE", "/subscriptions/"+id, nil, nil)
	api(t, srv, "GET", "/nowhere", nil, nil)

	type row struct {
		op, user, calendar string
		status             int
		code               string
	}
	var got []row
	for _, r := range srv.Requests() {
		got = append(got, row{r.Op, r.User, r.CalendarID, r.Status, r.Code})
		if r.Method == "" || r.Version != "v1.0" || r.Path == "" || r.Time.IsZero() {
			t.Errorf("incomplete log entry %+v", r)
		}
	}
	want := []row{
		{msgraphtest.OpDelta, "alice", primary, 429, "TooManyRequests"},
		{msgraphtest.OpDelta, "alice", primary, 429, "TooManyRequests"},
		{msgraphtest.OpDelta, "alice", primary, 200, ""},
		{msgraphtest.OpCreateSubscription, "alice", "work", 201, ""},
		{msgraphtest.OpDeleteSubscription, "alice", "work", 204, ""},
		{"", "", "", 400, "BadRequest"},
	}
	if !slices.Equal(got, want) {
		t.Errorf("request log:\n got %+v\nwant %+v", got, want)
	}
	if n := srv.RequestCountByStatus(msgraphtest.OpDelta, 0); n != 3 {
		t.Errorf("RequestCountByStatus(delta, any) = %d", n)
	}
	if n := srv.RequestCountByStatus("", 429); n != 2 {
		t.Errorf("RequestCountByStatus(any, 429) = %d", n)
	}
	if n := srv.RequestCount(msgraphtest.OpDelta, primary); n != 3 {
		t.Errorf("RequestCount(delta, primary) = %d", n)
	}
	if n := srv.RequestCount("", "work"); n != 2 {
		t.Errorf("RequestCount(any, work) = %d", n)
	}
	srv.ResetRequests()
	if n := srv.RequestCount("", ""); n != 0 {
		t.Errorf("after ResetRequests: %d", n)
	}
}
