package webhook

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/calsync/calsync"
)

// graphProvider is the provider name a subscription must carry for the
// [Graph] handler to accept its notifications. It must equal msgraph.Name;
// webhook does not import package msgraph, which pulls in the whole Graph
// SDK (msgraph's e2e tests, which mount this handler, prove they match).
const graphProvider = "msgraph"

// DefaultGraphMaxBodyBytes is the default cap on a Graph notification body.
// Graph batches notifications of several subscriptions into one POST and an
// Outlook notification without resource data is about 700 bytes, so 1 MiB
// holds batches of over a thousand.
const DefaultGraphMaxBodyBytes int64 = 1 << 20

// MaxValidationTokenLength caps the validationToken the [Graph] handler
// echoes. Graph's tokens are about 100 characters ("Validation: Testing
// client application reachability for subscription Request-Id: <guid>");
// a longer one is answered 400 so the endpoint cannot be used to reflect
// arbitrary content.
const MaxValidationTokenLength = 1024

// The lifecycle events of Graph lifecycle notifications.
const (
	lifecycleReauthorizationRequired = "reauthorizationRequired"
	lifecycleSubscriptionRemoved     = "subscriptionRemoved"
	lifecycleMissed                  = "missed"
)

// GraphConfig configures a [Graph] handler. Sink is required.
type GraphConfig struct {
	// Sink looks up subscriptions and queues notifications. Usually the
	// *calsync.Engine. Required.
	Sink Sink
	// MaxBodyBytes caps the request body; a larger one is answered 413.
	// Default: DefaultGraphMaxBodyBytes. Negative is an error.
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
	// ids only (never a clientState or the subscription's secret).
	// Default: silent.
	Logger *slog.Logger
}

