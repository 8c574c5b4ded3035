package msgraph_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"golang.org/x/oauth2"

	"github.com/calsync/calsync"
	"github.com/calsync/calsync/msgraph"
	"github.com/calsync/calsync/msgraph/msgraphtest"
	"github.com/calsync/calsync/store/sqlite"
)

// EventsBetween over a month of a calendarView copy returns what Graph's
// calendarView of that month shows: occurrences of series of every
// pattern type (as stored, not expanded again), moved and cancelled
// occurrences applied, across DST changes.
func TestEventsBetweenMatchesCalendarView(t *testing.T) {
	if testing.Short() {
		t.Skip("10,000 events")
	}
	srv := msgraphtest.NewServer(msgraphtest.Config{BatchWindow: -1, ExactNotifications: true})
	t.Cleanup(srv.Close)
	srv.AddUser("alice")
	berlin, _ := time.LoadLocation("Europe/Berlin")
	ny, _ := time.LoadLocation("America/New_York")
	now := time.Now().In(berlin)
	// The month after next, in Berlin: inside the default window.
	from := time.Date(now.Year(), now.Month()+2, 1, 0, 0, 0, 0, berlin)
	to := from.AddDate(0, 1, 0)
	rng := rand.New(rand.NewPCG(5, 8))
	patterns := []msgraphtest.RecurrencePattern{
		{Type: "daily", Interval: 2},
		{Type: "weekly", DaysOfWeek: []string{"monday", "thursday"}},
		{Type: "absoluteMonthly", DayOfMonth: 31},
		{Type: "relativeMonthly", DaysOfWeek: []string{"friday"}, Index: "last"},
		{Type: "relativeMonthly", DaysOfWeek: []string{"monday", "tuesday", "wednesday", "thursday", "friday"}, Index: "first"},
		{Type: "absoluteYearly", Month: int(from.Month()), DayOfMonth: 15},
		{Type: "relativeYearly", Month: int(from.Month()), DaysOfWeek: []string{"sunday"}, Index: "second"},
	}
	var masters []msgraphtest.Event
	for i := range 10000 {
		loc := []*time.Location{berlin, ny, time.UTC}[i%3]
		day := now.AddDate(0, 0, -25+rng.IntN(360))
		start := time.Date(day.Year(), day.Month(), day.Day(), 7+rng.IntN(12), 15*rng.IntN(4), 0, 0, loc)
		ev := msgraphtest.Event{Subject: fmt.Sprintf("event %d", i), Start: start, End: start.Add(time.Duration(15+15*rng.IntN(8)) * time.Minute)}
		if i < 100 {
			ev.Start, ev.End = ev.Start.AddDate(0, -1, 0), ev.End.AddDate(0, -1, 0)
			ev.Recurrence = &msgraphtest.PatternedRecurrence{Pattern: patterns[i%len(patterns)],
				Range: msgraphtest.RecurrenceRange{Type: "noEnd", RecurrenceTimeZone: loc.String()}}
			if i%3 == 1 {
				ev.Recurrence.Range = msgraphtest.RecurrenceRange{Type: "numbered", NumberOfOccurrences: 40, RecurrenceTimeZone: loc.String()}
			}
		}
		got, err := srv.CreateEvent("alice", "", ev)
		if err != nil {
			t.Fatalf("create %+v: %v", ev, err)
		}
		if i < 100 {
			masters = append(masters, got)
		}
	}
	view, err := srv.Events("alice", "", from, to)
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range masters {
		var occ []msgraphtest.Event
		for _, e := range view {
			if e.SeriesMasterID == m.ID {
				occ = append(occ, e)
			}
		}
		if len(occ) < 2 {
			continue
		}
		mv := occ[len(occ)-1]
		if _, err := srv.UpdateEvent("alice", "", mv.ID, msgraphtest.Event{Subject: "moved", Start: mv.Start.Add(26 * time.Hour), End: mv.End.Add(26 * time.Hour)}); err != nil {
			t.Fatal(err)
		}
		if err := srv.DeleteEvent("alice", "", occ[0].ID); err != nil {
			t.Fatal(err)
		}
	}
	if view, err = srv.Events("alice", "", from, to); err != nil {
		t.Fatal(err)
	}
	key := func(id, subject string, start, end time.Time) string {
		return fmt.Sprintf("%s %q %s..%s", id, subject, start.UTC().Format(time.RFC3339), end.UTC().Format(time.RFC3339))
	}
	var want []string
	occurrences := 0
	for _, e := range view {
		want = append(want, key(e.ID, e.Subject, e.Start, e.End))
		if e.SeriesMasterID != "" {
			occurrences++
		}
	}
	slices.Sort(want)
	if len(want) < 500 || occurrences < 100 {
		t.Fatalf("the month holds %d events, %d of them occurrences: not the calendar meant", len(want), occurrences)
	}
	t.Logf("calendarView lists %d events in the month, %d of them occurrences", len(want), occurrences)

	st, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "graph.db"), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	p, err := msgraph.New(msgraph.Config{
		TokenSource: func(context.Context, string) (oauth2.TokenSource, error) {
			return oauth2.StaticTokenSource(&oauth2.Token{AccessToken: "t"}), nil
		},
		HTTPClient: srv.Client(),
		BaseURL:    srv.URL() + "/v1.0",
	})
	if err != nil {
		t.Fatal(err)
	}
	e, err := calsync.NewEngine(calsync.Config{Store: st, Providers: []calsync.Provider{p}})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if err := st.PutCalendar(ctx, calsync.Calendar{ID: "outlook", Provider: msgraph.Name, AccountID: "alice"}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.Sync(ctx, "outlook"); err != nil {
		t.Fatal(err)
	}
	got, err := e.EventsBetween(ctx, "outlook", from, to)
	if err != nil {
		t.Fatal(err)
	}
	var keys []string
	for _, ev := range got {
		keys = append(keys, key(ev.ID, ev.Summary, ev.Start.DateTime, ev.End.DateTime))
	}
	slices.Sort(keys)
	if !slices.Equal(keys, want) {
		for _, k := range keys {
			if _, ok := slices.BinarySearch(want, k); !ok {
				t.Errorf("EventsBetween returned %s, calendarView does not", k)
			}
		}
		for _, k := range want {
			if _, ok := slices.BinarySearch(keys, k); !ok {
				t.Errorf("calendarView lists %s, EventsBetween does not", k)
			}
		}
		t.Fatalf("EventsBetween: %d events, calendarView %d", len(keys), len(want))
	}
}
