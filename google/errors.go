package google

import (
	"errors"
	"fmt"
	"net/http"
	"strconv"
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
//     provider.ErrFullSyncRequired
//   - 401, or a refresh token the authorization server refuses →
//     provider.ErrReauthRequired
//   - 404 → provider.ErrNotFound
func apiError(op string, err error) error {
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
		pe.RetryAfter = retryAfter(ge.Header.Get("Retry-After"), time.Now())
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

// retryAfter parses a Retry-After value with retry.ParseRetryAfter; it
// returns 0 when absent or unparsable.
func retryAfter(v string, now time.Time) time.Duration {
	d, _ := retry.ParseRetryAfter(v, now)
	return d
}
