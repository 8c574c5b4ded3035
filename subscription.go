package calsync

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"time"

	"github.com/calsync/calsync/provider"
	"github.com/google/uuid"
)

// subscribe creates a subscription. The subscription is stored before the
// provider is asked, under the id the Engine chose, because Google may
// deliver the channel's first ("sync") message before it answers the watch
// call; providers that assign their own ids replace it afterwards. The
// caller holds the calendar's subscription lease, so that no renewal sweep
// (here or in another instance) mistakes the placeholder for one a crash
// left behind and replaces it while the provider is creating it.
//
// The secret is drawn here and given in clear to the provider's Watch
// only: what is stored, and returned, is its SHA-256 (SecretHash), which
// is all the webhook handlers need to authenticate a notification.
func (e *Engine) subscribe(ctx context.Context, cal Calendar, req provider.WatchRequest) (Subscription, error) {
	p, err := e.provider(cal.Provider)
	if err != nil {
		return Subscription{}, err
	}
	secret, err := randomSecret()
	if err != nil {
		return Subscription{}, err
	}
	req.ID = uuid.NewString()
	req.Secret = secret
	hash := provider.HashSecret(secret)
	now := e.cfg.Now()
	pending := Subscription{
		ID: req.ID, CalendarID: cal.ID, Provider: cal.Provider, SecretHash: hash,
		Address: req.Address, LifecycleAddress: req.LifecycleAddress,
		Created: now, Expiration: now.Add(time.Hour),
	}
	if err := e.cfg.Store.PutSubscription(ctx, pending); err != nil {
		return Subscription{}, fmt.Errorf("store subscription: %w", err)
	}
	callCtx, end := e.startProviderCall(ctx, opWatch, cal)
	sub, err := p.Watch(callCtx, cal, req)
	end(err)
	if err != nil {
		if derr := e.cfg.Store.DeleteSubscription(context.WithoutCancel(ctx), pending.ID); derr != nil && !errors.Is(derr, ErrNotFound) {
			e.log.WarnContext(ctx, "calsync: cannot remove pending subscription", "subscription", pending.ID, "err", derr)
		}
		return Subscription{}, fmt.Errorf("watch: %w", err)
	}
	s := *sub
	s.CalendarID, s.Provider, s.Secret, s.SecretHash = cal.ID, cal.Provider, "", hash
	s.Address, s.LifecycleAddress = req.Address, req.LifecycleAddress
	if s.Created.IsZero() {
		s.Created = now
	}
	if err := e.cfg.Store.PutSubscription(ctx, s); err != nil {
		// The provider now delivers to a subscription we could not record:
		// stop it rather than leave it orphaned.
		callCtx, end := e.startProviderCall(context.WithoutCancel(ctx), opStop, cal)
		serr := p.Stop(callCtx, cal, &s)
		end(serr)
		if serr != nil {
			e.log.WarnContext(ctx, "calsync: cannot stop unrecorded subscription", "subscription", s.ID, "err", serr)
		}
		return Subscription{}, fmt.Errorf("store subscription: %w", err)
	}
	if s.ID != pending.ID {
		if err := e.cfg.Store.DeleteSubscription(ctx, pending.ID); err != nil && !errors.Is(err, ErrNotFound) {
			e.log.WarnContext(ctx, "calsync: cannot remove pending subscription", "subscription", pending.ID, "err", err)
		}
	}
	return s, nil
}

