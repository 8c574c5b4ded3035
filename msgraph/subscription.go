package msgraph

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/microsoftgraph/msgraph-sdk-go/models"

	"github.com/calsync/calsync/provider"
	"github.com/calsync/calsync/retry"
)

// Watch creates a Graph subscription (POST /subscriptions) for the events of
// cal: changeType created,updated,deleted on [resource](cal), delivering to
// req.Address, lifecycle notifications to req.LifecycleAddress (or
// req.Address), with clientState req.Secret. Graph assigns the id; req.ID
// is ignored. The expiration is now + req.TTL (Config.SubscriptionTTL if
// zero), at most Config.SubscriptionTTL and at most the ceiling Graph last
// reported (see [Provider.Renew]); the returned Subscription carries the
// expiration Graph granted.
//
// Graph validates both URLs before it answers (the webhook.Graph handler
// answers the validationToken handshake), so they must be reachable. A
// validation Graph reports timed out is tried again (Config.ValidationRetry).
// A calendar Graph does not find (404) or refuses (403 other than
// throttling) is an error wrapping provider.ErrCalendarUnavailable and
// provider.ErrNotFound.
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
	res := resource(cal)
	body := models.NewSubscription()
	body.SetChangeType(new(ChangeTypes))
	body.SetNotificationUrl(new(req.Address))
	body.SetLifecycleNotificationUrl(new(lifecycle))
	body.SetResource(new(res))
	body.SetClientState(new(req.Secret))

	const op = "subscriptions.create"
	ctx, rec := withResponse(withAccount(ctx, cal.AccountID))
	var got models.Subscriptionable
	var now, exp time.Time
	err := p.withinCeiling(ctx, op, rec, func() error {
		now = p.cfg.Now()
		exp = now.Add(p.ttl(req.TTL)).UTC()
		body.SetExpirationDateTime(&exp)
		var err error
		if got, err = p.client.Subscriptions().Post(ctx, body, nil); err != nil {
			return apiError(op, err, rec, errorSentinels{notFound: provider.ErrNotFound, calendar: true}, now)
		}
		return nil
	})
	if err != nil {
		return nil, err
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
		return apiError("subscriptions.delete", err, rec, errorSentinels{notFound: provider.ErrNotFound}, p.cfg.Now())
	}
	return nil
}

// CheckSubscription reports whether Graph still has sub: GET
// /subscriptions/{id}, whose 404 means it was removed (an error wrapping
// provider.ErrSubscriptionGone). It implements
// provider.SubscriptionChecker.
func (p *Provider) CheckSubscription(ctx context.Context, cal provider.Calendar, sub *provider.Subscription) error {
	if sub.ID == "" {
		return fmt.Errorf("msgraph: subscriptions.get: empty subscription id: %w", provider.ErrSubscriptionGone)
	}
	const op = "subscriptions.get"
	ctx, rec := withResponse(withAccount(ctx, cal.AccountID))
	if _, err := p.client.Subscriptions().BySubscriptionId(sub.ID).Get(ctx, nil); err != nil {
		return apiError(op, err, rec, errorSentinels{notFound: provider.ErrSubscriptionGone}, p.cfg.Now())
	}
	return nil
}

