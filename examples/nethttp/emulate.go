package main

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"time"

	calendar "google.golang.org/api/calendar/v3"

	"github.com/calsync/calsync/google/googletest"
	"github.com/calsync/calsync/msgraph/msgraphtest"
)

// emulators are the providers of -emulate: the Google Calendar and
// Microsoft Graph emulators with their identity providers, and the TLS
// receiver their pushes go to (the providers deliver only to HTTPS, and a
// laptop has no public HTTPS URL).
type emulators struct {
	google       *googletest.Server
	googleClient oauthClient
	graph        *msgraphtest.Server
	graphClient  oauthClient

	hooks   *httptest.Server // TLS receiver of the pushes
	hookMux *http.ServeMux   // its routes: the app's webhooks
}

// The demo's calendars.
const (
	demoWork   = "work@example.com"
	demoFamily = "family@example.com"
	demoTeam   = "team-offsite@example.com"

	demoOutlookUser = "alex"
	demoProjects    = "projects"
)

// startEmulators starts the emulators, registers the app's OAuth client
// with redirect as its redirect URI, and seeds calendars and events.
func startEmulators(redirect string) (*emulators, error) {
	e := &emulators{hookMux: http.NewServeMux()}
	e.hooks = httptest.NewUnstartedServer(e.hookMux)
	e.hooks.Config.ReadHeaderTimeout = 5 * time.Second
	e.hooks.Config.ReadTimeout = 10 * time.Second
	e.hooks.Config.IdleTimeout = time.Minute
	e.hooks.StartTLS()

	e.google = googletest.NewServer(googletest.Config{PushClient: e.hooks.Client()})
	e.googleClient = oauthClient{ID: "calsync-demo.apps.googleusercontent.com", Secret: "demo-google-secret"}
	e.google.RegisterClient(e.googleClient.ID, e.googleClient.Secret, redirect)
	if err := e.seedGoogle(); err != nil {
		e.close()
		return nil, err
	}

	e.graph = msgraphtest.NewServer(msgraphtest.Config{NotificationClient: e.hooks.Client()})
	e.graphClient = oauthClient{ID: "00000000-0000-4000-8000-00000000d3e0", Secret: "demo-graph-secret"}
	e.graph.RegisterClient(e.graphClient.ID, e.graphClient.Secret, redirect)
	if err := e.seedGraph(); err != nil {
		e.close()
		return nil, err
	}
	return e, nil
}

func (e *emulators) seedGoogle() error {
	cals := []struct {
		id, tz string
		info   googletest.CalendarInfo
	}{
		{demoWork, "Europe/Berlin", googletest.CalendarInfo{Summary: "Work", BackgroundColor: "#4285f4", ForegroundColor: "#ffffff"}},
		{demoFamily, "Europe/Berlin", googletest.CalendarInfo{Summary: "Family", BackgroundColor: "#33b679", ForegroundColor: "#ffffff"}},
		{demoTeam, "America/New_York", googletest.CalendarInfo{Summary: "Team offsite (shared)", BackgroundColor: "#f6bf26", AccessRole: "reader"}},
	}
	for _, c := range cals {
		if err := e.google.AddCalendar(c.id, c.tz); err != nil {
			return err
		}
		if err := e.google.SetCalendarInfo(c.id, c.info); err != nil {
			return err
		}
	}
	day := time.Now().UTC().Truncate(24*time.Hour).AddDate(0, 0, 1)
	seed := []struct {
		cal, summary string
		days, hour   int
	}{
		{demoWork, "Planning", 0, 9},
		{demoWork, "1:1 with Sam", 1, 14},
		{demoFamily, "Dentist", 2, 8},
		{demoTeam, "Offsite kick-off", 7, 15},
	}
	for _, s := range seed {
		if _, err := e.google.InsertEvent(s.cal, googleEvent(s.summary, day.AddDate(0, 0, s.days).Add(time.Duration(s.hour)*time.Hour), time.Hour)); err != nil {
			return fmt.Errorf("seed %s: %w", s.cal, err)
		}
	}
	return nil
}

