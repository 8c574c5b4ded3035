package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"

	"golang.org/x/oauth2"
	"golang.org/x/oauth2/endpoints"

	"github.com/calsync/calsync"
	"github.com/calsync/calsync/connect"
	"github.com/calsync/calsync/google"
	"github.com/calsync/calsync/msgraph"
	"github.com/calsync/calsync/store/postgres"
	"github.com/calsync/calsync/store/sqlite"
	"github.com/calsync/calsync/vault"
	"github.com/calsync/calsync/webhook"
)

// appConfig is everything the app is built from; main fills it from the
// environment and the flags, tests directly.
type appConfig struct {
	// PublicURL is the app's public base URL, without a trailing slash:
	// the OAuth redirect URIs and (in real mode) the webhook addresses
	// derive from it.
	PublicURL string
	// DB is the SQLite file, used unless Postgres is set.
	DB string
	// Postgres is a PostgreSQL URL; it wins over DB.
	Postgres string
	// PostgresSchema is the PostgreSQL schema of calsync's tables (empty:
	// postgres.DefaultSchema).
	PostgresSchema string
	// Emulate runs the Google and Microsoft Graph emulators in process and
	// connects to them instead of the real providers.
	Emulate bool
	// VaultKey seals the OAuth tokens in the store.
	VaultKey vault.Key
	// Google and Microsoft are the OAuth clients registered with the
	// providers. An unset ClientID leaves the provider out (in emulate
	// mode demo clients are registered with the emulators instead).
	Google, Microsoft oauthClient
	// MicrosoftTenant is the Entra tenant to sign in with ("common" if
	// empty).
	MicrosoftTenant string
	// Logger receives the app's and calsync's logs (never a secret).
	Logger *slog.Logger
	// TempDir, if set, is a directory main made for DB and removes at
	// exit.
	TempDir string
}

// oauthClient is a client registered with a provider. Its secret is
// never logged.
type oauthClient struct {
	ID, Secret string
}

// appStore is what the app needs of its Store: calsync's Store with
// account records, the sealed tokens, and leases (single-use OAuth states,
// one token refresh at a time).
type appStore interface {
	calsync.Store
	calsync.AccountStore
	vault.Accounts
	connect.Leases
}

// providerInfo is how the app presents and wires one provider.
type providerInfo struct {
	Name  string // calsync provider name
	Key   string // in element ids and test ids: "google", "outlook"
	Label string // for people: "Google", "Outlook"
	Hook  string // webhook route
}

var (
	googleInfo  = providerInfo{Name: google.Name, Key: "google", Label: "Google", Hook: "/hooks/google"}
	outlookInfo = providerInfo{Name: msgraph.Name, Key: "outlook", Label: "Outlook", Hook: "/hooks/graph"}
)

// app is the host application: store, Engine, connect flow, pages and
// webhooks behind one http.Handler.
type app struct {
	cfg       appConfig
	log       *slog.Logger
	store     appStore
	vault     *vault.Vault
	engine    *calsync.Engine
	flow      *connect.Flow
	sources   map[string]*vault.Sources
	providers []providerInfo
	hookBase  string // where the providers push: PublicURL, or the emulators' TLS receiver
	secure    bool   // PublicURL is https: cookies are Secure
	emu       *emulators
	handler   http.Handler
	closers   []func()
}

