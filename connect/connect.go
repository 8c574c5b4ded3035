package connect

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"time"

	"golang.org/x/oauth2"

	"github.com/calsync/calsync"
	"github.com/calsync/calsync/vault"
)

// The errors a failed flow wraps, for Config.Failed to tell apart. None of
// them, nor anything that wraps them, carries a code, a token or a state
// value.
var (
	// ErrDenied: the user declined consent at the provider (or the
	// provider refused to ask: error=access_denied and its kin).
	ErrDenied = errors.New("connect: consent denied")
	// ErrBadState: the callback's state is malformed, expired, already
	// used, or was issued to another user: a stale or replayed link, or a
	// forged request.
	ErrBadState = errors.New("connect: invalid, expired or reused state")
	// ErrExchange: the provider refused to exchange the authorization
	// code for a token, or could not be reached.
	ErrExchange = errors.New("connect: code exchange failed")
	// ErrUnknownProvider: the start request names no configured provider.
	ErrUnknownProvider = errors.New("connect: unknown provider")
	// ErrNoUser: Config.User found no signed-in user.
	ErrNoUser = errors.New("connect: no signed-in user")
)

// DefaultStateTTL is how long a flow may take from Start to Callback.
const DefaultStateTTL = 10 * time.Minute

// Leases is the lease capability of a calsync Store (calsync.Leases): with
// it, a state is single-use across every instance sharing the Store.
type Leases interface {
	AcquireLease(ctx context.Context, name, owner string, now time.Time, ttl time.Duration) (bool, error)
	ReleaseLease(ctx context.Context, name, owner string) error
}

// Config configures a [Flow].
type Config struct {
	// Engine is the Engine the accounts are connected to. Required.
	Engine *calsync.Engine
	// Vault seals the tokens, and the state values in flight. Required.
	Vault *vault.Vault
	// Tokens stores the sealed tokens: usually the Engine's Store.
	// Required.
	Tokens vault.Accounts
	// Sources are the providers' token sources, by provider name. A new
	// token is stored through the provider's one ([vault.Sources.PutToken]:
	// under its token lease, dropping the cached token) so that no refresh
	// of the old grant in flight overwrites it. Default: none; the token
	// is stored with Vault.PutToken.
	Sources map[string]*vault.Sources
	// Leases makes each state single-use across instances: usually the
	// Engine's Store. Default: Tokens, if it implements Leases; otherwise
	// states are single-use within this process only.
	Leases Leases
	// Providers are the OAuth clients, one per provider name (see
	// [Google] and [Microsoft]). Required.
	Providers []Provider
	// User returns the id of the host's signed-in user making the request
	// (from the host's session). The flow is bound to it: a callback
	// completed by another user, or by nobody, fails with ErrBadState.
	// Required.
	User func(r *http.Request) (string, error)
	// AccountID names the account that a user's grant at a provider
	// becomes (calsync.Calendar.AccountID). Default: [DefaultAccountID],
	// one account per user and provider.
	AccountID func(user, provider string) string
	// StateTTL is how long a started flow stays valid. Default:
	// DefaultStateTTL.
	StateTTL time.Duration
	// ConnectPrimary, if set, makes the callback connect the account's
	// primary calendar (calendar id [CalendarID]) with this request; the
	// host's page then only confirms. Default: nil, the host lets the user
	// choose among Result.Calendars.
	ConnectPrimary *calsync.ConnectRequest
	// Done writes the response to a completed flow: the token is stored,
	// the account active (and resumed if it needed reauthorization), its
	// calendars listed. Typically a calendar picker, or a redirect.
	// Default: a plain page listing the calendars.
	Done func(w http.ResponseWriter, r *http.Request, res Result)
	// Failed writes the response to a failed flow; err wraps one of the
	// package's errors (or the Engine's, for a failure after the token
	// was stored). Default: a plain page saying what happened and what to
	// do, with status 400 (403 for ErrDenied, 502 for ErrExchange).
	Failed func(w http.ResponseWriter, r *http.Request, err error)
	// HTTPClient is used for the code exchange. Default:
	// http.DefaultClient.
	HTTPClient *http.Client
	// Now returns the current time. Default: time.Now.
	Now func() time.Time
	// Logger receives the flow's events, never a code, token or state.
	// Default: slog.Default().
	Logger *slog.Logger
}

