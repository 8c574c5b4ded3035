package retry

import (
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptrace"
	"sync/atomic"
	"time"
)

// maxDrain bounds how much of a discarded response body is read so that its
// connection can be reused; a longer body is closed unread.
const maxDrain = 64 << 10

// Transport is an http.RoundTripper that retries transient failures of the
// requests it carries, following [Policy]. Both provider clients put it
// under their OAuth transport (google.Config.HTTPClient), so the policy lives
// in one place. The zero Transport retries with the default Policy over
// http.DefaultTransport. It is safe for concurrent use.
//
// # What is retried
//
// An attempt is retried when [CheckRetry] (default [DefaultCheckRetry])
// calls it transient, resending is safe, the request body can be replayed,
// retries remain and the wait fits before the context's deadline. The wait
// is the response's Retry-After when present (capped at
// Policy.MaxRetryAfter), else the policy's jittered exponential backoff.
//
// Resending is safe for idempotent requests (GET, HEAD, OPTIONS, TRACE, PUT,
// DELETE, or any request with an Idempotency-Key or X-Idempotency-Key
// header). For the rest (POST, PATCH: Graph POST /subscriptions, Google
// events.watch and channels.stop) it is safe only when the server provably
// did not act: it answered 429, 503 or a rate-limit 403 (it refused the
// request), or the transport failed before the request was written (e.g.
// connection refused). A POST that got a 500, 502 or 504, or whose
// connection broke after it was written, is not retried, because the server
// may have done the work; the error goes to the caller.
//
// # Bodies
//
// Request bodies are replayed with req.GetBody (set by http.NewRequest for
// bytes.Buffer, bytes.Reader and strings.Reader bodies). A body without
// GetBody, as msgraph-sdk-go sends every POST and PATCH, is read into
// memory first when it is at most MaxReplayBody bytes, so that it can be
// replayed too; a longer one is sent once. A response that is retried is
// drained (up to 64 KiB) and closed before the wait.
//
// # Results
//
// RoundTrip returns the first response that is not retried, which includes
// the last response once retries run out (a 429 or 503 with its unread body
// and headers, so the provider client turns it into a *provider.Error
// with its Retry-After). When the last attempt failed without a response,
// the error is wrapped: "retry: N attempts: ...". When the context ends
// during a wait, RoundTrip returns ctx.Err() at once.
type Transport struct {
	// Base carries each attempt. Default: http.DefaultTransport. Put a
	// [LimitTransport] here so that every attempt is rate limited and a
	// wait between retries holds no concurrency slot.
	Base http.RoundTripper
	// Policy is the retry schedule. Default: the zero Policy (defaults).
	Policy Policy
	// CheckRetry classifies an attempt's outcome. Default:
	// DefaultCheckRetry.
	CheckRetry CheckRetry
	// Logger receives one record per retry and per give-up: method, host,
	// path (no query, headers or bodies), account, attempt, status or error,
	// wait. Default: silent.
	Logger *slog.Logger
	// MaxReplayBody is the longest request body without GetBody that is
	// buffered so that the request can be retried. Default:
	// DefaultMaxReplayBody (1 MiB); negative: never buffer (such requests
	// are sent once).
	MaxReplayBody int64
	// OnRetry, if set, is called before each wait with the attempt that
	// failed (1 for the first) and the wait chosen. resp (nil after a
	// transport error) is closed when OnRetry returns; read its headers
	// only. For metrics.
	OnRetry func(req *http.Request, resp *http.Response, err error, attempt int, wait time.Duration)
}

func (t Transport) base() http.RoundTripper {
	if t.Base != nil {
		return t.Base
	}
	return http.DefaultTransport
}