// newApp builds the app; Close releases what it opened. Run the Engine
// with Run.
func newApp(ctx context.Context, cfg appConfig) (_ *app, err error) {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.MicrosoftTenant == "" {
		cfg.MicrosoftTenant = "common"
	}
	cfg.PublicURL = strings.TrimSuffix(cfg.PublicURL, "/")
	pub, perr := url.Parse(cfg.PublicURL)
	if perr != nil || pub.Host == "" || (pub.Scheme != "https" && pub.Scheme != "http") {
		return nil, fmt.Errorf("PUBLIC_URL %q is not an absolute http(s) URL", cfg.PublicURL)
	}
	if !cfg.Emulate && pub.Scheme != "https" {
		return nil, errors.New("PUBLIC_URL must be https: the providers redirect and deliver only to HTTPS")
	}
	if len(cfg.VaultKey) == 0 {
		return nil, errors.New("CALSYNC_VAULT_KEY is required (see the package doc)")
	}
	a := &app{cfg: cfg, log: cfg.Logger, hookBase: cfg.PublicURL, secure: pub.Scheme == "https", sources: map[string]*vault.Sources{}}
	defer func() {
		if err != nil {
			a.Close()
		}
	}()

	if err := a.openStore(ctx); err != nil {
		return nil, err
	}
	if a.vault, err = vault.New(vault.Config{Keys: map[string]vault.Key{"k1": cfg.VaultKey}, Current: "k1"}); err != nil {
		return nil, err
	}
	redirect := cfg.PublicURL + "/connect/callback"
	var exchangeClient *http.Client // for the code exchange; nil: the default
	if cfg.Emulate {
		if a.emu, err = startEmulators(redirect); err != nil {
			return nil, err
		}
		a.closers = append(a.closers, a.emu.close)
		a.hookBase = a.emu.hooks.URL
		cfg.Google, cfg.Microsoft = a.emu.googleClient, a.emu.graphClient
		// It trusts the Graph emulator's certificate, and reaches the
		// plain-HTTP Google emulator as well.
		exchangeClient = a.emu.graph.Client()
	}

	var (
		ps      []calsync.Provider
		clients []connect.Provider
	)
	if cfg.Google.ID != "" {
		p, cp, err := a.googleProvider(cfg.Google, redirect)
		if err != nil {
			return nil, err
		}
		ps, clients = append(ps, p), append(clients, cp)
		a.providers = append(a.providers, googleInfo)
	}
	if cfg.Microsoft.ID != "" {
		p, cp, err := a.outlookProvider(cfg.Microsoft, cfg.MicrosoftTenant, redirect)
		if err != nil {
			return nil, err
		}
		ps, clients = append(ps, p), append(clients, cp)
		a.providers = append(a.providers, outlookInfo)
	}
	if len(ps) == 0 {
		return nil, errors.New("no provider configured: set GOOGLE_CLIENT_ID and/or MICROSOFT_CLIENT_ID (or use -emulate)")
	}

	a.engine, err = calsync.NewEngine(calsync.Config{
		Store:     a.store,
		Providers: ps,
		Logger:    a.log,
		OnAccountStatus: func(ctx context.Context, acc calsync.Account, prev calsync.AccountStatus) {
			// A real app would e-mail the user here when the status
			// becomes needs_reauth; the status page shows a Reconnect
			// button either way.
			a.log.InfoContext(ctx, "account status", "account", acc.ID, "from", string(prev), "to", string(acc.Status), "reason", acc.Reason)
		},
		OnError: func(ctx context.Context, cal calsync.Calendar, err error) {
			a.log.WarnContext(ctx, "sync failed", "calendar", cal.ID, "err", err)
		},
	})
	if err != nil {
		return nil, err
	}
	a.flow, err = connect.New(connect.Config{
		Engine: a.engine, Vault: a.vault, Tokens: a.store, Leases: a.store, Sources: a.sources,
		Providers:  clients,
		User:       a.user,
		Done:       a.connected,
		Failed:     a.connectFailed,
		HTTPClient: exchangeClient,
		Logger:     a.log,
	})
	if err != nil {
		return nil, err
	}
	if a.handler, err = a.routes(); err != nil {
		return nil, err
	}
	return a, nil
}

// openStore opens the PostgreSQL store if configured, else the SQLite one.
func (a *app) openStore(ctx context.Context) error {
	if a.cfg.Postgres != "" {
		st, err := postgres.Open(ctx, a.cfg.Postgres, &postgres.Config{Schema: a.cfg.PostgresSchema})
		if err != nil {
			return fmt.Errorf("open postgres: %w", err)
		}
		a.store, a.closers = st, append(a.closers, st.Close)
		return nil
	}
	st, err := sqlite.Open(ctx, a.cfg.DB, nil)
	if err != nil {
		return fmt.Errorf("open %s: %w", a.cfg.DB, err)
	}
	a.store, a.closers = st, append(a.closers, func() { _ = st.Close() })
	return nil
}

// tokenSources returns the sources of the provider's stored tokens,
// refreshed with oauth through hc (nil: the default client).
func (a *app) tokenSources(name string, oauth *oauth2.Config, hc *http.Client) (*vault.Sources, error) {
	s, err := vault.NewSources(vault.SourcesConfig{Vault: a.vault, Accounts: a.store, Leases: a.store, OAuth: oauth, HTTPClient: hc, Logger: a.log})
	if err != nil {
		return nil, err
	}
	a.sources[name] = s
	return s, nil
}

// googleProvider returns Google Calendar and its OAuth client: the real
// ones, or the emulator's.
func (a *app) googleProvider(client oauthClient, redirect string) (calsync.Provider, connect.Provider, error) {
	conf := oauth2.Config{ClientID: client.ID, ClientSecret: client.Secret, Endpoint: endpoints.Google, RedirectURL: redirect}
	gc := google.Config{}
	if a.emu != nil {
		conf.Endpoint = a.emu.google.OAuthEndpoint()
		gc.Endpoint, gc.HTTPClient = a.emu.google.Endpoint(), &http.Client{}
	}
	cp := connect.Google(google.Name, conf, false)
	src, err := a.tokenSources(google.Name, &cp.OAuth, nil)
	if err != nil {
		return nil, cp, err
	}
	gc.TokenSource = src.TokenSource
	p, err := google.New(gc)
	return p, cp, err
}

