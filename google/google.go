package google

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"golang.org/x/oauth2"
	calendar "google.golang.org/api/calendar/v3"
	"google.golang.org/api/option"

	"github.com/calsync/calsync/provider"
	"github.com/calsync/calsync/retry"
)

// Name is the provider name stored with Google calendars and subscriptions.
const Name = "google"

// Defaults and limits for Config fields.
const (
	// DefaultPageSize is the events.list maxResults used when
	// Config.PageSize is zero (Google's own default).
	DefaultPageSize = 250
	// MaxPageSize is the largest page Google serves.
	MaxPageSize = 2500
	// DefaultTTL is the channel lifetime requested when a WatchRequest has
	// no TTL (Google's own default, 604800 s).
	DefaultTTL = 7 * 24 * time.Hour
	// MaxChannelIDLength and MaxTokenLength are Google's limits on a
	// channel's id and token.
	MaxChannelIDLength = 64
	MaxTokenLength     = 256
)

// TokenSourceFunc returns the OAuth 2.0 token source of a host account.
type TokenSourceFunc func(ctx context.Context, accountID string) (oauth2.TokenSource, error)

// Config configures a Provider. TokenSource is required.
type Config struct {
	// TokenSource returns the token source of the account that owns a
	// calendar (Calendar.AccountID). Required.
	TokenSource TokenSourceFunc
	// HTTPClient is the client whose Transport carries API calls (the OAuth
	// transport is layered on top of it). Default: a client whose transport
	// retries transient failures with the default retry.Policy (429, 5xx,
	// rate-limit 403s, Retry-After honoured) over a per-account rate limiter
	// at retry.GoogleLimits (600 requests per minute per user). Pass your
	// own client to change either; &http.Client{} disables both.
	HTTPClient *http.Client
	// Limiter replaces the default client's per-process limiter: give
	// every instance of a cluster the same cluster-wide limiter (a
	// retry/pglimit.Limiter at retry.GoogleLimits) so that the per-user
	// quota holds for all of them together. Only with the default client:
	// setting both Limiter and HTTPClient is an error (put a
	// retry.LimitTransport in your own client instead). WithDefaults
	// builds the default client over it and clears the field. Default:
	// nil, a retry.Limiter of this Provider's own.
	Limiter retry.AccountLimiter
	// Endpoint is the API base URL. Default: Google's
	// (https://www.googleapis.com/calendar/v3/). Tests point it at
	// googletest.Server.Endpoint().
	Endpoint string
	// PageSize is the events.list maxResults, 1..MaxPageSize.
	// Default: DefaultPageSize.
	PageSize int
	// SingleEvents expands recurring events into their occurrences. The
	// cursor remembers the mode it was made with; changing this setting
	// makes the next sync of every calendar a full one. Default: false
	// (series plus exceptions, as Google stores them).
	SingleEvents bool
	// Now returns the current time: it dates channels and measures a
	// Retry-After given as an HTTP-date. Default: time.Now.
	Now func() time.Time
}

// DefaultHTTPClient returns the client a Provider uses when
// Config.HTTPClient is nil: retries (retry.Transport, default Policy) over a
// rate limiter (retry.LimitTransport, retry.GoogleLimits) of its own. Each
// call returns a client with a new limiter and a connection pool of its
// own (retry.NewPooledTransport: retry.DefaultIdleConnsPerHost idle
// connections to the API host, enough for the Engine's workers; the
// default transport keeps two); share one client among the Providers
// that should share a quota.
func DefaultHTTPClient() *http.Client {
	lim, err := retry.NewLimiter(retry.GoogleLimits(), nil)
	if err != nil {
		// GoogleLimits are valid by construction.
		panic("google: default limits: " + err.Error())
	}
	return limitedClient(lim)
}

// limitedClient is the default client over lim.
func limitedClient(lim retry.AccountLimiter) *http.Client {
	return &http.Client{Transport: &retry.Transport{Base: &retry.LimitTransport{Limiter: lim, Base: retry.NewPooledTransport()}}}
}

