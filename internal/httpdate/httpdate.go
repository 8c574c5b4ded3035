// Package httpdate formats the HTTP-date Retry-After values the provider
// emulators (googletest, msgraphtest) send for Fault.RetryAfterIn.
package httpdate

import (
	"net/http"
	"time"
)

// RetryAfter returns the HTTP-date (RFC 9110 §10.2.3) that is in after
// now, rounded up to the whole second an HTTP-date can carry, so that a
// client waiting until it never retries early.
func RetryAfter(now time.Time, in time.Duration) string {
	at := now.Add(in)
	if t := at.Truncate(time.Second); t.Before(at) {
		at = t.Add(time.Second)
	}
	return at.UTC().Format(http.TimeFormat)
}
