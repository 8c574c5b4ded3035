package webhook

import (
	"errors"
	"log/slog"
	"net/http"
	"strconv"
	"time"

	"github.com/calsync/calsync"
)

// googleProvider is the provider name a subscription must carry for the
// [Google] handler to accept its notifications. It must equal google.Name;
// webhook does not import package google for one constant (google's e2e
// tests, which mount this handler, prove they match).
const googleProvider = "google"

// The headers of a Google Calendar push notification, in canonical form
// (see header). Google spells them with mixed case and proxies often
// lower-case them; the server canonicalises them all to these.
const (
	headerChannelID     = "X-Goog-Channel-Id"
	headerChannelToken  = "X-Goog-Channel-Token"
	headerResourceID    = "X-Goog-Resource-Id"
	headerResourceState = "X-Goog-Resource-State"
	headerMessageNumber = "X-Goog-Message-Number"
)

// GoogleConfig configures a [Google] handler. Sink is required.
type GoogleConfig struct {
	// Sink looks up subscriptions and queues notifications. Usually the
	// *calsync.Engine. Required.
	Sink Sink
	// MaxBodyBytes caps the request body; a larger one is answered 413.
	// Google sends no body. Default: DefaultMaxBodyBytes. Negative is an
	// error.
	MaxBodyBytes int64
	// ReadTimeout bounds the time the handler spends reading a request
	// body, from when it starts reading: a body shorter than its
	// Content-Length, or one that trickles in, is answered 408 Request
	// Timeout when it expires instead of holding the handler until the
	// sender hangs up. The handler sets it with
	// http.ResponseController.SetReadDeadline (under a server or
	// ResponseWriter that cannot, only the http.Server's own timeouts
	// apply), so for the body it takes the place of the http.Server's
	// ReadTimeout: keep it no longer than that. Default:
	// DefaultReadTimeout. Negative is an error.
	ReadTimeout time.Duration
	// Now returns the current time, used for expiry and Notification.Received.
	// Default: time.Now.
	Now func() time.Time
	// Logger receives one record per rejected or queued notification, with
	// ids only (never the channel token or the subscription's secret).
	// Default: silent.
	Logger *slog.Logger
}

