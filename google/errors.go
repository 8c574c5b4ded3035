package google

import (
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

// apiError turns a Calendar API client error into a *provider.ProviderError
// wrapping the sentinel the Engine branches on:
//
//   - 410 (fullSyncRequired, updatedMinTooLongAgo, or an unparsable body) →
//     provider.ErrFullSyncRequired (see listError for the 400 that means
//     the same)
//   - 401, or a refresh token the authorization server refuses →
//     provider.ErrReauthRequired
//   - 404 → provider.ErrNotFound
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
		return &provider.ProviderError{Provider: Name, Op: op + " (token refresh)", StatusCode: http.StatusUnauthorized,
			Reason: code, Message: "the account's OAuth grant was refused", Err: provider.ErrReauthRequired}
	}
	var ge *googleapi.Error
	if !errors.As(err, &ge) {
		return fmt.Errorf("google: %s: %w", op, err)
	}
	pe := &provider.ProviderError{Provider: Name, Op: op, StatusCode: ge.Code, Message: ge.Message, Err: ge}
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
// that way instead of 410 (PROTOCOLS.md Z, A.8; Thunderbird's Google
// provider treats it as gone), so it also wraps provider.ErrFullSyncRequired.
// Any other 400, and every 400 on a list without a sync token, stays a
// permanent error: a full sync would send the same request.
func listError(err error, withSyncToken bool, now time.Time) error {
	out := apiError("events.list", err, now)
	var pe *provider.ProviderError
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

// retryAfter parses a Retry-After value with retry.ParseRetryAfter; it
// returns 0 when absent or unparsable.
func retryAfter(v string, now time.Time) time.Duration {
	d, _ := retry.ParseRetryAfter(v, now)
	return d
}