// WithDefaults returns a copy of c with zero fields set to their defaults.
func (c GraphConfig) WithDefaults() GraphConfig {
	if c.MaxBodyBytes == 0 {
		c.MaxBodyBytes = DefaultGraphMaxBodyBytes
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

func (c GraphConfig) validate() error {
	if c.Sink == nil {
		return errors.New("webhook: GraphConfig.Sink is required")
	}
	if c.MaxBodyBytes < 0 {
		return errors.New("webhook: GraphConfig.MaxBodyBytes is negative")
	}
	if c.ReadTimeout < 0 {
		return errors.New("webhook: GraphConfig.ReadTimeout is negative")
	}
	return nil
}

// Graph is the http.Handler for Microsoft Graph change notifications and
// lifecycle notifications: mount it at both the notificationUrl and the
// lifecycleNotificationUrl (or at one URL given as both). Create it with
// [NewGraph]; it is safe for concurrent use.
//
// It answers:
//
//   - a request with a validationToken query parameter (Graph's handshake
//     when a subscription is created, on either URL): 200, Content-Type
//     text/plain; charset=utf-8, X-Content-Type-Options: nosniff, and the
//     URL-decoded token as the body; 400 if the token is empty or longer
//     than MaxValidationTokenLength; POST or GET only;
//   - any other method than POST: 405 with Allow: POST;
//   - a body larger than MaxBodyBytes: 413;
//   - a body (of a notification or of a validation request) that has not
//     arrived ReadTimeout after the handler started reading it: 408;
//   - a body that is not a JSON object with a "value" array, or one with
//     an item whose subscriptionId or clientState is longer than
//     MaxIDLength: 400, before any lookup;
//   - otherwise each item of value is checked on its own. It is dropped if
//     its subscription is unknown or not Graph's, if it lacks changeType and
//     lifecycleEvent, if its clientState does not match the subscription's
//     secret (calsync.Subscription.VerifySecret: its SHA-256 compared in
//     constant time with the stored SecretHash; forged), or if it is a change
//     notification and the subscription has expired. The others are queued:
//     a change as [calsync.Changed]; lifecycle events reauthorizationRequired
//     as [calsync.ReauthorizationRequired], subscriptionRemoved as
//     [calsync.SubscriptionRemoved] and missed as [calsync.Resync];
//   - then: 503 if an item could not be queued or its subscription could
//     not be looked up (the Store is down), so that Graph delivers the batch
//     again (redelivered items are recognised by their MessageID); 403 if
//     every item was forged; 202 otherwise, including a batch whose
//     subscriptions are all unknown.
//
// The handler never calls Graph. Error answers are short text/plain
// messages that never echo a clientState.
type Graph struct {
	sink        Sink
	limit       int64
	readTimeout time.Duration
	now         func() time.Time
	log         *slog.Logger
}

var _ http.Handler = (*Graph)(nil)

// NewGraph returns the handler for cfg, or an error if cfg is invalid.
func NewGraph(cfg GraphConfig) (*Graph, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	cfg = cfg.WithDefaults()
	return &Graph{sink: cfg.Sink, limit: cfg.MaxBodyBytes, readTimeout: cfg.ReadTimeout, now: cfg.Now, log: cfg.Logger}, nil
}

// graphCollection is a changeNotificationCollection.
type graphCollection struct {
	Value []graphNotification `json:"value"`
}

// graphNotification holds the fields of a changeNotification the handler
// uses.
type graphNotification struct {
	ID             string `json:"id"`
	SubscriptionID string `json:"subscriptionId"`
	Expiration     string `json:"subscriptionExpirationDateTime"`
	ChangeType     string `json:"changeType"`
	LifecycleEvent string `json:"lifecycleEvent"`
	Resource       string `json:"resource"`
	ClientState    string `json:"clientState"`
	ResourceData   struct {
		ETag string `json:"@odata.etag"`
	} `json:"resourceData"`
}

// ServeHTTP handles one validation request or one batch of notifications.
func (g *Graph) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.URL.RawQuery != "" && strings.Contains(r.URL.RawQuery, "validationToken") {
		if token, ok := r.URL.Query()["validationToken"]; ok {
			g.validate(w, r, token)
			return
		}
	}
	if r.Method != http.MethodPost {
		methodNotAllowed(w, http.MethodPost)
		return
	}
	body, ok := readBody(w, r, g.limit, g.readTimeout, true)
	if !ok {
		return
	}
	var batch graphCollection
	if err := json.Unmarshal(body, &batch); err != nil || batch.Value == nil {
		plain(w, http.StatusBadRequest, "webhook: body is not a Graph notification collection")
		return
	}

	// Graph's ids are GUIDs and its clientStates at most 255 characters:
	// a batch with a longer one is not Graph's, and is refused whole
	// before any of its values is looked up or logged.
	for i := range batch.Value {
		if n := &batch.Value[i]; len(n.SubscriptionID) > MaxIDLength || len(n.ClientState) > MaxIDLength {
			plain(w, http.StatusBadRequest, "webhook: subscriptionId or clientState too long")
			return
		}
	}

	ctx := r.Context()
	now := g.now()
	var queued, forged, dropped int
	retry := false
	items := itemLog{logger: g.log}
	// Graph batches several changes of one subscription in one POST: look
	// each subscription up once per request, not once per item.
	type lookup struct {
		sub calsync.Subscription
		err error
	}
	lookups := make(map[string]lookup, 1)
	for i := range batch.Value {
		n := &batch.Value[i]
		kind, ok := graphKind(n)
		if !ok || n.SubscriptionID == "" {
			items.log(ctx, slog.LevelInfo, "webhook: graph notification without subscription, changeType or known lifecycleEvent", "subscription", clip(n.SubscriptionID))
			dropped++
			continue
		}
		l, seen := lookups[n.SubscriptionID]
		if !seen {
			l.sub, l.err = g.sink.Subscription(ctx, n.SubscriptionID)
			lookups[n.SubscriptionID] = l
		}
		sub, err := l.sub, l.err
		switch {
		case errors.Is(err, calsync.ErrNotFound):
			items.log(ctx, slog.LevelInfo, "webhook: graph notification for unknown subscription", "subscription", clip(n.SubscriptionID))
			dropped++
			continue
		case err != nil:
			items.log(ctx, slog.LevelWarn, "webhook: graph subscription lookup failed", "subscription", clip(n.SubscriptionID), "err", err)
			retry = true
			continue
		case sub.Provider != graphProvider:
			items.log(ctx, slog.LevelInfo, "webhook: graph notification for a non-graph subscription", "subscription", clip(n.SubscriptionID), "provider", sub.Provider)
			dropped++
			continue
		}
		if !sub.VerifySecret(n.ClientState) {
			items.log(ctx, slog.LevelWarn, "webhook: graph notification with a wrong clientState", "subscription", n.SubscriptionID, "calendar", sub.CalendarID)
			forged++
			continue
		}
		// Lifecycle events are about the subscription's life: a
		// subscriptionRemoved may well come after the expiry we stored.
		if kind == calsync.Changed && sub.Expired(now) {
			items.log(ctx, slog.LevelInfo, "webhook: graph notification on an expired subscription", "subscription", n.SubscriptionID, "calendar", sub.CalendarID)
			dropped++
			continue
		}
		note := calsync.Notification{
			Kind:           kind,
			Provider:       graphProvider,
			SubscriptionID: n.SubscriptionID,
			CalendarID:     sub.CalendarID,
			MessageID:      graphMessageID(n),
			Received:       now,
		}
		if err := enqueue(ctx, g.sink, note); err != nil {
			items.log(ctx, slog.LevelWarn, "webhook: cannot queue graph notification", "subscription", n.SubscriptionID, "calendar", sub.CalendarID, "kind", kind, "err", err)
			retry = true
			continue
		}
		queued++
		if g.log.Enabled(ctx, slog.LevelDebug) {
			g.log.DebugContext(ctx, "webhook: graph notification queued", "subscription", n.SubscriptionID, "calendar", sub.CalendarID, "kind", kind)
		}
	}
	if items.skipped > 0 {
		g.log.InfoContext(ctx, "webhook: graph batch had more items to report than were logged",
			"not_logged", items.skipped, "queued", queued, "dropped", dropped, "forged", forged)
	}
	switch {
	case retry:
		unavailable(w, "webhook: cannot take every notification now, retry later")
	case forged > 0 && queued == 0 && dropped == 0:
		plain(w, http.StatusForbidden, "webhook: clientState does not match")
	default:
		w.WriteHeader(http.StatusAccepted)
	}
}

// maxItemLogs is how many records one batch may log about its items; a
// batch holds up to MaxBodyBytes of items whose content the sender chose.
const maxItemLogs = 8

// itemLog logs what happens to the items of one batch: the first
// maxItemLogs records one by one, then it only counts, so that a batch of
// thousands of unknown, forged or unqueueable items costs a few log lines,
// not several times its own size.
type itemLog struct {
	logger  *slog.Logger
	logged  int
	skipped int
}

func (l *itemLog) log(ctx context.Context, level slog.Level, msg string, args ...any) {
	if l.logged >= maxItemLogs {
		l.skipped++
		return
	}
	l.logged++
	l.logger.Log(ctx, level, msg, args...)
}

// validate answers Graph's validation handshake with the decoded token.
func (g *Graph) validate(w http.ResponseWriter, r *http.Request, token []string) {
	if r.Method != http.MethodPost && r.Method != http.MethodGet {
		methodNotAllowed(w, "POST, GET")
		return
	}
	if len(token) != 1 || token[0] == "" || len(token[0]) > MaxValidationTokenLength {
		plain(w, http.StatusBadRequest, "webhook: validationToken must be one value of 1..1024 bytes")
		return
	}
	if _, ok := readBody(w, r, g.limit, g.readTimeout, false); !ok {
		return
	}
	h := w.Header()
	h.Set("Content-Type", "text/plain; charset=utf-8")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusOK)
	io.WriteString(w, token[0])
}

