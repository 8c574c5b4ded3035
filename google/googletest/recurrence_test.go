package googletest_test

import (
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	calendar "google.golang.org/api/calendar/v3"

	"github.com/calsync/calsync/google/googletest"
)

func weeklySeries() *calendar.Event {
	// Monday 2 March 2026, 09:00 Toronto (EST, UTC-5); DST starts 8 March.
	return &calendar.Event{
		Summary:    "standup",
		Start:      &calendar.EventDateTime{DateTime: "2026-03-02T09:00:00-05:00", TimeZone: "America/Toronto"},
		End:        &calendar.EventDateTime{DateTime: "2026-03-02T09:15:00-05:00", TimeZone: "America/Toronto"},
		Recurrence: []string{"RRULE:FREQ=WEEKLY;BYDAY=MO,WE;COUNT=6"},
	}
}

func TestRecurringExpansion(t *testing.T) {
	srv, svc := newEnv(t, googletest.Config{})
	series := insert(t, svc, weeklySeries())
	if len(series.Recurrence) != 1 {
		t.Fatalf("series = %+v", series)
	}

	instances, _ := fullList(t, svc, true, 250)
	wantIDs := []string{
		series.Id + "_20260302T140000Z", series.Id + "_20260304T140000Z",
		// After the DST change the wall clock stays 09:00: 13:00 UTC.
		series.Id + "_20260309T130000Z", series.Id + "_20260311T130000Z",
		series.Id + "_20260316T130000Z", series.Id + "_20260318T130000Z",
	}
	if got := ids(instances); !slices.Equal(got, wantIDs) {
		t.Fatalf("instances = %v, want %v", got, wantIDs)
	}
	for _, in := range instances {
		if in.RecurringEventId != series.Id || in.OriginalStartTime == nil || in.ICalUID != series.ICalUID || len(in.Recurrence) != 0 {
			t.Fatalf("instance %+v", in)
		}
		if in.OriginalStartTime.DateTime != in.Start.DateTime || in.Summary != "standup" {
			t.Fatalf("instance %s start %s original %s", in.Id, in.Start.DateTime, in.OriginalStartTime.DateTime)
		}
	}
	if got := instances[2].Start.DateTime; got != "2026-03-09T09:00:00-04:00" {
		t.Fatalf("instance after DST starts %s", got)
	}
	plain, _ := fullList(t, svc, false, 250)
	if got := ids(plain); !slices.Equal(got, []string{series.Id}) {
		t.Fatalf("singleEvents=false = %v, want the series only", got)
	}

	// events.get and events.instances know instances.
	got, err := svc.Events.Get(calID, wantIDs[1]).Do()
	if err != nil || got.RecurringEventId != series.Id {
		t.Fatalf("get instance: %+v %v", got, err)
	}
	inst, err := svc.Events.Instances(calID, series.Id).Do()
	if err != nil || len(inst.Items) != 6 {
		t.Fatalf("events.instances: %v %v", inst, err)
	}

	// Shortening the rule tombstones the instances that disappear.
	_, syncTok := fullList(t, svc, true, 250)
	if _, err := svc.Events.Patch(calID, series.Id, &calendar.Event{Recurrence: []string{"RRULE:FREQ=WEEKLY;BYDAY=MO,WE;COUNT=4"}}).Do(); err != nil {
		t.Fatal(err)
	}
	changed, _ := incremental(t, svc, true, 250, syncTok)
	var cancelled []string
	for _, c := range changed {
		if c.Status == "cancelled" {
			cancelled = append(cancelled, c.Id)
			if c.RecurringEventId != series.Id || c.OriginalStartTime == nil {
				t.Fatalf("cancelled instance lacks recurringEventId/originalStartTime: %+v", c)
			}
		}
	}
	if !slices.Equal(cancelled, wantIDs[4:]) {
		t.Fatalf("cancelled = %v, want %v", cancelled, wantIDs[4:])
	}
	if evs, _ := srv.Events(calID, true); len(evs) != 4 {
		t.Fatalf("Events(single) = %v", ids(evs))
	}
}

