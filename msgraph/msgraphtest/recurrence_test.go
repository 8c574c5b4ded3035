package msgraphtest_test

import (
	"slices"
	"testing"
	"time"

	"github.com/calsync/calsync/msgraph/msgraphtest"
)

// Every recurrencePatternType expands, in the recurrenceTimeZone (the wall
// clock kept across DST), from the range's startDate.
func TestRecurrencePatterns(t *testing.T) {
	srv, _ := newServer(t, msgraphtest.Config{})
	ny, _ := time.LoadLocation("America/New_York")
	start := time.Date(2026, 1, 5, 10, 0, 0, 0, ny) // a Monday
	cases := []struct {
		pattern msgraphtest.RecurrencePattern
		rng     msgraphtest.RecurrenceRange
		want    []string // dates in New York, each at 10:00
	}{
		{msgraphtest.RecurrencePattern{Type: "absoluteMonthly", DayOfMonth: 31},
			msgraphtest.RecurrenceRange{Type: "numbered", NumberOfOccurrences: 3},
			[]string{"2026-01-31", "2026-03-31", "2026-05-31"}},
		{msgraphtest.RecurrencePattern{Type: "relativeMonthly", DaysOfWeek: []string{"friday"}, Index: "last"},
			msgraphtest.RecurrenceRange{Type: "endDate", EndDate: "2026-04-24"},
			[]string{"2026-01-30", "2026-02-27", "2026-03-27", "2026-04-24"}},
		{msgraphtest.RecurrencePattern{Type: "relativeMonthly", Interval: 2, DaysOfWeek: []string{"monday", "tuesday", "wednesday", "thursday", "friday"}, Index: "second"},
			msgraphtest.RecurrenceRange{Type: "numbered", NumberOfOccurrences: 3},
			// January's second weekday, the 2nd, is before the start.
			[]string{"2026-03-03", "2026-05-04", "2026-07-02"}},
		{msgraphtest.RecurrencePattern{Type: "absoluteYearly", Month: 3, DayOfMonth: 31},
			msgraphtest.RecurrenceRange{Type: "noEnd"}, // expanded for ExpansionHorizon
			[]string{"2026-03-31", "2027-03-31"}},
		{msgraphtest.RecurrencePattern{Type: "relativeYearly", Month: 11, DaysOfWeek: []string{"thursday"}, Index: "fourth"},
			msgraphtest.RecurrenceRange{Type: "noEnd"},
			[]string{"2026-11-26", "2027-11-25"}},
	}
	for _, tc := range cases {
		t.Run(tc.pattern.Type, func(t *testing.T) {
			tc.rng.RecurrenceTimeZone = "America/New_York"
			m, err := srv.CreateEvent("alice", "", msgraphtest.Event{Subject: tc.pattern.Type, Start: start, End: start.Add(time.Hour),
				Recurrence: &msgraphtest.PatternedRecurrence{Pattern: tc.pattern, Range: tc.rng}})
			if err != nil {
				t.Fatal(err)
			}
			if m.Recurrence.Pattern.Type != tc.pattern.Type {
				t.Fatalf("pattern type %q came back as %q", tc.pattern.Type, m.Recurrence.Pattern.Type)
			}
			evs, err := srv.Events("alice", "", start, start.AddDate(3, 0, 0))
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, e := range evs {
				if e.SeriesMasterID != m.ID {
					continue
				}
				if w := e.Start.In(ny).Format("15:04"); w != "10:00" {
					t.Fatalf("occurrence at %s in New York", w)
				}
				got = append(got, e.Start.In(ny).Format(time.DateOnly))
			}
			if !slices.Equal(got, tc.want) {
				t.Fatalf("occurrences %v, want %v", got, tc.want)
			}
			if err := srv.DeleteEvent("alice", "", m.ID); err != nil {
				t.Fatal(err)
			}
		})
	}
	for _, bad := range []msgraphtest.RecurrencePattern{
		{Type: "hourly"},
		{Type: "absoluteMonthly"},
		{Type: "relativeYearly", Month: 13, DaysOfWeek: []string{"monday"}},
		{Type: "relativeMonthly", DaysOfWeek: []string{"monday"}, Index: "fifth"},
		{Type: "daily", DayOfMonth: 3},
	} {
		if _, err := srv.CreateEvent("alice", "", msgraphtest.Event{Start: start, End: start.Add(time.Hour),
			Recurrence: &msgraphtest.PatternedRecurrence{Pattern: bad, Range: msgraphtest.RecurrenceRange{Type: "noEnd"}}}); err == nil {
			t.Errorf("pattern %+v accepted", bad)
		}
	}
}
