package googletest_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	calendar "google.golang.org/api/calendar/v3"
	"google.golang.org/api/googleapi"

	"github.com/calsync/calsync/google/googletest"
)

var t0 = time.Date(2026, 3, 3, 10, 0, 0, 0, time.UTC)

func TestOfficialClientFullAndIncrementalSync(t *testing.T) {
	clock := newClock()
	srv, svc := newEnv(t, googletest.Config{Now: clock.Now})

	var inserted []*calendar.Event
	for i := range 7 {
		ev := insert(t, svc, timedEvent("event "+string(rune('a'+i)), t0.Add(time.Duration(i)*time.Hour), 30*time.Minute))
		if ev.Kind != "calendar#event" || ev.Status != "confirmed" || ev.ICalUID != ev.Id+"@google.com" || ev.EventType != "default" {
			t.Fatalf("inserted event = %+v", ev)
		}
		if !strings.HasPrefix(ev.Etag, `"`) || !strings.HasSuffix(ev.Etag, `"`) {
			t.Fatalf("etag %q is not quoted", ev.Etag)
		}
		if ev.Reminders == nil || !ev.Reminders.UseDefault {
			t.Fatalf("reminders = %+v, want useDefault", ev.Reminders)
		}
		inserted = append(inserted, ev)
		clock.Advance(time.Second)
	}

	items, syncToken := fullList(t, svc, false, 3)
	want := ids(inserted)
	slices.Sort(want)
	if got := ids(items); !slices.Equal(got, want) {
		t.Fatalf("full list ids = %v, want %v", got, want)
	}
	if syncToken == "" {
		t.Fatal("no nextSyncToken")
	}

	// Nothing changed: an empty incremental page and a usable token.
	items, syncToken2 := incremental(t, svc, false, 3, syncToken)
	if len(items) != 0 {
		t.Fatalf("incremental without changes returned %v", ids(items))
	}

	clock.Advance(time.Minute)
	patched, err := svc.Events.Patch(calID, inserted[2].Id, &calendar.Event{Summary: "renamed"}).Do()
	if err != nil {
		t.Fatal(err)
	}
	if patched.Summary != "renamed" || patched.Start.DateTime != inserted[2].Start.DateTime {
		t.Fatalf("patch did not merge: %+v", patched)
	}
	if patched.Etag == inserted[2].Etag || patched.Updated == inserted[2].Updated {
		t.Fatalf("patch kept etag %s / updated %s", patched.Etag, patched.Updated)
	}
	if err := svc.Events.Delete(calID, inserted[4].Id).Do(); err != nil {
		t.Fatal(err)
	}
	added := insert(t, svc, timedEvent("late", t0.Add(48*time.Hour), time.Hour))

	items, syncToken3 := incremental(t, svc, false, 2, syncToken2)
	byID := map[string]*calendar.Event{}
	for _, it := range items {
		byID[it.Id] = it
	}
	if len(items) != 3 || byID[inserted[2].Id] == nil || byID[inserted[4].Id] == nil || byID[added.Id] == nil {
		t.Fatalf("incremental = %v, want the patched, deleted and added events", ids(items))
	}
	if byID[inserted[2].Id].Summary != "renamed" {
		t.Fatalf("patched event in incremental: %+v", byID[inserted[2].Id])
	}
	del := byID[inserted[4].Id]
	if del.Status != "cancelled" || del.Summary != "" || del.Start != nil {
		t.Fatalf("tombstone = %+v, want only id/status", del)
	}

	// The same token again gives the same answer (tokens are not consumed).
	again, _ := incremental(t, svc, false, 250, syncToken2)
	if !slices.Equal(ids(again), ids(items)) && len(again) != len(items) {
		t.Fatalf("repeating the sync token: %v, want %v", ids(again), ids(items))
	}
	items, _ = incremental(t, svc, false, 250, syncToken3)
	if len(items) != 0 {
		t.Fatalf("incremental after catching up = %v", ids(items))
	}

	// get returns cancelled events; a second delete is 410 deleted.
	got, err := svc.Events.Get(calID, inserted[4].Id).Do()
	if err != nil || got.Status != "cancelled" {
		t.Fatalf("get deleted = %+v, %v", got, err)
	}
	apiErr(t, svc.Events.Delete(calID, inserted[4].Id).Do(), 410, "deleted")
	_, err = svc.Events.Get(calID, "nosuchevent").Do()
	apiErr(t, err, 404, "notFound")
	apiErr(t, svc.Events.Delete(calID, "nosuchevent").Do(), 404, "notFound")
	_, err = svc.Events.List("nobody@example.com").Do()
	apiErr(t, err, 404, "notFound")

	// Full list with showDeleted shows the tombstone; without it not.
	items, _ = fullList(t, svc, false, 250)
	if len(items) != 7 || slices.Contains(ids(items), inserted[4].Id) {
		t.Fatalf("full list after delete = %v", ids(items))
	}
	withDeleted, _ := listAll(t, func(pt string) *calendar.EventsListCall {
		return svc.Events.List(calID).ShowDeleted(true).PageToken(pt)
	})
	if len(withDeleted) != 8 {
		t.Fatalf("showDeleted list has %d items, want 8", len(withDeleted))
	}

	// The Go-side view matches a full list.
	evs, err := srv.Events(calID, false)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(ids(evs), ids(items)) {
		t.Fatalf("Events() = %v, list = %v", ids(evs), ids(items))
	}
	if _, err := srv.Events("nobody", false); err == nil {
		t.Fatal("Events of an unknown calendar succeeded")
	}
}

