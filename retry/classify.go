package retry

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"syscall"
)

// CheckRetry reports whether the outcome of one attempt (a response, or a
// transport error) is transient, i.e. worth repeating. It may read
// resp.Body only if it restores it. [Transport] asks it only when resending
// is safe (see [Transport] on non-idempotent requests).
type CheckRetry func(req *http.Request, resp *http.Response, err error) bool

// DefaultCheckRetry is the [CheckRetry] a [Transport] uses by default: false
// once req's context is done, otherwise [Retriable].
func DefaultCheckRetry(req *http.Request, resp *http.Response, err error) bool {
	if req != nil && req.Context().Err() != nil {
		return false
	}
	return Retriable(resp, err)
}

// Retriable classifies the outcome of one HTTP attempt:
//
//   - retriable: 429; 5xx except 501 Not Implemented and 505 HTTP Version
//     Not Supported (which say what the server can never do); 403 whose
//     Google error envelope has reason rateLimitExceeded or
//     userRateLimitExceeded (Google sends rate limits as 403 or 429); and
//     transient transport errors: timeouts (net.Error Timeout), connection
//     reset, refused or aborted, broken pipe, unexpected EOF, temporary DNS
//     failures.
//   - permanent: everything else, notably 400, 401, 403 with any other
//     reason (quotaExceeded, forbiddenForNonOrganizer, ...), 404, 409, 410
//     (which the Engine handles on their own paths), context cancellation
//     and deadline, and TLS/certificate errors.
//
// For a 403 it reads the start of resp.Body (at most 64 KiB) and restores
// it: the caller still reads the whole, unchanged body.
func Retriable(resp *http.Response, err error) bool {
	if err != nil {
		return transientError(err)
	}
	if resp == nil {
		return false
	}
	if resp.StatusCode == http.StatusForbidden {
		return rateLimitReason(peekReason(resp))
	}
	return retriableStatus(resp.StatusCode)
}

func retriableStatus(code int) bool {
	switch {
	case code == http.StatusTooManyRequests:
		return true
	case code == http.StatusNotImplemented, code == http.StatusHTTPVersionNotSupported:
		return false
	default:
		return code >= 500 && code <= 599
	}
}

// rateLimitReason reports whether a Google error reason is a rate limit,
// which Google says to retry with exponential backoff
// (https://developers.google.com/workspace/calendar/api/guides/errors).
func rateLimitReason(reason string) bool {
	return reason == "rateLimitExceeded" || reason == "userRateLimitExceeded"
}

// transientError reports whether a transport error is worth a retry.
func transientError(err error) bool {
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return false
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return true
	}
	var dns *net.DNSError
	if errors.As(err, &dns) {
		return dns.IsTimeout || dns.IsTemporary
	}
	return errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.ECONNREFUSED) ||
		errors.Is(err, syscall.ECONNABORTED) || errors.Is(err, syscall.EPIPE) ||
		errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF)
}

// maxPeek bounds how much of an error body is read to find its reason.
const maxPeek = 64 << 10

// peekReason returns the first rate-limit reason of a Google error envelope
// in resp.Body, else the first reason, else "", leaving resp.Body readable
// from its start.
func peekReason(resp *http.Response) string {
	if resp.Body == nil || resp.Body == http.NoBody {
		return ""
	}
	orig := resp.Body
	buf, err := io.ReadAll(io.LimitReader(orig, maxPeek))
	rest := []io.Reader{bytes.NewReader(buf)}
	if err != nil {
		rest = append(rest, errReader{err}) // replay the read error too
	} else {
		rest = append(rest, orig)
	}
	resp.Body = peekedBody{Reader: io.MultiReader(rest...), Closer: orig}

	var env struct {
		Error struct {
			Errors []struct {
				Reason string `json:"reason"`
			} `json:"errors"`
		} `json:"error"`
	}
	if json.Unmarshal(buf, &env) != nil || len(env.Error.Errors) == 0 {
		return ""
	}
	for _, e := range env.Error.Errors {
		if rateLimitReason(e.Reason) {
			return e.Reason
		}
	}
	return env.Error.Errors[0].Reason
}

// peekedBody is a body whose first bytes were read ahead (by peekReason
// or replayable) and are put back in front of the rest; Close closes the
// original.
type peekedBody struct {
	io.Reader
	io.Closer
}

type errReader struct{ err error }

func (r errReader) Read([]byte) (int, error) { return 0, r.err }

// idempotent reports whether req may be sent twice with the effect of once:
// the RFC 9110 idempotent methods, or a request carrying an Idempotency-Key
// or X-Idempotency-Key header (the rule net/http's Transport uses).
func idempotent(req *http.Request) bool {
	switch req.Method {
	case "", http.MethodGet, http.MethodHead, http.MethodOptions, http.MethodTrace, http.MethodPut, http.MethodDelete:
		return true
	}
	if _, ok := req.Header["Idempotency-Key"]; ok {
		return true
	}
	_, ok := req.Header["X-Idempotency-Key"]
	return ok
}