// Renew extends the subscription in place (PATCH /subscriptions/{id} with a
// new expirationDateTime, now + ttl, clamped like Watch's). Renewing also
// reauthorizes it. A subscription Graph no longer has (404: it expired or
// was removed) is an error wrapping provider.ErrSubscriptionGone.
//
// Graph validates the notification URLs again on renewal; a validation it
// reports timed out is tried again (Config.ValidationRetry). When Graph
// refuses the lifetime with 400 "Subscription expiration can only be N
// minutes in the future." (its ceiling has moved over time: 4,230 minutes
// once, 10,070 live now, 10,080 in the docs), Watch and Renew try once more
// with N minutes less a margin for
// clock skew (a tenth of N, at most an hour), and ask for no more than that
// from then on.
func (p *Provider) Renew(ctx context.Context, cal provider.Calendar, sub *provider.Subscription, ttl time.Duration) (*provider.Subscription, error) {
	if sub.ID == "" {
		return nil, fmt.Errorf("msgraph: subscriptions.update: empty subscription id: %w", provider.ErrSubscriptionGone)
	}
	const op = "subscriptions.update"
	body := models.NewSubscription()
	ctx, rec := withResponse(withAccount(ctx, cal.AccountID))
	var got models.Subscriptionable
	var now, exp time.Time
	err := p.withinCeiling(ctx, op, rec, func() error {
		now = p.cfg.Now()
		exp = now.Add(p.ttl(ttl)).UTC()
		body.SetExpirationDateTime(&exp)
		var err error
		if got, err = p.client.Subscriptions().BySubscriptionId(sub.ID).Patch(ctx, body, nil); err != nil {
			return apiError(op, err, rec, errorSentinels{notFound: provider.ErrSubscriptionGone}, now)
		}
		return nil
	})
	if err != nil {
		return nil, err
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
// provider.ErrReauthRequired. Graph validates the notification URLs again;
// a validation it reports timed out is tried again
// (Config.ValidationRetry).
func (p *Provider) Reauthorize(ctx context.Context, cal provider.Calendar, sub *provider.Subscription) error {
	if sub.ID == "" {
		return fmt.Errorf("msgraph: subscriptions.reauthorize: empty subscription id: %w", provider.ErrSubscriptionGone)
	}
	const op = "subscriptions.reauthorize"
	ctx, rec := withResponse(withAccount(ctx, cal.AccountID))
	return p.withValidationRetries(ctx, op, rec, func() error {
		if err := p.client.Subscriptions().BySubscriptionId(sub.ID).Reauthorize().Post(ctx, nil); err != nil {
			return apiError(op, err, rec, errorSentinels{notFound: provider.ErrSubscriptionGone}, p.cfg.Now())
		}
		return nil
	})
}

// withinCeiling runs a create or renew (call sets its own expiration from
// p.ttl) with validation retries; if Graph refuses the lifetime with its
// ceiling, it lowers p's ceiling and runs call once more.
func (p *Provider) withinCeiling(ctx context.Context, op string, rec *response, call func() error) error {
	err := p.withValidationRetries(ctx, op, rec, call)
	n, ok := lifetimeCeiling(err)
	if !ok {
		return err
	}
	p.lowerCeiling(n)
	if err := p.withValidationRetries(ctx, op, rec, call); err != nil {
		return fmt.Errorf("msgraph: %s: retried within Graph's lifetime ceiling of %v: %w", op, n, err)
	}
	return nil
}

// withValidationRetries runs call until it succeeds, fails otherwise than
// with a timed-out validation, or Config.ValidationRetry gives up; the
// error is then call's last, saying how often it was tried.
//
// rec is the response recorder call's errors are built from; it is cleared
// before each try, so that a try that fails without a response (a reset
// connection) is not reported with an earlier try's answer.
func (p *Provider) withValidationRetries(ctx context.Context, op string, rec *response, call func() error) error {
	policy := p.cfg.ValidationRetry.WithDefaults()
	var schedule retry.BackOff
	for tries := 1; ; tries++ {
		*rec = response{}
		err := call()
		if err == nil || !validationTimedOut(err) {
			return err
		}
		if schedule == nil {
			schedule = policy.NewBackOff()
		}
		wait := schedule.NextBackOff()
		if wait == retry.Stop {
			return fmt.Errorf("msgraph: %s: the validation request timed out %d times: %w", op, tries, err)
		}
		if serr := policy.Clock.Sleep(ctx, wait); serr != nil {
			return fmt.Errorf("msgraph: %s: waiting to retry a timed-out validation: %w", op, errors.Join(serr, err))
		}
	}
}

// validationTimedOut reports whether err is Graph's 400 "Subscription
// validation request timed out.": the receiver did not answer within 10 s
// (https://learn.microsoft.com/graph/change-notifications-delivery-webhooks#notificationurl-validation),
// or Graph never sent the request; the same call made again succeeds
// (microsoftgraph/nodejs-webhooks-sample#350).
func validationTimedOut(err error) bool {
	pe, ok := errors.AsType[*provider.Error](err)
	return ok && pe.StatusCode == http.StatusBadRequest &&
		strings.Contains(strings.ToLower(pe.Message), "validation request timed out")
}

// ceilingMessage matches Graph's 400 ExtensionError "Subscription expiration
// can only be N minutes in the future." (quoted live with N = 10070 and,
// in 2018, 4230, microsoftgraph/microsoft-graph-docs#2988); the documented
// maximum is in
// https://learn.microsoft.com/graph/change-notifications-overview#subscription-lifetime.
var ceilingMessage = regexp.MustCompile(`(?i)subscription expiration can only be (\d+) minutes in the future`)

// lifetimeCeiling returns N minutes of Graph's lifetime refusal.
func lifetimeCeiling(err error) (time.Duration, bool) {
	pe, ok := errors.AsType[*provider.Error](err)
	if !ok || pe.StatusCode != http.StatusBadRequest {
		return 0, false
	}
	m := ceilingMessage.FindStringSubmatch(pe.Message)
	if m == nil {
		return 0, false
	}
	n, err := strconv.Atoi(m[1])
	if err != nil || n < 1 || n > int(MaxSubscriptionTTL/time.Minute) {
		return 0, false
	}
	return time.Duration(n) * time.Minute, true
}

// lowerCeiling remembers Graph's ceiling n, less a margin for clock skew
// and latency: a tenth of n, at most the hour DefaultSubscriptionTTL keeps.
func (p *Provider) lowerCeiling(n time.Duration) {
	c := n - min(n/10, MaxSubscriptionTTL-DefaultSubscriptionTTL)
	for {
		old := p.ceiling.Load()
		if old != 0 && time.Duration(old) <= c {
			return
		}
		if p.ceiling.CompareAndSwap(old, int64(c)) {
			return
		}
	}
}

// ttl is the lifetime to ask for: d, or the configured default when d is
// zero or negative, at most Config.SubscriptionTTL and at most the ceiling
// Graph reported.
func (p *Provider) ttl(d time.Duration) time.Duration {
	if d <= 0 || d > p.cfg.SubscriptionTTL {
		d = p.cfg.SubscriptionTTL
	}
	if c := time.Duration(p.ceiling.Load()); c > 0 && d > c {
		d = c
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
