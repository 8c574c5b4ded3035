package msgraph

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/microsoftgraph/msgraph-sdk-go/models"

	"github.com/calsync/calsync/provider"
)

// Watch creates a Graph subscription (POST /subscriptions) for the events of
// cal: changeType created,updated,deleted on [resource](cal), delivering to
// req.Address, lifecycle notifications to req.LifecycleAddress (or
// req.Address), with clientState req.Secret. Graph assigns the id; req.ID
// is ignored. The expiration is now + req.TTL (Config.SubscriptionTTL if
// zero), at most Config.SubscriptionTTL; the returned Subscription carries
// the expiration Graph granted.
//
// Graph validates both URLs before it answers (the webhook.Graph handler
// answers the validationToken handshake), so they must be reachable.
func (p *Provider) Watch(ctx context.Context, cal provider.Calendar, req provider.WatchRequest) (*provider.Subscription, error) {
	if err := validSecret(req.Secret); err != nil {
		return nil, err
	}
	if req.Address == "" {
		return nil, errors.New("msgraph: watch: address is empty")
	}
	lifecycle := req.LifecycleAddress
	if lifecycle == "" {
		lifecycle = req.Address
	}
	now := p.cfg.Now()
	exp := now.Add(p.ttl(req.TTL)).UTC()
	res := resource(cal)

	body := models.NewSubscription()
	body.SetChangeType(new(ChangeTypes))
	body.SetNotificationUrl(new(req.Address))
	body.SetLifecycleNotificationUrl(new(lifecycle))
	body.SetResource(new(res))
	body.SetExpirationDateTime(&exp)
	body.SetClientState(new(req.Secret))

	ctx, rec := withResponse(withAccount(ctx, cal.AccountID))
	got, err := p.client.Subscriptions().Post(ctx, body, nil)
	if err != nil {
		return nil, apiError("subscriptions.create", err, rec, provider.ErrNotFound, false, now)
	}
	if got == nil || got.GetId() == nil || *got.GetId() == "" {
		return nil, errors.New("msgraph: subscriptions.create returned no subscription id")
	}
	sub := &provider.Subscription{
		ID:               *got.GetId(),
		CalendarID:       cal.ID,
		Provider:         Name,
		ResourceID:       res,
		Address:          req.Address,
		LifecycleAddress: req.LifecycleAddress,
		Secret:           req.Secret,
		Created:          now,
		Expiration:       exp,
	}
	if r := got.GetResource(); r != nil && *r != "" {
		sub.ResourceID = *r
	}
	if e := got.GetExpirationDateTime(); e != nil && !e.IsZero() {
		sub.Expiration = e.UTC()
	}
	return sub, nil
}

// Stop deletes the subscription (DELETE /subscriptions/{id}). A
// subscription Graph no longer knows (404) is an error wrapping
// provider.ErrNotFound.
func (p *Provider) Stop(ctx context.Context, cal provider.Calendar, sub *provider.Subscription) error {
	if sub.ID == "" {
		return fmt.Errorf("msgraph: subscriptions.delete: empty subscription id: %w", provider.ErrNotFound)
	}
	ctx, rec := withResponse(withAccount(ctx, cal.AccountID))
	if err := p.client.Subscriptions().BySubscriptionId(sub.ID).Delete(ctx, nil); err != nil {
		return apiError("subscriptions.delete", err, rec, provider.ErrNotFound, false, p.cfg.Now())
	}
	return nil
}

// Renew extends the subscription in place (PATCH /subscriptions/{id} with a
// new expirationDateTime, now + ttl, clamped like Watch's). Renewing also
// reauthorizes it. A subscription Graph no longer has (404: it expired or
// was removed) is an error wrapping provider.ErrSubscriptionGone.
func (p *Provider) Renew(ctx context.Context, cal provider.Calendar, sub *provider.Subscription, ttl time.Duration) (*provider.Subscription, error) {
	if sub.ID == "" {
		return nil, fmt.Errorf("msgraph: subscriptions.update: empty subscription id: %w", provider.ErrSubscriptionGone)
	}
	now := p.cfg.Now()
	exp := now.Add(p.ttl(ttl)).UTC()
	body := models.NewSubscription()
	body.SetExpirationDateTime(&exp)
	ctx, rec := withResponse(withAccount(ctx, cal.AccountID))
	got, err := p.client.Subscriptions().BySubscriptionId(sub.ID).Patch(ctx, body, nil)
	if err != nil {
		return nil, apiError("subscriptions.update", err, rec, provider.ErrSubscriptionGone, false, now)
	}
	out := *sub
	out.Created, out.Expiration = now, exp
	if got != nil {
		if e := got.GetExpirationDateTime(); e != nil && !e.IsZero() {
			out.Expiration = e.UTC()
		}
	}
	return &out, nil
}

// Reauthorize reauthorizes the subscription (POST
// /subscriptions/{id}/reauthorize), the answer to a reauthorizationRequired
// lifecycle notification. A 404 is an error wrapping
// provider.ErrSubscriptionGone; a refused token one wrapping
// provider.ErrReauthRequired.
func (p *Provider) Reauthorize(ctx context.Context, cal provider.Calendar, sub *provider.Subscription) error {
	if sub.ID == "" {
		return fmt.Errorf("msgraph: subscriptions.reauthorize: empty subscription id: %w", provider.ErrSubscriptionGone)
	}
	ctx, rec := withResponse(withAccount(ctx, cal.AccountID))
	if err := p.client.Subscriptions().BySubscriptionId(sub.ID).Reauthorize().Post(ctx, nil); err != nil {
		return apiError("subscriptions.reauthorize", err, rec, provider.ErrSubscriptionGone, false, p.cfg.Now())
	}
	return nil
}

// ttl is the lifetime to ask for: d, or the configured default when d is
// zero or negative, at most Config.SubscriptionTTL.
func (p *Provider) ttl(d time.Duration) time.Duration {
	if d <= 0 || d > p.cfg.SubscriptionTTL {
		return p.cfg.SubscriptionTTL
	}
	return d
}

// validSecret checks a clientState: 1..MaxClientStateLength hexadecimal
// characters, as the Engine makes them. Hex keeps it safe in JSON, URLs and
// logs-that-must-not-happen alike, and inside both of Graph's documented
// limits (128 on the subscription, 255 on the notification).
func validSecret(s string) error {
	if s == "" || len(s) > MaxClientStateLength {
		return fmt.Errorf("msgraph: watch: clientState must be 1..%d characters, got %d", MaxClientStateLength, len(s))
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F') {
			return errors.New("msgraph: watch: clientState must be hexadecimal")
		}
	}
	return nil
}
