package googletest

import (
	"encoding/json"
	"errors"
	"net/http"
	"strconv"

	"google.golang.org/api/googleapi"
)

// ErrClosed is returned by [Server.WaitIdle] when the server has been closed.
var ErrClosed = errors.New("googletest: server closed")

// ErrCalendarNotFound is returned by the Go-side helpers for a calendar id
// that was never added with [Server.AddCalendar].
var ErrCalendarNotFound = errors.New("googletest: calendar not found")

// apiError is one error answer in Google's envelope
// (https://developers.google.com/workspace/calendar/api/guides/errors):
//
//	{"error":{"errors":[{domain, reason, message, locationType?, location?}],"code":N,"message":"..."}}
type apiError struct {
	code         int
	domain       string
	reason       string
	message      string
	locationType string
	location     string
	retryAfter   string
}

type envelopeItem struct {
	Domain       string `json:"domain"`
	Reason       string `json:"reason"`
	Message      string `json:"message"`
	LocationType string `json:"locationType,omitempty"`
	Location     string `json:"location,omitempty"`
}

type envelopeBody struct {
	Errors  []envelopeItem `json:"errors"`
	Code    int            `json:"code"`
	Message string         `json:"message"`
}

type envelope struct {
	Error envelopeBody `json:"error"`
}

func (e *apiError) body() []byte {
	b, _ := json.Marshal(envelope{Error: envelopeBody{
		Errors: []envelopeItem{{
			Domain:       e.domain,
			Reason:       e.reason,
			Message:      e.message,
			LocationType: e.locationType,
			Location:     e.location,
		}},
		Code:    e.code,
		Message: e.message,
	}})
	return b
}

// knownReasons maps the reasons of Google's error table (the error guide)
// to their domain, message and location.
var knownReasons = map[string]apiError{
	"timeRangeEmpty":           {domain: "calendar", message: "The specified time range is empty.", locationType: "parameter", location: "timeMax"},
	"authError":                {domain: "global", message: "Invalid Credentials", locationType: "header", location: "Authorization"},
	"userRateLimitExceeded":    {domain: "usageLimits", message: "User Rate Limit Exceeded"},
	"rateLimitExceeded":        {domain: "usageLimits", message: "Rate Limit Exceeded"},
	"quotaExceeded":            {domain: "usageLimits", message: "Calendar usage limits exceeded."},
	"forbiddenForNonOrganizer": {domain: "calendar", message: "Shared properties can only be changed by the organizer of the event."},
	// Not in the current table: dailyLimitExceeded is in the older errors
	// page (developers.google.cn/calendar/v3/errors, "403: Daily Limit
	// Exceeded"); forbidden and requiredAccessLevel are third-party
	// (fullcalendar/fullcalendar#6673, google/google-api-javascript-client#521).
	"dailyLimitExceeded":   {domain: "usageLimits", message: "Daily Limit Exceeded"},
	"forbidden":            {domain: "global", message: "Forbidden"},
	"requiredAccessLevel":  {domain: "calendar", message: "You need to have reader access to this calendar."},
	"notFound":             {domain: "global", message: "Not Found"},
	"duplicate":            {domain: "global", message: "The requested identifier already exists."},
	"conflict":             {domain: "global", message: "Conflict"},
	"fullSyncRequired":     {domain: "calendar", message: "Sync token is no longer valid, a full sync is required.", locationType: "parameter", location: "syncToken"},
	"updatedMinTooLongAgo": {domain: "calendar", message: "The requested minimum modification time lies too far in the past.", locationType: "parameter", location: "updatedMin"},
	"deleted":              {domain: "global", message: "Resource has been deleted"},
	"conditionNotMet":      {domain: "global", message: "Precondition Failed", locationType: "header", location: "If-Match"},
	"backendError":         {domain: "global", message: "Backend Error"},
	"parseError":           {domain: "global", message: "Parse Error"},
	// A token whose scopes do not allow the call (live answers: status
	// PERMISSION_DENIED, errors[0].message "Insufficient Permission").
	"insufficientPermissions": {domain: "global", message: "Request had insufficient authentication scopes."},
}

// defaultReason is the reason used by a fault that names only a status.
func defaultReason(status int) string {
	switch status {
	case http.StatusUnauthorized:
		return "authError"
	case http.StatusForbidden, http.StatusTooManyRequests:
		return "rateLimitExceeded"
	case http.StatusNotFound:
		return "notFound"
	case http.StatusConflict:
		return "conflict"
	case http.StatusGone:
		return "fullSyncRequired"
	case http.StatusPreconditionFailed:
		return "conditionNotMet"
	case http.StatusBadRequest:
		return "badRequest"
	}
	return "backendError"
}

// newAPIError builds the envelope of a known reason; message, when not
// empty, replaces the table's message.
func newAPIError(code int, reason, message string) *apiError {
	e := knownReasons[reason]
	e.code = code
	e.reason = reason
	if e.domain == "" {
		e.domain = "global"
	}
	if message != "" {
		e.message = message
	}
	if e.message == "" {
		e.message = http.StatusText(code)
	}
	return &e
}

// googleapiError converts e into the error the official client returns.
func (e *apiError) googleapiError() *googleapi.Error {
	return &googleapi.Error{
		Code:    e.code,
		Message: e.message,
		Body:    string(e.body()),
		Errors: []googleapi.ErrorItem{{
			Reason:  e.reason,
			Message: e.message,
		}},
	}
}

func errNotFound() *apiError { return newAPIError(http.StatusNotFound, "notFound", "") }

func errFullSync() *apiError { return newAPIError(http.StatusGone, "fullSyncRequired", "") }

// errInvalidSyncToken is Google's 400 for a sync token it rejects
// ("Invalid sync token value.", reason invalid; the
// domain and location are the emulator's choice).
func errInvalidSyncToken() *apiError { return errInvalid("syncToken", "Invalid sync token value.") }

func errParse() *apiError { return newAPIError(http.StatusBadRequest, "parseError", "") }

// errInvalid is a 400 with reason "invalid" pointing at a query parameter
// (or, with locationType "", at the request body).
func errInvalid(location, message string) *apiError {
	e := &apiError{code: http.StatusBadRequest, domain: "global", reason: "invalid", message: message, location: location}
	if location != "" {
		e.locationType = "parameter"
	}
	return e
}

func errRequired(message string) *apiError {
	return &apiError{code: http.StatusBadRequest, domain: "global", reason: "required", message: message}
}

func writeError(w http.ResponseWriter, e *apiError) {
	if e.retryAfter != "" {
		w.Header().Set("Retry-After", e.retryAfter)
	}
	writeRaw(w, e.code, e.body())
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		writeError(w, newAPIError(http.StatusInternalServerError, "backendError", ""))
		return
	}
	writeRaw(w, status, b)
}

func writeRaw(w http.ResponseWriter, status int, b []byte) {
	h := w.Header()
	h.Set("Content-Type", "application/json; charset=UTF-8")
	h.Set("Cache-Control", "no-cache, no-store, max-age=0, must-revalidate")
	h.Set("Content-Length", strconv.Itoa(len(b)))
	w.WriteHeader(status)
	_, _ = w.Write(b)
}