// WithDefaults returns a copy of c with zero fields set to their defaults.
func (c GoogleConfig) WithDefaults() GoogleConfig {
	if c.MaxBodyBytes == 0 {
		c.MaxBodyBytes = DefaultMaxBodyBytes
	}
	if c.ReadTimeout == 0 {
		c.ReadTimeout = DefaultReadTimeout
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	return c
}

func (c GoogleConfig) validate() error {
	if c.Sink == nil {
		return errors.New("webhook: GoogleConfig.Sink is required")
	}
	if c.MaxBodyBytes < 0 {
		return errors.New("webhook: GoogleConfig.MaxBodyBytes is negative")
	}
	if c.ReadTimeout < 0 {
		return errors.New("webhook: GoogleConfig.ReadTimeout is negative")
	}
	return nil
}

// Google is the http.Handler for Google Calendar push notifications (the
// channel address given to events.watch). Create it with [NewGoogle]; it is
// safe for concurrent use.
//
// It checks, in this order, and answers:
//
//   - a method other than POST: 405 with Allow: POST;
//   - a body larger than MaxBodyBytes: 413;
//   - a body that has not arrived ReadTimeout after the handler started
//     reading it (shorter than its Content-Length, or trickling): 408;
//   - a missing or invalid X-Goog-Channel-Id, X-Goog-Resource-State (sync,
//     exists or not_exists), X-Goog-Message-Number (a positive integer) or
//     X-Goog-Resource-Id, or a channel id, resource id or channel token
//     longer than MaxIDLength: 400, before any lookup;
//   - an unknown channel, or one whose subscription is not Google's: 404;
//   - a failed lookup (the Store is down): 503, so that Google redelivers;
//   - an X-Goog-Channel-Token that does not match the subscription's secret
//     (its SHA-256 compared in constant time with the stored SecretHash:
//     calsync.Subscription.VerifySecret) or is missing: 403;
//   - an X-Goog-Resource-Id other than the subscription's (when known): 403;
//   - an expired subscription: 410;
//   - a sync message: 200, nothing queued;
//   - exists or not_exists: a [calsync.Changed] notification is queued and
//     the answer is 200; if the Sink cannot queue it, 503.
//
// The handler never calls Google. Error answers are short text/plain
// messages that never echo the token.
type Google struct {
	sink        Sink
	limit       int64
	readTimeout time.Duration
	now         func() time.Time
	log         *slog.Logger
}

var _ http.Handler = (*Google)(nil)

// NewGoogle returns the handler for cfg, or an error if cfg is invalid.
func NewGoogle(cfg GoogleConfig) (*Google, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	cfg = cfg.WithDefaults()
	return &Google{sink: cfg.Sink, limit: cfg.MaxBodyBytes, readTimeout: cfg.ReadTimeout, now: cfg.Now, log: cfg.Logger}, nil
}

// ServeHTTP handles one push notification.
func (g *Google) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		methodNotAllowed(w, http.MethodPost)
		return
	}
	if _, ok := readBody(w, r, g.limit, g.readTimeout, false); !ok {
		return
	}

	h := r.Header
	channelID := header(h, headerChannelID)
	switch {
	case channelID == "":
		plain(w, http.StatusBadRequest, "webhook: missing X-Goog-Channel-Id header")
		return
	case len(channelID) > MaxIDLength:
		plain(w, http.StatusBadRequest, "webhook: X-Goog-Channel-Id header too long")
		return
	}
	state := header(h, headerResourceState)
	switch state {
	case "sync", "exists", "not_exists":
	case "":
		plain(w, http.StatusBadRequest, "webhook: missing X-Goog-Resource-State header")
		return
	default:
		plain(w, http.StatusBadRequest, "webhook: X-Goog-Resource-State must be sync, exists or not_exists")
		return
	}
	msgNum, ok := messageNumber(header(h, headerMessageNumber))
	if !ok {
		plain(w, http.StatusBadRequest, "webhook: X-Goog-Message-Number must be a positive integer")
		return
	}
	resourceID := header(h, headerResourceID)
	switch {
	case resourceID == "":
		plain(w, http.StatusBadRequest, "webhook: missing X-Goog-Resource-Id header")
		return
	case len(resourceID) > MaxIDLength:
		plain(w, http.StatusBadRequest, "webhook: X-Goog-Resource-Id header too long")
		return
	}
	token := header(h, headerChannelToken)
	if len(token) > MaxIDLength {
		plain(w, http.StatusBadRequest, "webhook: X-Goog-Channel-Token header too long")
		return
	}

	ctx := r.Context()
	sub, err := g.sink.Subscription(ctx, channelID)
	switch {
	case errors.Is(err, calsync.ErrNotFound):
		g.log.InfoContext(ctx, "webhook: google notification for unknown channel", "channel", clip(channelID))
		plain(w, http.StatusNotFound, "webhook: unknown channel")
		return
	case err != nil:
		g.log.WarnContext(ctx, "webhook: google channel lookup failed", "channel", clip(channelID), "err", err)
		unavailable(w, "webhook: cannot look up channel, retry later")
		return
	case sub.Provider != googleProvider:
		// Answered like an unknown channel: a Graph subscription id must
		// not be usable as a Google channel id.
		g.log.InfoContext(ctx, "webhook: google notification for a non-google subscription", "channel", clip(channelID), "provider", sub.Provider)
		plain(w, http.StatusNotFound, "webhook: unknown channel")
		return
	}
	if !sub.VerifySecret(token) {
		g.log.WarnContext(ctx, "webhook: google notification with a wrong channel token", "channel", channelID, "calendar", sub.CalendarID)
		plain(w, http.StatusForbidden, "webhook: channel token does not match")
		return
	}
	if sub.ResourceID != "" && resourceID != sub.ResourceID {
		g.log.WarnContext(ctx, "webhook: google notification for another resource", "channel", channelID, "calendar", sub.CalendarID)
		plain(w, http.StatusForbidden, "webhook: resource id does not match the channel")
		return
	}
	now := g.now()
	if sub.Expired(now) {
		g.log.InfoContext(ctx, "webhook: google notification on an expired channel", "channel", channelID, "calendar", sub.CalendarID)
		plain(w, http.StatusGone, "webhook: channel expired")
		return
	}
	if state == "sync" {
		// The channel's first message, sent when it is created; it says
		// nothing about the calendar.
		acknowledge(w)
		return
	}

	n := calsync.Notification{
		Kind:           calsync.Changed,
		Provider:       googleProvider,
		SubscriptionID: channelID,
		CalendarID:     sub.CalendarID,
		MessageID:      channelID + "/" + msgNum,
		Received:       now,
	}
	if err := enqueue(ctx, g.sink, n); err != nil {
		g.log.WarnContext(ctx, "webhook: cannot queue google notification", "channel", channelID, "calendar", sub.CalendarID, "message", n.MessageID, "err", err)
		unavailable(w, "webhook: cannot queue notification, retry later")
		return
	}
	if g.log.Enabled(ctx, slog.LevelDebug) {
		g.log.DebugContext(ctx, "webhook: google notification queued", "channel", channelID, "calendar", sub.CalendarID, "message", n.MessageID, "state", state)
	}
	acknowledge(w)
}

// maxMessageNumberLength is the length of the largest uint64: an
// X-Goog-Message-Number longer than that is refused before it is parsed.
const maxMessageNumberLength = len("18446744073709551615")

// messageNumber validates an X-Goog-Message-Number value and returns it in
// canonical form (no leading zeros), so that a redelivery always yields the
// same Notification.MessageID.
func messageNumber(s string) (string, bool) {
	if len(s) > maxMessageNumberLength {
		return "", false
	}
	n, err := strconv.ParseUint(s, 10, 64)
	if err != nil || n == 0 {
		return "", false
	}
	if s[0] == '0' {
		return strconv.FormatUint(n, 10), true
	}
	return s, true
}
