package msgraph

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/oauth2"

	khttp "github.com/microsoft/kiota-http-go"
	msgraphsdk "github.com/microsoftgraph/msgraph-sdk-go"
	core "github.com/microsoftgraph/msgraph-sdk-go-core"

	"github.com/calsync/calsync/provider"
	"github.com/calsync/calsync/retry"
)

// Name is the provider name stored with Graph calendars and subscriptions.
const Name = "msgraph"

// Defaults and limits for Config fields.
const (
	// DefaultBaseURL is Microsoft Graph v1.0.
	DefaultBaseURL = "https://graph.microsoft.com/v1.0"
	// DefaultWindowBefore and DefaultWindowAfter bound the calendarView
	// window of a full sync: from 30 days before its start to 365 days
	// after.
	DefaultWindowBefore = 30 * 24 * time.Hour
	DefaultWindowAfter  = 365 * 24 * time.Hour
	// DefaultWindowSlide is how long a calendarView window is used before
	// a full resync moves it forward: 30 days, so the window always reaches
	// at least 335 days ahead.
	DefaultWindowSlide = 30 * 24 * time.Hour
	// DefaultMaxPageSize is the odata.maxpagesize asked for. Graph does not
	// document its own default for delta (one project reports 10) and does
	// not strictly honour the preference when a recurring series expands
	// (pages larger than asked and a nextLink loop were reported in
	// https://github.com/microsoftgraph/msgraph-sdk-dotnet/issues/3070), so
	// 100 keeps round trips few and pages small.
	DefaultMaxPageSize = 100
	// LimitMaxPageSize is the largest MaxPageSize accepted.
	LimitMaxPageSize = 1000
	// MaxSubscriptionTTL is the longest lifetime Graph grants an Outlook
	// event subscription without resource data. The documentation says
	// 10,080 minutes, but the live service refuses more than 10,070
	// (400 ExtensionError "Subscription expiration can only be 10070
	// minutes in the future"), so the live value is the limit
	// (https://learn.microsoft.com/en-us/graph/change-notifications-overview#subscription-lifetime).
	MaxSubscriptionTTL = 10070 * time.Minute
	// DefaultSubscriptionTTL is MaxSubscriptionTTL less one hour: the
	// expiration is computed from this process's clock, sent over the
	// network and checked against Graph's clock, and a request that lands
	// even a second beyond the ceiling fails with 400. The margin absorbs
	// clock skew and latency and still leaves just under seven days.
	DefaultSubscriptionTTL = MaxSubscriptionTTL - time.Hour
	// MaxClientStateLength is the longest clientState a subscription may
	// carry (subscription resource: 128 characters).
	MaxClientStateLength = 128
	// ChangeTypes are the changes every subscription asks for.
	ChangeTypes = "created,updated,deleted"
	// DefaultMailboxConcurrency is how many requests of one account a
	// Provider has in flight at once: Outlook's limit of 4 concurrent
	// requests per app per mailbox
	// (https://learn.microsoft.com/graph/throttling-limits#outlook-service-limits),
	// beyond which Graph answers 429 ApplicationThrottled "Application is
	// over its MailboxConcurrency limit.".
	DefaultMailboxConcurrency = retry.DefaultGraphConcurrency
	// DefaultValidationRetries is how often a subscription call whose
	// validation handshake Graph reports timed out is repeated: twice, so
	// three tries in all.
	DefaultValidationRetries = 2
)

// TokenSourceFunc returns the OAuth 2.0 token source of a host account. The
// tokens must carry a Graph scope that allows reading calendars and
// subscribing to them (Calendars.Read).
type TokenSourceFunc func(ctx context.Context, accountID string) (oauth2.TokenSource, error)

