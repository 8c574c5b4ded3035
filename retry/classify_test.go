package retry_test

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"strings"
	"syscall"
	"testing"

	"github.com/calsync/calsync/retry"
)

func response(status int, body string) *http.Response {
	return &http.Response{StatusCode: status, Header: http.Header{}, Body: io.NopCloser(strings.NewReader(body))}
}

func TestRetriableStatus(t *testing.T) {
	for status, want := range map[int]bool{
		200: false, 204: false, 304: false,
		400: false, 401: false, 403: false, 404: false, 409: false, 410: false, 412: false,
		429: true,
		500: true, 502: true, 503: true, 504: true, 509: true,
		501: false, 505: false,
	} {
		if got := retry.Retriable(response(status, ""), nil); got != want {
			t.Errorf("Retriable(%d) = %v, want %v", status, got, want)
		}
	}
	if retry.Retriable(nil, nil) {
		t.Error("Retriable(nil, nil) = true")
	}
}

// Google rate-limit bodies, verbatim from Google's "Handle API errors"
// guide, and other 403s.
func TestRetriable403Body(t *testing.T) {
	for _, tc := range []struct {
		body string
		want bool
	}{
		{`{"error":{"errors":[{"domain":"usageLimits","reason":"rateLimitExceeded","message":"Rate Limit Exceeded"}],"code":403,"message":"Rate Limit Exceeded"}}`, true},
		{`{"error":{"errors":[{"domain":"usageLimits","reason":"userRateLimitExceeded","message":"User Rate Limit Exceeded"}],"code":403,"message":"User Rate Limit Exceeded"}}`, true},
		{`{"error":{"errors":[{"domain":"calendar","reason":"forbiddenForNonOrganizer","message":"Shared properties can only be changed by the organizer of the event."}],"code":403,"message":"x"}}`, false},
		{`{"error":{"errors":[{"domain":"usageLimits","reason":"quotaExceeded","message":"Calendar usage limits exceeded."}],"code":403,"message":"x"}}`, false},
		{`{"error":{"code":"ErrorAccessDenied","message":"Access is denied."}}`, false}, // Graph's envelope
		{`forbidden`, false},
		{``, false},
	} {
		resp := response(http.StatusForbidden, tc.body)
		closed := false
		resp.Body = struct {
			io.Reader
			io.Closer
		}{resp.Body, closerFunc(func() error { closed = true; return nil })}
		if got := retry.Retriable(resp, nil); got != tc.want {
			t.Errorf("Retriable(403 %s) = %v, want %v", tc.body, got, tc.want)
		}
		b, err := io.ReadAll(resp.Body)
		if err != nil || string(b) != tc.body {
			t.Errorf("body after Retriable = %q, %v; want it unchanged", b, err)
		}
		if resp.Body.Close(); !closed {
			t.Error("closing the restored body did not close the original")
		}
	}
}

type closerFunc func() error

func (f closerFunc) Close() error { return f() }

type timeoutError struct{}

func (timeoutError) Error() string   { return "i/o timeout" }
func (timeoutError) Timeout() bool   { return true }
func (timeoutError) Temporary() bool { return true }

func TestRetriableErrors(t *testing.T) {
	reset := &net.OpError{Op: "read", Net: "tcp", Err: os.NewSyscallError("read", syscall.ECONNRESET)}
	for _, tc := range []struct {
		name string
		err  error
		want bool
	}{
		{"connection reset", reset, true},
		{"reset in url.Error", &url.Error{Op: "Get", URL: "https://x", Err: reset}, true},
		{"connection refused", &net.OpError{Op: "dial", Net: "tcp", Err: os.NewSyscallError("connect", syscall.ECONNREFUSED)}, true},
		{"broken pipe", fmt.Errorf("write: %w", syscall.EPIPE), true},
		{"unexpected EOF", fmt.Errorf("reading response: %w", io.ErrUnexpectedEOF), true},
		{"EOF", io.EOF, true},
		{"timeout", &url.Error{Op: "Get", URL: "https://x", Err: timeoutError{}}, true},
		{"dns timeout", &net.DNSError{Err: "timeout", Name: "x", IsTimeout: true}, true},
		{"dns not found", &net.DNSError{Err: "no such host", Name: "x", IsNotFound: true}, false},
		{"canceled", context.Canceled, false},
		{"deadline", &url.Error{Op: "Get", URL: "https://x", Err: context.DeadlineExceeded}, false},
		{"certificate", &url.Error{Op: "Get", URL: "https://x", Err: x509.UnknownAuthorityError{}}, false},
		{"other", errors.New("unsupported protocol scheme"), false},
	} {
		if got := retry.Retriable(nil, tc.err); got != tc.want {
			t.Errorf("%s: Retriable(%v) = %v, want %v", tc.name, tc.err, got, tc.want)
		}
	}
}