// WithDefaults returns a copy of c with zero fields set to their defaults.
// A Limiter without an HTTPClient becomes the default client's limiter
// (and the field is cleared).
func (c Config) WithDefaults() Config {
	if c.HTTPClient == nil {
		if c.Limiter != nil {
			c.HTTPClient, c.Limiter = limitedClient(c.Limiter), nil
		} else {
			c.HTTPClient = DefaultHTTPClient()
		}
	}
	if c.PageSize == 0 {
		c.PageSize = DefaultPageSize
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	return c
}

func (c Config) validate() error {
	if c.TokenSource == nil {
		return errors.New("google: Config.TokenSource is required")
	}
	if c.PageSize < 1 || c.PageSize > MaxPageSize {
		return fmt.Errorf("google: Config.PageSize %d out of range 1..%d", c.PageSize, MaxPageSize)
	}
	if c.Limiter != nil {
		return errors.New("google: Config.Limiter applies to the default client only: with your own HTTPClient, put a retry.LimitTransport over it in its Transport")
	}
	return nil
}

// Provider implements provider.Provider for Google Calendar with
// events.watch push channels and syncToken incremental sync. It is safe for
// concurrent use.
type Provider struct {
	cfg Config
}

var _ provider.Provider = (*Provider)(nil)

// New returns a Provider for cfg, or an error if cfg is invalid.
func New(cfg Config) (*Provider, error) {
	cfg = cfg.WithDefaults()
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	return &Provider{cfg: cfg}, nil
}

// Name returns "google".
func (p *Provider) Name() string { return Name }

// service returns a Calendar API client authorised as the calendar's
// account.
func (p *Provider) service(ctx context.Context, cal provider.Calendar) (*calendar.Service, error) {
	ts, err := p.cfg.TokenSource(ctx, cal.AccountID)
	if err != nil {
		return nil, fmt.Errorf("google: token source for account %s: %w", cal.AccountID, err)
	}
	// A 401 is answered as Google documents it (refresh the token, try
	// again) when the token source can reject a token (vault.Sources).
	hc := &http.Client{
		Transport: &retry.RefreshOn401{
			Base:   &oauth2.Transport{Source: ts, Base: p.cfg.HTTPClient.Transport},
			Source: func(*http.Request) (oauth2.TokenSource, error) { return ts, nil },
		},
		CheckRedirect: p.cfg.HTTPClient.CheckRedirect,
		Jar:           p.cfg.HTTPClient.Jar,
		Timeout:       p.cfg.HTTPClient.Timeout,
	}
	opts := []option.ClientOption{option.WithHTTPClient(hc)}
	if p.cfg.Endpoint != "" {
		opts = append(opts, option.WithEndpoint(p.cfg.Endpoint))
	}
	svc, err := calendar.NewService(ctx, opts...)
	if err != nil {
		return nil, fmt.Errorf("google: client: %w", err)
	}
	return svc, nil
}

// Watch creates a push channel (events.watch) for the calendar. The channel
// id is req.ID and its token req.Secret; the expiration is explicit
// (req.TTL, default DefaultTTL). Google may shorten it; the returned
// Subscription has the expiration Google granted.
func (p *Provider) Watch(ctx context.Context, cal provider.Calendar, req provider.WatchRequest) (*provider.Subscription, error) {
	ctx = retry.WithAccount(ctx, cal.AccountID) // keys retry.LimitTransport's per-account limits
	switch {
	case req.ID == "" || len(req.ID) > MaxChannelIDLength:
		return nil, fmt.Errorf("google: watch: channel id must be 1..%d characters, got %d", MaxChannelIDLength, len(req.ID))
	case len(req.Secret) > MaxTokenLength:
		return nil, fmt.Errorf("google: watch: channel token longer than %d characters", MaxTokenLength)
	case req.Address == "":
		return nil, errors.New("google: watch: address is empty")
	}
	svc, err := p.service(ctx, cal)
	if err != nil {
		return nil, err
	}
	ttl := req.TTL
	if ttl <= 0 {
		ttl = DefaultTTL
	}
	now := p.cfg.Now()
	ch, err := svc.Events.Watch(remoteID(cal), &calendar.Channel{
		Id:         req.ID,
		Token:      req.Secret,
		Type:       "web_hook",
		Address:    req.Address,
		Expiration: now.Add(ttl).UnixMilli(),
	}).Context(ctx).Do()
	if err != nil {
		return nil, calendarError("events.watch", err, p.cfg.Now())
	}
	if ch.Id != req.ID {
		return nil, fmt.Errorf("google: events.watch returned channel id %q, asked for %q", ch.Id, req.ID)
	}
	if ch.ResourceId == "" {
		return nil, errors.New("google: events.watch returned no resourceId")
	}
	sub := &provider.Subscription{
		ID:          ch.Id,
		CalendarID:  cal.ID,
		Provider:    Name,
		ResourceID:  ch.ResourceId,
		ResourceURI: ch.ResourceUri,
		Secret:      req.Secret,
		Address:     req.Address,
		Created:     now,
		Expiration:  now.Add(DefaultTTL),
	}
	if ch.Expiration > 0 {
		sub.Expiration = time.UnixMilli(ch.Expiration).UTC()
	}
	return sub, nil
}

// Stop stops a channel (channels.stop with its id and resourceId).
func (p *Provider) Stop(ctx context.Context, cal provider.Calendar, sub *provider.Subscription) error {
	ctx = retry.WithAccount(ctx, cal.AccountID) // keys retry.LimitTransport's per-account limits
	if sub.ID == "" || sub.ResourceID == "" {
		return fmt.Errorf("google: channels.stop: channel %q has no resourceId (was it ever created?): %w", sub.ID, provider.ErrNotFound)
	}
	svc, err := p.service(ctx, cal)
	if err != nil {
		return err
	}
	if err := svc.Channels.Stop(&calendar.Channel{Id: sub.ID, ResourceId: sub.ResourceID}).Context(ctx).Do(); err != nil {
		return apiError("channels.stop", err, p.cfg.Now())
	}
	return nil
}

// Fetch lists one page of events.list: a full listing when pos.Cursor is
// empty, otherwise the changes since the sync token in pos.Cursor
// (deleted events included, as status "cancelled"). A 410, or a 400 that
// rejects the sync token, maps to provider.ErrFullSyncRequired.
func (p *Provider) Fetch(ctx context.Context, cal provider.Calendar, pos provider.Position) (*provider.Page, error) {
	ctx = retry.WithAccount(ctx, cal.AccountID) // keys retry.LimitTransport's per-account limits
	syncToken, pageToken, err := p.decodePosition(pos)
	if err != nil {
		return nil, err
	}
	svc, err := p.service(ctx, cal)
	if err != nil {
		return nil, err
	}
	// An incremental call must repeat the initial call's parameters and
	// must not carry those Google forbids with syncToken (timeMin, q,
	// orderBy, updatedMin, ...), nor showDeleted=false.
	call := svc.Events.List(remoteID(cal)).
		MaxResults(int64(p.cfg.PageSize)).
		SingleEvents(p.cfg.SingleEvents).
		Context(ctx)
	if syncToken != "" {
		call.SyncToken(syncToken)
	}
	if pageToken != "" {
		call.PageToken(pageToken)
	}
	res, err := call.Do()
	if err != nil {
		return nil, listError(err, syncToken != "", p.cfg.Now())
	}
	page := &provider.Page{Changes: make([]provider.Change, 0, len(res.Items))}
	// deletedSeries are the events this page deletes (see change).
	deletedSeries := make(map[string]bool)
	for _, item := range res.Items {
		if item != nil && item.Status == "cancelled" && item.RecurringEventId == "" {
			deletedSeries[item.Id] = true
		}
	}
	for _, item := range res.Items {
		ch, err := change(cal.ID, item, p.cfg.SingleEvents, deletedSeries)
		if err != nil {
			return nil, err
		}
		page.Changes = append(page.Changes, ch)
	}
	switch {
	case res.NextPageToken != "":
		page.NextPageToken = p.encode(res.NextPageToken)
	case res.NextSyncToken != "":
		page.NextCursor = p.encode(res.NextSyncToken)
	default:
		return nil, errors.New("google: events.list returned neither nextPageToken nor nextSyncToken")
	}
	return page, nil
}

// Cursors and page tokens are stored with the expansion mode they were made
// with, because Google requires an incremental sync to repeat the initial
// query's parameters. A token made in the other mode, or not made by this
// package, starts a full sync.
const (
	prefixSingle   = "g1s:"
	prefixExpanded = "g1r:"
)

func (p *Provider) prefix() string {
	if p.cfg.SingleEvents {
		return prefixSingle
	}
	return prefixExpanded
}

func (p *Provider) encode(token string) string { return p.prefix() + token }

func (p *Provider) decodePosition(pos provider.Position) (syncToken, pageToken string, err error) {
	decode := func(what, s string) (string, error) {
		if s == "" {
			return "", nil
		}
		if t, ok := strings.CutPrefix(s, p.prefix()); ok && t != "" {
			return t, nil
		}
		return "", fmt.Errorf("google: %s was made with other settings (SingleEvents changed?) or by another provider: %w", what, provider.ErrFullSyncRequired)
	}
	if syncToken, err = decode("cursor", pos.Cursor); err != nil {
		return "", "", err
	}
	if pageToken, err = decode("page token", pos.PageToken); err != nil {
		return "", "", err
	}
	return syncToken, pageToken, nil
}

// remoteID is the Google calendar id; "primary" when the calendar has none.
func remoteID(cal provider.Calendar) string {
	if cal.RemoteID == "" {
		return "primary"
	}
	return cal.RemoteID
}