func TestListResponseShape(t *testing.T) {
	srv, svc := newEnv(t, googletest.Config{})
	insert(t, svc, timedEvent("x", t0, time.Hour))
	status, hdr, body := rawDo(t, srv, "GET", "calendars/"+url.PathEscape(calID)+"/events", nil, "")
	if status != 200 || !strings.HasPrefix(hdr.Get("Content-Type"), "application/json") {
		t.Fatalf("status %d, content-type %q", status, hdr.Get("Content-Type"))
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal([]byte(body), &m); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"kind", "etag", "summary", "updated", "timeZone", "accessRole", "defaultReminders", "items", "nextSyncToken"} {
		if _, ok := m[k]; !ok {
			t.Errorf("list response lacks %q: %s", k, body)
		}
	}
	if _, ok := m["nextPageToken"]; ok {
		t.Errorf("single page has nextPageToken: %s", body)
	}
	if string(m["kind"]) != `"calendar#events"` || string(m["timeZone"]) != `"America/Toronto"` {
		t.Errorf("kind/timeZone: %s", body)
	}
	var items []map[string]json.RawMessage
	_ = json.Unmarshal(m["items"], &items)
	if len(items) != 1 {
		t.Fatalf("items: %s", m["items"])
	}
	it := items[0]
	for _, k := range []string{"kind", "etag", "id", "status", "htmlLink", "created", "updated", "summary", "creator", "organizer", "start", "end", "iCalUID", "sequence", "reminders", "eventType"} {
		if _, ok := it[k]; !ok {
			t.Errorf("event lacks %q", k)
		}
	}
	if string(it["sequence"]) != "0" {
		t.Errorf("sequence = %s", it["sequence"])
	}
	var upd string
	_ = json.Unmarshal(it["updated"], &upd)
	if _, err := time.Parse("2006-01-02T15:04:05.000Z", upd); err != nil {
		t.Errorf("updated %q is not RFC 3339 UTC with milliseconds", upd)
	}
	var etag string
	_ = json.Unmarshal(it["etag"], &etag)
	if len(etag) < 3 || etag[0] != '"' || strings.Trim(etag[1:len(etag)-1], "0123456789") != "" {
		t.Errorf("etag %q is not a quoted decimal", etag)
	}
}