// resubscribe keeps subscription old of cal delivering; kind is the
// lifecycle notification that asked for it, or zero for a renewal before
// expiry. A provider.Renewer renews in place (after a reauthorization, for
// ReauthorizationRequired, if it is a provider.Reauthorizer). Otherwise, for
// SubscriptionRemoved, or when the provider says the subscription is gone,
// a new subscription is created and then the old one stopped and
// forgotten. syncNeeded reports that the caller must sync the calendar:
// after a replacement, because a change announced only on the old
// subscription just before it was stopped is never delivered (its push
// goes out after the stop); after a gone subscription, because
// notifications were lost, and the calendar has been marked for a full
// resync. The caller holds the calendar's subscription lease.
func (e *Engine) resubscribe(ctx context.Context, cal Calendar, old Subscription, kind NotificationKind) (syncNeeded bool, err error) {
	ttl := old.Expiration.Sub(old.Created)
	if ttl <= 0 || old.ResourceID == "" {
		// A record without a resource id is the placeholder subscribe
		// stores before the provider answers, left by a crash in between:
		// its one-hour lifetime is not a lease length to copy (that would
		// renew it every hour for ever). Use the provider's default.
		ttl = 0
	}
	p, err := e.provider(cal.Provider)
	if err != nil {
		return false, err
	}
	if r, ok := p.(provider.Renewer); ok && kind != SubscriptionRemoved {
		err := e.renewInPlace(ctx, cal, p, r, old, ttl, kind)
		if !errors.Is(err, ErrSubscriptionGone) {
			if err != nil {
				return false, fmt.Errorf("calsync: renew %s: %w", old.ID, err)
			}
			return false, nil
		}
		e.log.InfoContext(ctx, "calsync: subscription gone, recreating it and resyncing", "calendar", cal.ID, "subscription", old.ID)
		if err := e.requireFullSync(ctx, cal); err != nil {
			return false, fmt.Errorf("calsync: renew %s: %w", old.ID, err)
		}
	}
	sub, err := e.subscribe(ctx, cal, provider.WatchRequest{Address: old.Address, LifecycleAddress: old.LifecycleAddress, TTL: ttl})
	if err != nil {
		return true, fmt.Errorf("calsync: renew %s: %w", old.ID, err)
	}
	callCtx, end := e.startProviderCall(ctx, opStop, cal)
	err = p.Stop(callCtx, cal, &old)
	end(err)
	if err != nil && !errors.Is(err, ErrNotFound) {
		// The new subscription works; the old one expires on its own.
		e.log.WarnContext(ctx, "calsync: cannot stop replaced subscription", "subscription", old.ID, "err", err)
	}
	if err := e.cfg.Store.DeleteSubscription(ctx, old.ID); err != nil && !errors.Is(err, ErrNotFound) {
		return true, fmt.Errorf("calsync: renew %s: forget old subscription: %w", old.ID, err)
	}
	e.log.InfoContext(ctx, "calsync: subscription replaced", "calendar", cal.ID, "old", old.ID, "new", sub)
	return true, nil
}

// renewInPlace extends old with the provider's Renew (reauthorizing it
// first for ReauthorizationRequired) and stores the new expiration.
func (e *Engine) renewInPlace(ctx context.Context, cal Calendar, p Provider, r provider.Renewer, old Subscription, ttl time.Duration, kind NotificationKind) error {
	if ra, ok := p.(provider.Reauthorizer); ok && kind == ReauthorizationRequired {
		callCtx, end := e.startProviderCall(ctx, opReauthorize, cal)
		err := ra.Reauthorize(callCtx, cal, &old)
		end(err)
		if err != nil {
			return err
		}
	}
	callCtx, end := e.startProviderCall(ctx, opRenew, cal)
	renewed, err := r.Renew(callCtx, cal, &old, ttl)
	end(err)
	if err != nil {
		return err
	}
	s := old
	s.Expiration, s.Created = renewed.Expiration, renewed.Created
	if s.Created.IsZero() {
		s.Created = e.cfg.Now()
	}
	if err := e.cfg.Store.PutSubscription(ctx, s); err != nil {
		return fmt.Errorf("store subscription: %w", err)
	}
	e.log.InfoContext(ctx, "calsync: subscription extended", "calendar", cal.ID, "subscription", s)
	return nil
}

func randomSecret() (string, error) {
	var b [32]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", fmt.Errorf("calsync: random secret: %w", err)
	}
	return hex.EncodeToString(b[:]), nil
}
