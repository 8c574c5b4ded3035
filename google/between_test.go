package google_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"golang.org/x/oauth2"
	calendar "google.golang.org/api/calendar/v3"
	"google.golang.org/api/option"

	"github.com/calsync/calsync"
	"github.com/calsync/calsync/google"
	"github.com/calsync/calsync/google/googletest"
	"github.com/calsync/calsync/store/postgres"
	"github.com/calsync/calsync/store/sqlite"
)

// The calendar of the EventsBetween checks: 10,000 events, 100 of them
// recurring series (daily to yearly, BYMONTHDAY, BYSETPOS, timed in three
// zones and all-day) each with a moved and a cancelled occurrence.
const (
	rangeCal    = "big@example.com"
	rangeEvents = 10000
	rangeSeries = 100
)

// rangeMonth is the month asked for: in Berlin, across the change to
// summer time (28 March 2027; New York's is on 14 March).
func rangeMonth() (from, to time.Time) {
	berlin, _ := time.LoadLocation("Europe/Berlin")
	return time.Date(2027, 3, 1, 0, 0, 0, 0, berlin), time.Date(2027, 4, 1, 0, 0, 0, 0, berlin)
}

var seriesRules = []string{
	"RRULE:FREQ=DAILY",
	"RRULE:FREQ=DAILY;INTERVAL=3;UNTIL=20271231T000000Z",
	"RRULE:FREQ=WEEKLY;BYDAY=MO,WE,FR",
	"RRULE:FREQ=WEEKLY;INTERVAL=2;BYDAY=TU;COUNT=60",
	"RRULE:FREQ=MONTHLY;BYMONTHDAY=1,15",
	"RRULE:FREQ=MONTHLY;BYMONTHDAY=-1",
	"RRULE:FREQ=MONTHLY;BYDAY=MO,TU,WE,TH,FR;BYSETPOS=-1",
	"RRULE:FREQ=MONTHLY;BYDAY=2TH",
	"RRULE:FREQ=YEARLY;BYMONTH=3;BYDAY=-1SU",
	"RRULE:FREQ=YEARLY;BYMONTH=3,9;BYMONTHDAY=20",
}

// newRangeEmulator fills an emulator calendar (time zone Berlin) with the
// 10,000 events, and makes a moved and a cancelled exception of every
// series through the API.
func newRangeEmulator(tb testing.TB) *googletest.Server {
	tb.Helper()
	emu := googletest.NewServer(googletest.Config{Exact: true})
	tb.Cleanup(emu.Close)
	if err := emu.AddCalendar(rangeCal, "Europe/Berlin"); err != nil {
		tb.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(11, 3))
	zones := []string{"Europe/Berlin", "America/New_York", "UTC"}
	begin := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	var series []*calendar.Event
	for i := range rangeEvents {
		day := begin.AddDate(0, 0, rng.IntN(730))
		ev := &calendar.Event{Summary: fmt.Sprintf("event %d", i)}
		tz := zones[i%len(zones)]
		loc, _ := time.LoadLocation(tz)
		start := time.Date(day.Year(), day.Month(), day.Day(), 7+rng.IntN(12), 15*rng.IntN(4), 0, 0, loc)
		end := start.Add(time.Duration(15+15*rng.IntN(8)) * time.Minute)
		ev.Start = &calendar.EventDateTime{DateTime: start.Format(time.RFC3339), TimeZone: tz}
		ev.End = &calendar.EventDateTime{DateTime: end.Format(time.RFC3339), TimeZone: tz}
		if i%17 == 0 {
			ev.Start = &calendar.EventDateTime{Date: day.Format(time.DateOnly)}
			ev.End = &calendar.EventDateTime{Date: day.AddDate(0, 0, 1+rng.IntN(3)).Format(time.DateOnly)}
		}
		if i < rangeSeries {
			// Series start within the year before the month asked for.
			day = time.Date(2026, time.Month(3+rng.IntN(12)), 1+rng.IntN(28), 0, 0, 0, 0, time.UTC)
			dur := end.Sub(start)
			start = time.Date(day.Year(), day.Month(), day.Day(), start.Hour(), start.Minute(), 0, 0, loc)
			if ev.Start.Date != "" {
				ev.Start.Date, ev.End.Date = day.Format(time.DateOnly), day.AddDate(0, 0, 1).Format(time.DateOnly)
			} else {
				ev.Start.DateTime, ev.End.DateTime = start.Format(time.RFC3339), start.Add(dur).Format(time.RFC3339)
			}
			ev.Recurrence = []string{seriesRules[i%len(seriesRules)]}
			if i%4 == 0 {
				ev.Recurrence = append(ev.Recurrence, "EXDATE;VALUE=DATE:20270310")
			}
		}
		got, err := emu.InsertEvent(rangeCal, ev)
		if err != nil {
			tb.Fatalf("insert %+v: %v", ev, err)
		}
		if i < rangeSeries {
			series = append(series, got)
		}
	}
	api, err := calendar.NewService(context.Background(), option.WithEndpoint(emu.Endpoint()),
		option.WithTokenSource(oauth2.StaticTokenSource(&oauth2.Token{AccessToken: "t"})))
	if err != nil {
		tb.Fatal(err)
	}
	from, to := rangeMonth()
	for _, s := range series {
		// Two occurrences in the month: one moved (by a day, maybe out
		// of the month), one cancelled.
		inst, err := api.Events.Instances(rangeCal, s.Id).TimeMin(from.Format(time.RFC3339)).TimeMax(to.Format(time.RFC3339)).Do()
		if err != nil {
			tb.Fatal(err)
		}
		if len(inst.Items) < 2 {
			continue
		}
		mv := inst.Items[len(inst.Items)-1]
		patch := &calendar.Event{Summary: "moved " + mv.Summary}
		shift := func(t *calendar.EventDateTime) *calendar.EventDateTime {
			if t.Date != "" {
				d, _ := time.Parse(time.DateOnly, t.Date)
				return &calendar.EventDateTime{Date: d.AddDate(0, 0, 2).Format(time.DateOnly)}
			}
			v, _ := time.Parse(time.RFC3339, t.DateTime)
			return &calendar.EventDateTime{DateTime: v.AddDate(0, 0, 2).Format(time.RFC3339), TimeZone: t.TimeZone}
		}
		patch.Start, patch.End = shift(mv.Start), shift(mv.End)
		if _, err := api.Events.Patch(rangeCal, mv.Id, patch).Do(); err != nil {
			tb.Fatal(err)
		}
		if err := api.Events.Delete(rangeCal, inst.Items[0].Id).Do(); err != nil {
			tb.Fatal(err)
		}
	}
	return emu
}