func TestChangeDuringPagingAppearsInNextIncremental(t *testing.T) {
	_, svc := newEnv(t, googletest.Config{})
	var evs []*calendar.Event
	for i := range 6 {
		evs = append(evs, insert(t, svc, timedEvent("e", t0.Add(time.Duration(i)*time.Hour), time.Hour)))
	}
	slices.SortFunc(evs, func(a, b *calendar.Event) int { return strings.Compare(a.Id, b.Id) })

	page1, err := svc.Events.List(calID).MaxResults(2).Do()
	if err != nil {
		t.Fatal(err)
	}
	if page1.NextPageToken == "" || page1.NextSyncToken != "" {
		t.Fatalf("page 1: pageToken %q syncToken %q", page1.NextPageToken, page1.NextSyncToken)
	}
	// Changes while paging: one already returned, one not yet, one new.
	if _, err := svc.Events.Patch(calID, evs[0].Id, &calendar.Event{Summary: "changed behind the cursor"}).Do(); err != nil {
		t.Fatal(err)
	}
	if err := svc.Events.Delete(calID, evs[5].Id).Do(); err != nil {
		t.Fatal(err)
	}
	late := insert(t, svc, &calendar.Event{Id: "00000late", Summary: "late", // sorts first
		Start: &calendar.EventDateTime{Date: "2026-03-10"}, End: &calendar.EventDateTime{Date: "2026-03-11"}})

	_, syncToken := listAll(t, func(pt string) *calendar.EventsListCall {
		if pt == "" {
			pt = page1.NextPageToken
		}
		return svc.Events.List(calID).MaxResults(2).PageToken(pt)
	})
	items, _ := incremental(t, svc, false, 250, syncToken)
	got := ids(items)
	slices.Sort(got)
	want := []string{evs[0].Id, evs[5].Id, late.Id}
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Fatalf("incremental after paging = %v, want %v", got, want)
	}
}

// c4 is the 410 sample of Google's error guide, as published (trailing
// comma).
const c4 = `{
 "error": {
  "errors": [
   {
    "domain": "calendar",
    "reason": "fullSyncRequired",
    "message": "Sync token is no longer valid, a full sync is required.",
    "locationType": "parameter",
    "location": "syncToken",
    }
  ],
  "code": 410,
  "message": "Sync token is no longer valid, a full sync is required."
 }
}`

// With StaleToken410 an expired token is answered with the 410 of C.4
// (the default mixes 400 and 410: TestStaleSyncTokenAnswers).
func TestExpireSyncTokens(t *testing.T) {
	srv, svc := newEnv(t, googletest.Config{StaleSyncToken: googletest.StaleToken410})
	for i := range 3 {
		insert(t, svc, timedEvent("e", t0.Add(time.Duration(i)*time.Hour), time.Hour))
	}
	_, syncToken := fullList(t, svc, true, 250)
	page1, err := svc.Events.List(calID).MaxResults(1).Do()
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.ExpireSyncTokens(calID); err != nil {
		t.Fatal(err)
	}

	_, err = svc.Events.List(calID).SingleEvents(true).SyncToken(syncToken).Do()
	gerr := apiErr(t, err, 410, "fullSyncRequired")
	if gerr.Errors[0].Message != "Sync token is no longer valid, a full sync is required." || gerr.Message != gerr.Errors[0].Message {
		t.Fatalf("410 message: %+v", gerr)
	}
	// The body is C.4 byte for byte once its trailing comma is removed.
	var want bytes.Buffer
	if err := json.Compact(&want, []byte(strings.Replace(c4, `"syncToken",`, `"syncToken"`, 1))); err != nil {
		t.Fatal(err)
	}
	if gerr.Body != want.String() {
		t.Fatalf("410 body\n got %s\nwant %s", gerr.Body, want.String())
	}

	// Page tokens issued before are expired too.
	_, err = svc.Events.List(calID).MaxResults(1).PageToken(page1.NextPageToken).Do()
	apiErr(t, err, 410, "fullSyncRequired")

	// A full sync gives a token that works.
	_, fresh := fullList(t, svc, true, 250)
	if _, err := svc.Events.List(calID).SingleEvents(true).SyncToken(fresh).Do(); err != nil {
		t.Fatalf("fresh token: %v", err)
	}

	// A token from another server instance is expired, not garbage.
	other := googletest.NewServer(googletest.Config{StaleSyncToken: googletest.StaleToken410})
	defer other.Close()
	if err := other.AddCalendar(calID, "UTC"); err != nil {
		t.Fatal(err)
	}
	_, err = newService(t, other, "t").Events.List(calID).SingleEvents(true).SyncToken(fresh).Do()
	apiErr(t, err, 410, "fullSyncRequired")
	if err := srv.ExpireSyncTokens("nobody"); err == nil {
		t.Fatal("ExpireSyncTokens of an unknown calendar succeeded")
	}
}