// Provider is one OAuth client: how users grant calendar access at one
// provider.
type Provider struct {
	// Name is the calsync provider name (google.Name, msgraph.Name).
	Name string
	// OAuth is the client: ClientID, ClientSecret, Endpoint, Scopes, and
	// RedirectURL, the URL where [Flow.Callback] is mounted, as
	// registered with the provider.
	OAuth oauth2.Config
	// AuthOptions are added to every authorization URL.
	AuthOptions []oauth2.AuthCodeOption
}

// The scopes [Google] and [Microsoft] ask for.
const (
	GoogleScopeReadonly = "https://www.googleapis.com/auth/calendar.readonly"
	GoogleScopeEvents   = "https://www.googleapis.com/auth/calendar.events"
	// GoogleScopeCalendarList lets a write-access grant list the user's
	// calendars (calendar.events alone does not cover calendarList).
	GoogleScopeCalendarList  = "https://www.googleapis.com/auth/calendar.calendarlist.readonly"
	MicrosoftScopeRead       = "https://graph.microsoft.com/Calendars.Read"
	MicrosoftScopeReadWrite  = "https://graph.microsoft.com/Calendars.ReadWrite"
	MicrosoftScopeMailbox    = "https://graph.microsoft.com/MailboxSettings.Read"
	MicrosoftScopeOfflineUse = "offline_access"
)

// Google returns the Provider for Google Calendar with client conf (its
// Scopes are replaced): calendar.readonly, or calendar.events and the
// calendar list when write is set; with access_type=offline and
// prompt=consent, so that Google returns a refresh token on every
// consent, a reconnect included.
func Google(name string, conf oauth2.Config, write bool) Provider {
	conf.Scopes = []string{GoogleScopeReadonly}
	if write {
		conf.Scopes = []string{GoogleScopeEvents, GoogleScopeCalendarList}
	}
	return Provider{Name: name, OAuth: conf, AuthOptions: []oauth2.AuthCodeOption{oauth2.AccessTypeOffline, oauth2.ApprovalForce}}
}

// Microsoft returns the Provider for Outlook calendars through Microsoft
// Graph with client conf (its Scopes are replaced): Calendars.Read, or
// Calendars.ReadWrite when write is set, MailboxSettings.Read (for the
// time zone of the calendars) and offline_access, so that a refresh token
// is returned.
func Microsoft(name string, conf oauth2.Config, write bool) Provider {
	cal := MicrosoftScopeRead
	if write {
		cal = MicrosoftScopeReadWrite
	}
	conf.Scopes = []string{cal, MicrosoftScopeMailbox, MicrosoftScopeOfflineUse}
	return Provider{Name: name, OAuth: conf}
}

// DefaultAccountID is the default Config.AccountID: provider + ":" + user.
func DefaultAccountID(user, provider string) string { return provider + ":" + user }

// CalendarID is the calendar id Config.ConnectPrimary uses, and a
// reasonable one for hosts: accountID + "/" + remoteID.
func CalendarID(accountID, remoteID string) string { return accountID + "/" + remoteID }

// Result is what a completed flow hands to Config.Done.
type Result struct {
	// User is the host's user who completed the flow.
	User string
	// Provider is the provider's name.
	Provider string
	// AccountID is the account the grant was stored under.
	AccountID string
	// Reconnected is true if the account needed reauthorization before:
	// its calendars were resumed.
	Reconnected bool
	// Calendars are the account's calendars, the primary one first.
	Calendars []calsync.CalendarInfo
	// Connected is the calendar connected by Config.ConnectPrimary, if any.
	Connected *calsync.Calendar
}

// Flow serves the connect flow: [Flow.Start] sends the user to the
// provider's consent page, [Flow.Callback] finishes. Safe for concurrent
// use.
type Flow struct {
	cfg       Config
	providers map[string]Provider

	mu   sync.Mutex
	used map[string]time.Time // states spent in this process, without Leases
}

