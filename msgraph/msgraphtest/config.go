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

	// DefaultMailboxConcurrency is how many API requests one mailbox may
	// have in flight: Outlook allows 4 concurrent requests per app per
	// mailbox (https://learn.microsoft.com/graph/throttling-limits#outlook-service-limits).
	DefaultMailboxConcurrency = 4

	// DefaultDeletedSubscriptionLinger is how long a deleted subscription
	// may still receive change notifications. Notifications have been seen
	// arriving for a subscription after it was deleted, for a while nobody
	// documents; the emulator picks a short window.
	DefaultDeletedSubscriptionLinger = 10 * time.Second

	// DefaultSeed seeds the emulator's random choices when Config.Seed is 0.
	DefaultSeed = 0x6b6e6f6273

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

	// Seed seeds the random choices of the harsh defaults (how many
	// notifications a change causes, which throttling answers carry a
	// Retry-After), so that a run repeats. Default: DefaultSeed.
	Seed uint64

	// Exact turns the harsh defaults that change what a test counts into
	// exact ones, like googletest's Config.Exact: ExactNotifications, and
	// a zero DeletedSubscriptionLinger means none. Fields set explicitly
	// win. Default: false.
	Exact bool

	// ExactNotifications makes one change cause exactly one notification
	// per subscription: "created" for a creation, one "updated" for an
	// update, and for a change to an occurrence one "updated" of its
	// series master. Tests that count notifications set it. Default
	// false: Graph's multiplicity (microsoftgraph/microsoft-graph-docs#7598,
	// microsoftgraph/microsoft-graph-docs-contrib#3072), a creation
	// notifies "created" then "updated", an update 1 to 3 times "updated"
	// (seeded random), and a change to an occurrence notifies the
	// occurrence itself and, 1 to 3 times, its series master. Each
	// notification is its own delivery, batched only within BatchWindow.
	ExactNotifications bool

	// ValidateOnCreateOnly performs the validation handshake only when a
	// subscription is created. Default false: Graph validates the
	// notificationUrl (and lifecycleNotificationUrl) again on PATCH
	// /subscriptions/{id} and on reauthorize
	// (microsoftgraph/msgraph-sdk-dotnet#2805), and
	// either fails with 400 when the receiver does not answer.
	ValidateOnCreateOnly bool

	// MailboxConcurrency is how many API requests one mailbox may have in
	// flight (from arrival, latency included, to the end of the answer);
	// one more is answered 429 ApplicationThrottled "Application is over
	// its MailboxConcurrency limit.", as live Graph does (calcom PR #343,
	// magodo/terraform-provider-outlook#21, alcionai/corso#3695). The mailbox is
	// the user a path names, or the user of the token for /subscriptions.
	// 0 means DefaultMailboxConcurrency (4); negative disables the limit.
	MailboxConcurrency int

	// ConcurrencyPerApp counts MailboxConcurrency across all mailboxes of
	// the app instead of per mailbox. One version of Microsoft's
	// throttling-limits page says Outlook runs "up to 4 concurrent
	// requests ... regardless of whether the requests all access the same
	// mailbox, or access different mailboxes"
	// (https://learn.microsoft.com/graph/throttling-limits#outlook-service-limits),
	// another, like the live error's name, per mailbox. Default false: per
	// mailbox.
	ConcurrencyPerApp bool

	// ThrottleRetryAfter chooses the Retry-After of those 429s. Default:
	// RetryAfterMixed ("1" or none, at random).
	ThrottleRetryAfter RetryAfterMode

	// DeletedSubscriptionLinger is how long, by Now, a subscription
	// deleted with DELETE /subscriptions/{id} still receives change
	// notifications; it is gone for every API call at
	// once. 0 means DefaultDeletedSubscriptionLinger (10 s), or none with
	// Exact; negative means none.
	DeletedSubscriptionLinger time.Duration

	// AllowCalendarDeltaV1 serves calendarView delta of a named calendar
	// (/me/calendars/{id}/calendarView/delta,
	// /me/calendar/calendarView/delta and their /users/{id} forms) under
	// /v1.0. Default false: v1.0 documents calendarView delta of the
	// primary calendar only (/me/calendarView/delta,
	// https://learn.microsoft.com/graph/api/event-delta?view=graph-rest-1.0),
	// so those paths answer 400 BadRequest "Unsupported request: Change
	// tracking is not supported against 'microsoft.graph.event'.", Graph's
	// answer for delta where it does not track changes
	// (microsoftgraph/msgraph-metadata#608); /beta serves them.
	AllowCalendarDeltaV1 bool

	// AcceptRotatedRefreshTokens keeps a refresh token valid after it has
	// been redeemed. The identity platform answers every refresh with a
	// new refresh token and the client must keep the new one; Microsoft
	// may accept the old one for a while, but documents no such grace, so
	// by default the emulator refuses a refresh token that was rotated away
	// with 400 invalid_grant AADSTS70008, and a client that loses the new
	// token fails in tests rather than in production. Default: false.
	AcceptRotatedRefreshTokens bool

	// Logger receives debug logs about requests and deliveries. Bearer
	// tokens, validation tokens and clientState values are never logged,
	// nor authorization codes, refresh tokens, client secrets or PKCE
	// verifiers.
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
	if c.Seed == 0 {
		c.Seed = DefaultSeed
	}
	if c.MailboxConcurrency == 0 {
		c.MailboxConcurrency = DefaultMailboxConcurrency
	} else if c.MailboxConcurrency < 0 {
		c.MailboxConcurrency = -1
	}
	if c.Exact {
		c.ExactNotifications = true
	}
	if c.DeletedSubscriptionLinger == 0 && c.Exact {
		c.DeletedSubscriptionLinger = -1
	} else if c.DeletedSubscriptionLinger == 0 {
		c.DeletedSubscriptionLinger = DefaultDeletedSubscriptionLinger
	} else if c.DeletedSubscriptionLinger < 0 {
		c.DeletedSubscriptionLinger = -1
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
	if c.ThrottleRetryAfter < RetryAfterMixed || c.ThrottleRetryAfter > RetryAfterNone {
		errs = append(errs, fmt.Errorf("ThrottleRetryAfter %d is not a RetryAfterMode", c.ThrottleRetryAfter))
	}
	return errors.Join(errs...)
}