func TestListParameterValidation(t *testing.T) {
	srv, svc := newEnv(t, googletest.Config{})
	for i := range 3 {
		insert(t, svc, timedEvent("e", t0.Add(time.Duration(i)*time.Hour), time.Hour))
	}
	_, syncFalse := fullList(t, svc, false, 250)
	first, err := svc.Events.List(calID).MaxResults(1).Do()
	if err != nil {
		t.Fatal(err)
	}
	path := "calendars/" + url.PathEscape(calID) + "/events"
	cases := []struct {
		name   string
		query  url.Values
		status int
		reason string
	}{
		{"syncToken+iCalUID", url.Values{"syncToken": {syncFalse}, "iCalUID": {"x@google.com"}}, 400, "invalid"},
		{"syncToken+orderBy", url.Values{"syncToken": {syncFalse}, "orderBy": {"updated"}}, 400, "invalid"},
		{"syncToken+privateExtendedProperty", url.Values{"syncToken": {syncFalse}, "privateExtendedProperty": {"a=b"}}, 400, "invalid"},
		{"syncToken+q", url.Values{"syncToken": {syncFalse}, "q": {"x"}}, 400, "invalid"},
		{"syncToken+sharedExtendedProperty", url.Values{"syncToken": {syncFalse}, "sharedExtendedProperty": {"a=b"}}, 400, "invalid"},
		{"syncToken+timeMin", url.Values{"syncToken": {syncFalse}, "timeMin": {"2026-01-01T00:00:00Z"}}, 400, "invalid"},
		{"syncToken+timeMax", url.Values{"syncToken": {syncFalse}, "timeMax": {"2026-01-01T00:00:00Z"}}, 400, "invalid"},
		{"syncToken+updatedMin", url.Values{"syncToken": {syncFalse}, "updatedMin": {"2026-01-01T00:00:00Z"}}, 400, "invalid"},
		{"syncToken+showDeleted=false", url.Values{"syncToken": {syncFalse}, "showDeleted": {"false"}}, 400, "invalid"},
		{"syncToken+showDeleted=true", url.Values{"syncToken": {syncFalse}, "showDeleted": {"true"}}, 200, ""},
		{"syncToken other singleEvents", url.Values{"syncToken": {syncFalse}, "singleEvents": {"true"}}, 400, "invalid"},
		{"garbage syncToken", url.Values{"syncToken": {"CPDAlvWDx70CEPDAlvWDx70CGAU="}}, 400, "invalid"},
		{"garbage pageToken", url.Values{"pageToken": {"bm90IGEgdG9rZW4"}}, 400, "invalid"},
		{"pageToken of another query", url.Values{"pageToken": {first.NextPageToken}, "singleEvents": {"true"}}, 400, "invalid"},
		{"pageToken without its syncToken", url.Values{"pageToken": {first.NextPageToken}, "syncToken": {syncFalse}}, 400, "invalid"},
		{"pageToken of the same query", url.Values{"pageToken": {first.NextPageToken}, "maxResults": {"1"}}, 200, ""},
		{"maxResults=0", url.Values{"maxResults": {"0"}}, 400, "invalid"},
		{"maxResults=abc", url.Values{"maxResults": {"abc"}}, 400, "invalid"},
		{"maxResults=5000 is clamped", url.Values{"maxResults": {"5000"}}, 200, ""},
		{"orderBy=startTime without singleEvents", url.Values{"orderBy": {"startTime"}}, 400, "invalid"},
		{"orderBy=startTime with singleEvents", url.Values{"orderBy": {"startTime"}, "singleEvents": {"true"}}, 200, ""},
		{"orderBy=bogus", url.Values{"orderBy": {"bogus"}}, 400, "invalid"},
		{"timeMax before timeMin", url.Values{"timeMin": {"2026-03-04T00:00:00Z"}, "timeMax": {"2026-03-03T00:00:00Z"}}, 400, "timeRangeEmpty"},
		{"timeMin without offset", url.Values{"timeMin": {"2026-03-04T00:00:00"}}, 400, "invalid"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			status, _, body := rawDo(t, srv, "GET", path, tc.query, "")
			if status != tc.status {
				t.Fatalf("status %d, want %d: %s", status, tc.status, body)
			}
			if tc.reason != "" {
				var env struct {
					Error struct {
						Code   int `json:"code"`
						Errors []struct {
							Reason string `json:"reason"`
						} `json:"errors"`
					} `json:"error"`
				}
				if err := json.Unmarshal([]byte(body), &env); err != nil || env.Error.Code != tc.status ||
					len(env.Error.Errors) != 1 || env.Error.Errors[0].Reason != tc.reason {
					t.Fatalf("body %s: want code %d reason %q", body, tc.status, tc.reason)
				}
			}
		})
	}

	// The official client surfaces the same 400.
	_, err = svc.Events.List(calID).SyncToken(syncFalse).TimeMin("2026-01-01T00:00:00Z").Do()
	apiErr(t, err, 400, "invalid")
}

