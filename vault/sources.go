package vault

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/oauth2"

	"github.com/calsync/calsync/provider"
)

// Defaults of [SourcesConfig].
const (
	// DefaultRefreshBefore is how long before its expiry a token is
	// refreshed, so that a request does not leave with a token that
	// expires on the way.
	DefaultRefreshBefore = time.Minute
	// DefaultTokenLeaseTTL is how long the lease "token/"+account id that
	// a refresh holds lasts. It only matters when an instance dies
	// mid-refresh (the others wait this long, at most
	// DefaultTokenLeaseWait, before refreshing themselves).
	DefaultTokenLeaseTTL = 30 * time.Second
	// DefaultTokenLeaseWait bounds how long a refresh waits while another
	// instance holds an account's token lease, re-reading the stored
	// token, before it refreshes anyway.
	DefaultTokenLeaseWait = 10 * time.Second
)

// Timeouts of the work a refresh does on behalf of every caller waiting
// for it, detached from the first caller's ctx (whose cancellation must
// neither fail the others nor lose a rotated refresh token half-saved).
const (
	refreshTimeout = time.Minute
	saveTimeout    = 15 * time.Second
)

// Leaser is the method set of calsync.Leases (named, time-limited locks
// that instances sharing a Store take); store/memory, store/sqlite and
// store/postgres implement it. See calsync.Leases for the contract.
type Leaser interface {
	// AcquireLease takes the lease name for owner until now+ttl and
	// reports whether it did; the same owner re-acquiring extends it.
	AcquireLease(ctx context.Context, name, owner string, now time.Time, ttl time.Duration) (acquired bool, err error)
	// ReleaseLease gives up the lease name if owner holds it.
	ReleaseLease(ctx context.Context, name, owner string) error
}

// SourcesConfig configures [Sources].
type SourcesConfig struct {
	// Vault opens and seals the stored tokens. Required.
	Vault *Vault
	// Accounts stores the sealed tokens, usually the Store. Required.
	Accounts Accounts
	// OAuth is the OAuth client the accounts' tokens were issued to; its
	// Endpoint.TokenURL refreshes them. Required.
	OAuth *oauth2.Config
	// Leases, usually the Store, makes one instance of several sharing
	// Accounts refresh an account's token while the others wait for it.
	// Optional: without it each instance refreshes on its own (still once
	// per instance), which is safe but spends more refreshes.
	Leases Leaser
	// HTTPClient is used for the token endpoint. Default:
	// http.DefaultClient, or the oauth2.HTTPClient value of the ctx given
	// to TokenSource.
	HTTPClient *http.Client
	// Now is the clock that decides whether a token is fresh and that
	// leases are taken with. Default: time.Now.
	Now func() time.Time
	// RefreshBefore is how long before its expiry a token is refreshed.
	// Default: DefaultRefreshBefore.
	RefreshBefore time.Duration
	// LeaseTTL is how long the token lease lasts. Default:
	// DefaultTokenLeaseTTL.
	LeaseTTL time.Duration
	// LeaseWait bounds the wait for a token lease held elsewhere. Default:
	// DefaultTokenLeaseWait.
	LeaseWait time.Duration
	// Logger logs refreshes (debug) and lease trouble (warn), with account
	// ids and never tokens. Default: silent.
	Logger *slog.Logger
}