func (e *emulators) seedGraph() error {
	e.graph.AddUser(demoOutlookUser)
	e.graph.AddCalendar(demoOutlookUser, demoProjects)
	if err := e.graph.SetTimeZone(demoOutlookUser, "W. Europe Standard Time"); err != nil {
		return err
	}
	primary, err := e.outlookPrimary()
	if err != nil {
		return err
	}
	for _, c := range []msgraphtest.Calendar{
		{ID: primary, Name: "Calendar", Color: "lightBlue", HexColor: "#0078d4", CanEdit: true, CanShare: true},
		{ID: demoProjects, Name: "Projects", Color: "lightRed", HexColor: "#e74856", CanEdit: true, CanShare: true},
	} {
		if err := e.graph.SetCalendar(demoOutlookUser, c); err != nil {
			return err
		}
	}
	day := time.Now().UTC().Truncate(24*time.Hour).AddDate(0, 0, 1)
	for _, s := range []struct {
		cal, subject string
		days, hour   int
	}{
		{"", "Design review", 0, 13},
		{"", "Customer call", 3, 16},
		{demoProjects, "Release planning", 1, 10},
	} {
		start := day.AddDate(0, 0, s.days).Add(time.Duration(s.hour) * time.Hour)
		if _, err := e.graph.CreateEvent(demoOutlookUser, s.cal, msgraphtest.Event{Subject: s.subject, Start: start, End: start.Add(time.Hour)}); err != nil {
			return fmt.Errorf("seed outlook %s: %w", s.subject, err)
		}
	}
	return nil
}

// outlookPrimary returns the id of the demo user's default calendar.
func (e *emulators) outlookPrimary() (string, error) {
	cals, err := e.graph.Calendars(demoOutlookUser)
	if err != nil {
		return "", err
	}
	for _, c := range cals {
		if c.IsDefault {
			return c.ID, nil
		}
	}
	return "", fmt.Errorf("the Graph emulator has no default calendar for %s", demoOutlookUser)
}

// graphAuthorizePath is where the app relays the browser to the Graph
// emulator's authorize endpoint. The emulator serves HTTPS with its own
// certificate, which no browser trusts; the relay spares the user a
// certificate warning. The token endpoint is called by the app itself,
// with a client that trusts the emulator.
const graphAuthorizePath = "/emulator/graph/{tenant}/oauth2/v2.0/authorize"

// graphAuthURL returns the authorize URL a browser is sent to.
func graphAuthURL(publicURL, tenant string) string {
	return publicURL + "/emulator/graph/" + url.PathEscape(tenant) + "/oauth2/v2.0/authorize"
}

// googleEvent returns a timed event for the Google emulator.
func googleEvent(summary string, start time.Time, d time.Duration) *calendar.Event {
	return &calendar.Event{
		Summary: summary,
		Start:   &calendar.EventDateTime{DateTime: start.Format(time.RFC3339)},
		End:     &calendar.EventDateTime{DateTime: start.Add(d).Format(time.RFC3339)},
	}
}

// mount adds the emulators' own routes to the app's mux: the relay to the
// Graph emulator's consent.
func (e *emulators) mount(mux *http.ServeMux) {
	target, _ := url.Parse(e.graph.URL())
	relay := &httputil.ReverseProxy{
		Rewrite:   func(r *httputil.ProxyRequest) { r.SetURL(target) },
		Transport: e.graph.Client().Transport,
	}
	mux.Handle("GET "+graphAuthorizePath, http.StripPrefix("/emulator/graph", relay))
}

func (e *emulators) close() {
	if e.google != nil {
		e.google.Close()
	}
	if e.graph != nil {
		e.graph.Close()
	}
	e.hooks.Close()
}
