package postgres_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/calsync/calsync"
	"github.com/calsync/calsync/store/postgres"
	"github.com/calsync/calsync/store/storetest"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// scratchDB creates a database of the test's own on the test server and
// returns its URL; the database is dropped when the test ends. Tests of
// the default schema and of the public schema use one, so that they
// disturb no other test in the shared database.
func scratchDB(t *testing.T) string {
	t.Helper()
	base := testURL(t)
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	name := "calsync_scratch_" + hex.EncodeToString(b)
	ctx := context.Background()
	admin, err := pgx.Connect(ctx, base)
	if err != nil {
		t.Fatalf("connect to %s: %v", envURL, err)
	}
	defer admin.Close(ctx)
	if _, err := admin.Exec(ctx, "CREATE DATABASE "+name); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		c, err := pgx.Connect(context.Background(), base)
		if err != nil {
			t.Errorf("drop database %s: %v", name, err)
			return
		}
		defer c.Close(context.Background())
		if _, err := c.Exec(context.Background(), "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)"); err != nil {
			t.Errorf("drop database %s: %v", name, err)
		}
	})
	u, err := url.Parse(base)
	if err != nil {
		t.Fatal(err)
	}
	u.Path = "/" + name
	return u.String()
}

// hostTables is a host application's own schema, in public: tables named
// as calsync's are, shaped otherwise, with rows, and a schema_version
// table of the host's migration tool.
const hostTables = `
CREATE TABLE calendars (id serial PRIMARY KEY, owner_email text NOT NULL, color text);
CREATE TABLE events (id bigserial PRIMARY KEY, calendar_id integer NOT NULL REFERENCES calendars (id),
	title text NOT NULL, starts_at timestamptz NOT NULL, ends_at timestamptz);
CREATE INDEX events_starts ON events (starts_at);
CREATE TABLE subscriptions (id bigserial PRIMARY KEY, customer text NOT NULL, plan text NOT NULL, renews date);
CREATE TABLE schema_version (version text NOT NULL);
INSERT INTO calendars (owner_email, color) VALUES ('ada@example.com', 'blue'), ('bob@example.com', NULL);
INSERT INTO events (calendar_id, title, starts_at, ends_at) VALUES
	(1, 'Standup', '2026-03-02 09:00+00', '2026-03-02 09:15+00'),
	(2, 'Dentist', '2026-03-03 14:00+00', NULL);
INSERT INTO subscriptions (customer, plan, renews) VALUES ('acme', 'pro', '2027-01-01');
INSERT INTO schema_version (version) VALUES ('20260101_host');
`

// publicSnapshot returns the definition and content of every table in
// public: its columns, indexes and rows.
func publicSnapshot(t *testing.T, pool *pgxpool.Pool) string {
	t.Helper()
	ctx := context.Background()
	var cols, idx string
	if err := pool.QueryRow(ctx, `SELECT coalesce(string_agg(format('%s.%s %s %s %s', table_name, column_name, data_type, is_nullable, column_default), E'\n'
		ORDER BY table_name, ordinal_position), '') FROM information_schema.columns WHERE table_schema = 'public'`).Scan(&cols); err != nil {
		t.Fatal(err)
	}
	if err := pool.QueryRow(ctx, `SELECT coalesce(string_agg(indexdef, E'\n' ORDER BY indexname), '') FROM pg_indexes WHERE schemaname = 'public'`).Scan(&idx); err != nil {
		t.Fatal(err)
	}
	out := cols + "\n" + idx
	for _, table := range []string{"calendars", "events", "subscriptions", "schema_version"} {
		var rows string
		if err := pool.QueryRow(ctx, `SELECT coalesce(jsonb_agg(to_jsonb(t) ORDER BY to_jsonb(t)::text), '[]')::text FROM public.`+table+` t`).Scan(&rows); err != nil {
			t.Fatal(err)
		}
		out += "\n" + table + ": " + rows
	}
	return out
}

