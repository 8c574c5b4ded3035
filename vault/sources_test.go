package vault_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/oauth2"

	"github.com/calsync/calsync"
	"github.com/calsync/calsync/provider"
	"github.com/calsync/calsync/retry"
	"github.com/calsync/calsync/retry/retrytest"
	"github.com/calsync/calsync/store/memory"
	"github.com/calsync/calsync/vault"
)

// tokenEndpoint is a fake OAuth token endpoint that counts refreshes. It
// accepts the refresh tokens in valid; with rotate, each refresh replaces
// the refresh token it was given by a new one. A refused refresh token is
// echoed in the error body, as real endpoints may do, so that tests can
// check that it does not reach error texts.
type tokenEndpoint struct {
	srv     *httptest.Server
	calls   atomic.Int32
	entered chan struct{} // gets a value as a refresh starts, if not nil and empty
	gate    chan struct{} // a refresh waits for it to close, if not nil

	mu     sync.Mutex
	valid  map[string]bool
	rotate bool
	seq    int
	last   string // the last refresh token presented
}

func newTokenEndpoint(t *testing.T, rotate bool, valid ...string) *tokenEndpoint {
	e := &tokenEndpoint{valid: map[string]bool{}, rotate: rotate}
	for _, rt := range valid {
		e.valid[rt] = true
	}
	e.srv = httptest.NewServer(http.HandlerFunc(e.serve))
	t.Cleanup(e.srv.Close)
	return e
}

func (e *tokenEndpoint) serve(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil || r.PostForm.Get("grant_type") != "refresh_token" {
		http.Error(w, "bad request", http.StatusBadRequest)
		return
	}
	e.calls.Add(1)
	if e.entered != nil {
		select {
		case e.entered <- struct{}{}:
		default: // a test watches for the first refresh only
		}
	}
	if e.gate != nil {
		<-e.gate
	}
	rt := r.PostForm.Get("refresh_token")
	e.mu.Lock()
	defer e.mu.Unlock()
	e.last = rt
	w.Header().Set("Content-Type", "application/json")
	if rt == "rt-misconfigured" {
		w.WriteHeader(http.StatusUnauthorized)
		json.NewEncoder(w).Encode(map[string]string{"error": "invalid_client", "error_description": "client secret expired; presented " + rt})
		return
	}
	if !e.valid[rt] {
		w.WriteHeader(http.StatusBadRequest)
		json.NewEncoder(w).Encode(map[string]string{"error": "invalid_grant", "error_description": "refresh token " + rt + " was revoked"})
		return
	}
	e.seq++
	resp := map[string]any{"access_token": fmt.Sprintf("at-%d", e.seq), "token_type": "Bearer", "expires_in": 3600}
	if e.rotate {
		delete(e.valid, rt)
		next := fmt.Sprintf("rt-%d", e.seq)
		e.valid[next] = true
		resp["refresh_token"] = next
	}
	json.NewEncoder(w).Encode(resp)
}

func (e *tokenEndpoint) lastRefreshToken() string {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.last
}

// sourcesFixture is a Vault and a memory Store holding account "alice"'s
// expired token with refresh token rt-0, a token endpoint and a clock.
type sourcesFixture struct {
	v     *vault.Vault
	store *memory.Store
	ep    *tokenEndpoint
	clock *retrytest.Clock
}

func newSourcesFixture(t *testing.T, rotate bool) *sourcesFixture {
	t.Helper()
	f := &sourcesFixture{
		v:     mustNew(t, vault.Config{Keys: map[string]vault.Key{"k1": key(1)}, Current: "k1"}),
		store: memory.New(),
		ep:    newTokenEndpoint(t, rotate, "rt-0"),
		clock: retrytest.NewManualClock(time.Date(2026, 11, 30, 9, 0, 0, 0, time.UTC)),
	}
	expired := &oauth2.Token{AccessToken: "at-0", TokenType: "Bearer", RefreshToken: "rt-0", Expiry: f.clock.Now().Add(-time.Minute)}
	if err := f.v.PutToken(t.Context(), f.store, "alice", expired); err != nil {
		t.Fatal(err)
	}
	return f
}