// Window is the calendarView window of a full sync, relative to the time the
// full sync starts. Graph's delta links remember the window they were made
// with, so later incremental syncs keep it until the next full sync.
type Window struct {
	// Before is how far back the window reaches. Default: DefaultWindowBefore.
	Before time.Duration
	// After is how far ahead it reaches. Default: DefaultWindowAfter.
	After time.Duration
	// Slide is how long a window is used: a calendar whose window was set
	// this long ago is fully resynced over a new one (Fetch answers
	// provider.ErrFullSyncRequired), so that the window moves with time
	// and its end stays at least After − Slide ahead. Its start moves too:
	// that full sync's sweep removes from the local copy (and reports as
	// deletions) the events that ended more than Before before it, though
	// the mailbox keeps them. Default: DefaultWindowSlide.
	Slide time.Duration
}

// Config configures a Provider. TokenSource is required.
type Config struct {
	// TokenSource returns the token source of the account that owns a
	// calendar (Calendar.AccountID). Required.
	TokenSource TokenSourceFunc
	// HTTPClient carries the API calls; its Transport is the base of the
	// SDK's pipeline. The SDK's own retry middleware is not used, so that
	// retries have one policy. Default: [DefaultHTTPClient], which retries
	// transient failures with the default retry.Policy (429, 5xx,
	// Retry-After honoured, fractions included) over a per-account rate
	// limiter at retry.GraphLimits (4 requests in flight, 10,000 per 10
	// minutes per mailbox). Pass your own client to change either;
	// &http.Client{} disables both (MailboxConcurrency applies whatever
	// the client).
	HTTPClient *http.Client
	// Limiter replaces the default client's per-process limiter: give
	// every instance of a cluster the same cluster-wide limiter (a
	// retry/pglimit.Limiter at retry.GraphLimits) so that Graph's 4
	// concurrent requests and 10,000 per 10 minutes per mailbox hold for
	// all of them together. Only with the default client: setting both
	// Limiter and HTTPClient is an error (put a retry.LimitTransport in
	// your own client instead). WithDefaults builds the default client
	// over it and clears the field. Default: nil, a retry.Limiter of this
	// Provider's own.
	Limiter retry.AccountLimiter
	// BaseURL is the Graph service root, without a trailing slash.
	// Tokens are only ever sent to its host. Default: DefaultBaseURL.
	// Tests point it at an msgraphtest server.
	BaseURL string
	// Window is the calendarView window. Ignored with UseEventsDelta.
	Window Window
	// UseEventsDelta syncs with events/delta (series masters and single
	// events, no window, no expanded occurrences) instead of
	// calendarView/delta. Graph documents events/delta only in beta, so
	// BaseURL must point at a service that serves it. Cursors remember the
	// mode they were made with; changing it makes the next sync of every
	// calendar a full one. Default: false.
	UseEventsDelta bool
	// MaxPageSize is sent as Prefer: odata.maxpagesize, 1..LimitMaxPageSize.
	// Default: DefaultMaxPageSize.
	MaxPageSize int
	// SubscriptionTTL is the lifetime of new and renewed subscriptions when
	// the Engine asks for none, and the most any request gets,
	// 1 minute..MaxSubscriptionTTL. Default: DefaultSubscriptionTTL.
	SubscriptionTTL time.Duration
	// MailboxConcurrency is how many requests of one account (the mailbox
	// its token reads) the Provider has in flight at once, whatever
	// HTTPClient does: a request holds its slot from sending until its
	// answer is read, retries of HTTPClient's transport included, so that
	// Graph's "4 concurrent requests per mailbox" is met within this
	// process and its 429 ApplicationThrottled stays the exception (other
	// processes of the same app share Graph's count; use a cluster-wide
	// Limiter for those). Default:
	// DefaultMailboxConcurrency (4); negative: no limit.
	MailboxConcurrency int
	// ValidationRetry is how a create, renew or reauthorize is repeated
	// when Graph answers 400 "Subscription validation request timed out.":
	// Graph validates the notification URLs on each of them and sometimes
	// never sends the request, and the same call made again then succeeds
	// (microsoftgraph/msgraph-sdk-dotnet#2805,
	// microsoftgraph/nodejs-webhooks-sample#350). Default: retry's Policy
	// with MaxRetries
	// DefaultValidationRetries (3 tries; waits of 1 s, then 2 s, plus
	// jitter, on Clock). After the last try the call returns the error.
	// retry.NoRetries as MaxRetries disables it.
	ValidationRetry retry.Policy
	// Now returns the current time. Default: time.Now.
	Now func() time.Time
}

