package msgraph

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/calsync/calsync/provider"
)

// Bug 8: when v1.0 refuses me/calendars/{id}/calendarView/delta, the round
// starts on beta and the calendar is remembered; a 404 is confirmed on beta
// before it counts as the calendar being gone.
func TestFetchSecondaryCalendarFallsBackToBeta(t *testing.T) {
	unsupported := reply{status: 400, body: []byte(`{"error":{"code":"BadRequest","message":"Unsupported request: Change tracking is not supported against 'microsoft.graph.event'."}}`)}
	segment := reply{status: 400, body: []byte(`{"error":{"code":"BadRequest","message":"Resource not found for the segment 'calendarView'."}}`)}
	notFound := reply{status: 404, body: []byte(`{"error":{"code":"ErrorItemNotFound","message":"The specified object was not found in the store."}}`)}
	other400 := reply{status: 400, body: []byte(`{"error":{"code":"ErrorInvalidParameter","message":"This request requires a time window."}}`)}
	page := reply{status: 200, body: fixture(t, "c9_delta_last_page.json")}
	secondary := testCal
	secondary.RemoteID = "AAMkAGI2cal="
	const v1Path, betaPath = "/v1.0/me/calendars/AAMkAGI2cal=/calendarView/delta", "/beta/me/calendars/AAMkAGI2cal=/calendarView/delta"

	for _, tc := range []struct {
		name    string
		cal     provider.Calendar
		replies []reply
		paths   []string // of the requests, in order
		want    error    // nil: success
	}{
		{"unsupported request", secondary, []reply{unsupported, page}, []string{v1Path, betaPath}, nil},
		{"unknown segment", secondary, []reply{segment, page}, []string{v1Path, betaPath}, nil},
		{"404 then beta serves it", secondary, []reply{notFound, page}, []string{v1Path, betaPath}, nil},
		{"404 on both: calendar gone", secondary, []reply{notFound, notFound}, []string{v1Path, betaPath}, provider.ErrCalendarUnavailable},
		{"another 400 is no reason", secondary, []reply{other400}, []string{v1Path}, errBadRequest},
		{"primary calendar never moves", testCal, []reply{unsupported}, []string{"/v1.0/me/calendarView/delta"}, errBadRequest},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := &fixtureServer{replies: tc.replies}
			p := newFixtureProvider(t, f, Config{})
			_, err := p.Fetch(context.Background(), tc.cal, provider.Position{})
			switch {
			case tc.want == nil && err != nil:
				t.Fatalf("Fetch: %v", err)
			case tc.want == errBadRequest:
				if pe, ok := errors.AsType[*provider.Error](err); !ok || pe.StatusCode != 400 {
					t.Fatalf("Fetch = %v, want the 400", err)
				}
			case tc.want != nil && !errors.Is(err, tc.want):
				t.Fatalf("Fetch = %v, want %v", err, tc.want)
			}
			var paths []string
			for _, r := range f.reqs {
				paths = append(paths, strings.TrimSuffix(r.URL.Path, "()"))
			}
			if strings.Join(paths, " ") != strings.Join(tc.paths, " ") {
				t.Fatalf("requests %v, want %v", paths, tc.paths)
			}
			last := f.reqs[len(f.reqs)-1]
			if q := last.URL.Query(); q.Get("startDateTime") == "" || q.Get("endDateTime") == "" || !strings.Contains(strings.Join(last.Header.Values("Prefer"), ","), "odata.maxpagesize=") {
				t.Errorf("last request lacks the window or Prefer: %s", last.URL)
			}
			if tc.want != nil {
				return
			}
			// The next full sync of the calendar goes to beta at once.
			f.replies = []reply{page}
			n := len(f.reqs)
			if _, err := p.Fetch(context.Background(), tc.cal, provider.Position{}); err != nil {
				t.Fatal(err)
			}
			if got := strings.TrimSuffix(f.reqs[n].URL.Path, "()"); len(f.reqs) != n+1 || got != betaPath {
				t.Errorf("next full sync: %d requests, first %s; want one, on beta", len(f.reqs)-n, got)
			}
		})
	}
}

// errBadRequest marks the cases expecting the 400 itself.
var errBadRequest = errors.New("the 400")