// sources returns Sources over f's store; leases says whether it uses the
// store's leases; accounts, if not nil, replaces the store as Accounts.
func (f *sourcesFixture) sources(t *testing.T, leases bool, accounts vault.Accounts) *vault.Sources {
	t.Helper()
	cfg := vault.SourcesConfig{
		Vault:    f.v,
		Accounts: f.store,
		OAuth: &oauth2.Config{ClientID: "client", ClientSecret: "client-secret",
			Endpoint: oauth2.Endpoint{TokenURL: f.ep.srv.URL, AuthStyle: oauth2.AuthStyleInParams}},
		HTTPClient: f.ep.srv.Client(),
		Now:        f.clock.Now,
	}
	if leases {
		cfg.Leases = f.store
	}
	if accounts != nil {
		cfg.Accounts = accounts
	}
	s, err := vault.NewSources(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestSourcesOneRefreshForManyGoroutines(t *testing.T) {
	f := newSourcesFixture(t, true)
	f.ep.entered = make(chan struct{}, 1)
	f.ep.gate = make(chan struct{})
	s := f.sources(t, false, nil)

	const n = 50
	var started sync.WaitGroup
	started.Add(n)
	toks := make(chan string, n)
	errs := make(chan error, n)
	for range n {
		go func() {
			started.Done()
			ts, err := s.TokenSource(t.Context(), "alice")
			if err != nil {
				errs <- err
				return
			}
			tok, err := ts.Token()
			if err != nil {
				errs <- err
				return
			}
			toks <- tok.AccessToken
		}()
	}
	<-f.ep.entered // one refresh is in flight, held at the endpoint
	started.Wait()
	close(f.ep.gate)
	for range n {
		select {
		case at := <-toks:
			if at != "at-1" {
				t.Errorf("token %q, want at-1", at)
			}
		case err := <-errs:
			t.Error(err)
		}
	}
	if c := f.ep.calls.Load(); c != 1 {
		t.Errorf("%d refreshes, want 1", c)
	}
}

func TestSourcesOneRefreshForTwoInstances(t *testing.T) {
	f := newSourcesFixture(t, true)
	f.ep.entered = make(chan struct{}, 1)
	f.ep.gate = make(chan struct{})
	a, b := f.sources(t, true, nil), f.sources(t, true, nil)

	type result struct {
		tok *oauth2.Token
		err error
	}
	ra, rb := make(chan result, 1), make(chan result, 1)
	go func() { tok, err := a.Token(t.Context(), "alice"); ra <- result{tok, err} }()
	<-f.ep.entered // a holds the lease and is at the endpoint
	go func() { tok, err := b.Token(t.Context(), "alice"); rb <- result{tok, err} }()
	close(f.ep.gate)
	got := []result{<-ra, <-rb}
	for i, r := range got {
		if r.err != nil || r.tok.AccessToken != "at-1" {
			t.Errorf("instance %d: %v, %v; want at-1", i, r.tok, r.err)
		}
	}
	if c := f.ep.calls.Load(); c != 1 {
		t.Errorf("%d refreshes, want 1", c)
	}
}

func TestSourcesRotatedRefreshTokenIsStoredAndUsed(t *testing.T) {
	f := newSourcesFixture(t, true)
	s := f.sources(t, true, nil)
	ctx := t.Context()

	tok, err := s.Token(ctx, "alice")
	if err != nil || tok.AccessToken != "at-1" {
		t.Fatalf("Token = %v, %v", tok, err)
	}
	if tok.RefreshToken != "" {
		t.Error("Token hands out the refresh token")
	}
	stored, err := f.v.Token(ctx, f.store, "alice")
	if err != nil || stored.RefreshToken != "rt-1" || stored.AccessToken != "at-1" {
		t.Fatalf("stored %+v, %v; want at-1 and the rotated rt-1", stored, err)
	}
	if want := f.clock.Now().Add(time.Hour); !stored.Expiry.Equal(want) {
		t.Errorf("stored expiry %v, want %v (expires_in by the configured clock)", stored.Expiry, want)
	}

	f.clock.Advance(2 * time.Hour)
	tok, err = s.Token(ctx, "alice")
	if err != nil || tok.AccessToken != "at-2" {
		t.Fatalf("second Token = %v, %v", tok, err)
	}
	if rt := f.ep.lastRefreshToken(); rt != "rt-1" {
		t.Errorf("second refresh presented %q, want the rotated rt-1", rt)
	}
}

func TestSourcesKeepsRefreshTokenWhenNotRotated(t *testing.T) {
	f := newSourcesFixture(t, false)
	s := f.sources(t, false, nil)
	if _, err := s.Token(t.Context(), "alice"); err != nil {
		t.Fatal(err)
	}
	stored, err := f.v.Token(t.Context(), f.store, "alice")
	if err != nil || stored.RefreshToken != "rt-0" || stored.AccessToken != "at-1" {
		t.Fatalf("stored %+v, %v; want at-1 and rt-0 kept", stored, err)
	}
}

func TestSourcesRefusedGrant(t *testing.T) {
	f := newSourcesFixture(t, true)
	revoked := &oauth2.Token{AccessToken: "at-old", RefreshToken: "rt-revoked", Expiry: f.clock.Now().Add(-time.Minute)}
	if err := f.v.PutToken(t.Context(), f.store, "alice", revoked); err != nil {
		t.Fatal(err)
	}
	s := f.sources(t, true, nil)

	_, err := s.Token(t.Context(), "alice")
	if !errors.Is(err, provider.ErrReauthRequired) {
		t.Fatalf("err = %v, want ErrReauthRequired", err)
	}
	var re *oauth2.RetrieveError
	if !errors.As(err, &re) {
		t.Error("errors.As(*oauth2.RetrieveError) is false; the providers classify with it")
	}
	var rerr *vault.RefreshError
	if !errors.As(err, &rerr) || rerr.AccountID != "alice" || rerr.Code != "invalid_grant" || rerr.StatusCode != 400 || !rerr.Reauth {
		t.Errorf("RefreshError = %+v", rerr)
	}
	for _, secret := range []string{"rt-revoked", "at-old", "revoked", "client-secret"} {
		if strings.Contains(err.Error(), secret) {
			t.Errorf("error text %q contains %q", err, secret)
		}
	}

	// Not cached: the next call asks again.
	if _, err := s.Token(t.Context(), "alice"); err == nil {
		t.Fatal("second Token succeeded")
	}
	if c := f.ep.calls.Load(); c != 2 {
		t.Errorf("%d refreshes, want 2", c)
	}
}

func TestSourcesMisconfiguredClientIsNotReauth(t *testing.T) {
	f := newSourcesFixture(t, false)
	tok := &oauth2.Token{AccessToken: "at-old", RefreshToken: "rt-misconfigured", Expiry: f.clock.Now().Add(-time.Minute)}
	if err := f.v.PutToken(t.Context(), f.store, "alice", tok); err != nil {
		t.Fatal(err)
	}
	_, err := f.sources(t, false, nil).Token(t.Context(), "alice")
	var rerr *vault.RefreshError
	if !errors.As(err, &rerr) || rerr.Code != "invalid_client" || rerr.Reauth {
		t.Fatalf("err = %v, want a RefreshError invalid_client, not Reauth", err)
	}
	if errors.Is(err, provider.ErrReauthRequired) {
		t.Error("invalid_client wraps ErrReauthRequired: every account would be asked to connect again")
	}
	if strings.Contains(err.Error(), "rt-misconfigured") || strings.Contains(err.Error(), "expired") {
		t.Errorf("error text %q echoes the body", err)
	}
}

func TestSourcesMissingToken(t *testing.T) {
	f := newSourcesFixture(t, false)
	_, err := f.sources(t, true, nil).Token(t.Context(), "bob")
	if !errors.Is(err, calsync.ErrNotFound) || !errors.Is(err, provider.ErrReauthRequired) {
		t.Fatalf("err = %v, want ErrNotFound and ErrReauthRequired", err)
	}
	if c := f.ep.calls.Load(); c != 0 {
		t.Errorf("%d refreshes, want 0", c)
	}
}

// failingAccounts is a Store whose PutAccountToken fails while fail is set.
type failingAccounts struct {
	*memory.Store
	fail atomic.Bool
}

func (a *failingAccounts) PutAccountToken(ctx context.Context, t vault.SealedToken) error {
	if a.fail.Load() {
		return errors.New("disk full")
	}
	return a.Store.PutAccountToken(ctx, t)
}

func TestSourcesSaveFailure(t *testing.T) {
	f := newSourcesFixture(t, true) // the endpoint revokes rt-0 on its first use
	accounts := &failingAccounts{Store: f.store}
	accounts.fail.Store(true)
	s := f.sources(t, true, accounts)
	ctx := t.Context()

	tok, err := s.Token(ctx, "alice")
	if err == nil || tok != nil {
		t.Fatalf("Token = %v, %v; want an error and no token", tok, err)
	}
	if !strings.Contains(err.Error(), "disk full") {
		t.Errorf("err = %v, want the store's error", err)
	}
	if stored, _ := f.v.Token(ctx, f.store, "alice"); stored.AccessToken != "at-0" {
		t.Errorf("stored %q, want at-0 untouched", stored.AccessToken)
	}

	// Still failing, and the unsaved token has expired: the next refresh
	// uses its rotated refresh token, the only valid one.
	f.clock.Advance(2 * time.Hour)
	if _, err := s.Token(ctx, "alice"); err == nil || errors.Is(err, provider.ErrReauthRequired) {
		t.Fatalf("Token = %v; want the store's error, not a refused grant", err)
	}
	if rt := f.ep.lastRefreshToken(); rt != "rt-1" {
		t.Errorf("refresh presented %q, want the unsaved rotated rt-1", rt)
	}

	// The store recovers: the unsaved token is stored, without a refresh.
	accounts.fail.Store(false)
	tok, err = s.Token(ctx, "alice")
	if err != nil || tok.AccessToken != "at-2" {
		t.Fatalf("Token after the store recovered = %v, %v; want the unsaved at-2", tok, err)
	}
	if c := f.ep.calls.Load(); c != 2 {
		t.Errorf("%d refreshes, want 2", c)
	}
	if stored, err := f.v.Token(ctx, f.store, "alice"); err != nil || stored.RefreshToken != "rt-2" {
		t.Errorf("stored %v, %v; want rt-2", stored, err)
	}
}

func TestSourcesCachesFreshToken(t *testing.T) {
	f := newSourcesFixture(t, false)
	s := f.sources(t, false, nil)
	ctx := t.Context()
	for range 3 {
		if tok, err := s.Token(ctx, "alice"); err != nil || tok.AccessToken != "at-1" {
			t.Fatalf("Token = %v, %v", tok, err)
		}
	}
	f.clock.Advance(time.Hour - vault.DefaultRefreshBefore - time.Second)
	if tok, err := s.Token(ctx, "alice"); err != nil || tok.AccessToken != "at-1" {
		t.Fatalf("Token just before RefreshBefore = %v, %v", tok, err)
	}
	if c := f.ep.calls.Load(); c != 1 {
		t.Errorf("%d refreshes while the token was fresh, want 1", c)
	}
	f.clock.Advance(2 * time.Second)
	if tok, err := s.Token(ctx, "alice"); err != nil || tok.AccessToken != "at-2" {
		t.Fatalf("Token within RefreshBefore of expiry = %v, %v; want a refresh", tok, err)
	}
}

func TestSourcesPicksUpTokenStoredElsewhere(t *testing.T) {
	f := newSourcesFixture(t, true)
	s := f.sources(t, true, nil)
	ctx := t.Context()
	if _, err := s.Token(ctx, "alice"); err != nil {
		t.Fatal(err)
	}

	// Another instance's connect flow stores a new grant.
	reconnected := &oauth2.Token{AccessToken: "at-new", RefreshToken: "rt-new", Expiry: f.clock.Now().Add(3 * time.Hour)}
	if err := f.v.PutToken(ctx, f.store, "alice", reconnected); err != nil {
		t.Fatal(err)
	}
	// The stored token wins over the cached one, fresh or not: the
	// cached one may belong to the grant the user just replaced.
	if tok, err := s.Token(ctx, "alice"); err != nil || tok.AccessToken != "at-new" {
		t.Errorf("Token = %v, %v; want the stored at-new", tok, err)
	}
	f.clock.Advance(2 * time.Hour)
	if tok, err := s.Token(ctx, "alice"); err != nil || tok.AccessToken != "at-new" {
		t.Errorf("Token = %v, %v; want the stored at-new", tok, err)
	}

	// Forget drops a fresh cached token too.
	other := f.sources(t, true, nil)
	if err := other.PutToken(ctx, "alice", &oauth2.Token{AccessToken: "at-newer", RefreshToken: "rt-newer", Expiry: f.clock.Now().Add(3 * time.Hour)}); err != nil {
		t.Fatal(err)
	}
	s.Forget("alice")
	if tok, err := s.Token(ctx, "alice"); err != nil || tok.AccessToken != "at-newer" {
		t.Errorf("Token after Forget = %v, %v; want at-newer", tok, err)
	}
	if c := f.ep.calls.Load(); c != 1 {
		t.Errorf("%d refreshes, want 1", c)
	}
}

func TestSourcesLeaseHeldElsewhere(t *testing.T) {
	f := newSourcesFixture(t, false)
	ctx := t.Context()
	// A dead instance holds the lease for a long time.
	if ok, err := f.store.AcquireLease(ctx, "token/alice", "dead", f.clock.Now(), time.Hour); !ok || err != nil {
		t.Fatal(ok, err)
	}
	s, err := vault.NewSources(vault.SourcesConfig{
		Vault: f.v, Accounts: f.store, Leases: f.store,
		OAuth:     &oauth2.Config{Endpoint: oauth2.Endpoint{TokenURL: f.ep.srv.URL, AuthStyle: oauth2.AuthStyleInParams}},
		Now:       f.clock.Now,
		LeaseWait: time.Nanosecond,
	})
	if err != nil {
		t.Fatal(err)
	}
	if tok, err := s.Token(ctx, "alice"); err != nil || tok.AccessToken != "at-1" {
		t.Fatalf("Token = %v, %v; want a refresh once the wait is over", tok, err)
	}
}

func TestSourcesWaiterCancel(t *testing.T) {
	f := newSourcesFixture(t, false)
	f.ep.entered = make(chan struct{}, 1)
	f.ep.gate = make(chan struct{})
	s := f.sources(t, false, nil)

	ctx, cancel := context.WithCancel(t.Context())
	first := make(chan error, 1)
	go func() { _, err := s.Token(ctx, "alice"); first <- err }()
	<-f.ep.entered
	second := make(chan string, 1)
	go func() {
		tok, err := s.Token(t.Context(), "alice")
		if err != nil {
			second <- err.Error()
			return
		}
		second <- tok.AccessToken
	}()
	cancel()
	if err := <-first; !errors.Is(err, context.Canceled) {
		t.Errorf("canceled caller: %v", err)
	}
	close(f.ep.gate)
	if at := <-second; at != "at-1" {
		t.Errorf("other caller got %q, want at-1: the first caller's cancel must not fail it", at)
	}
}

func TestNewSourcesValidates(t *testing.T) {
	v := mustNew(t, vault.Config{Keys: map[string]vault.Key{"k1": key(1)}, Current: "k1"})
	oc := &oauth2.Config{Endpoint: oauth2.Endpoint{TokenURL: "https://example.com/token"}}
	for name, cfg := range map[string]vault.SourcesConfig{
		"no vault":     {Accounts: memory.New(), OAuth: oc},
		"no accounts":  {Vault: v, OAuth: oc},
		"no oauth":     {Vault: v, Accounts: memory.New()},
		"no token url": {Vault: v, Accounts: memory.New(), OAuth: &oauth2.Config{}},
	} {
		if _, err := vault.NewSources(cfg); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
}

// racingLeases stores a fresh token, as another instance finishing its
// refresh would, just before granting the lease.
type racingLeases struct {
	*memory.Store
	v   *vault.Vault
	tok *oauth2.Token
}

func (l racingLeases) AcquireLease(ctx context.Context, name, owner string, now time.Time, ttl time.Duration) (bool, error) {
	if err := l.v.PutToken(ctx, l.Store, "alice", l.tok); err != nil {
		return false, err
	}
	return l.Store.AcquireLease(ctx, name, owner, now, ttl)
}

func TestSourcesRereadsUnderLease(t *testing.T) {
	f := newSourcesFixture(t, true)
	other := &oauth2.Token{AccessToken: "at-other", RefreshToken: "rt-other", Expiry: f.clock.Now().Add(time.Hour)}
	s, err := vault.NewSources(vault.SourcesConfig{
		Vault: f.v, Accounts: f.store, Leases: racingLeases{Store: f.store, v: f.v, tok: other},
		OAuth: &oauth2.Config{Endpoint: oauth2.Endpoint{TokenURL: f.ep.srv.URL, AuthStyle: oauth2.AuthStyleInParams}},
		Now:   f.clock.Now,
	})
	if err != nil {
		t.Fatal(err)
	}
	if tok, err := s.Token(t.Context(), "alice"); err != nil || tok.AccessToken != "at-other" {
		t.Fatalf("Token = %v, %v; want at-other, stored before the lease was granted", tok, err)
	}
	if c := f.ep.calls.Load(); c != 0 {
		t.Errorf("%d refreshes, want 0", c)
	}
}

// A token the service refused is refreshed however fresh its expiry says
// it is, once, and the refreshed one is handed out from then on.
func TestSourcesRejectToken(t *testing.T) {
	f := newSourcesFixture(t, true)
	s := f.sources(t, true, nil)
	ctx := t.Context()
	ts, err := s.TokenSource(ctx, "alice")
	if err != nil {
		t.Fatal(err)
	}
	tok, err := ts.Token()
	if err != nil || tok.AccessToken != "at-1" {
		t.Fatalf("Token = %v, %v", tok, err)
	}
	ts.(retry.TokenRejecter).RejectToken("at-1")
	for range 3 {
		if tok, err := ts.Token(); err != nil || tok.AccessToken != "at-2" {
			t.Fatalf("Token after RejectToken = %v, %v; want the refreshed at-2", tok, err)
		}
	}
	if c := f.ep.calls.Load(); c != 2 {
		t.Errorf("%d refreshes, want 2 (the first token, then one after the rejection)", c)
	}
	// Rejecting a token no longer handed out changes nothing.
	s.RejectToken("alice", "at-1")
	if tok, _ := ts.Token(); tok.AccessToken != "at-2" || f.ep.calls.Load() != 2 {
		t.Errorf("after rejecting a stale token: %q, %d refreshes; want at-2, 2", tok.AccessToken, f.ep.calls.Load())
	}
}