// outlookProvider returns Outlook through Microsoft Graph and its OAuth
// client: the real ones for tenant, or the emulator's.
func (a *app) outlookProvider(client oauthClient, tenant, redirect string) (calsync.Provider, connect.Provider, error) {
	conf := oauth2.Config{ClientID: client.ID, ClientSecret: client.Secret, Endpoint: endpoints.AzureAD(tenant), RedirectURL: redirect}
	mc := msgraph.Config{}
	var hc *http.Client // for the token endpoint
	if a.emu != nil {
		conf.Endpoint = a.emu.graph.OAuthEndpoint(tenant)
		conf.Endpoint.AuthURL = graphAuthURL(a.cfg.PublicURL, tenant)
		hc = a.emu.graph.Client()
		mc.HTTPClient, mc.BaseURL = hc, a.emu.graph.URL()+"/v1.0"
	}
	cp := connect.Microsoft(msgraph.Name, conf, false)
	src, err := a.tokenSources(msgraph.Name, &cp.OAuth, hc)
	if err != nil {
		return nil, cp, err
	}
	mc.TokenSource = src.TokenSource
	p, err := msgraph.New(mc)
	return p, cp, err
}

// Handler returns the app's pages, connect flow, webhooks and /healthz.
func (a *app) Handler() http.Handler { return a.handler }

// Run runs the Engine's workers and sweeps until ctx is cancelled.
func (a *app) Run(ctx context.Context) error { return a.engine.Run(ctx) }

// Close stops the emulators and closes the store; call it after Run has
// returned.
func (a *app) Close() {
	for i := len(a.closers) - 1; i >= 0; i-- {
		a.closers[i]()
	}
	a.closers = nil
}

// routes mounts everything on one mux.
func (a *app) routes() (http.Handler, error) {
	// Cross-site request forgery: every POST a browser makes here goes
	// through net/http's CrossOriginProtection, which refuses requests
	// that Sec-Fetch-Site (or, from older browsers, Origin) says come from
	// another site. It needs no token in the forms and no server state.
	csrf := http.NewCrossOriginProtection()
	if err := csrf.AddTrustedOrigin(origin(a.cfg.PublicURL)); err != nil {
		return nil, err
	}
	form := func(h http.HandlerFunc) http.Handler { return csrf.Handler(h) }

	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", a.status)
	mux.Handle("POST /signin", form(a.signIn))
	mux.Handle("POST /signout", form(a.signOut))
	mux.Handle("GET /connect/start", a.flow.Start())
	mux.Handle("GET /connect/callback", a.flow.Callback())
	mux.Handle("POST /connect/choose", form(a.choose))
	mux.Handle("POST /accounts/disconnect", form(a.disconnect))
	mux.HandleFunc("GET /healthz", a.healthz)

	hooks, err := a.webhooks()
	if err != nil {
		return nil, err
	}
	mux.Handle("POST /hooks/", hooks)
	if a.emu != nil {
		a.emu.hookMux.Handle("/", hooks)
		a.emu.mount(mux)
	}
	return mux, nil
}

// webhooks returns the providers' notification handlers.
func (a *app) webhooks() (http.Handler, error) {
	mux := http.NewServeMux()
	for _, p := range a.providers {
		var (
			h   http.Handler
			err error
		)
		switch p.Name {
		case google.Name:
			h, err = webhook.NewGoogle(webhook.GoogleConfig{Sink: a.engine, Logger: a.log})
		case msgraph.Name:
			h, err = webhook.NewGraph(webhook.GraphConfig{Sink: a.engine, Logger: a.log})
		}
		if err != nil {
			return nil, err
		}
		mux.Handle("POST "+p.Hook, h)
	}
	return mux, nil
}

// origin returns scheme://host of an absolute URL.
func origin(u string) string {
	p, err := url.Parse(u)
	if err != nil {
		return u
	}
	return p.Scheme + "://" + p.Host
}

// provider returns the configured provider named name.
func (a *app) provider(name string) (providerInfo, bool) {
	for _, p := range a.providers {
		if p.Name == name {
			return p, true
		}
	}
	return providerInfo{}, false
}

// healthz answers 200 when the store answers a cheap query, else 503.
func (a *app) healthz(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
	defer cancel()
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	if _, err := a.store.Calendar(ctx, "healthz/probe"); err != nil && !errors.Is(err, calsync.ErrNotFound) {
		a.log.WarnContext(ctx, "healthz: store unavailable", "err", err)
		http.Error(w, "store unavailable", http.StatusServiceUnavailable)
		return
	}
	_, _ = w.Write([]byte("ok"))
}