// WithDefaults returns a copy of c with every unset optional field set to
// its default.
func (c SourcesConfig) WithDefaults() SourcesConfig {
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.RefreshBefore == 0 {
		c.RefreshBefore = DefaultRefreshBefore
	}
	if c.LeaseTTL == 0 {
		c.LeaseTTL = DefaultTokenLeaseTTL
	}
	if c.LeaseWait == 0 {
		c.LeaseWait = DefaultTokenLeaseWait
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	return c
}

func (c SourcesConfig) validate() error {
	switch {
	case c.Vault == nil:
		return errors.New("vault: SourcesConfig.Vault is required")
	case c.Accounts == nil:
		return errors.New("vault: SourcesConfig.Accounts is required")
	case c.OAuth == nil:
		return errors.New("vault: SourcesConfig.OAuth is required")
	case c.OAuth.Endpoint.TokenURL == "":
		return errors.New("vault: SourcesConfig.OAuth.Endpoint.TokenURL is required")
	case c.RefreshBefore < 0 || c.LeaseTTL < 0 || c.LeaseWait < 0:
		return errors.New("vault: SourcesConfig durations must not be negative")
	}
	return nil
}

// Sources hands out the access tokens of one OAuth client's accounts (one
// Sources per provider). It refreshes an account's token once when many
// goroutines, or instances sharing Accounts and Leases, need it at the same
// moment, and stores every refreshed token sealed before handing it out
// (Microsoft rotates refresh tokens: a rotated one that is not saved is
// lost).
//
// A token is cached in memory while it is fresh (its expiry is more than
// RefreshBefore away). Before every refresh Sources re-reads the stored
// token, so a token another instance refreshed, or a new one stored after
// the user connected the account again, is used rather than refreshed.
// Safe for concurrent use.
type Sources struct {
	cfg   SourcesConfig
	owner string        // lease owner prefix, unique to this Sources
	seq   atomic.Uint64 // makes each lease acquisition's owner unique

	mu       sync.Mutex
	accounts map[string]*account
}

// account is the in-memory state of one account's token.
type account struct {
	tok        *oauth2.Token // fresh when cached; nil when not cached
	refreshing *refresh      // the refresh in flight, if any
	unsaved    *unsaved      // a refreshed token the store refused, if any
	rejected   string        // the access token the service last refused (RejectToken)
}

// unsaved is a refreshed token that could not be stored. Its refresh
// token may be the only valid one (rotation), so the next refresh stores
// it, or refreshes with it, rather than with the stored one, as long as
// the store still holds the token it was refreshed from.
type unsaved struct {
	tok  *oauth2.Token
	from string // the stored refresh token when tok was refreshed
}

// refresh is one refresh of an account's token, which every caller that
// needs it waits for.
type refresh struct {
	done chan struct{}
	tok  *oauth2.Token // set before done closes
	err  error
}

// NewSources returns Sources for cfg.
func NewSources(cfg SourcesConfig) (*Sources, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	var b [8]byte
	_, _ = rand.Read(b[:]) // never fails (crypto/rand)
	return &Sources{
		cfg:      cfg.WithDefaults(),
		owner:    "vault.Sources/" + hex.EncodeToString(b[:]),
		accounts: make(map[string]*account),
	}, nil
}

// TokenSource returns the token source of accountID. It has the signature
// of google.Config.TokenSource and msgraph.Config.TokenSource: pass the
// method value. The source's Token is [Sources.Token] with ctx (kept for
// the life of the source, as oauth2.Config.TokenSource keeps its ctx).
func (s *Sources) TokenSource(ctx context.Context, accountID string) (oauth2.TokenSource, error) {
	if accountID == "" {
		return nil, errors.New("vault: TokenSource: empty account ID")
	}
	return accountSource{s: s, ctx: ctx, accountID: accountID}, nil
}

type accountSource struct {
	s         *Sources
	ctx       context.Context // oauth2.TokenSource has no ctx
	accountID string
}

func (a accountSource) Token() (*oauth2.Token, error) { return a.s.Token(a.ctx, a.accountID) }

// RejectToken implements retry.TokenRejecter: see [Sources.RejectToken].
func (a accountSource) RejectToken(accessToken string) { a.s.RejectToken(a.accountID, accessToken) }

// RejectToken tells s that the service refused accessToken of accountID
// (HTTP 401, whose documented answer is to refresh the token): it is not
// handed out again, even while its expiry says it is fresh, and the next
// Token refreshes (or takes a different token another instance stored).
// An empty accessToken rejects the account's cached token. The google and
// msgraph providers call it, through retry.RefreshOn401, and retry the
// request once with the new token.
func (s *Sources) RejectToken(accountID, accessToken string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	a := s.accounts[accountID]
	if a == nil {
		a = &account{}
		s.accounts[accountID] = a
	}
	if accessToken == "" && a.tok != nil {
		accessToken = a.tok.AccessToken
	}
	a.rejected = accessToken
	if a.tok != nil && a.tok.AccessToken == accessToken {
		a.tok = nil
	}
}

// Token returns a fresh access token of accountID: the cached one, or the
// stored one, or a refreshed one. The returned token is the caller's and
// carries no refresh token.
//
// Of the callers that need a refresh at the same time, one starts it and
// all wait for it; a caller whose ctx ends stops waiting, and the refresh
// goes on for the others. A refused refresh is a *[RefreshError]; a
// missing stored token wraps both the store's not-found error and
// provider.ErrReauthRequired; other failures (network, store) are plain
// errors. Failures are not cached: the next call tries again. A refreshed
// token the store refuses is not handed out; it is kept in memory, and the
// next call stores it (or refreshes with its refresh token, which rotation
// may have made the only valid one) unless the store has a newer token by
// then.
func (s *Sources) Token(ctx context.Context, accountID string) (*oauth2.Token, error) {
	if accountID == "" {
		return nil, errors.New("vault: Token: empty account ID")
	}
	s.mu.Lock()
	a := s.accounts[accountID]
	if a == nil {
		a = &account{}
		s.accounts[accountID] = a
	}
	if a.tok != nil && s.fresh(a.tok) {
		cached, rejected := a.tok, a.rejected
		s.mu.Unlock()
		// The stored token wins over the cached one: another instance
		// refreshed it, or the user reconnected the account and the
		// cached token belongs to the revoked grant (using it would
		// park the account again). One read and one open per call.
		stored, err := s.load(ctx, accountID)
		switch {
		case errors.Is(err, provider.ErrReauthRequired):
			s.Forget(accountID) // the token was deleted: disconnected
			return nil, err
		case err != nil || stored.AccessToken == cached.AccessToken:
			return handOut(cached), nil // an unreachable store does not stop a valid token
		}
		s.mu.Lock()
		if a.tok == cached {
			a.tok = nil
		}
		if s.usable(stored, rejected) {
			a.tok = stored
			s.mu.Unlock()
			return handOut(stored), nil
		}
	}
	r := a.refreshing
	if r == nil {
		r = &refresh{done: make(chan struct{})}
		a.refreshing = r
		go s.run(ctx, accountID, a, r)
	}
	s.mu.Unlock()
	select {
	case <-r.done:
		if r.err != nil {
			return nil, r.err
		}
		return handOut(r.tok), nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// Forget drops accountID's cached token, so that the next Token reads the
// store. Call it after storing a token yourself (with [Vault.PutToken]);
// [Sources.PutToken] does both.
func (s *Sources) Forget(accountID string) {
	s.mu.Lock()
	delete(s.accounts, accountID)
	s.mu.Unlock()
}

// PutToken stores tok sealed as accountID's token (the connect flow's
// token, after the user consented again) and drops the cached one. With
// Leases it stores under the account's token lease, waiting for a refresh
// in flight elsewhere, so that the refresh cannot overwrite the new token
// with one from the old grant.
func (s *Sources) PutToken(ctx context.Context, accountID string, tok *oauth2.Token) error {
	if accountID == "" {
		return errors.New("vault: PutToken: empty account ID")
	}
	if s.cfg.Leases != nil {
		release, err := s.waitLease(ctx, accountID, nil)
		if err != nil {
			return err
		}
		defer release()
	}
	defer s.Forget(accountID)
	return s.cfg.Vault.PutToken(ctx, s.cfg.Accounts, accountID, tok)
}

// fresh reports whether tok can be handed out now. A token without an
// expiry never expires (as in oauth2.Token.Valid).
func (s *Sources) fresh(tok *oauth2.Token) bool {
	if tok == nil || tok.AccessToken == "" {
		return false
	}
	return tok.Expiry.IsZero() || tok.Expiry.Add(-s.cfg.RefreshBefore).After(s.cfg.Now())
}

// usable reports whether tok can be handed out: fresh, and not the access
// token the service refused.
func (s *Sources) usable(tok *oauth2.Token, rejected string) bool {
	return s.fresh(tok) && (rejected == "" || tok.AccessToken != rejected)
}

// handOut returns the copy of tok a caller gets: without the refresh
// token, which no caller of a token source needs.
func handOut(tok *oauth2.Token) *oauth2.Token {
	return &oauth2.Token{AccessToken: tok.AccessToken, TokenType: tok.TokenType, Expiry: tok.Expiry, ExpiresIn: tok.ExpiresIn}
}

// run does refresh r of accountID for every caller waiting on it.
func (s *Sources) run(ctx context.Context, accountID string, a *account, r *refresh) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), refreshTimeout)
	defer cancel()
	if s.cfg.HTTPClient != nil {
		ctx = context.WithValue(ctx, oauth2.HTTPClient, s.cfg.HTTPClient)
	}
	s.mu.Lock()
	pending, rejected := a.unsaved, a.rejected
	s.mu.Unlock()
	tok, pending, err := s.refresh(ctx, accountID, pending, rejected)
	s.mu.Lock()
	defer s.mu.Unlock()
	a.refreshing = nil
	a.unsaved = pending
	if err == nil {
		a.tok = tok // a is no longer in s.accounts if Forget ran: harmless
	}
	r.tok, r.err = tok, err
	close(r.done)
}

