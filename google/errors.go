package google

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"golang.org/x/oauth2"
	"google.golang.org/api/googleapi"

	"github.com/calsync/calsync/provider"
	"github.com/calsync/calsync/retry"
)

// apiError turns a Calendar API client error into a *provider.Error
// wrapping the sentinel the Engine branches on:
//
//   - 410 (fullSyncRequired, updatedMinTooLongAgo, or an unparsable body) →
//     provider.ErrFullSyncRequired (see listError for the 400 that means
//     the same)
//   - 401, or a refresh token the authorization server refuses →
//     provider.ErrReauthRequired
//   - 404 → provider.ErrNotFound (see calendarError for the calendar's own
//     calls, where 404 and some 403s also mean provider.ErrCalendarUnavailable)
//
// A Retry-After date is measured from now, the Provider's Config.Now.
func apiError(op string, err error, now time.Time) error {
	var re *oauth2.RetrieveError
	if errors.As(err, &re) {
		// The token endpoint refused to refresh: revoked or expired grant.
		// RetrieveError's text can echo the response body, so only its code
		// is kept.
		code := re.ErrorCode
		if code == "" && re.Response != nil {
			code = strconv.Itoa(re.Response.StatusCode)
		}
		return &provider.Error{Provider: Name, Op: op + " (token refresh)", StatusCode: http.StatusUnauthorized,
			Reason: code, Message: "the account's OAuth grant was refused", Err: provider.ErrReauthRequired}
	}
	var ge *googleapi.Error
	if !errors.As(err, &ge) {
		return fmt.Errorf("google: %s: %w", op, err)
	}
	pe := &provider.Error{Provider: Name, Op: op, StatusCode: ge.Code, Message: ge.Message, Err: ge}
	if len(ge.Errors) > 0 {
		pe.Reason = ge.Errors[0].Reason
		if pe.Message == "" {
			pe.Message = ge.Errors[0].Message
		}
	}
	if ge.Header != nil {
		pe.RetryAfter = retryAfter(ge.Header.Get("Retry-After"), now)
	}
	switch ge.Code {
	case http.StatusGone:
		pe.Err = errors.Join(provider.ErrFullSyncRequired, ge)
	case http.StatusUnauthorized:
		pe.Err = errors.Join(provider.ErrReauthRequired, ge)
	case http.StatusNotFound:
		pe.Err = errors.Join(provider.ErrNotFound, ge)
	}
	return pe
}

// listError is apiError for events.list. A list that carried a sync token
// and got 400 reason "invalid" or message "Invalid sync token value." had
// its token rejected: Google answers some stale or invalidated sync tokens
// that way instead of 410 (Thunderbird's Google
// provider treats it as gone), so it also wraps provider.ErrFullSyncRequired.
// Any other 400, and every 400 on a list without a sync token, stays a
// permanent error: a full sync would send the same request.
func listError(err error, withSyncToken bool, now time.Time) error {
	out := calendarError("events.list", err, now)
	var pe *provider.Error
	var ge *googleapi.Error
	if withSyncToken && errors.As(out, &pe) && pe.StatusCode == http.StatusBadRequest &&
		errors.As(err, &ge) && rejectsSyncToken(ge) {
		pe.Err = errors.Join(provider.ErrFullSyncRequired, pe.Err)
	}
	return out
}

// rejectsSyncToken reports whether a 400 names the sync token as invalid.
func rejectsSyncToken(ge *googleapi.Error) bool {
	const msg = "invalid sync token value"
	if strings.HasPrefix(strings.ToLower(ge.Message), msg) {
		return true
	}
	for _, it := range ge.Errors {
		if it.Reason == "invalid" || strings.HasPrefix(strings.ToLower(it.Message), msg) {
			return true
		}
	}
	return false
}

// calendarError is apiError for the calendar's own calls, events.list and
// events.watch. A 404, or a 403 whose reason is not a rate limit (e.g.
// forbidden, requiredAccessLevel), means the calendar was deleted or the
// account lost access to it: retrying does not help, so the error also
// wraps provider.ErrCalendarUnavailable (bug 13). A 404 keeps wrapping
// provider.ErrNotFound. The rate limits are 429 and 403 rateLimitExceeded,
// userRateLimitExceeded, quotaExceeded and dailyLimitExceeded, or any
// reason of domain usageLimits
// (https://developers.google.com/workspace/calendar/api/guides/errors). A
// 403 without a reason is not judged: it may come from a proxy.
func calendarError(op string, err error, now time.Time) error {
	out := apiError(op, err, now)
	var pe *provider.Error
	var ge *googleapi.Error
	if errors.As(out, &pe) && errors.As(err, &ge) && calendarRefused(ge) {
		pe.Err = errors.Join(provider.ErrCalendarUnavailable, pe.Err)
	}
	return out
}

// calendarRefused reports whether ge refuses the calendar for good: 404, or
// 403 with reasons none of which is a usage limit.
func calendarRefused(ge *googleapi.Error) bool {
	switch ge.Code {
	case http.StatusNotFound:
		return true
	case http.StatusForbidden:
	default:
		return false
	}
	// googleapi.ErrorItem has no domain: read it from the body.
	type item struct{ Domain, Reason string }
	var env struct {
		Error struct{ Errors []item }
	}
	_ = json.Unmarshal([]byte(ge.Body), &env)
	items := env.Error.Errors
	if len(items) == 0 {
		for _, it := range ge.Errors {
			items = append(items, item{Reason: it.Reason})
		}
	}
	refused := false
	for _, it := range items {
		switch {
		case it.Domain == "usageLimits", usageLimitReasons[it.Reason]:
			return false
		case it.Reason != "":
			refused = true
		}
	}
	return refused
}

// usageLimitReasons are the 403 reasons of Google's rate limits and quotas.
var usageLimitReasons = map[string]bool{
	"rateLimitExceeded":     true,
	"userRateLimitExceeded": true,
	"quotaExceeded":         true,
	"dailyLimitExceeded":    true,
}

// retryAfter parses a Retry-After value with retry.ParseRetryAfter; it
// returns 0 when absent or unparsable.
func retryAfter(v string, now time.Time) time.Duration {
	d, _ := retry.ParseRetryAfter(v, now)
	return d
}