// RoundTrip implements http.RoundTripper.
func (t Transport) RoundTrip(req *http.Request) (*http.Response, error) {
	p := t.Policy.WithDefaults()
	if err := p.Validate(); err != nil {
		closeBody(req)
		return nil, err
	}
	check := t.CheckRetry
	if check == nil {
		check = DefaultCheckRetry
	}
	limit := t.MaxReplayBody
	if limit == 0 {
		limit = DefaultMaxReplayBody
	}
	req, err := replayable(req, limit)
	if err != nil {
		return nil, err
	}
	ctx := req.Context()
	canReplay := req.Body == nil || req.Body == http.NoBody || req.GetBody != nil
	idem := idempotent(req)
	var schedule BackOff // made on the first failure

	for attempt := 1; ; attempt++ {
		r := req
		if attempt > 1 {
			body, err := replayBody(req)
			if err != nil {
				return nil, fmt.Errorf("retry: replay request body: %w", err)
			}
			r = shallowCopy(req, body)
		}
		var written *atomic.Bool // only non-idempotent requests pay for the trace
		if !idem {
			// Learn whether the request reached the wire, which decides
			// whether a failed POST may be resent.
			written = new(atomic.Bool)
			r = r.WithContext(httptrace.WithClientTrace(r.Context(), &httptrace.ClientTrace{
				WroteRequest: func(httptrace.WroteRequestInfo) { written.Store(true) },
			}))
		}
		resp, err := t.base().RoundTrip(r)
		if err == nil && resp.StatusCode < 400 {
			return resp, nil // the fast path: nothing to classify
		}
		if !canReplay || p.MaxRetries == NoRetries {
			return resp, err
		}
		transient := check(r, resp, err)
		safe := idem
		if !safe {
			if err != nil {
				safe = !written.Load()
			} else {
				switch resp.StatusCode {
				case http.StatusTooManyRequests, http.StatusServiceUnavailable, http.StatusForbidden:
					safe = true // refused: only a rate-limit 403 is transient
				}
			}
		}
		if !transient || !safe {
			return resp, err
		}
		if schedule == nil {
			schedule = p.NewBackOff()
		}
		wait := schedule.NextBackOff()
		if wait == Stop {
			t.log(r, slog.LevelWarn, "retry: giving up", attempt, resp, err, 0)
			if err != nil {
				return nil, fmt.Errorf("retry: %d attempts: %w", attempt, err)
			}
			return resp, nil
		}
		if resp != nil {
			if ra, ok := ParseRetryAfter(resp.Header.Get("Retry-After"), p.Clock.Now()); ok {
				wait = min(ra, p.MaxRetryAfter)
			}
		}
		if dl, ok := ctx.Deadline(); ok && wait > dl.Sub(p.Clock.Now()) {
			// The next attempt could not start in time: hand back what we
			// have rather than a deadline error after a pointless wait.
			t.log(r, slog.LevelWarn, "retry: giving up before the deadline", attempt, resp, err, wait)
			if err != nil {
				return nil, fmt.Errorf("retry: %d attempts: %w", attempt, err)
			}
			return resp, nil
		}
		t.log(r, slog.LevelInfo, "retry: retrying", attempt, resp, err, wait)
		if t.OnRetry != nil {
			t.OnRetry(r, resp, err, attempt, wait)
		}
		if resp != nil {
			discard(resp)
		}
		if err := p.Clock.Sleep(ctx, wait); err != nil {
			return nil, err
		}
	}
}

func (t Transport) log(r *http.Request, level slog.Level, msg string, attempt int, resp *http.Response, err error, wait time.Duration) {
	if t.Logger == nil || !t.Logger.Enabled(r.Context(), level) {
		return
	}
	attrs := make([]slog.Attr, 0, 7)
	attrs = append(attrs, slog.String("method", r.Method), slog.String("host", r.URL.Host), slog.String("path", r.URL.Path))
	if id, ok := Account(r.Context()); ok {
		attrs = append(attrs, slog.String("account", id))
	}
	attrs = append(attrs, slog.Int("attempt", attempt))
	if resp != nil {
		attrs = append(attrs, slog.Int("status", resp.StatusCode))
	}
	if err != nil {
		attrs = append(attrs, slog.String("error", err.Error()))
	}
	if wait > 0 {
		attrs = append(attrs, slog.Duration("wait", wait))
	}
	t.Logger.LogAttrs(r.Context(), level, msg, attrs...)
}

// shallowCopy returns a copy of req with another body; headers are shared,
// which is fine because no layer below may modify them.
func shallowCopy(req *http.Request, body io.ReadCloser) *http.Request {
	r := new(http.Request)
	*r = *req
	r.Body = body
	return r
}

// replayBody returns a fresh copy of req's body.
func replayBody(req *http.Request) (io.ReadCloser, error) {
	if req.GetBody == nil {
		return req.Body, nil // nil or http.NoBody: nothing to replay
	}
	return req.GetBody()
}

func closeBody(req *http.Request) {
	if req.Body != nil {
		_ = req.Body.Close()
	}
}

// discard drains (a bounded amount of) resp.Body so that the connection can
// be reused, and closes it.
func discard(resp *http.Response) {
	if resp.Body == nil {
		return
	}
	_, _ = io.CopyN(io.Discard, resp.Body, maxDrain)
	_ = resp.Body.Close()
}
