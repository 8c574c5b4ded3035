package recur_test

import (
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/calsync/calsync/provider"
	"github.com/calsync/calsync/recur"
)

func zone(t *testing.T, name string) *time.Location {
	t.Helper()
	loc, err := time.LoadLocation(name)
	if err != nil {
		t.Fatal(err)
	}
	return loc
}

func timed(t *testing.T, tz, wall string) provider.EventTime {
	t.Helper()
	loc := zone(t, tz)
	v, err := time.ParseInLocation("2006-01-02T15:04", wall, loc)
	if err != nil {
		t.Fatal(err)
	}
	return provider.EventTime{DateTime: v.UTC(), TimeZone: tz}
}

func utc(s string) time.Time {
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		panic(err)
	}
	return t
}

func format(ts []time.Time, layout string) []string {
	out := make([]string, len(ts))
	for i, t := range ts {
		out[i] = t.UTC().Format(layout)
	}
	return out
}

func starts(t *testing.T, start provider.EventTime, lines []string, from, to time.Time) []time.Time {
	t.Helper()
	s, err := recur.Parse(start, lines)
	if err != nil {
		t.Fatal(err)
	}
	return s.Starts(from, to)
}

// The wall-clock time stays in the event's zone across DST changes; the
// times RFC 5545 reads specially (a skipped hour, a repeated one) follow
// section 3.3.5.
func TestDST(t *testing.T) {
	cases := []struct {
		name, tz, start string
		rule            []string
		from, to        string
		want            []string
	}{
		{"Berlin spring", "Europe/Berlin", "2026-03-23T09:00", []string{"RRULE:FREQ=WEEKLY"},
			"2026-03-20T00:00:00Z", "2026-04-07T00:00:00Z",
			[]string{"2026-03-23T08:00:00Z", "2026-03-30T07:00:00Z", "2026-04-06T07:00:00Z"}},
		{"Berlin autumn", "Europe/Berlin", "2026-10-19T09:00", []string{"RRULE:FREQ=WEEKLY;COUNT=3"},
			"2026-01-01T00:00:00Z", "2027-01-01T00:00:00Z",
			[]string{"2026-10-19T07:00:00Z", "2026-10-26T08:00:00Z", "2026-11-02T08:00:00Z"}},
		{"Berlin repeated hour", "Europe/Berlin", "2026-10-24T02:30", []string{"RRULE:FREQ=DAILY;COUNT=3"},
			"2026-01-01T00:00:00Z", "2027-01-01T00:00:00Z",
			// 25 October 02:30 happens twice: the first, CEST.
			[]string{"2026-10-24T00:30:00Z", "2026-10-25T00:30:00Z", "2026-10-26T01:30:00Z"}},
		{"New York skipped hour", "America/New_York", "2026-03-07T02:30", []string{"RRULE:FREQ=DAILY;COUNT=3"},
			"2026-01-01T00:00:00Z", "2027-01-01T00:00:00Z",
			// 8 March 02:30 does not exist: read with EST, 03:30 EDT.
			[]string{"2026-03-07T07:30:00Z", "2026-03-08T07:30:00Z", "2026-03-09T06:30:00Z"}},
		{"New York repeated hour", "America/New_York", "2026-10-31T01:30", []string{"RRULE:FREQ=DAILY;COUNT=3"},
			"2026-01-01T00:00:00Z", "2027-01-01T00:00:00Z",
			[]string{"2026-10-31T05:30:00Z", "2026-11-01T05:30:00Z", "2026-11-02T06:30:00Z"}},
		{"New York monthly across both", "America/New_York", "2026-02-10T18:00", []string{"RRULE:FREQ=MONTHLY;BYMONTHDAY=10;UNTIL=20261210T230000Z"},
			"2026-01-01T00:00:00Z", "2027-06-01T00:00:00Z",
			[]string{"2026-02-10T23:00:00Z", "2026-03-10T22:00:00Z", "2026-04-10T22:00:00Z", "2026-05-10T22:00:00Z",
				"2026-06-10T22:00:00Z", "2026-07-10T22:00:00Z", "2026-08-10T22:00:00Z", "2026-09-10T22:00:00Z",
				"2026-10-10T22:00:00Z", "2026-11-10T23:00:00Z", "2026-12-10T23:00:00Z"}},
		{"UNTIL as a date includes that day", "America/New_York", "2026-03-06T21:00", []string{"RRULE:FREQ=DAILY;UNTIL=20260308"},
			"2026-01-01T00:00:00Z", "2027-01-01T00:00:00Z",
			[]string{"2026-03-07T02:00:00Z", "2026-03-08T02:00:00Z", "2026-03-09T01:00:00Z"}},
		{"EXDATE with TZID in the new offset", "Europe/Berlin", "2026-03-27T09:00",
			[]string{"RRULE:FREQ=DAILY;COUNT=4", "EXDATE;TZID=Europe/Berlin:20260329T090000"},
			"2026-01-01T00:00:00Z", "2027-01-01T00:00:00Z",
			[]string{"2026-03-27T08:00:00Z", "2026-03-28T08:00:00Z", "2026-03-30T07:00:00Z"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got := starts(t, timed(t, tc.tz, tc.start), tc.rule, utc(tc.from), utc(tc.to))
			if g := format(got, time.RFC3339); !slices.Equal(g, tc.want) {
				t.Fatalf("starts\n got %v\nwant %v", g, tc.want)
			}
			for _, s := range got {
				if s.Location().String() != tc.tz {
					t.Fatalf("%v is not in %s", s, tc.tz)
				}
			}
		})
	}
}