// syncInto makes an Engine on st, syncs the calendar from emu in series
// mode (singleEvents false) and returns the Engine.
func syncInto(tb testing.TB, emu *googletest.Server, st calsync.Store) *calsync.Engine {
	tb.Helper()
	prov, err := google.New(google.Config{
		Endpoint:    emu.Endpoint(),
		HTTPClient:  &http.Client{},
		TokenSource: func(context.Context, string) (oauth2.TokenSource, error) { return staticToken, nil },
	})
	if err != nil {
		tb.Fatal(err)
	}
	e, err := calsync.NewEngine(calsync.Config{Store: st, Providers: []calsync.Provider{prov}})
	if err != nil {
		tb.Fatal(err)
	}
	ctx := context.Background()
	if err := st.PutCalendar(ctx, calsync.Calendar{ID: rangeCal, Provider: google.Name, AccountID: "a", RemoteID: rangeCal}); err != nil {
		tb.Fatal(err)
	}
	if _, err := e.Sync(ctx, rangeCal); err != nil {
		tb.Fatal(err)
	}
	return e
}

// rangeStores returns the durable stores to check: SQLite, and PostgreSQL
// when CALSYNC_TEST_POSTGRES_URL is set.
func rangeStores(tb testing.TB) map[string]calsync.Store {
	tb.Helper()
	lite, err := sqlite.Open(context.Background(), filepath.Join(tb.TempDir(), "range.db"), nil)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { lite.Close() })
	out := map[string]calsync.Store{"sqlite": lite}
	url := os.Getenv("CALSYNC_TEST_POSTGRES_URL")
	if url == "" {
		tb.Log("PostgreSQL not checked: set CALSYNC_TEST_POSTGRES_URL (e.g. postgres://postgres@127.0.0.1:5432/test?sslmode=disable)")
		return out
	}
	// A schema of its own, which the Store creates, dropped at the end.
	ctx := context.Background()
	pool, err := pgxpool.New(ctx, url)
	if err != nil {
		tb.Fatal(err)
	}
	schema := fmt.Sprintf("range_%d", time.Now().UnixNano())
	tb.Cleanup(func() {
		pool.Exec(context.Background(), "DROP SCHEMA IF EXISTS "+schema+" CASCADE")
		pool.Close()
	})
	pg, err := postgres.New(ctx, pool, &postgres.Config{Schema: schema})
	if err != nil {
		tb.Fatal(err)
	}
	out["postgres"] = pg
	return out
}