func TestRecurringExceptionsAndCancelledInstances(t *testing.T) {
	srv, svc := newEnv(t, googletest.Config{})
	series := insert(t, svc, weeklySeries())
	moved := series.Id + "_20260304T140000Z"
	gone := series.Id + "_20260309T130000Z"
	_, tokSingle := fullList(t, svc, true, 250)
	_, tokPlain := fullList(t, svc, false, 250)

	// Patch an instance: it becomes an exception.
	ex, err := svc.Events.Patch(calID, moved, &calendar.Event{
		Summary: "standup (moved)",
		Start:   &calendar.EventDateTime{DateTime: "2026-03-04T10:00:00-05:00", TimeZone: "America/Toronto"},
		End:     &calendar.EventDateTime{DateTime: "2026-03-04T10:15:00-05:00", TimeZone: "America/Toronto"},
	}).Do()
	if err != nil {
		t.Fatal(err)
	}
	if ex.Id != moved || ex.RecurringEventId != series.Id || ex.OriginalStartTime.DateTime != "2026-03-04T09:00:00-05:00" {
		t.Fatalf("exception = %+v", ex)
	}
	// Delete another instance: a cancelled exception.
	if err := svc.Events.Delete(calID, gone).Do(); err != nil {
		t.Fatal(err)
	}
	apiErr(t, svc.Events.Delete(calID, gone).Do(), 410, "deleted")

	// singleEvents=false, showDeleted=false: series, exception, and the
	// cancelled exception of the live series, as events.list documents for
	// showDeleted.
	plain, _ := fullList(t, svc, false, 250)
	if got, want := ids(plain), []string{series.Id, moved, gone}; !slices.Equal(got, want) {
		t.Fatalf("singleEvents=false list = %v, want %v", got, want)
	}
	for _, e := range plain {
		switch e.Id {
		case gone:
			if e.Status != "cancelled" || e.RecurringEventId != series.Id || e.OriginalStartTime == nil {
				t.Fatalf("cancelled exception = %+v", e)
			}
		case moved:
			if e.Summary != "standup (moved)" {
				t.Fatalf("exception = %+v", e)
			}
		}
	}
	// singleEvents=true: the exception replaces its instance, the cancelled
	// one is absent unless showDeleted.
	single, _ := fullList(t, svc, true, 250)
	if len(single) != 5 || slices.Contains(ids(single), gone) {
		t.Fatalf("singleEvents=true list = %v", ids(single))
	}
	for _, e := range single {
		if e.Id == moved && e.Start.DateTime != "2026-03-04T10:00:00-05:00" {
			t.Fatalf("instance not replaced by its exception: %+v", e)
		}
	}
	withDeleted, _ := listAll(t, func(pt string) *calendar.EventsListCall {
		return svc.Events.List(calID).SingleEvents(true).ShowDeleted(true).PageToken(pt)
	})
	if len(withDeleted) != 6 || !slices.Contains(ids(withDeleted), gone) {
		t.Fatalf("singleEvents=true showDeleted=true = %v", ids(withDeleted))
	}

	// Incremental in both modes sees both changes.
	incS, _ := incremental(t, svc, true, 250, tokSingle)
	if got := ids(incS); !slices.Equal(got, []string{moved, gone}) {
		t.Fatalf("incremental singleEvents=true = %v", got)
	}
	incP, tokPlain2 := incremental(t, svc, false, 250, tokPlain)
	if got := ids(incP); !slices.Equal(got, []string{moved, gone}) {
		t.Fatalf("incremental singleEvents=false = %v", got)
	}

	// The Go-side view leaves cancelled events out.
	evs, _ := srv.Events(calID, false)
	if got := ids(evs); !slices.Equal(got, []string{series.Id, moved}) {
		t.Fatalf("Events(false) = %v", got)
	}

	// Deleting the series cancels everything.
	_, tokSingle2 := fullList(t, svc, true, 250)
	if err := svc.Events.Delete(calID, series.Id).Do(); err != nil {
		t.Fatal(err)
	}
	incS, _ = incremental(t, svc, true, 250, tokSingle2)
	if len(incS) != 5 {
		t.Fatalf("after series delete, incremental singleEvents=true = %v", ids(incS))
	}
	for _, e := range incS {
		if e.Status != "cancelled" || e.RecurringEventId != series.Id {
			t.Fatalf("instance after series delete = %+v", e)
		}
	}
	incP, _ = incremental(t, svc, false, 250, tokPlain2)
	if !slices.Contains(ids(incP), series.Id) {
		t.Fatalf("series tombstone missing: %v", ids(incP))
	}
	for _, single := range []bool{false, true} {
		if evs, _ := srv.Events(calID, single); len(evs) != 0 {
			t.Fatalf("Events(%v) after series delete = %v", single, ids(evs))
		}
	}
	if l, _ := fullList(t, svc, false, 250); len(l) != 0 {
		t.Fatalf("full list after series delete = %v", ids(l))
	}
}

