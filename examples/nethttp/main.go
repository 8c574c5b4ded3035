// Command nethttp is a whole host app on net/http: users sign in, connect
// their Google and Outlook calendars through the OAuth connect flow, pick
// the calendars to sync, and see on a status page how each calendar syncs
// and whether an account needs reconnecting.
//
// # Run it with no accounts: -emulate
//
//	go run ./examples/nethttp -emulate
//
// then open http://localhost:8080 and sign in with any name. The Google
// Calendar and Microsoft Graph emulators run in the process, with their
// identity providers (the consent is automatic), seeded calendars and
// events, and pushes to a loopback HTTPS receiver. Their state lives as
// long as the process, so a random vault key is generated and the SQLite
// file is a new temporary one unless -db is given. The GOOGLE_* and
// MICROSOFT_* variables are ignored: demo clients are registered with the
// emulators.
//
// browser_test.go clicks through the whole app this way in headless
// Chromium, revoked grants included, and saves screenshots:
//
//	CALSYNC_SCREENSHOTS=/tmp/shots go test ./examples/nethttp
//
// # Run it for real
//
// Register an OAuth client with Google (Google Cloud console, "Web
// application") and with Microsoft (Entra app registration, "Web"
// platform), each with the redirect URI
//
//	$PUBLIC_URL/connect/callback
//
// and serve the app behind an HTTPS reverse proxy or tunnel that reaches
// -addr at PUBLIC_URL (the providers redirect and push only to HTTPS):
//
//	export GOOGLE_CLIENT_ID=... GOOGLE_CLIENT_SECRET=...
//	export MICROSOFT_CLIENT_ID=... MICROSOFT_CLIENT_SECRET=... MICROSOFT_TENANT=common
//	export PUBLIC_URL=https://sync.example.com
//	export CALSYNC_VAULT_KEY=$(head -c32 /dev/urandom | base64)
//	go run ./examples/nethttp -addr :8080 -db calsync.db
//
// A provider whose client id is unset is left out. -postgres URL keeps
// everything in PostgreSQL instead of SQLite, in the schema
// -postgres-schema (default calsync). Keep CALSYNC_VAULT_KEY
// secret and stable: it seals the users' OAuth tokens in the database.
//
// # What a real app changes
//
// The sign-in is fake: a cookie holding any name, which anyone can set. A
// real app takes the user from its own session (connect.Config.User).
// The POST forms are guarded against cross-site request forgery by
// net/http's CrossOriginProtection (Sec-Fetch-Site and Origin), which
// modern browsers make sufficient without tokens.
//
// # Routes
//
//	GET  /                     status page, or the sign-in form
//	POST /signin, /signout     the fake sign-in
//	GET  /connect/start        ?provider=google|msgraph: to the consent page
//	GET  /connect/callback     the OAuth redirect URI: to the calendar picker
//	POST /connect/choose       sync the picked calendars
//	POST /accounts/disconnect  stop syncing an account, forget its token
//	POST /hooks/google         Google push notifications
//	POST /hooks/graph          Microsoft Graph change and lifecycle notifications
//	GET  /healthz              200 "ok" when the store answers, else 503
//
// With -emulate, GET /emulator/graph/{tenant}/oauth2/v2.0/authorize relays
// the browser to the Graph emulator's consent, whose HTTPS certificate no
// browser trusts.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"github.com/calsync/calsync/store/postgres"
	"github.com/calsync/calsync/vault"
)

func main() {
	log := slog.New(slog.NewTextHandler(os.Stderr, nil))
	cfg, addr, err := configure(os.Args[1:], os.Getenv)
	if err != nil {
		fmt.Fprintln(os.Stderr, "nethttp:", err)
		os.Exit(2)
	}
	cfg.Logger = log
	if err := run(cfg, addr); err != nil {
		log.Error("nethttp", "err", err)
		os.Exit(1)
	}
}

