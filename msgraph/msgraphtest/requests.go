package msgraphtest

import (
	"net/http"
	"slices"
	"time"
)

// Request is one API request as [Server.Requests] logs it: every request
// that reached the server, answered or not, in the order they ended.
type Request struct {
	// Op is the operation (OpDelta, OpCreateSubscription, ...), "" for a
	// path the emulator does not serve.
	Op string
	// Method is the HTTP method.
	Method string
	// Version is "v1.0" or "beta" (or whatever the path started with).
	Version string
	// Path is the URL path, without the query.
	Path string
	// User is the mailbox the request was for ("me" resolved), "" when the
	// request was refused before it could be told (401, unknown path).
	User string
	// CalendarID is the id of the calendar the request named: the primary
	// calendar's for paths without a calendar segment (/me/calendarView),
	// the subscription's calendar for subscription calls ("" for one on a
	// whole mailbox).
	CalendarID string
	// Status is the HTTP status answered, 0 if the client went away first.
	Status int
	// Code is error.code of an error answer, e.g. "ApplicationThrottled".
	Code string
	// RetryAfter is the Retry-After header answered, "" for none.
	RetryAfter string
	// Time is Config.Now when the request arrived.
	Time time.Time
}

// Requests returns every API request logged so far (see [Request]), oldest
// first, as a copy. Tests count calls with it ([Server.RequestCount],
// [Server.RequestCountByStatus]) instead of wrapping the client's
// transport.
func (s *Server) Requests() []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.requests)
}

// RequestCount returns how many logged requests match op and calendarID;
// an empty op or calendarID matches any, as in googletest. For example
// RequestCount(OpDelta, "work") counts the delta calls on that calendar,
// whatever their answer.
func (s *Server) RequestCount(op, calendarID string) int {
	return s.countRequests(func(r *Request) bool {
		return (op == "" || r.Op == op) && (calendarID == "" || r.CalendarID == calendarID)
	})
}

// RequestCountByStatus returns how many logged requests had operation op
// ("" any) and were answered status (0 any), e.g.
// RequestCountByStatus(OpCreateSubscription, 429).
func (s *Server) RequestCountByStatus(op string, status int) int {
	return s.countRequests(func(r *Request) bool {
		return (op == "" || r.Op == op) && (status == 0 || r.Status == status)
	})
}

// countRequests returns how many logged requests match.
func (s *Server) countRequests(match func(*Request) bool) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for i := range s.requests {
		if match(&s.requests[i]) {
			n++
		}
	}
	return n
}

// ResetRequests empties the request log.
func (s *Server) ResetRequests() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.requests = nil
}

func (s *Server) logRequest(r *Request, w *statusWriter) {
	r.Status, r.Code = w.status, w.code
	r.RetryAfter = w.Header().Get("Retry-After")
	s.mu.Lock()
	defer s.mu.Unlock()
	s.requests = append(s.requests, *r)
}

// calendarName resolves the calendar of a path for the log: the primary
// calendar's id for "" and /calendar.
func (s *Server) calendarName(user, calendar string) string {
	if calendar != "" && calendar != primaryCalendar {
		return calendar
	}
	return s.PrimaryCalendar(user)
}

// statusWriter remembers the status and error code of a response, for the
// request log.
type statusWriter struct {
	http.ResponseWriter
	status int
	code   string
}

func (w *statusWriter) WriteHeader(status int) {
	if w.status == 0 {
		w.status = status
	}
	w.ResponseWriter.WriteHeader(status)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}
