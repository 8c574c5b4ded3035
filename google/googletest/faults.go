package googletest

import (
	"net/http"
	"time"

	"github.com/calsync/calsync/internal/httpdate"
)

// Fault describes API calls that fail on purpose, for [Server.Fail].
type Fault struct {
	// Op limits the fault to one operation (OpEventsList, ...); "" matches
	// every operation.
	Op string
	// CalendarID limits the fault to requests on one calendar, as named in
	// the request path; "" matches every request.
	CalendarID string
	// Times is how many matching calls fail; values below 1 mean 1.
	Times int
	// Status is the HTTP status, e.g. 403, 429, 500, 503.
	Status int
	// Reason is the errors[0].reason, e.g. "rateLimitExceeded",
	// "userRateLimitExceeded", "quotaExceeded", "backendError". Reasons of
	// Google's error table (its error guide) get their domain and message.
	// Default: chosen from Status ("rateLimitExceeded" for 403/429,
	// "backendError" for 5xx, ...).
	Reason string
	// Message replaces the table's message. Default: the table's message,
	// else the status text.
	Message string
	// RetryAfter, if set, is sent as the Retry-After header. Google does not
	// document Retry-After for Calendar, so by default
	// none is sent.
	RetryAfter string
	// RetryAfterIn, if positive and RetryAfter is empty, sends Retry-After
	// as an HTTP-date RetryAfterIn after Config.Now at the moment the call
	// fails (rounded up to the whole second an HTTP-date can carry), so
	// that a client must measure it against its own clock.
	RetryAfterIn time.Duration
}

// Fail queues f: the next f.Times calls that match it fail with Google's
// error envelope. Faults are consumed in the order they were queued, after
// authentication (a 401 does not consume one).
func (s *Server) Fail(f Fault) {
	if f.Times < 1 {
		f.Times = 1
	}
	if f.Status == 0 {
		f.Status = http.StatusInternalServerError
	}
	if f.Reason == "" {
		f.Reason = defaultReason(f.Status)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults = append(s.faults, &f)
}

// FailNext makes the next n API calls, whatever the operation, fail with
// status and reason (see [Fault.Reason] for the defaults of an empty reason).
// For example FailNext(1, 429, "rateLimitExceeded") answers
//
//	{"error":{"errors":[{"domain":"usageLimits","reason":"rateLimitExceeded","message":"Rate Limit Exceeded"}],"code":429,"message":"Rate Limit Exceeded"}}
func (s *Server) FailNext(n int, status int, reason string) {
	if n < 1 {
		return
	}
	s.Fail(Fault{Times: n, Status: status, Reason: reason})
}

// ClearFaults removes every queued fault.
func (s *Server) ClearFaults() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults = nil
}

// takeFault consumes the first queued fault matching op and returns its
// error, or nil.
func (s *Server) takeFault(op, calendarID string) *apiError {
	s.mu.Lock()
	defer s.mu.Unlock()
	for i, f := range s.faults {
		if (f.Op != "" && f.Op != op) || (f.CalendarID != "" && f.CalendarID != calendarID) {
			continue
		}
		f.Times--
		if f.Times <= 0 {
			s.faults = append(s.faults[:i], s.faults[i+1:]...)
		}
		e := newAPIError(f.Status, f.Reason, f.Message)
		e.retryAfter = f.RetryAfter
		if e.retryAfter == "" && f.RetryAfterIn > 0 {
			e.retryAfter = httpdate.RetryAfter(s.cfg.Now(), f.RetryAfterIn)
		}
		return e
	}
	return nil
}

// SetLatency delays every later API response by d of real time (0 turns it
// off). A request whose context ends during the delay gets no answer.
func (s *Server) SetLatency(d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.latency = max(d, 0)
}

// RevokeToken makes every later request with "Authorization: Bearer
// <bearer>" fail with 401 authError "Invalid Credentials".
func (s *Server) RevokeToken(bearer string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.revoked[bearer] = true
}

// RevokeAll revokes every bearer token the server has accepted so far, as
// when a user withdraws access; tokens it has not seen yet (e.g. from a
// refresh) are still accepted.
func (s *Server) RevokeAll() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for t := range s.seen {
		s.revoked[t] = true
	}
}