// configure reads the flags in args and the environment through getenv.
func configure(args []string, getenv func(string) string) (cfg appConfig, addr string, err error) {
	fs := flag.NewFlagSet("nethttp", flag.ContinueOnError)
	fs.StringVar(&addr, "addr", ":8080", "address to listen on")
	fs.StringVar(&cfg.DB, "db", "calsync.db", "SQLite database file (with -emulate: a new temporary one unless given)")
	fs.StringVar(&cfg.Postgres, "postgres", "", "PostgreSQL URL (instead of -db)")
	fs.StringVar(&cfg.PostgresSchema, "postgres-schema", postgres.DefaultSchema, "PostgreSQL schema of calsync's tables, beside the app's own (created if missing)")
	fs.BoolVar(&cfg.Emulate, "emulate", false, "run against in-process emulators of Google and Microsoft Graph")
	if err := fs.Parse(args); err != nil {
		return cfg, "", err
	}
	dbSet := false
	fs.Visit(func(f *flag.Flag) { dbSet = dbSet || f.Name == "db" })
	cfg.Google = oauthClient{ID: getenv("GOOGLE_CLIENT_ID"), Secret: getenv("GOOGLE_CLIENT_SECRET")}
	cfg.Microsoft = oauthClient{ID: getenv("MICROSOFT_CLIENT_ID"), Secret: getenv("MICROSOFT_CLIENT_SECRET")}
	cfg.MicrosoftTenant = getenv("MICROSOFT_TENANT")
	cfg.PublicURL = getenv("PUBLIC_URL")
	if cfg.PublicURL == "" {
		if !cfg.Emulate {
			return cfg, "", errors.New("PUBLIC_URL is required (the public https:// URL that reaches -addr), unless -emulate")
		}
		_, port, err := net.SplitHostPort(addr)
		if err != nil {
			return cfg, "", fmt.Errorf("-addr %q: %w", addr, err)
		}
		cfg.PublicURL = "http://localhost:" + port
	}
	if cfg.Emulate && !dbSet {
		// The emulators start empty each run: so does the store.
		dir, err := os.MkdirTemp("", "calsync-nethttp-")
		if err != nil {
			return cfg, "", err
		}
		cfg.DB, cfg.TempDir = filepath.Join(dir, "calsync.db"), dir
	}
	if k := getenv("CALSYNC_VAULT_KEY"); k != "" {
		if cfg.VaultKey, err = vault.ParseKey(k); err != nil {
			return cfg, "", fmt.Errorf("CALSYNC_VAULT_KEY: %w", err)
		}
	} else if cfg.Emulate {
		// Tokens sealed with it cannot be opened by the next run: the
		// accounts then need reconnecting, which the demo shows well.
		cfg.VaultKey = vault.NewKey()
	} else {
		return cfg, "", errors.New("CALSYNC_VAULT_KEY is required: 32 random bytes, base64")
	}
	return cfg, addr, nil
}

// run serves the app on addr until SIGINT or SIGTERM, then shuts down:
// the server first (in-flight requests finish, new ones are refused),
// then the Engine.
func run(cfg appConfig, addr string) error {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if cfg.TempDir != "" {
		defer os.RemoveAll(cfg.TempDir)
	}
	a, err := newApp(ctx, cfg)
	if err != nil {
		return err
	}
	defer a.Close()

	srv := &http.Server{
		Addr:              addr,
		Handler:           a.Handler(),
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       15 * time.Second,
		WriteTimeout:      60 * time.Second, // a Connect runs the calendar's first sync
		IdleTimeout:       2 * time.Minute,
	}
	runCtx, stopEngine := context.WithCancel(context.Background())
	defer stopEngine()
	engineDone := make(chan error, 1)
	go func() { engineDone <- a.Run(runCtx) }()

	serveErr := make(chan error, 1)
	go func() { serveErr <- srv.ListenAndServe() }()
	cfg.Logger.Info("listening", "addr", addr, "url", cfg.PublicURL, "emulate", cfg.Emulate)

	select {
	case err = <-serveErr:
		err = fmt.Errorf("serve: %w", err)
	case err = <-engineDone:
		err = fmt.Errorf("engine stopped: %w", err)
		engineDone <- nil
	case <-ctx.Done():
		cfg.Logger.Info("shutting down")
		err = nil
	}
	shutdown, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if serr := srv.Shutdown(shutdown); serr != nil {
		cfg.Logger.Warn("shutdown", "err", serr)
	}
	stopEngine()
	if rerr := <-engineDone; rerr != nil && !errors.Is(rerr, context.Canceled) && err == nil {
		err = rerr
	}
	return err
}
