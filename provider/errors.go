package provider

import (
	"errors"
	"fmt"
	"time"
)

// Sentinel errors that providers wrap and the Engine branches on.
var (
	// ErrNotFound means the thing asked for does not exist.
	ErrNotFound = errors.New("calsync: not found")
	// ErrFullSyncRequired means the cursor or page token is no longer valid
	// (HTTP 410) and the calendar must be synced from scratch.
	ErrFullSyncRequired = errors.New("calsync: full sync required")
	// ErrSubscriptionGone means the provider no longer has the subscription.
	ErrSubscriptionGone = errors.New("calsync: subscription gone")
	// ErrReauthRequired means the account's OAuth grant is no longer valid
	// (revoked or expired refresh token, HTTP 401); a person must sign in
	// again.
	ErrReauthRequired = errors.New("calsync: reauthorization required")
	// ErrCalendarUnavailable means the provider refuses one calendar for
	// good: it was deleted, or the account lost access to it (HTTP 404, or
	// 403 that is not a rate limit, on the calendar's own list or delta
	// call). Retrying does not help; the host must act (reconnect or
	// disconnect it).
	ErrCalendarUnavailable = errors.New("calsync: calendar unavailable")
)

// Error is an error response from a provider's API. The root package
// re-exports it as calsync.ProviderError.
type Error struct {
	// Provider is the provider's name.
	Provider string
	// Op is the operation that failed, e.g. "events.list".
	Op string
	// StatusCode is the HTTP status code.
	StatusCode int
	// Reason is the provider's machine-readable reason (Google
	// errors[0].reason, Graph error.code).
	Reason string
	// Message is the provider's human-readable message.
	Message string
	// RetryAfter is the delay the provider asked for, if any.
	RetryAfter time.Duration
	// Err is the underlying error (a sentinel of this package, or the
	// client library's error).
	Err error
}

// Error implements error.
func (e *Error) Error() string {
	msg := fmt.Sprintf("%s: %s: HTTP %d", e.Provider, e.Op, e.StatusCode)
	if e.Reason != "" {
		msg += " " + e.Reason
	}
	if e.Message != "" {
		msg += ": " + e.Message
	}
	return msg
}

// Unwrap returns the underlying error.
func (e *Error) Unwrap() error { return e.Err }