// DefaultHTTPClient returns the client a Provider uses when
// Config.HTTPClient is nil: retries (retry.Transport, default Policy) over a
// rate limiter (retry.LimitTransport, retry.GraphLimits) of its own. Each
// call returns a client with a new limiter and a connection pool of its
// own (retry.NewPooledTransport: retry.DefaultIdleConnsPerHost idle
// connections to the API host, enough for the Engine's workers; the
// default transport keeps two); share one client among the Providers
// that should share a quota.
func DefaultHTTPClient() *http.Client {
	lim, err := retry.NewLimiter(retry.GraphLimits(), nil)
	if err != nil {
		// GraphLimits are valid by construction.
		panic("msgraph: default limits: " + err.Error())
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
	if c.BaseURL == "" {
		c.BaseURL = DefaultBaseURL
	}
	c.BaseURL = strings.TrimRight(c.BaseURL, "/")
	if c.Window.Before == 0 {
		c.Window.Before = DefaultWindowBefore
	}
	if c.Window.After == 0 {
		c.Window.After = DefaultWindowAfter
	}
	if c.Window.Slide == 0 {
		c.Window.Slide = DefaultWindowSlide
	}
	if c.MaxPageSize == 0 {
		c.MaxPageSize = DefaultMaxPageSize
	}
	if c.SubscriptionTTL == 0 {
		c.SubscriptionTTL = DefaultSubscriptionTTL
	}
	if c.MailboxConcurrency == 0 {
		c.MailboxConcurrency = DefaultMailboxConcurrency
	}
	if c.ValidationRetry.MaxRetries == 0 {
		c.ValidationRetry.MaxRetries = DefaultValidationRetries
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	return c
}

func (c Config) validate() error {
	if c.TokenSource == nil {
		return errors.New("msgraph: Config.TokenSource is required")
	}
	u, err := url.Parse(c.BaseURL)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.RawQuery != "" {
		return fmt.Errorf("msgraph: Config.BaseURL %q is not an absolute http(s) URL", c.BaseURL)
	}
	if c.Window.Before < 0 || c.Window.After <= 0 || c.Window.Slide < 0 || c.Window.Slide >= c.Window.After {
		return fmt.Errorf("msgraph: Config.Window %+v: Before must be >= 0, After > 0, and Slide between 0 and After", c.Window)
	}
	if c.MaxPageSize < 1 || c.MaxPageSize > LimitMaxPageSize {
		return fmt.Errorf("msgraph: Config.MaxPageSize %d out of range 1..%d", c.MaxPageSize, LimitMaxPageSize)
	}
	if c.SubscriptionTTL < time.Minute || c.SubscriptionTTL > MaxSubscriptionTTL {
		return fmt.Errorf("msgraph: Config.SubscriptionTTL %v out of range 1m..%v", c.SubscriptionTTL, MaxSubscriptionTTL)
	}
	if err := c.ValidationRetry.Validate(); err != nil {
		return fmt.Errorf("msgraph: Config.ValidationRetry: %w", err)
	}
	if c.Limiter != nil {
		return errors.New("msgraph: Config.Limiter applies to the default client only: with your own HTTPClient, put a retry.LimitTransport over it in its Transport")
	}
	return nil
}

// Provider implements provider.Provider, provider.Renewer,
// provider.Reauthorizer, provider.SubscriptionChecker and
// provider.CalendarLister for Microsoft Graph calendars. It is safe for
// concurrent use.
type Provider struct {
	cfg     Config
	base    *url.URL
	adapter *msgraphsdk.GraphRequestAdapter
	client  *msgraphsdk.GraphServiceClient
	// ceiling is the subscription lifetime Graph was last heard to allow
	// (nanoseconds, 0 if never told), see lifetimeCeiling.
	ceiling atomic.Int64
	// betaBase is BaseURL with its /v1.0 replaced by /beta ("" if it has
	// none), and betaCalendars the calendars (betaKey) whose calendarView
	// delta v1.0 refused, see Fetch.
	betaBase      string
	betaCalendars sync.Map
}

var (
	_ provider.Provider            = (*Provider)(nil)
	_ provider.Renewer             = (*Provider)(nil)
	_ provider.Reauthorizer        = (*Provider)(nil)
	_ provider.SubscriptionChecker = (*Provider)(nil)
)

// New returns a Provider for cfg, or an error if cfg is invalid.
func New(cfg Config) (*Provider, error) {
	cfg = cfg.WithDefaults()
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	base, _ := url.Parse(cfg.BaseURL)
	p := &Provider{cfg: cfg, base: base}
	if root, ok := strings.CutSuffix(cfg.BaseURL, "/v1.0"); ok {
		p.betaBase = root + "/beta"
	}

	// The SDK's default pipeline (retry, redirect, compression, telemetry)
	// is replaced by the host's client; only the handler that turns the
	// SDK's /users/me-token-to-replace paths into /me is kept, under a
	// recorder that captures error responses for apiError, over the
	// per-mailbox concurrency limit.
	parent := cfg.HTTPClient.Transport
	if parent == nil {
		parent = http.DefaultTransport
	}
	if cfg.MailboxConcurrency > 0 {
		lim, err := retry.NewLimiter(retry.Limits{Concurrency: cfg.MailboxConcurrency}, nil)
		if err != nil {
			return nil, fmt.Errorf("msgraph: mailbox concurrency: %w", err)
		}
		parent = &retry.LimitTransport{Limiter: lim, Base: parent}
	}
	// A 401 is answered as Microsoft documents it (refresh the token, try
	// again) when the token source can reject a token (vault.Sources);
	// below the recorder, which sees only the final answer.
	parent = &retry.RefreshOn401{Base: parent, Source: func(r *http.Request) (oauth2.TokenSource, error) {
		account, ok := r.Context().Value(accountKey{}).(string)
		if !ok {
			return nil, errNoAccount
		}
		return cfg.TokenSource(r.Context(), account)
	}}
	hc := &http.Client{
		Transport: khttp.NewCustomTransportWithParentTransport(&recorder{base: parent},
			khttp.NewUrlReplaceHandler(true, core.ReplacementPairs)),
		CheckRedirect: p.checkRedirect(cfg.HTTPClient.CheckRedirect),
		Jar:           cfg.HTTPClient.Jar,
		Timeout:       cfg.HTTPClient.Timeout,
	}
	auth, err := newAuthProvider(cfg.TokenSource, base.Hostname())
	if err != nil {
		return nil, err
	}
	adapter, err := msgraphsdk.NewGraphRequestAdapterWithParseNodeFactoryAndSerializationWriterFactoryAndHttpClient(auth, nil, nil, hc)
	if err != nil {
		return nil, fmt.Errorf("msgraph: request adapter: %w", err)
	}
	adapter.SetBaseUrl(cfg.BaseURL)
	p.adapter = adapter
	p.client = msgraphsdk.NewGraphServiceClient(adapter)
	return p, nil
}

// Name returns "msgraph".
func (p *Provider) Name() string { return Name }

// resource is the subscription resource for cal: the events of the signed-in
// user's default calendar, or of the calendar whose id is RemoteID.
func resource(cal provider.Calendar) string {
	if cal.RemoteID == "" {
		return "me/events"
	}
	return "me/calendars/" + url.PathEscape(cal.RemoteID) + "/events"
}

// sameOrigin reports whether link is an absolute URL on the service root's
// scheme and host, so that an access token is never sent elsewhere.
func (p *Provider) sameOrigin(link string) bool {
	u, err := url.Parse(link)
	return err == nil && strings.EqualFold(u.Scheme, p.base.Scheme) && strings.EqualFold(u.Host, p.base.Host)
}
