package msgraphtest

import (
	"net/http"
	"time"

	"github.com/calsync/calsync/internal/httpdate"
)

// Fault describes API calls that fail on purpose, for [Server.Fail].
type Fault struct {
	// Op limits the fault to one operation (OpDelta, OpCreateSubscription,
	// ...); "" matches every operation.
	Op string
	// Times is how many matching calls fail; values below 1 mean 1.
	Times int
	// Status is the HTTP status, e.g. 429, 500, 503, 504. Default: 500.
	Status int
	// Code is error.code. Default: chosen from Status ("TooManyRequests"
	// for 429, "serviceNotAvailable" for 503, "generalException" for other
	// 5xx, ...).
	Code string
	// Message is error.message. Default: Graph's message for the code, else
	// the status text.
	Message string
	// RetryAfter is sent as the Retry-After header, e.g. "2.128" or "3".
	// Default: DefaultRetryAfter ("0.128") for 429, none otherwise.
	RetryAfter string
	// RetryAfterIn, if positive and RetryAfter is empty, sends Retry-After
	// as an HTTP date this long after the moment the call fails (Config.Now
	// then), rounded up to the whole second an HTTP date can say, so that a
	// client must measure it against its own clock (as in googletest).
	RetryAfterIn time.Duration
	// OmitRetryAfter sends no Retry-After at all, not even the default of
	// a 429 (live Graph throttles without one too).
	OmitRetryAfter bool
}

// Fail queues f: the next f.Times API calls that match it fail with Graph's
// error envelope. Faults are consumed in the order they were queued, after
// authentication (a 401 does not consume one).
func (s *Server) Fail(f Fault) {
	if f.Times < 1 {
		f.Times = 1
	}
	if f.Status == 0 {
		f.Status = http.StatusInternalServerError
	}
	if f.OmitRetryAfter {
		f.RetryAfter, f.RetryAfterIn = "", 0
	} else if f.RetryAfter == "" && f.RetryAfterIn <= 0 && f.Status == http.StatusTooManyRequests {
		f.RetryAfter = DefaultRetryAfter
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults = append(s.faults, &f)
}

// FailNext makes the next n API calls fail with status and code (code ""
// picks the default of [Fault.Code]). With ops, only calls of those
// operations count. For example FailNext(1, 429, "") answers
//
//	HTTP/1.1 429 Too Many Requests
//	Retry-After: 0.128
//
//	{"error":{"code":"TooManyRequests","message":"Please retry again later.","innerError":{...}}}
func (s *Server) FailNext(n int, status int, code string, ops ...string) {
	if n < 1 {
		return
	}
	if len(ops) == 0 {
		s.Fail(Fault{Times: n, Status: status, Code: code})
		return
	}
	for _, op := range ops {
		s.Fail(Fault{Op: op, Times: n, Status: status, Code: code})
	}
}

// ClearFaults removes every queued fault.
func (s *Server) ClearFaults() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults = nil
}

func (s *Server) takeFault(op string) *apiError {
	s.mu.Lock()
	defer s.mu.Unlock()
	for i, f := range s.faults {
		if f.Op != "" && f.Op != op {
			continue
		}
		f.Times--
		if f.Times <= 0 {
			s.faults = append(s.faults[:i], s.faults[i+1:]...)
		}
		e := newAPIError(f.Status, f.Code, f.Message)
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
// <bearer>" fail with 401 InvalidAuthenticationToken.
func (s *Server) RevokeToken(bearer string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.revoked[bearer] = true
}

// RevokeAll revokes every bearer token the server has accepted so far, as
// when a user withdraws consent; tokens it has not seen yet (e.g. after a
// refresh) are still accepted.
func (s *Server) RevokeAll() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for t := range s.seen {
		s.revoked[t] = true
	}
}

// TimeOutNextValidations makes the next n validation handshakes (of
// create, renew or reauthorize) fail as if the receiver had not answered in
// time: the API call answers 400 InvalidRequest "Subscription validation
// request timed out." at once, and no validation request is sent (Graph
// itself sometimes never sends it, microsoftgraph/nodejs-webhooks-sample#350).
// The same call
// made again succeeds once the n are used up. Each is logged in
// [Server.Deliveries] as a validation with Dropped set.
func (s *Server) TimeOutNextValidations(n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.timeoutsN += max(n, 0)
}

// SetMaxSubscriptionLifetime changes [Config.MaxSubscriptionLifetime] for
// later creates and renewals, as Graph's ceiling for Outlook resources has
// moved over time (4,230 minutes in 2018, 10,070 live now, 10,080 in the
// docs): beyond it, 400 ExtensionError
// "Subscription expiration can only be N minutes in the future.", N in
// whole minutes. d <= 0 restores the configured value.
func (s *Server) SetMaxSubscriptionLifetime(d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if d <= 0 {
		d = s.cfg.MaxSubscriptionLifetime
	}
	s.maxLifetime = d
}
