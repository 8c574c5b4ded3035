package main

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"time"

	calendar "google.golang.org/api/calendar/v3"

	"github.com/calsync/calsync/google/googletest"
)

// emulators are the providers of -emulate: the Google Calendar emulator
// with its identity provider, and the TLS receiver their pushes go to (the
// providers deliver only to HTTPS, and a laptop has no public HTTPS URL).
type emulators struct {
	google       *googletest.Server
	googleClient oauthClient

	hooks   *httptest.Server // TLS receiver of the pushes
	hookMux *http.ServeMux   // its routes: the app's webhooks
}

// The demo's calendars.
const (
	demoWork   = "work@example.com"
	demoFamily = "family@example.com"
	demoTeam   = "team-offsite@example.com"
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

// googleEvent returns a timed event for the Google emulator.
func googleEvent(summary string, start time.Time, d time.Duration) *calendar.Event {
	return &calendar.Event{
		Summary: summary,
		Start:   &calendar.EventDateTime{DateTime: start.Format(time.RFC3339)},
		End:     &calendar.EventDateTime{DateTime: start.Add(d).Format(time.RFC3339)},
	}
}

// mount adds the emulators' own routes to the app's mux (none yet).
func (e *emulators) mount(*http.ServeMux) {}

func (e *emulators) close() {
	if e.google != nil {
		e.google.Close()
	}
	e.hooks.Close()
}