// Monthly and yearly rules, BYMONTHDAY (also negative) and BYSETPOS.
func TestRules(t *testing.T) {
	cases := []struct {
		name, start string
		rule        []string
		want        []string // dates in New York
	}{
		{"last Friday", "2026-01-30T10:00", []string{"RRULE:FREQ=MONTHLY;BYDAY=FR;BYSETPOS=-1;COUNT=6"},
			[]string{"2026-01-30", "2026-02-27", "2026-03-27", "2026-04-24", "2026-05-29", "2026-06-26"}},
		{"last weekday", "2026-01-30T10:00", []string{"RRULE:FREQ=MONTHLY;BYDAY=MO,TU,WE,TH,FR;BYSETPOS=-1;COUNT=5"},
			[]string{"2026-01-30", "2026-02-27", "2026-03-31", "2026-04-30", "2026-05-29"}},
		{"second Tuesday, every other month", "2026-01-13T10:00", []string{"RRULE:FREQ=MONTHLY;INTERVAL=2;BYDAY=2TU;COUNT=4"},
			[]string{"2026-01-13", "2026-03-10", "2026-05-12", "2026-07-14"}},
		{"the 31st skips short months", "2026-01-31T10:00", []string{"RRULE:FREQ=MONTHLY;COUNT=5"},
			[]string{"2026-01-31", "2026-03-31", "2026-05-31", "2026-07-31", "2026-08-31"}},
		{"last day of the month", "2026-01-31T10:00", []string{"RRULE:FREQ=MONTHLY;BYMONTHDAY=-1;COUNT=4"},
			[]string{"2026-01-31", "2026-02-28", "2026-03-31", "2026-04-30"}},
		{"1st and 15th", "2026-01-01T10:00", []string{"RRULE:FREQ=MONTHLY;BYMONTHDAY=1,15;COUNT=4"},
			[]string{"2026-01-01", "2026-01-15", "2026-02-01", "2026-02-15"}},
		{"Thanksgiving", "2026-11-26T10:00", []string{"RRULE:FREQ=YEARLY;BYMONTH=11;BYDAY=TH;BYSETPOS=4;COUNT=3"},
			[]string{"2026-11-26", "2027-11-25", "2028-11-23"}},
		{"29 February", "2024-02-29T10:00", []string{"RRULE:FREQ=YEARLY;COUNT=3"},
			[]string{"2024-02-29", "2028-02-29", "2032-02-29"}},
		{"RDATE and EXRULE", "2026-01-05T10:00",
			[]string{"RRULE:FREQ=WEEKLY;COUNT=4", "EXRULE:FREQ=MONTHLY;BYDAY=2MO", "RDATE;TZID=America/New_York:20260107T100000"},
			[]string{"2026-01-05", "2026-01-07", "2026-01-19", "2026-01-26"}},
		{"EXDATE as a date on a timed series", "2026-01-05T10:00",
			[]string{"RRULE:FREQ=DAILY;COUNT=3", "EXDATE;VALUE=DATE:20260106"},
			[]string{"2026-01-05", "2026-01-07"}},
	}
	ny := zone(t, "America/New_York")
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got := starts(t, timed(t, "America/New_York", tc.start), tc.rule, utc("2020-01-01T00:00:00Z"), utc("2040-01-01T00:00:00Z"))
			var g []string
			for _, s := range got {
				g = append(g, s.In(ny).Format(time.DateOnly))
				if s.In(ny).Format("15:04") != "10:00" {
					t.Fatalf("%v is not at 10:00 in New York", s)
				}
			}
			if !slices.Equal(g, tc.want) {
				t.Fatalf("dates\n got %v\nwant %v", g, tc.want)
			}
		})
	}
}