// occurrenceKey is what must agree between the emulator's expansion and
// EventsBetween: id, start, end and title.
func occurrenceKey(id, summary string, start, end calsync.EventTime) string {
	at := func(t calsync.EventTime) string {
		if t.Date != "" {
			return t.Date
		}
		return t.DateTime.UTC().Format(time.RFC3339)
	}
	return fmt.Sprintf("%s %q %s..%s", id, summary, at(start), at(end))
}

// EventsBetween over a month of a series-mode copy returns the occurrences
// the provider itself lists for that month with singleEvents (timeMin,
// timeMax): recurring series expanded with their exceptions, moved and
// cancelled ones applied, across DST changes, all-day events included.
func TestEventsBetweenMatchesSingleEvents(t *testing.T) {
	if testing.Short() {
		t.Skip("10,000 events")
	}
	emu := newRangeEmulator(t)
	from, to := rangeMonth()
	api, err := calendar.NewService(context.Background(), option.WithEndpoint(emu.Endpoint()), option.WithTokenSource(staticToken))
	if err != nil {
		t.Fatal(err)
	}
	var want []string
	pt := ""
	for {
		page, err := api.Events.List(rangeCal).SingleEvents(true).TimeMin(from.Format(time.RFC3339)).TimeMax(to.Format(time.RFC3339)).
			MaxResults(2500).PageToken(pt).Do()
		if err != nil {
			t.Fatal(err)
		}
		for _, it := range page.Items {
			st, en := google.EventTimeOf(it.Start), google.EventTimeOf(it.End)
			want = append(want, occurrenceKey(it.Id, it.Summary, st, en))
		}
		if pt = page.NextPageToken; pt == "" {
			break
		}
	}
	slices.Sort(want)
	recurring := 0
	for _, k := range want {
		if strings.Contains(k, "_") {
			recurring++
		}
	}
	if len(want) < 500 || recurring < 300 {
		t.Fatalf("the month holds %d events, %d of them occurrences: not the calendar meant", len(want), recurring)
	}
	t.Logf("the provider lists %d events in the month, %d of them occurrences", len(want), recurring)
	for name, st := range rangeStores(t) {
		t.Run(name, func(t *testing.T) {
			e := syncInto(t, emu, st)
			got, err := e.EventsBetween(context.Background(), rangeCal, from, to)
			if err != nil {
				t.Fatal(err)
			}
			var keys []string
			for _, ev := range got {
				keys = append(keys, occurrenceKey(ev.ID, ev.Summary, ev.Start, ev.End))
			}
			slices.Sort(keys)
			if !slices.Equal(keys, want) {
				for _, k := range keys {
					if _, found := slices.BinarySearch(want, k); !found {
						t.Errorf("EventsBetween returned %s, the provider does not", k)
					}
				}
				for _, k := range want {
					if _, found := slices.BinarySearch(keys, k); !found {
						t.Errorf("the provider lists %s, EventsBetween does not", k)
					}
				}
				t.Fatalf("EventsBetween: %d occurrences, the provider %d", len(keys), len(want))
			}
		})
	}
}

// BenchmarkEventsBetween measures Engine.EventsBetween over a month of the
// 10,000-event calendar (100 series expanded) on each durable store,
// against reading the whole calendar with ListEvents in the same run.
func BenchmarkEventsBetween(b *testing.B) {
	emu := newRangeEmulator(b)
	from, to := rangeMonth()
	for name, st := range rangeStores(b) {
		e := syncInto(b, emu, st)
		ctx := context.Background()
		b.Run(name+"/EventsBetween", func(b *testing.B) {
			b.ReportAllocs()
			n := 0
			for b.Loop() {
				got, err := e.EventsBetween(ctx, rangeCal, from, to)
				if err != nil {
					b.Fatal(err)
				}
				n = len(got)
			}
			b.ReportMetric(float64(n), "events")
		})
		b.Run(name+"/ListEvents", func(b *testing.B) {
			b.ReportAllocs()
			n := 0
			for b.Loop() {
				n = 0
				after := ""
				for {
					page, err := st.ListEvents(ctx, rangeCal, after, 1000)
					if err != nil {
						b.Fatal(err)
					}
					n += len(page)
					if len(page) < 1000 {
						break
					}
					after = page[len(page)-1].ID
				}
			}
			b.ReportMetric(float64(n), "events")
		})
	}
}