// New returns a Flow for cfg, or an error if cfg is invalid.
func New(cfg Config) (*Flow, error) {
	switch {
	case cfg.Engine == nil:
		return nil, errors.New("connect: Config.Engine is required")
	case cfg.Vault == nil:
		return nil, errors.New("connect: Config.Vault is required")
	case cfg.Tokens == nil:
		return nil, errors.New("connect: Config.Tokens is required")
	case cfg.User == nil:
		return nil, errors.New("connect: Config.User is required")
	case len(cfg.Providers) == 0:
		return nil, errors.New("connect: Config.Providers is empty")
	}
	f := &Flow{cfg: cfg, providers: make(map[string]Provider, len(cfg.Providers)), used: make(map[string]time.Time)}
	for _, p := range cfg.Providers {
		if p.Name == "" || p.OAuth.ClientID == "" || p.OAuth.RedirectURL == "" || p.OAuth.Endpoint.AuthURL == "" || p.OAuth.Endpoint.TokenURL == "" {
			return nil, fmt.Errorf("connect: provider %q needs a name, a client id, a redirect URL and both endpoint URLs", p.Name)
		}
		if _, dup := f.providers[p.Name]; dup {
			return nil, fmt.Errorf("connect: provider %q configured twice", p.Name)
		}
		f.providers[p.Name] = p
	}
	if f.cfg.AccountID == nil {
		f.cfg.AccountID = DefaultAccountID
	}
	if f.cfg.StateTTL <= 0 {
		f.cfg.StateTTL = DefaultStateTTL
	}
	if f.cfg.Now == nil {
		f.cfg.Now = time.Now
	}
	if f.cfg.Logger == nil {
		f.cfg.Logger = slog.Default()
	}
	if f.cfg.Leases == nil {
		f.cfg.Leases, _ = cfg.Tokens.(Leases)
	}
	if f.cfg.Done == nil {
		f.cfg.Done = defaultDone
	}
	if f.cfg.Failed == nil {
		f.cfg.Failed = defaultFailed
	}
	return f, nil
}

// Start returns the handler that starts a flow: GET or POST with the
// query parameter provider=<name> (optionally login_hint=<address>)
// redirects the signed-in user to the provider's consent page with a
// fresh state and PKCE challenge.
func (f *Flow) Start() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodPost {
			w.Header().Set("Allow", "GET, POST")
			http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
			return
		}
		name := r.FormValue("provider")
		p, ok := f.providers[name]
		if !ok {
			f.fail(w, r, fmt.Errorf("%w %.64q", ErrUnknownProvider, name))
			return
		}
		user, err := f.cfg.User(r)
		if err != nil || user == "" {
			f.fail(w, r, fmt.Errorf("%w: %w", ErrNoUser, orNoUser(err)))
			return
		}
		verifier := oauth2.GenerateVerifier()
		state, err := f.seal(pending{User: user, Provider: name, Verifier: verifier, Expires: f.cfg.Now().Add(f.cfg.StateTTL).Unix()})
		if err != nil {
			f.fail(w, r, err)
			return
		}
		opts := append([]oauth2.AuthCodeOption{oauth2.S256ChallengeOption(verifier)}, p.AuthOptions...)
		if hint := r.FormValue("login_hint"); hint != "" && len(hint) <= 256 {
			opts = append(opts, oauth2.SetAuthURLParam("login_hint", hint))
		}
		w.Header().Set("Cache-Control", "no-store")
		w.Header().Set("Referrer-Policy", "no-referrer")
		http.Redirect(w, r, p.OAuth.AuthCodeURL(state, opts...), http.StatusFound)
	})
}

func orNoUser(err error) error {
	if err == nil {
		return errors.New("empty user id")
	}
	return err
}

// Callback returns the handler mounted at the providers' redirect URL. It
// checks the state (bound to the signed-in user, single-use, unexpired),
// exchanges the code with its PKCE verifier, stores the token sealed,
// marks the account active (resuming it if it needed reauthorization),
// lists its calendars, connects the primary one if Config.ConnectPrimary
// is set, and hands over to Config.Done; any failure goes to
// Config.Failed.
func (f *Flow) Callback() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "no-store")
		w.Header().Set("Referrer-Policy", "no-referrer")
		if r.Method != http.MethodGet {
			w.Header().Set("Allow", "GET")
			http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
			return
		}
		res, err := f.finish(r)
		if err != nil {
			f.fail(w, r, err)
			return
		}
		f.cfg.Logger.InfoContext(r.Context(), "connect: account connected", "provider", res.Provider, "account", res.AccountID,
			"calendars", len(res.Calendars), "reconnected", res.Reconnected)
		f.cfg.Done(w, r, res)
	})
}