// A host whose database already has its own calendars, events,
// subscriptions and schema_version tables (in public, the first schema of
// its search_path) opens the Store with the default Config: calsync's
// tables go to the calsync schema, the Store passes the conformance suite
// there, and the host's tables, rows and search_path are as they were.
func TestBesideHostTables(t *testing.T) {
	ctx := t.Context()
	dbURL := scratchDB(t)
	host, err := pgxpool.New(ctx, dbURL)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(host.Close)
	if _, err := host.Exec(ctx, hostTables); err != nil {
		t.Fatal(err)
	}
	before := publicSnapshot(t, host)

	st, err := postgres.New(ctx, host, nil)
	if err != nil {
		t.Fatalf("New beside the host's tables: %v", err)
	}
	if st.Schema() != postgres.DefaultSchema {
		t.Errorf("Schema() = %q, want %q", st.Schema(), postgres.DefaultSchema)
	}
	storetest.Run(t, func(t *testing.T) calsync.Store { return st }, storetest.Features{Parallel: true})

	// A second instance, with a pool of its own, finds the schema migrated.
	other, err := postgres.Open(ctx, dbURL, nil)
	if err != nil {
		t.Fatalf("Open of a second instance: %v", err)
	}
	other.Close()

	if after := publicSnapshot(t, host); after != before {
		t.Errorf("the host's tables changed:\nbefore:\n%s\nafter:\n%s", before, after)
	}
	var tables int
	if err := host.QueryRow(ctx, `SELECT count(*) FROM pg_tables WHERE schemaname = $1`, postgres.DefaultSchema).Scan(&tables); err != nil || tables == 0 {
		t.Errorf("%d tables in schema %s (%v), want calsync's", tables, postgres.DefaultSchema, err)
	}
	var path string
	if err := host.QueryRow(ctx, `SHOW search_path`).Scan(&path); err != nil || path != `"$user", public` {
		t.Errorf("the host's search_path is %q (%v), want the server's default", path, err)
	}
}