func TestListFiltersAndOrder(t *testing.T) {
	_, svc := newEnv(t, googletest.Config{})
	late := insert(t, svc, timedEvent("Team sync", t0.Add(5*time.Hour), time.Hour))
	early := insert(t, svc, timedEvent("Dentist", t0, time.Hour))
	mid := insert(t, svc, timedEvent("Lunch", t0.Add(2*time.Hour), time.Hour))

	byStart, _ := listAll(t, func(pt string) *calendar.EventsListCall {
		return svc.Events.List(calID).SingleEvents(true).OrderBy("startTime").MaxResults(1).PageToken(pt)
	})
	if got, want := ids(byStart), []string{early.Id, mid.Id, late.Id}; !slices.Equal(got, want) {
		t.Fatalf("orderBy startTime = %v, want %v", got, want)
	}
	inRange, _ := listAll(t, func(pt string) *calendar.EventsListCall {
		return svc.Events.List(calID).TimeMin(t0.Add(time.Hour).Format(time.RFC3339)).
			TimeMax(t0.Add(5 * time.Hour).Format(time.RFC3339)).PageToken(pt)
	})
	if got := ids(inRange); !slices.Equal(got, []string{mid.Id}) {
		t.Fatalf("timeMin/timeMax = %v, want only %s (timeMin is exclusive on end, timeMax on start)", got, mid.Id)
	}
	found, _ := listAll(t, func(pt string) *calendar.EventsListCall {
		return svc.Events.List(calID).Q("lunch").PageToken(pt)
	})
	if got := ids(found); !slices.Equal(got, []string{mid.Id}) {
		t.Fatalf("q=lunch = %v", got)
	}
}

func TestInsertValidation(t *testing.T) {
	srv, svc := newEnv(t, googletest.Config{})
	path := "calendars/" + url.PathEscape(calID) + "/events"
	cases := []struct {
		name, body string
		status     int
		reason     string
	}{
		{"malformed JSON", `{"summary": `, 400, "parseError"},
		{"not an object", `[1,2]`, 400, "parseError"},
		{"missing start", `{"end":{"date":"2026-03-04"}}`, 400, "required"},
		{"missing end", `{"start":{"date":"2026-03-04"}}`, 400, "required"},
		{"end before start", `{"start":{"date":"2026-03-04"},"end":{"date":"2026-03-03"}}`, 400, "timeRangeEmpty"},
		{"empty range", `{"start":{"dateTime":"2026-03-04T10:00:00Z"},"end":{"dateTime":"2026-03-04T10:00:00Z"}}`, 400, "timeRangeEmpty"},
		{"mixed date and dateTime", `{"start":{"date":"2026-03-04"},"end":{"dateTime":"2026-03-05T10:00:00Z"}}`, 400, "invalid"},
		{"dateTime without offset or zone", `{"start":{"dateTime":"2026-03-04T10:00:00"},"end":{"dateTime":"2026-03-04T11:00:00"}}`, 400, "invalid"},
		{"bad time zone", `{"start":{"dateTime":"2026-03-04T10:00:00","timeZone":"Mars/Olympus"},"end":{"dateTime":"2026-03-04T11:00:00","timeZone":"UTC"}}`, 400, "invalid"},
		{"recurring without time zone", `{"start":{"dateTime":"2026-03-04T10:00:00Z"},"end":{"dateTime":"2026-03-04T11:00:00Z"},"recurrence":["RRULE:FREQ=DAILY"]}`, 400, "invalid"},
		// Any RFC 5545 rule is valid (Events reference: recurrence is
		// "RRULE, EXRULE, RDATE and EXDATE lines ... as specified in
		// RFC5545"); one that is not RFC 5545 is not.
		{"invalid rule", `{"start":{"date":"2026-03-04"},"end":{"date":"2026-03-05"},"recurrence":["RRULE:FREQ=SOMETIMES"]}`, 400, "invalid"},
		{"not a recurrence line", `{"start":{"date":"2026-03-04"},"end":{"date":"2026-03-05"},"recurrence":["RRULE:FREQ=DAILY","DTSTART:20260304"]}`, 400, "invalid"},
		{"id with invalid characters", `{"id":"Hello-World","start":{"date":"2026-03-04"},"end":{"date":"2026-03-05"}}`, 400, "invalid"},
		{"id too short", `{"id":"abc","start":{"date":"2026-03-04"},"end":{"date":"2026-03-05"}}`, 400, "invalid"},
		{"local time with zone", `{"start":{"dateTime":"2026-03-04T10:00:00","timeZone":"Europe/Berlin"},"end":{"dateTime":"2026-03-04T11:00:00","timeZone":"Europe/Berlin"}}`, 200, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			status, _, body := rawDo(t, srv, "POST", path, nil, tc.body)
			if status != tc.status {
				t.Fatalf("status %d, want %d: %s", status, tc.status, body)
			}
			if tc.reason != "" && !strings.Contains(body, `"reason":"`+tc.reason+`"`) {
				t.Fatalf("body %s lacks reason %q", body, tc.reason)
			}
		})
	}

	// Client-chosen ids are honoured once; reuse is 409 duplicate.
	ev := timedEvent("mine", t0, time.Hour)
	ev.Id = "abcdefv0123"
	if got := insert(t, svc, ev); got.Id != "abcdefv0123" {
		t.Fatalf("id = %q", got.Id)
	}
	_, err := svc.Events.Insert(calID, ev).Do()
	apiErr(t, err, http.StatusConflict, "duplicate")
	// Also after deletion: the id stays taken by the tombstone.
	if err := svc.Events.Delete(calID, ev.Id).Do(); err != nil {
		t.Fatal(err)
	}
	_, err = svc.Events.Insert(calID, ev).Do()
	apiErr(t, err, http.StatusConflict, "duplicate")

	// A patch that breaks the event changes nothing.
	good := insert(t, svc, timedEvent("good", t0, time.Hour))
	_, err = svc.Events.Patch(calID, good.Id, &calendar.Event{End: &calendar.EventDateTime{DateTime: t0.Add(-time.Hour).Format(time.RFC3339)}}).Do()
	apiErr(t, err, 400, "timeRangeEmpty")
	after, err := svc.Events.Get(calID, good.Id).Do()
	if err != nil || after.Etag != good.Etag || after.End.DateTime != good.End.DateTime {
		t.Fatalf("failed patch changed the event: %+v %v", after, err)
	}
}