func (f *Flow) finish(r *http.Request) (Result, error) {
	ctx := r.Context()
	q := r.URL.Query()
	st, err := f.take(ctx, r, q.Get("state"))
	if err != nil {
		return Result{}, err
	}
	res := Result{User: st.User, Provider: st.Provider}
	if e := q.Get("error"); e != "" {
		// access_denied above all; consent_required, interaction_required
		// and the like mean the same to the user: no grant.
		return res, fmt.Errorf("%w at %s (%.64s)", ErrDenied, st.Provider, e)
	}
	code := q.Get("code")
	if code == "" {
		return res, fmt.Errorf("%w: the callback carries no code", ErrExchange)
	}
	p := f.providers[st.Provider]
	if f.cfg.HTTPClient != nil {
		ctx = context.WithValue(ctx, oauth2.HTTPClient, f.cfg.HTTPClient)
	}
	tok, err := p.OAuth.Exchange(ctx, code, oauth2.VerifierOption(st.Verifier))
	if err != nil {
		// RetrieveError's text echoes the response body: only its code.
		if re, ok := errors.AsType[*oauth2.RetrieveError](err); ok {
			return res, fmt.Errorf("%w at %s: %.64s (HTTP %d)", ErrExchange, st.Provider, re.ErrorCode, re.Response.StatusCode)
		}
		return res, fmt.Errorf("%w at %s: the token endpoint could not be reached", ErrExchange, st.Provider)
	}
	res.AccountID = f.cfg.AccountID(st.User, st.Provider)
	if tok.ExpiresIn > 0 {
		// oauth2 dates the expiry by the wall clock; the token sources
		// judge it by Config.Now.
		tok.Expiry = f.cfg.Now().Add(time.Duration(tok.ExpiresIn) * time.Second)
	}
	if tok.RefreshToken == "" {
		// Some consents return none (a re-consent without prompt): keep
		// the one stored, if any; without one the account needs a new
		// consent when this access token expires.
		if old, err := f.cfg.Vault.Token(ctx, f.cfg.Tokens, res.AccountID); err == nil && old.RefreshToken != "" {
			tok.RefreshToken = old.RefreshToken
		} else {
			f.cfg.Logger.WarnContext(ctx, "connect: the provider returned no refresh token; the account will need reconnecting when the access token expires",
				"provider", st.Provider, "account", res.AccountID)
		}
	}
	put := func(ctx context.Context, id string, tok *oauth2.Token) error {
		return f.cfg.Vault.PutToken(ctx, f.cfg.Tokens, id, tok)
	}
	if s := f.cfg.Sources[st.Provider]; s != nil {
		put = s.PutToken
	}
	if err := put(ctx, res.AccountID, tok); err != nil {
		return res, fmt.Errorf("connect: store token: %w", err)
	}
	prev, err := f.cfg.Engine.Account(ctx, res.AccountID)
	res.Reconnected = err == nil && prev.Status == calsync.AccountNeedsReauth
	if err := f.cfg.Engine.ResumeAccount(ctx, res.AccountID, st.Provider); err != nil {
		// The grant is stored and the account active; a calendar that
		// failed to resume is retried by the Engine.
		f.cfg.Logger.WarnContext(ctx, "connect: resuming the account's calendars", "account", res.AccountID, "err", err)
	}
	if res.Calendars, err = f.cfg.Engine.ListCalendars(ctx, st.Provider, res.AccountID); err != nil {
		return res, err
	}
	if f.cfg.ConnectPrimary != nil {
		for _, c := range res.Calendars {
			if !c.Primary {
				continue
			}
			cal := calsync.Calendar{ID: CalendarID(res.AccountID, c.ID), Provider: st.Provider, AccountID: res.AccountID, RemoteID: c.ID}
			if _, err := f.cfg.Engine.Connect(ctx, cal, *f.cfg.ConnectPrimary); err != nil {
				return res, err
			}
			res.Connected = &cal
			break
		}
	}
	return res, nil
}

