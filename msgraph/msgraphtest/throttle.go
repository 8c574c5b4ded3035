package msgraphtest

import (
	"net/http"
	"strconv"
)

// RetryAfterMode chooses the Retry-After header of the 429s that enforce
// [Config.MailboxConcurrency].
type RetryAfterMode int

// Retry-After modes. Both "Retry-After: 1" and no Retry-After at all are
// seen live on Outlook's MailboxConcurrency 429.
const (
	// RetryAfterMixed sends "1" or nothing, at random (seeded by
	// Config.Seed). The default.
	RetryAfterMixed RetryAfterMode = iota
	// RetryAfterOne always sends "Retry-After: 1".
	RetryAfterOne
	// RetryAfterNone never sends a Retry-After.
	RetryAfterNone
)

// Throttling answer of the per-mailbox concurrency limit, as recorded live
// (calcom PR #343, magodo/terraform-provider-outlook#21,
// alcionai/corso#3695).
const (
	codeApplicationThrottled       = "ApplicationThrottled"
	messageMailboxConcurrencyLimit = "Application is over its MailboxConcurrency limit."
)

// acquire takes one of the mailbox's concurrency slots, or answers 429
// ApplicationThrottled when all are taken. The caller calls release when
// the request is over.
func (s *Server) acquire(user string) (release func(), e *apiError) {
	limit := s.cfg.MailboxConcurrency
	if limit < 0 {
		return func() {}, nil
	}
	if s.cfg.ConcurrencyPerApp {
		user = "" // one count for every mailbox
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.inflight[user] >= limit {
		e := newAPIError(http.StatusTooManyRequests, codeApplicationThrottled, messageMailboxConcurrencyLimit)
		switch s.cfg.ThrottleRetryAfter {
		case RetryAfterOne:
			e.retryAfter = "1"
		case RetryAfterMixed:
			if s.chaos.IntN(2) == 0 {
				e.retryAfter = "1"
			}
		}
		s.cfg.Logger.Debug("msgraphtest: mailbox concurrency limit", "user", user, "limit", strconv.Itoa(limit))
		return nil, e
	}
	s.inflight[user]++
	return func() {
		s.mu.Lock()
		defer s.mu.Unlock()
		if s.inflight[user]--; s.inflight[user] == 0 {
			delete(s.inflight, user)
		}
	}, nil
}
