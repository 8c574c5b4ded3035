package webhook

import (
	"context"
	"errors"
	"io"
	"net/http"
	"os"
	"time"
	"unicode/utf8"

	"github.com/calsync/calsync"
)

// DefaultMaxBodyBytes is the default cap on a notification body. Google
// sends no body at all, so a few KiB leave room for proxies that add one
// and nothing for abuse.
const DefaultMaxBodyBytes int64 = 4 << 10

// DefaultRetryAfter is the value of the Retry-After header sent with a 503
// answer, in seconds. Google does not document honouring it (it retries
// 500, 502, 503 and 504 with its own exponential backoff), so it is only a
// hint for proxies and other senders.
const DefaultRetryAfter = "1"

// MaxIDLength caps, in bytes, each id and secret a notification presents
// before it is authenticated: Google's X-Goog-Channel-Id,
// X-Goog-Channel-Token and X-Goog-Resource-Id, Graph's subscriptionId and
// clientState. A longer one is answered 400 before it is looked up or
// logged. The documented maxima are below it: a channel id is at most 64
// characters and a channel token at most 256
// (https://developers.google.com/workspace/calendar/api/guides/push); a
// clientState at most 128 characters when the subscription is created and
// 255 in a notification, and a subscriptionId is a GUID
// (https://learn.microsoft.com/en-us/graph/api/resources/subscription,
// .../changenotification).
const MaxIDLength = 256

// DefaultReadTimeout is the default time a handler allows for reading a
// request body. Google sends none and a Graph batch of a thousand
// notifications is well under a megabyte, so a sender that has not
// delivered its body by then never will: it is answered 408 instead of
// holding the handler (and a connection) until it hangs up.
const DefaultReadTimeout = 10 * time.Second

// Sink is where the handlers look up subscriptions and queue authenticated
// notifications. [*calsync.Engine] implements it.
//
// A notification is authenticated against the looked-up subscription's
// SecretHash ([calsync.Subscription.VerifySecret]); its Secret, which
// Stores do not keep, is not used.
//
// Implementations must be safe for concurrent use. Subscription returns an
// error wrapping [calsync.ErrNotFound] for an unknown id; any other error is
// taken to be temporary (the handler answers 503 so that the provider
// redelivers). Enqueue must not block for long: the provider waits for the
// answer. An Enqueue error wrapping [calsync.ErrAlreadyQueued] counts as
// queued (a calsync.Queue used as the Sink folds a burst into one waiting
// sync).
type Sink interface {
	Subscription(ctx context.Context, id string) (calsync.Subscription, error)
	Enqueue(ctx context.Context, n calsync.Notification) error
}

var _ Sink = (*calsync.Engine)(nil)

// enqueue hands n to sink. calsync.ErrAlreadyQueued (a Queue used as the
// Sink, or wrapped by one, folded n into a sync of the calendar that is
// still waiting) is success: the provider must not redeliver.
func enqueue(ctx context.Context, sink Sink, n calsync.Notification) error {
	if err := sink.Enqueue(ctx, n); err != nil && !errors.Is(err, calsync.ErrAlreadyQueued) {
		return err
	}
	return nil
}

