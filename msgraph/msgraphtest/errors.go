package msgraphtest

import (
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
)

// ErrNotFound is returned by the Go-side methods of [Server] for an
// unknown user, calendar, event or subscription.
var ErrNotFound = errors.New("msgraphtest: not found")

// apiError is an error answered with Graph's envelope
// (https://learn.microsoft.com/en-us/graph/errors):
//
//	{"error":{"code":"...","message":"...","innerError":{"date":"...","request-id":"...","client-request-id":"..."}}}
type apiError struct {
	status     int
	code       string
	message    string
	retryAfter string
	location   string
}

func (e *apiError) Error() string { return strconv.Itoa(e.status) + " " + e.code + ": " + e.message }

func newAPIError(status int, code, message string) *apiError {
	if code == "" {
		code = defaultCode(status)
	}
	if message == "" {
		message = defaultMessage(code, status)
	}
	return &apiError{status: status, code: code, message: message}
}

// defaultCode picks Graph's usual code for a status, as Graph's error
// reference lists them.
func defaultCode(status int) string {
	switch status {
	case http.StatusBadRequest:
		return "BadRequest"
	case http.StatusUnauthorized:
		return "InvalidAuthenticationToken"
	case http.StatusForbidden:
		return "ErrorAccessDenied"
	case http.StatusNotFound:
		return "ResourceNotFound"
	case http.StatusGone:
		return "SyncStateNotFound"
	case http.StatusTooManyRequests:
		return "TooManyRequests"
	case http.StatusServiceUnavailable:
		return "serviceNotAvailable"
	case http.StatusGatewayTimeout:
		return "gatewayTimeout"
	}
	if status >= 500 {
		return "generalException"
	}
	return "BadRequest"
}

func defaultMessage(code string, status int) string {
	switch code {
	case "TooManyRequests":
		return "Please retry again later."
	case "InvalidAuthenticationToken":
		return "Access token has expired or is not yet valid."
	}
	if t := http.StatusText(status); t != "" {
		return t
	}
	return "Error"
}

// writeError answers e with Graph's envelope, request-id and
// client-request-id headers, and Retry-After / Location when set.
func (s *Server) writeError(w http.ResponseWriter, r *http.Request, e *apiError) {
	reqID := s.newGUID()
	clientReqID := r.Header.Get("client-request-id")
	if clientReqID == "" {
		clientReqID = reqID
	}
	date := s.cfg.Now().UTC().Format("2006-01-02T15:04:05")
	inner := map[string]any{
		"date":              date,
		"request-id":        reqID,
		"client-request-id": clientReqID,
	}
	if e.status == http.StatusTooManyRequests {
		// Microsoft's sample 429 repeats code, status and a message in
		// innerError (https://learn.microsoft.com/en-us/graph/throttling).
		inner["code"] = "429"
		inner["status"] = "429"
		inner["message"] = "Please retry after"
	}
	body, _ := json.Marshal(map[string]any{"error": map[string]any{
		"code":       e.code,
		"message":    e.message,
		"innerError": inner,
	}})
	if sw, ok := w.(*statusWriter); ok {
		sw.code = e.code
	}
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("request-id", reqID)
	h.Set("client-request-id", clientReqID)
	if e.retryAfter != "" {
		h.Set("Retry-After", e.retryAfter)
	}
	if e.location != "" {
		h.Set("Location", e.location)
	}
	w.WriteHeader(e.status)
	_, _ = w.Write(body)
}

func isNotFound(err error) bool { return errors.Is(err, ErrNotFound) }