// refresh returns a fresh token of accountID: the stored one if it is
// fresh, else a refreshed one, stored before it is returned. p is the
// account's unsaved token, if any; refresh returns what is unsaved after
// it. A stored token whose access token is rejected (the service refused
// it) is refreshed however fresh it looks.
func (s *Sources) refresh(ctx context.Context, accountID string, p *unsaved, rejected string) (*oauth2.Token, *unsaved, error) {
	stored, err := s.load(ctx, accountID)
	if err != nil {
		return nil, p, err
	}
	if s.usable(stored, rejected) {
		return stored, nil, nil
	}
	if s.cfg.Leases != nil {
		// Wait for the lease, unless another instance stores a fresh token
		// meanwhile; then re-read: it may have refreshed just before.
		var fresh *oauth2.Token
		release, err := s.waitLease(ctx, accountID, func() (bool, error) {
			tok, err := s.load(ctx, accountID)
			if err == nil && s.usable(tok, rejected) {
				fresh = tok
				return true, nil
			}
			return false, err
		})
		if err != nil {
			return nil, p, err
		}
		if fresh != nil {
			return fresh, nil, nil
		}
		defer release()
		if stored, err = s.load(ctx, accountID); err != nil {
			return nil, p, err
		}
		if s.usable(stored, rejected) {
			return stored, nil, nil
		}
	}
	return s.exchange(ctx, accountID, stored, p)
}