// pending is what a state carries, sealed: who started the flow, for which
// provider, the PKCE verifier and the deadline.
type pending struct {
	Nonce    string `json:"n"`
	User     string `json:"u"`
	Provider string `json:"p"`
	Verifier string `json:"v"`
	Expires  int64  `json:"e"`
}

var stateAAD = []byte("calsync/connect/state/v1")

// seal returns the state value for p: "<key id>.<sealed p>", base64url.
func (f *Flow) seal(p pending) (string, error) {
	nonce := make([]byte, 16)
	_, _ = rand.Read(nonce) // never fails (crypto/rand)
	p.Nonce = base64.RawURLEncoding.EncodeToString(nonce)
	pt, err := json.Marshal(p)
	if err != nil {
		return "", fmt.Errorf("connect: %w", err)
	}
	keyID, ct := f.cfg.Vault.Seal(pt, stateAAD)
	clear(pt)
	return base64.RawURLEncoding.EncodeToString([]byte(keyID)) + "." + base64.RawURLEncoding.EncodeToString(ct), nil
}

// take opens state, checks it belongs to the signed-in user and has not
// expired, and spends it.
func (f *Flow) take(ctx context.Context, r *http.Request, state string) (pending, error) {
	if state == "" || len(state) > 4096 {
		return pending{}, fmt.Errorf("%w: missing or oversized", ErrBadState)
	}
	k, c, ok := strings.Cut(state, ".")
	keyID, err1 := base64.RawURLEncoding.DecodeString(k)
	ct, err2 := base64.RawURLEncoding.DecodeString(c)
	if !ok || err1 != nil || err2 != nil {
		return pending{}, fmt.Errorf("%w: malformed", ErrBadState)
	}
	pt, err := f.cfg.Vault.Open(string(keyID), ct, stateAAD)
	if err != nil {
		return pending{}, fmt.Errorf("%w: not issued here", ErrBadState)
	}
	var p pending
	err = json.Unmarshal(pt, &p)
	clear(pt)
	if err != nil || p.Nonce == "" {
		return pending{}, fmt.Errorf("%w: malformed", ErrBadState)
	}
	if _, ok := f.providers[p.Provider]; !ok {
		return pending{}, fmt.Errorf("%w: provider no longer configured", ErrBadState)
	}
	now := f.cfg.Now()
	if now.Unix() > p.Expires {
		return pending{}, fmt.Errorf("%w: expired", ErrBadState)
	}
	user, err := f.cfg.User(r)
	if err != nil || subtle.ConstantTimeCompare([]byte(user), []byte(p.User)) != 1 {
		return pending{}, fmt.Errorf("%w: started by another user", ErrBadState)
	}
	if err := f.spend(ctx, p.Nonce, time.Unix(p.Expires, 0).Sub(now)); err != nil {
		return pending{}, err
	}
	return p, nil
}

// spend marks a state's nonce used: a lease held until the state expires
// (every instance sharing the Store sees it), or an entry in this
// process's table without Leases.
func (f *Flow) spend(ctx context.Context, nonce string, left time.Duration) error {
	sum := sha256.Sum256([]byte(nonce))
	name := "connect/state/" + hex.EncodeToString(sum[:16])
	now := f.cfg.Now()
	if f.cfg.Leases != nil {
		owner := make([]byte, 16)
		_, _ = rand.Read(owner)
		ok, err := f.cfg.Leases.AcquireLease(ctx, name, hex.EncodeToString(owner), now, left+time.Minute)
		if err != nil {
			return fmt.Errorf("connect: spend state: %w", err)
		}
		if !ok {
			return fmt.Errorf("%w: already used", ErrBadState)
		}
		return nil
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	for k, exp := range f.used {
		if now.After(exp) {
			delete(f.used, k)
		}
	}
	if _, seen := f.used[name]; seen {
		return fmt.Errorf("%w: already used", ErrBadState)
	}
	f.used[name] = now.Add(left + time.Minute)
	return nil
}

// fail logs err and hands it to Config.Failed.
func (f *Flow) fail(w http.ResponseWriter, r *http.Request, err error) {
	f.cfg.Logger.WarnContext(r.Context(), "connect: flow failed", "err", err)
	f.cfg.Failed(w, r, err)
}