func TestUpdateReplacesAndPatchNullClears(t *testing.T) {
	srv, svc := newEnv(t, googletest.Config{})
	ev := timedEvent("full", t0, time.Hour)
	ev.Description = "desc"
	ev.Location = "room 1"
	got := insert(t, svc, ev)

	// PATCH with an explicit null clears a member.
	status, _, body := rawDo(t, srv, "PATCH", "calendars/"+url.PathEscape(calID)+"/events/"+got.Id, nil, `{"description":null}`)
	if status != 200 || strings.Contains(body, `"description"`) || !strings.Contains(body, `"location":"room 1"`) {
		t.Fatalf("patch null: %d %s", status, body)
	}
	// PUT replaces: members not sent are gone.
	upd, err := svc.Events.Update(calID, got.Id, timedEvent("replaced", t0, 2*time.Hour)).Do()
	if err != nil {
		t.Fatal(err)
	}
	if upd.Summary != "replaced" || upd.Location != "" || upd.Id != got.Id || upd.Created != got.Created {
		t.Fatalf("update = %+v", upd)
	}
	_, err = svc.Events.Update(calID, "nosuchevent", timedEvent("x", t0, time.Hour)).Do()
	apiErr(t, err, 404, "notFound")
}

func TestInsertEventSeedsLargeCalendars(t *testing.T) {
	srv, svc := newEnv(t, googletest.Config{})
	const n = 2501
	for i := range n {
		start := t0.Add(time.Duration(i) * time.Hour)
		if _, err := srv.InsertEvent(calID, timedEvent("seed", start, time.Hour)); err != nil {
			t.Fatal(err)
		}
	}
	// maxResults above 2500 is lowered to 2500: two pages.
	pages := 0
	items, _ := listAll(t, func(pt string) *calendar.EventsListCall {
		pages++
		return svc.Events.List(calID).MaxResults(5000).PageToken(pt)
	})
	if len(items) != n || pages != 2 {
		t.Fatalf("%d items in %d pages, want %d in 2", len(items), pages, n)
	}
	if !slices.IsSortedFunc(items, func(a, b *calendar.Event) int { return strings.Compare(a.Id, b.Id) }) {
		t.Fatal("full list is not ordered by id")
	}
	_, err := srv.InsertEvent(calID, &calendar.Event{Summary: "no times"})
	apiErr(t, err, 400, "required")
	if _, err := srv.InsertEvent("nobody", timedEvent("x", t0, time.Hour)); !errors.Is(err, googletest.ErrCalendarNotFound) {
		t.Fatalf("unknown calendar: %v", err)
	}
}