// readBody reads r's body through http.MaxBytesReader and returns it, or,
// unless keep is set, throws it away and returns nil. It answers the
// request itself and returns false if the body is larger than limit (413),
// has not arrived timeout after the handler started reading it (408), or
// cannot be read (400). A server request without a body (Content-Length: 0,
// as Google sends) has http.NoBody: nothing to read, no deadline to set.
//
// The deadline is set on the connection (http.ResponseController), so it
// also ends a read blocked inside the server, and measured with the real
// clock, not the handler's Now: it is about the network. It need not be
// cleared: net/http clears it when the body has been read to its end
// (before its background read, which a passed deadline would fail), and
// the connection is not reused after a body that was not.
func readBody(w http.ResponseWriter, r *http.Request, limit int64, timeout time.Duration, keep bool) ([]byte, bool) {
	if r.Body == nil || r.Body == http.NoBody {
		return nil, true
	}
	rc := http.NewResponseController(w)
	// Without support (an http.ResponseWriter that cannot reach its
	// connection) only the http.Server's own timeouts bound the read.
	_ = rc.SetReadDeadline(time.Now().Add(timeout))
	body := http.MaxBytesReader(w, r.Body, limit)
	defer body.Close()
	var b []byte
	var err error
	if keep {
		b, err = readAll(body, r.ContentLength)
	} else {
		_, err = io.Copy(io.Discard, body)
	}
	if err != nil {
		if _, ok := errors.AsType[*http.MaxBytesError](err); ok {
			plain(w, http.StatusRequestEntityTooLarge, "webhook: request body too large")
			return nil, false
		}
		if errors.Is(err, os.ErrDeadlineExceeded) {
			plain(w, http.StatusRequestTimeout, "webhook: request body not received in time")
			return nil, false
		}
		plain(w, http.StatusBadRequest, "webhook: cannot read request body")
		return nil, false
	}
	return b, true
}

// maxPresize caps the buffer readAll allocates up front from a declared
// Content-Length, so that a sender that announces a large body and sends
// nothing costs no more memory than one that sends it.
const maxPresize = 16 << 10

// readAll is io.ReadAll with its first buffer sized from the request's
// Content-Length (up to maxPresize): a Graph batch, a few hundred bytes to
// a few KiB, is then read in one allocation instead of io.ReadAll's 512
// bytes and a copy on every growth. The one spare byte lets the final
// Read see EOF without growing.
func readAll(r io.Reader, contentLength int64) ([]byte, error) {
	size := 512
	if contentLength > 0 && contentLength < maxPresize {
		size = int(contentLength) + 1
	}
	b := make([]byte, 0, size)
	for {
		n, err := r.Read(b[len(b):cap(b)])
		b = b[:len(b)+n]
		if err != nil {
			if err == io.EOF {
				err = nil
			}
			return b, err
		}
		if len(b) == cap(b) {
			b = append(b, 0)[:len(b)]
		}
	}
}

// maxLoggedIDLength is how much of an unauthenticated id (one that
// matched no subscription, so the sender chose it) a log record holds.
const maxLoggedIDLength = 64

// clip returns id for a log record: whole if it is at most
// maxLoggedIDLength bytes, else its first bytes up to a rune boundary and
// "…", so that a sender cannot fill the logs.
func clip(id string) string {
	if len(id) <= maxLoggedIDLength {
		return id
	}
	i := maxLoggedIDLength
	for i > 0 && !utf8.RuneStart(id[i]) {
		i--
	}
	return id[:i] + "…"
}

// header returns the first value of the header whose canonical name is key,
// like http.Header.Get without re-canonicalising a constant key on every
// request. The server canonicalises the names it receives (x-goog-channel-id
// is stored as X-Goog-Channel-Id), so header names match whatever their case
// on the wire.
func header(h http.Header, key string) string {
	if v := h[key]; len(v) > 0 {
		return v[0]
	}
	return ""
}

// methodNotAllowed answers 405 with an Allow header.
func methodNotAllowed(w http.ResponseWriter, allow string) {
	w.Header().Set("Allow", allow)
	plain(w, http.StatusMethodNotAllowed, "webhook: method not allowed")
}

// unavailable answers 503 with a Retry-After hint: the notification was
// authentic (or could not be checked) but cannot be taken now, and the
// provider should deliver it again.
func unavailable(w http.ResponseWriter, msg string) {
	w.Header().Set("Retry-After", DefaultRetryAfter)
	plain(w, http.StatusServiceUnavailable, msg)
}

// plain answers with a short text message. Messages are constants or name
// headers; they never echo a request's values, least of all a secret.
func plain(w http.ResponseWriter, code int, msg string) {
	http.Error(w, msg, code)
}

// acknowledge acknowledges a notification with an empty 200.
func acknowledge(w http.ResponseWriter) {
	w.WriteHeader(http.StatusOK)
}
