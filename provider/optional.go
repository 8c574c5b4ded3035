package provider

import (
	"context"
	"time"
)

// Optional capabilities. A Provider implements them when its service
// supports them; the Engine detects them with a type assertion and falls back
// to what every Provider can do (replace a subscription: Watch a new one,
// then Stop the old one) when they are missing.

// Renewer is implemented by providers whose subscriptions can be extended in
// place (Microsoft Graph: PATCH /subscriptions/{id}). Google channels cannot
// be, so the google Provider does not implement it.
//
// Renew asks the provider to extend sub (as returned by Watch or an earlier
// Renew) to ttl from now, clamped to the provider's maximum (zero means the
// provider's default). It returns the subscription with the expiration the
// provider granted; its Created is the time of the renewal, so that
// Expiration − Created stays the lease length, and its ID, Secret and
// addresses are unchanged. If the provider no longer has the subscription
// (it expired, or was removed) Renew returns an error wrapping
// [ErrSubscriptionGone]: the caller must create a new one and resync,
// because notifications were lost in between.
//
// Implementations must be safe for concurrent use.
type Renewer interface {
	Renew(ctx context.Context, cal Calendar, sub *Subscription, ttl time.Duration) (*Subscription, error)
}

// Reauthorizer is implemented by providers that ask for subscriptions to be
// reauthorized before they stop delivering (Microsoft Graph's
// reauthorizationRequired lifecycle notification, answered with POST
// /subscriptions/{id}/reauthorize).
//
// Reauthorize reauthorizes sub with the account's current token. It returns
// an error wrapping [ErrSubscriptionGone] if the provider no longer has the
// subscription, and one wrapping [ErrReauthRequired] if the account's grant
// itself is no longer valid.
//
// Implementations must be safe for concurrent use.
type Reauthorizer interface {
	Reauthorize(ctx context.Context, cal Calendar, sub *Subscription) error
}

// SubscriptionChecker is implemented by providers that can tell whether
// they still have a subscription (Microsoft Graph: GET
// /subscriptions/{id}). Graph removes subscriptions on its own and says so
// with a subscriptionRemoved lifecycle notification, which can be lost;
// the Engine checks when a safety-net sync finds changes no push announced.
//
// CheckSubscription returns nil if the provider has sub, an error wrapping
// [ErrSubscriptionGone] if it does not, or another error if it cannot
// tell. Implementations must be safe for concurrent use.
type SubscriptionChecker interface {
	CheckSubscription(ctx context.Context, cal Calendar, sub *Subscription) error
}