// Deployments of a calsync from before Config.Schema have their tables in
// public. With the default Config, New refuses to start afresh beside
// them (and creates nothing); Config.Schema "public" keeps using them; an
// explicit Config.Schema starts afresh.
func TestLegacyLayout(t *testing.T) {
	ctx := t.Context()
	pool, err := pgxpool.New(ctx, scratchDB(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	old := &postgres.Config{Schema: "public"}
	st, err := postgres.New(ctx, pool, old)
	if err != nil {
		t.Fatal(err)
	}
	if err := st.PutCalendar(ctx, calsync.Calendar{ID: "kept", Provider: "google"}); err != nil {
		t.Fatal(err)
	}

	for _, cfg := range []*postgres.Config{nil, {SkipMigrations: true}} {
		if _, err := postgres.New(ctx, pool, cfg); !errors.Is(err, postgres.ErrLegacyLayout) {
			t.Fatalf("New(%+v) beside tables in public: err = %v, want ErrLegacyLayout", cfg, err)
		}
	}
	var created bool
	if err := pool.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM pg_namespace WHERE nspname = $1)`, postgres.DefaultSchema).Scan(&created); err != nil || created {
		t.Errorf("the refused New left schema %s behind (%v, %v)", postgres.DefaultSchema, created, err)
	}

	again, err := postgres.New(ctx, pool, old)
	if err != nil {
		t.Fatalf("New with Schema public: %v", err)
	}
	if _, err := again.Calendar(ctx, "kept"); err != nil {
		t.Errorf("the calendar in public: %v", err)
	}
	fresh, err := postgres.New(ctx, pool, &postgres.Config{Schema: postgres.DefaultSchema})
	if err != nil {
		t.Fatalf("New with an explicit Schema: %v", err)
	}
	if cals, err := fresh.ListCalendars(ctx); err != nil || len(cals) != 0 {
		t.Errorf("calendars in the fresh schema = %v, %v; want none", cals, err)
	}
}

// Two Stores in two schemas of one database, on one pool, share nothing.
func TestSchemasIndependent(t *testing.T) {
	ctx := t.Context()
	a := newTestDB(t)
	b := newTestDB(t)
	sa, err := postgres.New(ctx, a.pool, a.cfg())
	if err != nil {
		t.Fatal(err)
	}
	sb, err := postgres.New(ctx, a.pool, b.cfg()) // a's pool, b's schema
	if err != nil {
		t.Fatal(err)
	}
	if err := sa.PutCalendar(ctx, calsync.Calendar{ID: "c", Provider: "google"}); err != nil {
		t.Fatal(err)
	}
	if _, err := sb.Calendar(ctx, "c"); !errors.Is(err, calsync.ErrNotFound) {
		t.Errorf("b's Calendar(c) = %v, want ErrNotFound", err)
	}
	if err := sb.PutCalendar(ctx, calsync.Calendar{ID: "c", Provider: "microsoft"}); err != nil {
		t.Fatal(err)
	}
	if err := sb.DeleteCalendar(ctx, "c"); err != nil {
		t.Fatal(err)
	}
	if c, err := sa.Calendar(ctx, "c"); err != nil || c.Provider != "google" {
		t.Errorf("a's calendar after b deleted its own = %+v, %v", c, err)
	}
	if seen, err := sa.BeginNotification(ctx, "k", time.Now()); err != nil || seen {
		t.Fatalf("a's BeginNotification = %v, %v", seen, err)
	}
	if seen, err := sb.BeginNotification(ctx, "k", time.Now()); err != nil || seen {
		t.Errorf("b's BeginNotification of a key a claimed = %v, %v; want a claim of its own", seen, err)
	}
}

func TestSchemaNameInvalid(t *testing.T) {
	// New checks the name before it uses the pool: a pool that cannot
	// connect shows that no statement ran.
	pool, err := pgxpool.New(t.Context(), "postgres://nobody@127.0.0.1:1/none?connect_timeout=1")
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	for _, name := range []string{strings.Repeat("s", 64), "   ", "pg_calsync", "information_schema", "a\x00b", "\xff"} {
		for _, skip := range []bool{false, true} {
			_, err := postgres.New(t.Context(), pool, &postgres.Config{Schema: name, SkipMigrations: skip})
			if err == nil || !strings.Contains(err.Error(), "Config.Schema") {
				t.Errorf("New with Schema %q (SkipMigrations %v): err = %v, want one about Config.Schema", name, skip, err)
			}
		}
	}
	if err := postgres.Migrate(t.Context(), pool, &postgres.Config{Schema: strings.Repeat("s", 64)}); err == nil || !strings.Contains(err.Error(), "Config.Schema") {
		t.Errorf("Migrate with a 64-byte schema name: err = %v", err)
	}
}

// migrationName is the file name golang-migrate's iofs source accepts
// for an up migration, whose version goose also reads from the digits
// before the first underscore.
var migrationName = regexp.MustCompile(`^([0-9]+)_[a-z0-9_]+\.up\.sql$`)

// gooseStatements splits a migration file as goose does a file without
// StatementBegin/End annotations: comment lines are dropped and a
// statement ends at a line that ends with a semicolon. It fails the test
// on a file that such a split would get wrong (a dollar-quoted body, a
// semicolon inside a line, or no "-- +goose Up" first).
func gooseStatements(t *testing.T, name, file string) []string {
	t.Helper()
	if !strings.HasPrefix(file, "-- +goose Up\n") {
		t.Fatalf("%s does not start with the line -- +goose Up", name)
	}
	if strings.Contains(file, "$$") || strings.Contains(strings.ToLower(file), "+goose statementbegin") {
		t.Fatalf("%s needs goose StatementBegin/End annotations", name)
	}
	var out []string
	var stmt strings.Builder
	for line := range strings.Lines(file) {
		trim := strings.TrimSpace(line)
		if strings.HasPrefix(trim, "--") || trim == "" {
			continue
		}
		code, _, _ := strings.Cut(trim, "--")
		code = strings.TrimSpace(code)
		if i := strings.Index(code, ";"); i >= 0 && i != len(code)-1 {
			t.Fatalf("%s: a semicolon inside the line %q", name, line)
		}
		stmt.WriteString(line)
		if strings.HasSuffix(code, ";") {
			out = append(out, stmt.String())
			stmt.Reset()
		}
	}
	if strings.TrimSpace(stmt.String()) != "" {
		t.Fatalf("%s ends with a statement without a semicolon: %q", name, stmt.String())
	}
	return out
}

// The files of Migrations, applied one statement at a time in version
// order as a migration tool would (on a connection whose search_path is
// the schema, without Migrate), give a schema that New with
// SkipMigrations accepts, that passes the conformance suite, and that has
// the columns, indexes and version Migrate gives. Rows written before
// version 9 are found by EventsBetween without Migrate's backfill.
func TestMigrationsFS(t *testing.T) {
	ctx := t.Context()
	db := newTestDB(t)
	if _, err := db.pool.Exec(ctx, "CREATE SCHEMA "+pgx.Identifier{db.schema}.Sanitize()); err != nil {
		t.Fatal(err)
	}
	cfg, err := pgxpool.ParseConfig(testURL(t))
	if err != nil {
		t.Fatal(err)
	}
	cfg.ConnConfig.RuntimeParams["search_path"] = pgx.Identifier{db.schema}.Sanitize()
	tool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(tool.Close)

	entries, err := fs.ReadDir(postgres.Migrations(), ".")
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != postgres.SchemaVersion() {
		t.Fatalf("Migrations has %d files, SchemaVersion is %d", len(entries), postgres.SchemaVersion())
	}
	for i, e := range entries { // fs.ReadDir sorts by name: version order
		m := migrationName.FindStringSubmatch(e.Name())
		if m == nil {
			t.Fatalf("migration file name %q is not N_name.up.sql", e.Name())
		}
		if v, _ := strconv.Atoi(m[1]); v != i+1 {
			t.Fatalf("migration %q is number %d", e.Name(), i+1)
		}
		b, err := fs.ReadFile(postgres.Migrations(), e.Name())
		if err != nil {
			t.Fatal(err)
		}
		stmts := gooseStatements(t, e.Name(), string(b))
		want := fmt.Sprintf("UPDATE schema_version SET version = %d;", i+1)
		if i == 0 {
			want = "INSERT INTO schema_version (version) VALUES (1);"
		}
		if last := strings.TrimSpace(stmts[len(stmts)-1]); last != want {
			t.Fatalf("%s does not end by recording its version (%q): %q", e.Name(), want, last)
		}
		for _, stmt := range stmts {
			if _, err := tool.Exec(ctx, stmt); err != nil {
				t.Fatalf("%s: %q: %v", e.Name(), stmt, err)
			}
		}
		if i+1 == 8 { // a series written before the time index
			if _, err := tool.Exec(ctx, `INSERT INTO calendars (id, provider, account_id, remote_id) VALUES ('old', 'google', 'a', 'r')`); err != nil {
				t.Fatal(err)
			}
			if _, err := tool.Exec(ctx, `INSERT INTO events (calendar_id, id, status, summary, start_date, start_time, start_tz, end_date, end_time, end_tz,
				recurring_event_id, recurrence, ical_uid, etag, updated, version, generation)
				VALUES ('old', 's', 'confirmed', '', '', '2026-03-02T08:00:00Z', 'Europe/Berlin', '', '2026-03-02T09:00:00Z', 'Europe/Berlin', '',
				ARRAY['RRULE:FREQ=WEEKLY'], '', '', now(), 1, 0)`); err != nil {
				t.Fatal(err)
			}
		}
	}

	st, err := postgres.New(ctx, db.pool, &postgres.Config{Schema: db.schema, SkipMigrations: true})
	if err != nil {
		t.Fatalf("New with SkipMigrations on the tool-migrated schema: %v", err)
	}
	start := time.Date(2027, 3, 1, 0, 0, 0, 0, time.UTC)
	if got, err := st.EventsBetween(ctx, "old", start, start.AddDate(0, 1, 0)); err != nil || len(got) != 1 || got[0].ID != "s" {
		t.Errorf("EventsBetween of a series written before version 9 = %v, %v; want the series", got, err)
	}
	storetest.Run(t, func(t *testing.T) calsync.Store { return st }, storetest.Features{Parallel: true})

	ref := newTestDB(t)
	if err := postgres.Migrate(ctx, ref.pool, ref.cfg()); err != nil {
		t.Fatal(err)
	}
	if got, want := schemaShape(t, db), schemaShape(t, ref); got != want {
		t.Errorf("the tool-migrated schema differs from Migrate's:\n%s\nMigrate's:\n%s", got, want)
	}
}

// schemaShape describes db's schema: its columns, indexes and version.
func schemaShape(t *testing.T, db testDB) string {
	t.Helper()
	var cols, idx string
	var v int
	ctx := context.Background()
	if err := db.pool.QueryRow(ctx, `SELECT string_agg(format('%s.%s %s %s %s %s', table_name, column_name, data_type, is_nullable, column_default, collation_name), E'\n'
		ORDER BY table_name, ordinal_position) FROM information_schema.columns WHERE table_schema = $1`, db.schema).Scan(&cols); err != nil {
		t.Fatal(err)
	}
	if err := db.pool.QueryRow(ctx, `SELECT string_agg(replace(indexdef, $1, 'S'), E'\n' ORDER BY indexname) FROM pg_indexes WHERE schemaname = $1`, db.schema).Scan(&idx); err != nil {
		t.Fatal(err)
	}
	if err := db.pool.QueryRow(ctx, db.sql(`SELECT version FROM {schema}.schema_version`)).Scan(&v); err != nil {
		t.Fatal(err)
	}
	return cols + "\n" + idx + "\nversion " + strconv.Itoa(v)
}
