package msgraphtest

import (
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"time"
)

// Defaults and limits. Values taken from Microsoft Graph say where they come
// from; the others are the emulator's own choices.
const (
	// DefaultMaxSubscriptionLifetime is the longest lifetime of a
	// subscription to Outlook events: 10,070 minutes. The current docs say
	// 10,080 minutes ("under seven days",
	// https://learn.microsoft.com/en-us/graph/change-notifications-overview#subscription-lifetime),
	// but live Graph has been recorded rejecting
	// anything beyond 10,070 minutes with 400 ExtensionError "Subscription
	// expiration can only be 10070 minutes in the future.". The
	// docs themselves warn that requests beyond the maximum "will fail", so
	// the emulator enforces the stricter, observed value: a client that
	// passes here also passes against the real service.
	DefaultMaxSubscriptionLifetime = 10070 * time.Minute

	// DefaultValidationTimeout is how long Graph waits for the answer to a
	// validation request: 10 seconds
	// (https://learn.microsoft.com/en-us/graph/change-notifications-delivery-webhooks).
	DefaultValidationTimeout = 10 * time.Second

	// DefaultDeliveryTimeout is how long a notification POST may take:
	// Graph wants a 2xx within 3 seconds (same page).
	DefaultDeliveryTimeout = 3 * time.Second

	// DefaultDeliveryRetries is how often a failed notification POST is
	// retried. Graph retries "multiple times, for up to 4 hours"
	// (same page); the schedule is undocumented, so the emulator
	// retries a few times quickly.
	DefaultDeliveryRetries = 3

	// DefaultDeliveryBackoff is the wait before the first retry; it doubles
	// for each further retry.
	DefaultDeliveryBackoff = 20 * time.Millisecond

	// DefaultBatchWindow is how long notifications for one notificationUrl
	// are collected before they are POSTed together (Graph batches
	// notifications of different subscriptions in one POST).
	DefaultBatchWindow = 5 * time.Millisecond

	// DefaultPageSize is the delta page size without "Prefer:
	// odata.maxpagesize". Graph's default is undocumented; MaxPageSize
	// caps larger preferences.
	DefaultPageSize = 10
	MaxPageSize     = 1000

	// MaxClientStateLength is the longest clientState of a subscription:
	// 128 characters per the subscription resource
	// (https://learn.microsoft.com/en-us/graph/api/resources/subscription;
	// changeNotification says 255, the stricter value wins).
	MaxClientStateLength = 128

	// MaxSubscriptionsPerMailbox is Outlook's quota of active subscriptions
	// per mailbox (https://learn.microsoft.com/en-us/graph/outlook-change-notifications-overview);
	// one more is 403.
	MaxSubscriptionsPerMailbox = 1000

	// DefaultRetryAfter is the Retry-After of an injected 429 whose fault
	// names none. It is fractional on purpose, like Microsoft's own sample
	// "2.128" (https://learn.microsoft.com/en-us/graph/throttling), so
	// clients that parse it as an integer fail in tests rather than in
	// production.
	DefaultRetryAfter = "0.128"

	// DefaultTenantID and DefaultApplicationID are the tenantId of
	// notifications and the applicationId of subscriptions.
	DefaultTenantID      = "84bd8158-6d4d-4958-8b9f-9d6445542f95"
	DefaultApplicationID = "24d3b144-21ae-4080-943f-7067b395b913"

	// MaxOccurrences caps how many occurrences one recurring series
	// expands to, and ExpansionHorizon how far after the series start an
	// unbounded series is expanded. Graph expands lazily; an emulator must
	// stop somewhere.
	MaxOccurrences   = 1000
	ExpansionHorizon = 2 * 365 * 24 * time.Hour

	// maxBodyBytes limits request bodies.
	maxBodyBytes = 1 << 20
)