func TestRecurrenceRules(t *testing.T) {
	clock := newClock() // 2026-03-02
	_, svc := newEnv(t, googletest.Config{Now: clock.Now})
	allDay := func(rule string) *calendar.Event {
		return &calendar.Event{Summary: rule,
			Start: &calendar.EventDateTime{Date: "2026-03-02"}, End: &calendar.EventDateTime{Date: "2026-03-03"},
			Recurrence: []string{rule}}
	}
	count := func(t *testing.T, id string) []*calendar.Event {
		t.Helper()
		var out []*calendar.Event
		all, _ := fullList(t, svc, true, 2500)
		for _, e := range all {
			if e.RecurringEventId == id {
				out = append(out, e)
			}
		}
		return out
	}
	cases := []struct {
		rule  string
		extra []string
		want  int
		first string // id suffix of the second instance
	}{
		{"RRULE:FREQ=DAILY;COUNT=5", nil, 5, "_20260303"},
		{"RRULE:FREQ=DAILY;INTERVAL=3;COUNT=4", nil, 4, "_20260305"},
		{"RRULE:FREQ=DAILY;UNTIL=20260310", nil, 9, "_20260303"},
		{"RRULE:FREQ=WEEKLY;INTERVAL=2;BYDAY=MO,FR;COUNT=4", nil, 4, "_20260306"},
		{"RRULE:FREQ=DAILY;COUNT=5", []string{"EXDATE;VALUE=DATE:20260303"}, 4, "_20260304"},
		{"RRULE:FREQ=DAILY", nil, googletest.MaxInstances, "_20260303"},
		{"RRULE:FREQ=WEEKLY", nil, 105, "_20260309"}, // two years of Mondays
		// Monthly and yearly rules, BYMONTHDAY and BYSETPOS (2 March 2026
		// is a Monday, but not the last of its month).
		{"RRULE:FREQ=MONTHLY;BYDAY=MO;BYSETPOS=-1;COUNT=3", nil, 3, "_20260427"},
		{"RRULE:FREQ=MONTHLY;BYMONTHDAY=2,16;COUNT=4", nil, 4, "_20260316"},
		{"RRULE:FREQ=YEARLY;COUNT=3", nil, 2, "_20270302"}, // the third is past ExpansionHorizon
		{"RRULE:FREQ=YEARLY;BYMONTH=3,9;BYDAY=1MO;COUNT=4", []string{"EXDATE;VALUE=DATE:20260907"}, 3, "_20270301"},
	}
	for _, tc := range cases {
		t.Run(strings.Join(append([]string{tc.rule}, tc.extra...), " "), func(t *testing.T) {
			ev := allDay(tc.rule)
			ev.Recurrence = append(ev.Recurrence, tc.extra...)
			s := insert(t, svc, ev)
			in := count(t, s.Id)
			if len(in) != tc.want {
				t.Fatalf("%d instances, want %d", len(in), tc.want)
			}
			if in[1].Id != s.Id+tc.first {
				t.Fatalf("second instance %s, want %s", in[1].Id, s.Id+tc.first)
			}
			if !regexp.MustCompile(`^[a-v0-9]+_\d{8}$`).MatchString(in[0].Id) || in[0].Start.Date == "" || in[0].OriginalStartTime.Date == "" {
				t.Fatalf("all-day instance %+v", in[0])
			}
			if err := svc.Events.Delete(calID, s.Id).Do(); err != nil {
				t.Fatal(err)
			}
		})
	}
	// An unbounded series matches a time window far in the future.
	s := insert(t, svc, allDay("RRULE:FREQ=WEEKLY"))
	win, _ := listAll(t, func(pt string) *calendar.EventsListCall {
		return svc.Events.List(calID).TimeMin(time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC).Format(time.RFC3339)).PageToken(pt)
	})
	if !slices.Contains(ids(win), s.Id) {
		t.Fatalf("unbounded series not in a 2030 window: %v", ids(win))
	}
}

func TestSeriesRecurrenceRemovedBecomesSingle(t *testing.T) {
	srv, svc := newEnv(t, googletest.Config{})
	series := insert(t, svc, weeklySeries())
	_, tok := fullList(t, svc, true, 250)
	status, _, body := rawDo(t, srv, "PATCH", "calendars/"+calID+"/events/"+series.Id, nil, `{"recurrence":null}`)
	if status != 200 || strings.Contains(body, "recurrence") {
		t.Fatalf("patch: %d %s", status, body)
	}
	changed, _ := incremental(t, svc, true, 250, tok)
	// The six instances are cancelled and the event is now a single one.
	var cancelled, live int
	for _, e := range changed {
		if e.Status == "cancelled" {
			cancelled++
		} else if e.Id == series.Id {
			live++
		}
	}
	if cancelled != 6 || live != 1 {
		t.Fatalf("incremental = %v (%d cancelled)", ids(changed), cancelled)
	}
	// An instance cannot get a recurrence.
	_, err := svc.Events.Patch(calID, series.Id+"_20260302T140000Z", &calendar.Event{Recurrence: []string{"RRULE:FREQ=DAILY"}}).Do()
	apiErr(t, err, 400, "invalid")
}