func TestAllDay(t *testing.T) {
	berlin, ny := zone(t, "Europe/Berlin"), zone(t, "America/New_York")
	mondays := provider.EventTime{Date: "2026-03-02"}
	s, err := recur.Parse(mondays, []string{"RRULE:FREQ=WEEKLY;UNTIL=20260330", "EXDATE;VALUE=DATE:20260316"})
	if err != nil {
		t.Fatal(err)
	}
	if !s.AllDay() {
		t.Fatal("not all-day")
	}
	// A date is in range when its midnight, in from's zone, is.
	for _, loc := range []*time.Location{berlin, ny, time.UTC} {
		got := format(s.Starts(time.Date(2026, 3, 9, 0, 0, 0, 0, loc), time.Date(2026, 4, 30, 0, 0, 0, 0, loc)), time.DateOnly)
		if want := []string{"2026-03-09", "2026-03-23", "2026-03-30"}; !slices.Equal(got, want) {
			t.Fatalf("in %v: %v, want %v", loc, got, want)
		}
		got = format(s.Starts(time.Date(2026, 3, 9, 0, 0, 1, 0, loc), time.Date(2026, 3, 23, 0, 0, 0, 0, loc)), time.DateOnly)
		if len(got) != 0 {
			t.Fatalf("in %v: %v, want none", loc, got)
		}
	}
	if last, ok := s.Last(); !ok || last.Format(time.DateOnly) != "2026-03-30" {
		t.Fatalf("Last = %v %v", last, ok)
	}
	// Monthly on the 31st and yearly on 29 February, as dates.
	got := format(starts(t, provider.EventTime{Date: "2026-01-31"}, []string{"RRULE:FREQ=MONTHLY;BYMONTHDAY=31;COUNT=3"},
		utc("2026-01-01T00:00:00Z"), utc("2027-01-01T00:00:00Z")), time.DateOnly)
	if want := []string{"2026-01-31", "2026-03-31", "2026-05-31"}; !slices.Equal(got, want) {
		t.Fatalf("monthly all-day %v", got)
	}
}

func TestLast(t *testing.T) {
	ny := "America/New_York"
	cases := []struct {
		rule []string
		want string // "" when unbounded
	}{
		{[]string{"RRULE:FREQ=DAILY"}, ""},
		{[]string{"RRULE:FREQ=DAILY;COUNT=3"}, "2026-03-09T06:30:00Z"},
		{[]string{"RRULE:FREQ=WEEKLY;UNTIL=20300101T000000Z"}, "2029-12-29T07:30:00Z"},
		{[]string{"RRULE:FREQ=YEARLY;BYMONTH=2;BYMONTHDAY=29;UNTIL=20350101T000000Z"}, "2032-02-29T07:30:00Z"},
		{[]string{"RRULE:FREQ=DAILY;COUNT=2", "RDATE:20270101T120000Z"}, "2027-01-01T12:00:00Z"},
		{[]string{"RRULE:FREQ=DAILY;COUNT=2", "RRULE:FREQ=WEEKLY"}, ""},
		{[]string{"RRULE:FREQ=DAILY;COUNT=99999999"}, ""},
	}
	for _, tc := range cases {
		s, err := recur.Parse(timed(t, ny, "2026-03-07T02:30"), tc.rule)
		if err != nil {
			t.Fatal(err)
		}
		last, ok := s.Last()
		got := ""
		if ok {
			got = last.UTC().Format(time.RFC3339)
		}
		if got != tc.want {
			t.Errorf("%v: Last = %q, want %q", tc.rule, got, tc.want)
		}
	}
}

func TestParseErrors(t *testing.T) {
	for _, lines := range [][]string{
		{"RRULE:FREQ=SOMETIMES"},
		{"RRULE:FREQ=DAILY;COUNT=2;UNTIL=20260101T000000Z"},
		{"RRULE:FREQ=MONTHLY;BYMONTHDAY=32"},
		{"EXDATE;TZID=Mars/Olympus:20260101T000000"},
		{"RDATE:tomorrow"},
		{"RRULE"},
	} {
		if _, err := recur.Parse(provider.EventTime{Date: "2026-01-01"}, lines); !errors.Is(err, recur.ErrInvalid) {
			t.Errorf("%v: err = %v, want ErrInvalid", lines, err)
		}
	}
	if _, err := recur.Parse(provider.EventTime{}, []string{"RRULE:FREQ=DAILY"}); !errors.Is(err, recur.ErrInvalid) {
		t.Errorf("no start: %v", err)
	}
	if _, err := recur.Parse(provider.EventTime{DateTime: time.Now(), TimeZone: "Nowhere/Else"}, nil); !errors.Is(err, recur.ErrInvalid) {
		t.Errorf("bad zone: %v", err)
	}
}