// Config configures a [Server]. The zero value is ready to use.
type Config struct {
	// Now returns the current time. It stamps created/modified times,
	// decides whether an expirationDateTime is in the past or beyond the
	// ceiling, and whether a subscription is still live. Waits (latency,
	// delivery delay, retry backoff, timeouts) use real time.
	// Default: time.Now.
	Now func() time.Time

	// NotificationClient performs validation requests, change
	// notifications and lifecycle notifications. Use the Client() of an
	// httptest.NewTLSServer receiver so its certificate is trusted.
	// Default: a client on http.DefaultTransport. Timeouts are applied per
	// request from ValidationTimeout and DeliveryTimeout.
	NotificationClient *http.Client

	// AllowHTTP lets subscriptions use http:// notification URLs. Graph
	// requires HTTPS (subscription resource), so by default an http URL is
	// 400.
	// Default: false.
	AllowHTTP bool

	// ValidationTimeout is how long the receiver may take to answer the
	// validation request. Default: DefaultValidationTimeout (10 s).
	ValidationTimeout time.Duration

	// DeliveryTimeout is how long a notification POST may take before it
	// counts as failed. Default: DefaultDeliveryTimeout (3 s).
	DeliveryTimeout time.Duration

	// DeliveryRetries is how often a failed notification POST (error,
	// timeout, non-2xx) is retried, with exponential backoff from
	// DeliveryBackoff. 0 means DefaultDeliveryRetries (3); negative
	// disables retries.
	DeliveryRetries int

	// DeliveryBackoff is the wait before the first retry. Default:
	// DefaultDeliveryBackoff (20 ms).
	DeliveryBackoff time.Duration

	// BatchWindow is how long notifications for one notificationUrl are
	// collected before one POST carries them all. Notifications caused by
	// one change always share a POST per URL. 0 means DefaultBatchWindow
	// (5 ms); negative means no waiting (each change is POSTed on its
	// own). [Server.Flush] and [Server.WaitIdle] end a window early.
	BatchWindow time.Duration

	// MaxSubscriptionLifetime is the ceiling on expirationDateTime - now
	// for create and renew. Default: DefaultMaxSubscriptionLifetime
	// (10,070 minutes).
	MaxSubscriptionLifetime time.Duration

	// TenantID is the tenantId sent in notifications. Default:
	// DefaultTenantID.
	TenantID string

	// ApplicationID is the applicationId of subscriptions. Default:
	// DefaultApplicationID.
	ApplicationID string

	// Logger receives debug logs about requests and deliveries. Bearer
	// tokens, validation tokens and clientState values are never logged.
	// Default: silent.
	Logger *slog.Logger
}

// WithDefaults returns a copy of c with every zero field set to its default.
func (c Config) WithDefaults() Config {
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.NotificationClient == nil {
		c.NotificationClient = &http.Client{Transport: http.DefaultTransport}
	}
	if c.ValidationTimeout == 0 {
		c.ValidationTimeout = DefaultValidationTimeout
	}
	if c.DeliveryTimeout == 0 {
		c.DeliveryTimeout = DefaultDeliveryTimeout
	}
	if c.DeliveryRetries == 0 {
		c.DeliveryRetries = DefaultDeliveryRetries
	} else if c.DeliveryRetries < 0 {
		c.DeliveryRetries = -1
	}
	if c.DeliveryBackoff == 0 {
		c.DeliveryBackoff = DefaultDeliveryBackoff
	}
	if c.BatchWindow == 0 {
		c.BatchWindow = DefaultBatchWindow
	} else if c.BatchWindow < 0 {
		c.BatchWindow = -1
	}
	if c.MaxSubscriptionLifetime == 0 {
		c.MaxSubscriptionLifetime = DefaultMaxSubscriptionLifetime
	}
	if c.TenantID == "" {
		c.TenantID = DefaultTenantID
	}
	if c.ApplicationID == "" {
		c.ApplicationID = DefaultApplicationID
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	return c
}

func (c Config) validate() error {
	var errs []error
	for name, d := range map[string]time.Duration{
		"ValidationTimeout":       c.ValidationTimeout,
		"DeliveryTimeout":         c.DeliveryTimeout,
		"DeliveryBackoff":         c.DeliveryBackoff,
		"MaxSubscriptionLifetime": c.MaxSubscriptionLifetime,
	} {
		if d < 0 {
			errs = append(errs, fmt.Errorf("%s %v is negative", name, d))
		}
	}
	return errors.Join(errs...)
}