// load reads and opens accountID's stored token.
func (s *Sources) load(ctx context.Context, accountID string) (*oauth2.Token, error) {
	tok, err := s.cfg.Vault.Token(ctx, s.cfg.Accounts, accountID)
	if errors.Is(err, provider.ErrNotFound) {
		// No grant stored: only connecting the account again helps.
		return nil, fmt.Errorf("%w: %w", err, provider.ErrReauthRequired)
	}
	return tok, err
}

// exchange refreshes stored at the token endpoint and stores the result.
// If p was refreshed from stored, exchange stores p's token instead if it
// is still fresh, or else refreshes with p's refresh token. A token it
// cannot store is returned as the unsaved token, with the error.
func (s *Sources) exchange(ctx context.Context, accountID string, stored *oauth2.Token, p *unsaved) (*oauth2.Token, *unsaved, error) {
	if p != nil && p.from != stored.RefreshToken {
		p = nil // the store moved on: another refresh, or a new grant
	}
	rt := stored.RefreshToken
	if p != nil {
		rt = p.tok.RefreshToken
	}
	var tok *oauth2.Token
	if p != nil && s.fresh(p.tok) {
		tok = p.tok
	} else {
		if rt == "" {
			return nil, nil, fmt.Errorf("vault: token of account %q expired and has no refresh token: %w", accountID, provider.ErrReauthRequired)
		}
		// A token without an access token is never valid, so this always
		// asks the token endpoint, whatever the real clock says.
		got, err := s.cfg.OAuth.TokenSource(ctx, &oauth2.Token{RefreshToken: rt}).Token()
		if err != nil {
			if re, ok := errors.AsType[*oauth2.RetrieveError](err); ok {
				return nil, nil, newRefreshError(accountID, re)
			}
			// Not a refusal: the network or the endpoint failed. Its
			// text names the token URL, never the request body.
			return nil, p, fmt.Errorf("vault: refresh token of account %q: %w", accountID, err)
		}
		tok = &oauth2.Token{AccessToken: got.AccessToken, TokenType: got.TokenType, RefreshToken: got.RefreshToken, Expiry: got.Expiry, ExpiresIn: got.ExpiresIn}
		if tok.RefreshToken == "" {
			tok.RefreshToken = rt // Google does not rotate
		}
		if tok.ExpiresIn > 0 {
			// Measure the lifetime with our clock, as fresh does.
			tok.Expiry = s.cfg.Now().Add(time.Duration(tok.ExpiresIn) * time.Second)
		}
	}
	saveCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), saveTimeout)
	defer cancel()
	if err := s.cfg.Vault.PutToken(saveCtx, s.cfg.Accounts, accountID, tok); err != nil {
		// Handing out a token whose refresh token is not stored would lose
		// a rotated refresh token for good on the next restart; keeping
		// it lets the next call store it.
		return nil, &unsaved{tok: tok, from: stored.RefreshToken}, fmt.Errorf("vault: refreshed token of account %q not saved: %w", accountID, err)
	}
	s.cfg.Logger.DebugContext(ctx, "vault: refreshed token", "account", accountID, "rotated", tok.RefreshToken != stored.RefreshToken)
	return tok, nil, nil
}

