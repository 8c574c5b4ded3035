package main

import (
	"context"
	"encoding/base64"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/calsync/calsync/vault"
)

func TestConfigure(t *testing.T) {
	key := base64.StdEncoding.EncodeToString(make([]byte, 32))
	env := func(kv ...string) func(string) string {
		m := map[string]string{}
		for i := 0; i+1 < len(kv); i += 2 {
			m[kv[i]] = kv[i+1]
		}
		return func(k string) string { return m[k] }
	}
	for _, tc := range []struct {
		name    string
		args    []string
		env     func(string) string
		wantErr string
		check   func(t *testing.T, cfg appConfig, addr string)
	}{
		{name: "real mode needs PUBLIC_URL", env: env("CALSYNC_VAULT_KEY", key), wantErr: "PUBLIC_URL is required"},
		{name: "real mode needs a vault key", env: env("PUBLIC_URL", "https://sync.example.com"), wantErr: "CALSYNC_VAULT_KEY is required"},
		{name: "bad vault key", env: env("PUBLIC_URL", "https://sync.example.com", "CALSYNC_VAULT_KEY", "c2hvcnQ="), wantErr: "CALSYNC_VAULT_KEY"},
		{
			name: "real mode",
			args: []string{"-addr", ":9000", "-postgres", "postgres://db/calsync", "-postgres-schema", "sync"},
			env: env("PUBLIC_URL", "https://sync.example.com", "CALSYNC_VAULT_KEY", key, "GOOGLE_CLIENT_ID", "g", "GOOGLE_CLIENT_SECRET", "gs",
				"MICROSOFT_CLIENT_ID", "m", "MICROSOFT_CLIENT_SECRET", "ms", "MICROSOFT_TENANT", "contoso.example"),
			check: func(t *testing.T, cfg appConfig, addr string) {
				if addr != ":9000" || cfg.Postgres != "postgres://db/calsync" || cfg.PostgresSchema != "sync" || cfg.Emulate || cfg.Google != (oauthClient{"g", "gs"}) ||
					cfg.Microsoft != (oauthClient{"m", "ms"}) || cfg.MicrosoftTenant != "contoso.example" || len(cfg.VaultKey) != 32 {
					t.Errorf("cfg = %+v, addr %q", cfg, addr)
				}
			},
		},
		{
			name: "emulate starts on a fresh store",
			args: []string{"-emulate"},
			env:  env(),
			check: func(t *testing.T, cfg appConfig, addr string) {
				if addr != ":8080" || cfg.PublicURL != "http://localhost:8080" || cfg.DB == "calsync.db" || !strings.HasPrefix(cfg.DB, os.TempDir()) {
					t.Errorf("cfg = %+v, addr %q", cfg, addr)
				}
				if cfg.TempDir != filepath.Dir(cfg.DB) {
					t.Errorf("TempDir %q, want the DB's directory", cfg.TempDir)
				}
				os.RemoveAll(cfg.TempDir)
			},
		},
		{
			name: "emulate needs nothing",
			args: []string{"-emulate", "-addr", "127.0.0.1:8123", "-db", "x.db"},
			env:  env(),
			check: func(t *testing.T, cfg appConfig, addr string) {
				if !cfg.Emulate || cfg.PublicURL != "http://localhost:8123" || cfg.DB != "x.db" || len(cfg.VaultKey) != 32 {
					t.Errorf("cfg = %+v", cfg)
				}
			},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg, addr, err := configure(tc.args, tc.env)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("configure = %v, want an error containing %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			tc.check(t, cfg, addr)
		})
	}
}

func TestNewAppRefusesPlainHTTPInRealMode(t *testing.T) {
	_, err := newApp(t.Context(), appConfig{PublicURL: "http://sync.example.com", DB: t.TempDir() + "/c.db", VaultKey: vault.NewKey(), Google: oauthClient{"g", "s"}})
	if err == nil || !strings.Contains(err.Error(), "https") {
		t.Errorf("newApp with an http PUBLIC_URL = %v, want an error about https", err)
	}
}

// The app on PostgreSQL (-postgres), in a schema of its own
// (-postgres-schema). Needs
// CALSYNC_TEST_POSTGRES_URL.
func TestPostgres(t *testing.T) {
	dsn := os.Getenv("CALSYNC_TEST_POSTGRES_URL")
	if dsn == "" {
		t.Skip("set CALSYNC_TEST_POSTGRES_URL (postgres://user@host:5432/db?sslmode=disable) to run the app on PostgreSQL")
	}
	ctx := t.Context()
	pool, err := pgxpool.New(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	schema := fmt.Sprintf("nethttp_%d", time.Now().UnixNano())
	t.Cleanup(func() { _, _ = pool.Exec(context.Background(), "DROP SCHEMA IF EXISTS "+schema+" CASCADE") })

	a, err := newApp(ctx, appConfig{PublicURL: "http://127.0.0.1", Postgres: dsn, PostgresSchema: schema, Emulate: true, VaultKey: vault.NewKey()})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	rec := httptest.NewRecorder()
	a.Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/healthz", nil))
	if rec.Code != http.StatusOK || rec.Body.String() != "ok" {
		t.Errorf("healthz on PostgreSQL = %d %q", rec.Code, rec.Body)
	}
	var tables int
	if err := pool.QueryRow(ctx, "SELECT count(*) FROM information_schema.tables WHERE table_schema = $1", schema).Scan(&tables); err != nil || tables == 0 {
		t.Errorf("the app created %d tables in its schema (%v), want its store's", tables, err)
	}
}

// Real mode builds with the real endpoints and no network call.
func TestNewAppRealMode(t *testing.T) {
	a, err := newApp(t.Context(), appConfig{PublicURL: "https://sync.example.com/", DB: t.TempDir() + "/c.db", VaultKey: vault.NewKey(),
		Google: oauthClient{"g", "gs"}, Microsoft: oauthClient{"m", "ms"}})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	if len(a.providers) != 2 || a.hookBase != "https://sync.example.com" || a.emu != nil {
		t.Errorf("providers %v, hook base %q", a.providers, a.hookBase)
	}
	rec := httptest.NewRecorder()
	req := httptest.NewRequest(http.MethodGet, "/connect/start?provider=msgraph", nil)
	req.AddCookie(&http.Cookie{Name: userCookie, Value: "u1"})
	a.Handler().ServeHTTP(rec, req)
	loc := rec.Header().Get("Location")
	if rec.Code != http.StatusFound || !strings.HasPrefix(loc, "https://login.microsoftonline.com/common/oauth2/v2.0/authorize?") ||
		!strings.Contains(loc, url.QueryEscape("https://sync.example.com/connect/callback")) {
		t.Errorf("start = %d, Location %q", rec.Code, loc)
	}
}
