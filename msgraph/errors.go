package msgraph

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	abs "github.com/microsoft/kiota-abstractions-go"

	"github.com/calsync/calsync/provider"
)

// maxErrorBody caps how much of an error response is kept for its code and
// message.
const maxErrorBody = 64 << 10

// response is what the recorder saw of a failed call's last response.
type response struct {
	status int
	header http.Header
	body   []byte
}

type responseKey struct{}

// withResponse returns a context under which the recorder stores the call's
// error response in the returned *response.
func withResponse(ctx context.Context) (context.Context, *response) {
	r := &response{}
	return context.WithValue(ctx, responseKey{}, r), r
}

// recorder is the innermost transport of the SDK's pipeline: for a response
// with status >= 400 it keeps the status, headers and (capped) body in the
// *response of the request's context, whatever the SDK later makes of the
// body (which may be no JSON at all). The body is handed on unchanged.
//
// A redirect (3xx) answering a write (anything but GET and HEAD) is turned
// into an error, recorded the same way: the SDK counts every status below
// 400 as success, so a DELETE answered 308 would pass for a deleted
// subscription, and net/http would replay a POST or PATCH answered 301, 302
// or 303 as a GET elsewhere. Graph documents no redirect for these calls.
type recorder struct{ base http.RoundTripper }

func (t *recorder) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := t.base.RoundTrip(req)
	if err != nil {
		return resp, err
	}
	redirect := resp.StatusCode >= 300 && resp.StatusCode < 400 && req.Method != http.MethodGet && req.Method != http.MethodHead
	if resp.StatusCode < 400 && !redirect {
		return resp, nil
	}
	body, _ := io.ReadAll(io.LimitReader(resp.Body, maxErrorBody))
	resp.Body.Close()
	if rec, ok := req.Context().Value(responseKey{}).(*response); ok {
		rec.status, rec.header, rec.body = resp.StatusCode, resp.Header, body
	}
	if redirect {
		return nil, &redirectError{method: req.Method, status: resp.StatusCode, location: resp.Header.Get("Location")}
	}
	resp.Body = io.NopCloser(bytes.NewReader(body))
	return resp, nil
}

// redirectError is a write answered with a redirect.
type redirectError struct {
	method   string
	status   int
	location string
}

func (e *redirectError) Error() string {
	msg := fmt.Sprintf("msgraph: %s answered %d %s", e.method, e.status, http.StatusText(e.status))
	if e.location != "" {
		msg += " to " + redactQuery(e.location)
	}
	return msg + "; a write is never redirected"
}

// redactQuery drops the query of a URL for error messages.
func redactQuery(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "an unparsable Location"
	}
	u.RawQuery, u.Fragment, u.User = "", "", nil
	return u.String()
}

// checkRedirect refuses to follow a redirect away from the service's
// scheme and host (a GET of a nextLink or deltaLink, the only calls that
// may follow one: writes never get here, see recorder), then defers to the
// host client's own policy, or net/http's limit of 10 redirects.
func (p *Provider) checkRedirect(next func(*http.Request, []*http.Request) error) func(*http.Request, []*http.Request) error {
	return func(req *http.Request, via []*http.Request) error {
		if !p.sameOrigin(req.URL.String()) {
			return fmt.Errorf("msgraph: refusing a redirect from %s to %s", p.base.Host, redactQuery(req.URL.String()))
		}
		if next != nil {
			return next(req, via)
		}
		if len(via) >= 10 {
			return errors.New("msgraph: stopped after 10 redirects")
		}
		return nil
	}
}

// errorBody is Graph's error envelope.
type errorBody struct {
	Error struct {
		Code    string `json:"code"`
		Message string `json:"message"`
	} `json:"error"`
}

// fullSyncCodes are the error codes that say a delta token can no longer be
// used: documented camelCase (https://learn.microsoft.com/en-us/graph/errors),
// recorded PascalCase (live calendarView delta answers SyncStateNotFound),
// compared case-insensitively. syncStateInvalid is only seen in third-party
// tests and InvalidDeltaToken is a 400 for a token Graph cannot read; a new
// full sync is the only way on from either.
var fullSyncCodes = []string{"syncStateNotFound", "resyncRequired", "syncStateInvalid", "invalidDeltaToken"}

// errorSentinels says which sentinels an operation's errors wrap besides
// those of every call (ErrReauthRequired for 401 and refused grants).
type errorSentinels struct {
	// notFound is wrapped on 404: provider.ErrNotFound, or
	// ErrSubscriptionGone for a renewal; nil wraps nothing.
	notFound error
	// fullSync wraps provider.ErrFullSyncRequired on 410 and the
	// fullSyncCodes (delta calls).
	fullSync bool
	// calendar marks a call on the calendar itself (its delta, a
	// subscription to its events): a 404, or a 403 that is not a limit,
	// means the calendar is gone or out of reach and wraps
	// provider.ErrCalendarUnavailable too.
	calendar bool
}

