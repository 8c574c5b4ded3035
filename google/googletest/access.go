package googletest

import (
	"fmt"
	"net/http"
)

// DeleteCalendar deletes a calendar as its owner would: from then on every
// API request on it answers 404 notFound, which is what Google answers for
// a calendar that does not exist, its channels receive
// nothing more, and the Go-side helpers report ErrCalendarNotFound. The id
// cannot be added again. Deleting the first calendar leaves "primary"
// unresolved.
func (s *Server) DeleteCalendar(calendarID string) error {
	return s.withCalendar(calendarID, func(c *calendarState) { c.deleted = true })
}

// RevokeCalendarAccess makes the calendar refuse the client, as when the
// account loses its access to a calendar someone else shares: every later
// API request on it (events.list, events.watch, the writes) fails with
// status and reason, and its channels receive no pushes, while the calendar
// itself lives on (InsertEvent still changes it, as its owner would).
// Status 0 means 404 notFound, what Google answers for a calendar the user
// cannot see; with 403, an empty reason means "forbidden". Other reasons of
// Google's error table get its domain and message, e.g. 403
// "requiredAccessLevel" ("You need to have reader access to this
// calendar.", third-party: google/google-api-javascript-client#521,
// spatie/laravel-google-calendar#95). [Server.RestoreCalendarAccess] undoes
// it.
func (s *Server) RevokeCalendarAccess(calendarID string, status int, reason string) error {
	if status == 0 {
		status = http.StatusNotFound
	}
	if reason == "" {
		reason = defaultReason(status)
		if status == http.StatusForbidden {
			reason = "forbidden"
		}
	}
	denied := newAPIError(status, reason, "")
	return s.withCalendar(calendarID, func(c *calendarState) { c.denied = denied })
}

// RestoreCalendarAccess ends [Server.RevokeCalendarAccess]: requests on
// the calendar succeed again and changes notify its live channels.
func (s *Server) RestoreCalendarAccess(calendarID string) error {
	return s.withCalendar(calendarID, func(c *calendarState) { c.denied = nil })
}

// withCalendar runs f on the calendar under s.mu, or reports
// ErrCalendarNotFound.
func (s *Server) withCalendar(calendarID string, f func(*calendarState)) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	c := s.calendar(calendarID)
	if c == nil {
		return fmt.Errorf("%w: %q", ErrCalendarNotFound, calendarID)
	}
	f(c)
	return nil
}

// deniedLocked returns the error of a calendar whose access was revoked,
// or nil. The caller holds s.mu.
func (s *Server) deniedLocked(calendarID string) *apiError {
	if calendarID == "" {
		return nil
	}
	if c := s.calendar(calendarID); c != nil && c.denied != nil {
		e := *c.denied
		return &e
	}
	return nil
}