func TestExpand(t *testing.T) {
	berlin := zone(t, "Europe/Berlin")
	master := provider.Event{
		ID: "s1", Summary: "standup", Status: "confirmed",
		Start:      timed(t, "Europe/Berlin", "2026-03-23T09:00"),
		End:        timed(t, "Europe/Berlin", "2026-03-23T10:00"),
		Recurrence: []string{"RRULE:FREQ=DAILY;COUNT=10"},
		Raw:        []byte(`{"id":"s1"}`),
	}
	moved := provider.Event{ID: "s1_20260324T080000Z", RecurringEventID: "s1", Status: "confirmed", Summary: "moved",
		OriginalStart: &provider.EventTime{DateTime: utc("2026-03-24T08:00:00Z")},
		Start:         timed(t, "Europe/Berlin", "2026-04-10T09:00"), End: timed(t, "Europe/Berlin", "2026-04-10T10:00")}
	into := provider.Event{ID: "s1_20260401T070000Z", RecurringEventID: "s1", Status: "confirmed", Summary: "into",
		OriginalStart: &provider.EventTime{DateTime: utc("2026-04-01T07:00:00Z")},
		Start:         timed(t, "Europe/Berlin", "2026-03-25T12:00"), End: timed(t, "Europe/Berlin", "2026-03-25T13:00")}
	cancelled := provider.Event{ID: "s1_20260326T080000Z", RecurringEventID: "s1", Status: "cancelled",
		OriginalStart: &provider.EventTime{DateTime: utc("2026-03-26T08:00:00Z"), TimeZone: "UTC"}}
	other := provider.Event{ID: "x_20260327T080000Z", RecurringEventID: "x", Status: "cancelled",
		OriginalStart: &provider.EventTime{DateTime: utc("2026-03-27T08:00:00Z")}}
	// The last week of March, in Berlin; the 23rd's occurrence ends at the
	// range's start and is not in it.
	from, to := time.Date(2026, 3, 23, 10, 0, 0, 0, berlin), time.Date(2026, 4, 1, 0, 0, 0, 0, berlin)
	got, err := recur.Expand(master, []provider.Event{moved, into, cancelled, other}, from, to)
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, e := range got {
		ids = append(ids, e.ID)
	}
	want := []string{"s1_20260325T080000Z", "s1_20260401T070000Z", "s1_20260327T080000Z", "s1_20260328T080000Z",
		"s1_20260329T070000Z", "s1_20260330T070000Z", "s1_20260331T070000Z"}
	if !slices.Equal(ids, want) {
		t.Fatalf("ids\n got %v\nwant %v", ids, want)
	}
	o := got[0]
	if o.RecurringEventID != "s1" || o.OriginalStart == nil || !o.OriginalStart.DateTime.Equal(o.Start.DateTime) ||
		o.End.DateTime.Sub(o.Start.DateTime) != time.Hour || o.Summary != "standup" || o.Recurrence != nil || o.Raw != nil ||
		o.Start.TimeZone != "Europe/Berlin" {
		t.Fatalf("occurrence %+v", o)
	}
	if got[1].Summary != "into" {
		t.Fatalf("exception moved into the range: %+v", got[1])
	}
	// 29 March, the day clocks go forward: still 09:00 in Berlin.
	if w := got[4].Start.DateTime.In(berlin).Format("15:04"); w != "09:00" {
		t.Fatalf("after DST: %s", w)
	}
}

func TestExpandAllDay(t *testing.T) {
	ny := zone(t, "America/New_York")
	master := provider.Event{ID: "trip", Start: provider.EventTime{Date: "2026-03-02"}, End: provider.EventTime{Date: "2026-03-05"},
		Recurrence: []string{"RRULE:FREQ=WEEKLY;COUNT=4"}}
	ex := provider.Event{ID: "trip_20260309", RecurringEventID: "trip", Status: "cancelled",
		OriginalStart: &provider.EventTime{Date: "2026-03-09"}}
	// From Wednesday 11 March: the three-day occurrence of the 9th would
	// overlap but is cancelled; that of 2 March ended on the 5th.
	got, err := recur.Expand(master, []provider.Event{ex}, time.Date(2026, 3, 4, 0, 0, 0, 0, ny), time.Date(2026, 3, 24, 0, 0, 0, 0, ny))
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, e := range got {
		ids = append(ids, e.ID+" "+e.Start.Date+".."+e.End.Date)
	}
	want := []string{"trip_20260302 2026-03-02..2026-03-05", "trip_20260316 2026-03-16..2026-03-19", "trip_20260323 2026-03-23..2026-03-26"}
	if !slices.Equal(ids, want) {
		t.Fatalf("got %v, want %v", ids, want)
	}
	if _, err := recur.Expand(provider.Event{Start: master.Start, Recurrence: []string{"RRULE:NOPE"}}, nil, time.Time{}, time.Now()); err == nil ||
		!strings.Contains(err.Error(), "recur:") {
		t.Fatalf("bad rule: %v", err)
	}
}