// waitLease takes the token lease of accountID, waiting (50 ms doubling to
// 1 s) while another owner holds it, for at most LeaseWait; then it goes on
// without it (a second refresh is harmless: both results are valid, the
// last stored wins). Between tries it calls done, if not nil: when done
// reports true, waitLease returns a nil release and holds nothing.
// Otherwise the caller must call release.
func (s *Sources) waitLease(ctx context.Context, accountID string, done func() (bool, error)) (release func(), err error) {
	name := "token/" + accountID
	owner := s.owner + "/" + strconv.FormatUint(s.seq.Add(1), 10)
	deadline := time.Now().Add(s.cfg.LeaseWait)
	pause := 50 * time.Millisecond
	for {
		got, err := s.cfg.Leases.AcquireLease(ctx, name, owner, s.cfg.Now(), s.cfg.LeaseTTL)
		if err != nil {
			return nil, fmt.Errorf("vault: lease %s: %w", name, err)
		}
		if got {
			return func() {
				if err := s.cfg.Leases.ReleaseLease(context.WithoutCancel(ctx), name, owner); err != nil {
					// It expires on its own.
					s.cfg.Logger.WarnContext(ctx, "vault: cannot release token lease", "account", accountID, "err", err)
				}
			}, nil
		}
		if !time.Now().Before(deadline) {
			s.cfg.Logger.WarnContext(ctx, "vault: token lease still held elsewhere; going on without it", "account", accountID)
			return func() {}, nil
		}
		t := time.NewTimer(pause)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil, ctx.Err()
		case <-t.C:
		}
		pause = min(2*pause, time.Second)
		if done != nil {
			if ok, err := done(); err != nil || ok {
				return nil, err
			}
		}
	}
}

// reauthCodes are the token endpoint error codes (RFC 6749 section 5.2,
// OpenID Connect) that mean the account's grant is gone, so that only the
// user connecting the account again helps: revoked, expired or rotated-out
// refresh token, or the provider wanting the user back (Microsoft's
// conditional access asks for interaction or consent).
//
// invalid_client and unauthorized_client are not among them: they mean the
// host's OAuth client is misconfigured (a wrong or expired client secret),
// which every account shares and re-consent does not fix.
var reauthCodes = []string{"invalid_grant", "interaction_required", "consent_required", "login_required"}

// RefreshError is the token endpoint's refusal to refresh an account's
// token. Its text names the account, the error code and the HTTP status,
// never the response body (which may echo tokens).
//
// Reauth is true, and the error wraps provider.ErrReauthRequired and the
// *oauth2.RetrieveError (which the providers take as a refused grant), when
// Code is invalid_grant (a revoked, expired or rotated-out refresh token)
// or interaction_required, consent_required or login_required (Microsoft's
// conditional access wanting the user back). Other refusals wrap neither
// and are tried again on the next call: a 5xx, and invalid_client or
// unauthorized_client, which mean the host's OAuth client is misconfigured
// (a wrong or expired client secret), which every account shares and
// connecting again does not fix. Beware that the wrapped RetrieveError's
// own Error text, and its Body, may hold secrets.
type RefreshError struct {
	// AccountID is the account whose token was refused.
	AccountID string
	// Code is the OAuth error code, "" if the body had none.
	Code string
	// StatusCode is the token endpoint's HTTP status, 0 if unknown.
	StatusCode int
	// Reauth is whether only connecting the account again helps.
	Reauth bool

	re *oauth2.RetrieveError
}

func newRefreshError(accountID string, re *oauth2.RetrieveError) *RefreshError {
	e := &RefreshError{AccountID: accountID, Code: re.ErrorCode, re: re}
	if re.Response != nil {
		e.StatusCode = re.Response.StatusCode
	}
	for _, c := range reauthCodes {
		if re.ErrorCode == c {
			e.Reauth = true
		}
	}
	return e
}

// Error names the account, the code and the status only.
func (e *RefreshError) Error() string {
	code := e.Code
	if code == "" {
		code = "no error code"
	}
	return fmt.Sprintf("vault: token endpoint refused to refresh the token of account %q: %s (HTTP %d)", e.AccountID, code, e.StatusCode)
}

// Unwrap returns provider.ErrReauthRequired and the *oauth2.RetrieveError
// when Reauth, and nothing otherwise.
func (e *RefreshError) Unwrap() []error {
	if !e.Reauth || e.re == nil {
		return nil
	}
	return []error{provider.ErrReauthRequired, e.re}
}