// graphKind returns what a notification asks for.
func graphKind(n *graphNotification) (calsync.NotificationKind, bool) {
	switch {
	case n.LifecycleEvent == "":
		return calsync.Changed, n.ChangeType != ""
	case strings.EqualFold(n.LifecycleEvent, lifecycleReauthorizationRequired):
		return calsync.ReauthorizationRequired, true
	case strings.EqualFold(n.LifecycleEvent, lifecycleSubscriptionRemoved):
		return calsync.SubscriptionRemoved, true
	case strings.EqualFold(n.LifecycleEvent, lifecycleMissed):
		return calsync.Resync, true
	}
	return 0, false
}

// graphMessageID identifies the message, not its arrival, so that a
// redelivered batch yields the same ids: the notification's own id when
// Graph sends one (it is optional); otherwise subscription, change type,
// resource and etag for a change; subscription, lifecycle event and the
// subscription expiration it announces for a lifecycle notification. A
// change with neither id nor etag cannot be told from a later change of the
// same resource, so it gets no id and is not deduplicated (a redelivery
// then costs one incremental sync, where a false duplicate would lose a
// change). The parts are escaped so that no two messages share an id.
func graphMessageID(n *graphNotification) string {
	sub := url.PathEscape(n.SubscriptionID)
	switch {
	case n.ID != "":
		return sub + "/id/" + url.PathEscape(n.ID)
	case n.LifecycleEvent != "":
		return sub + "/" + url.PathEscape(n.LifecycleEvent) + "/" + url.PathEscape(n.Expiration)
	case n.ResourceData.ETag == "":
		return ""
	}
	return sub + "/" + url.PathEscape(n.ChangeType) + "/" + url.PathEscape(n.Resource) + "/" + url.PathEscape(n.ResourceData.ETag)
}