// apiError turns an error of an SDK call into a *provider.Error
// wrapping the sentinel the Engine branches on:
//
//   - 401, or a token source whose refresh the authorization server refuses
//     → provider.ErrReauthRequired
//   - 404 → s.notFound (provider.ErrNotFound, or ErrSubscriptionGone for a
//     renewal), and provider.ErrCalendarUnavailable on a call on the
//     calendar itself (s.calendar: its delta, or creating a subscription)
//   - 403 that is not a limit (see limit403), on a call on the calendar
//     itself → provider.ErrCalendarUnavailable
//   - 410, or a fullSyncCodes code (on a delta call, s.fullSync) →
//     provider.ErrFullSyncRequired
//   - 429 and 5xx carry RetryAfter from Retry-After (seconds, fractions
//     allowed, or an HTTP date).
func apiError(op string, err error, rec *response, s errorSentinels, now time.Time) error {
	if re, ok := retrieveError(err); ok {
		code := re.ErrorCode
		if code == "" && re.Response != nil {
			code = strconv.Itoa(re.Response.StatusCode)
		}
		return &provider.Error{Provider: Name, Op: op + " (token refresh)", StatusCode: http.StatusUnauthorized,
			Reason: code, Message: "the account's OAuth grant was refused", Err: provider.ErrReauthRequired}
	}
	status, header, body := 0, http.Header(nil), []byte(nil)
	if rec != nil && rec.status != 0 {
		status, header, body = rec.status, rec.header, rec.body
	} else if ae, ok := errors.AsType[*abs.ApiError](err); ok && ae.ResponseStatusCode != 0 {
		status = ae.ResponseStatusCode
		if ae.ResponseHeaders != nil {
			header = http.Header{}
			for _, k := range ae.ResponseHeaders.ListKeys() {
				for _, v := range ae.ResponseHeaders.Get(k) {
					header.Add(k, v)
				}
			}
		}
	}
	if status == 0 {
		return fmt.Errorf("msgraph: %s: %w", op, err)
	}
	pe := &provider.Error{Provider: Name, Op: op, StatusCode: status, Err: err}
	var eb errorBody
	if json.Unmarshal(body, &eb) == nil {
		pe.Reason, pe.Message = eb.Error.Code, eb.Error.Message
	}
	if header != nil {
		pe.RetryAfter = retryAfter(header.Get("Retry-After"), now)
	}
	var wrap []error
	switch {
	case status == http.StatusUnauthorized:
		wrap = append(wrap, provider.ErrReauthRequired)
	case status == http.StatusNotFound:
		if s.notFound != nil {
			wrap = append(wrap, s.notFound)
		}
		if s.calendar {
			wrap = append(wrap, provider.ErrCalendarUnavailable)
		}
	case status == http.StatusForbidden && s.calendar && !limit403(pe.Reason, pe.Message):
		wrap = append(wrap, provider.ErrCalendarUnavailable)
	case s.fullSync && (status == http.StatusGone || isFullSyncCode(pe.Reason)):
		wrap = append(wrap, provider.ErrFullSyncRequired)
	}
	if len(wrap) > 0 {
		pe.Err = errors.Join(append(wrap, err)...)
	}
	return pe
}

// limit403 reports whether a 403 is a limit rather than a refusal of
// access (ErrorAccessDenied and the like): Graph throttles with 429, but
// Outlook's quota of 1,000 subscriptions per mailbox is a 403 "with an
// explanatory message"
// (https://learn.microsoft.com/graph/outlook-change-notifications-overview),
// and some services send rate
// limits as 403. The words are matched in the code and the message.
func limit403(code, message string) bool {
	s := strings.ToLower(code + " " + message)
	for _, w := range []string{"throttl", "toomanyrequests", "too many requests", "quota", "limit"} {
		if strings.Contains(s, w) {
			return true
		}
	}
	return false
}

func isFullSyncCode(code string) bool {
	for _, c := range fullSyncCodes {
		if strings.EqualFold(code, c) {
			return true
		}
	}
	return false
}

// retryAfter parses a Retry-After value: seconds (fractions allowed, as in
// Graph's own "2.128") or an HTTP date. It returns 0 when absent or
// unparsable.
func retryAfter(v string, now time.Time) time.Duration {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0
	}
	if s, err := strconv.ParseFloat(v, 64); err == nil {
		if !(s > 0 && s <= 24*3600) { // also rejects NaN
			return 0
		}
		return time.Duration(s * float64(time.Second))
	}
	if t, err := http.ParseTime(v); err == nil && t.After(now) {
		return t.Sub(now)
	}
	return 0
}