// Google answers a stale sync token with 410 fullSyncRequired or 400
// invalid "Invalid sync token value."; the default
// mixes both, reproducibly.
func TestStaleSyncTokenAnswers(t *testing.T) {
	const want400 = `{"error":{"errors":[{"domain":"global","reason":"invalid","message":"Invalid sync token value.","locationType":"parameter","location":"syncToken"}],"code":400,"message":"Invalid sync token value."}}`
	// answers expires the tokens of a fresh server n times and returns the
	// statuses of the stale incremental lists.
	answers := func(t *testing.T, cfg googletest.Config, n int) []int {
		srv, svc := newEnv(t, cfg)
		insert(t, svc, timedEvent("e", t0, time.Hour))
		var out []int
		for range n {
			_, tok := fullList(t, svc, false, 1)
			if err := srv.ExpireSyncTokens(calID); err != nil {
				t.Fatal(err)
			}
			_, err := svc.Events.List(calID).SyncToken(tok).Do()
			var gerr *googleapi.Error
			if !errors.As(err, &gerr) {
				t.Fatalf("stale token: err = %v", err)
			}
			switch {
			case gerr.Code == 400 && gerr.Body == want400:
			case gerr.Code == 410 && len(gerr.Errors) == 1 && gerr.Errors[0].Reason == "fullSyncRequired":
			default:
				t.Fatalf("stale token: %d %s", gerr.Code, gerr.Body)
			}
			out = append(out, gerr.Code)
		}
		return out
	}
	all := func(codes []int, code int) bool {
		for _, c := range codes {
			if c != code {
				return false
			}
		}
		return true
	}

	mixed := answers(t, googletest.Config{}, 20)
	if !slices.Contains(mixed, 400) || !slices.Contains(mixed, 410) {
		t.Fatalf("default answers = %v, want both 400 and 410", mixed)
	}
	if again := answers(t, googletest.Config{StaleSyncToken: googletest.StaleTokenMixed}, 20); !slices.Equal(again, mixed) {
		t.Fatalf("same seed, other answers: %v then %v", mixed, again)
	}
	if got := answers(t, googletest.Config{StaleSyncToken: googletest.StaleToken400}, 5); !all(got, 400) {
		t.Fatalf("StaleToken400: %v", got)
	}
	for _, cfg := range []googletest.Config{{StaleSyncToken: googletest.StaleToken410}, {Exact: true}} {
		if got := answers(t, cfg, 5); !all(got, 410) {
			t.Fatalf("%+v: %v", cfg, got)
		}
	}
	if got := answers(t, googletest.Config{Exact: true, StaleSyncToken: googletest.StaleToken400}, 3); !all(got, 400) {
		t.Fatalf("explicit StaleToken400 with Exact: %v", got)
	}

	// A token of another server is stale too; an expired page token is
	// always 410.
	srv, svc := newEnv(t, googletest.Config{StaleSyncToken: googletest.StaleToken400})
	for i := range 3 {
		insert(t, svc, timedEvent("e", t0.Add(time.Duration(i)*time.Hour), time.Hour))
	}
	_, tok := fullList(t, svc, false, 250)
	_, otherSvc := newEnv(t, googletest.Config{StaleSyncToken: googletest.StaleToken400})
	_, err := otherSvc.Events.List(calID).SyncToken(tok).Do()
	apiErr(t, err, 400, "invalid")
	page1, err := svc.Events.List(calID).MaxResults(1).Do()
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.ExpireSyncTokens(calID); err != nil {
		t.Fatal(err)
	}
	_, err = svc.Events.List(calID).MaxResults(1).PageToken(page1.NextPageToken).Do()
	apiErr(t, err, 410, "fullSyncRequired")

	func() {
		defer func() {
			if recover() == nil {
				t.Fatal("NewServer accepted StaleSyncToken 9")
			}
		}()
		googletest.NewServer(googletest.Config{StaleSyncToken: 9}).Close()
	}()
}
