package sqlite_test

import (
	"bytes"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/calsync/calsync"
	"github.com/calsync/calsync/store/internal/fixture"
	"github.com/calsync/calsync/store/sqlite"
)

func schemaVersion(t *testing.T, path string) int {
	t.Helper()
	db, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var v int
	if err := db.QueryRow(`SELECT max(version) FROM schema_version`).Scan(&v); err != nil {
		t.Fatal(err)
	}
	return v
}

func TestMigrateFromOlderVersion(t *testing.T) {
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "old.db")
	old, err := sqlite.OpenAt(ctx, path, nil, 1)
	if err != nil {
		t.Fatal(err)
	}
	cal := calsync.Calendar{ID: "c", Provider: "google", AccountID: "a", RemoteID: "r"}
	if err := old.PutCalendar(ctx, cal); err != nil {
		t.Fatal(err)
	}
	ev := &calsync.Event{ID: "e", Status: "confirmed", Updated: time.Unix(1, 2)}
	// Version 1 has no ledger table.
	if _, err := old.BeginNotification(ctx, "k", time.Now()); err == nil {
		t.Fatal("BeginNotification on a version 1 schema succeeded")
	}
	old.Close()
	// An event and a cursor as the version 1 code wrote them (today's
	// Apply writes columns version 1 lacks).
	db, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec(`INSERT INTO events VALUES ('c', 'e', 'confirmed', '', '', 0, '', '', 0, '', '', NULL, NULL, NULL, NULL, '', '', ?, 1, 0, NULL);
		UPDATE calendars SET cursor = 'x' WHERE id = 'c'`, ev.Updated.UnixNano()); err != nil {
		t.Fatal(err)
	}
	db.Close()
	if v := schemaVersion(t, path); v != 1 {
		t.Fatalf("schema version after OpenAt(1) = %d", v)
	}

	s, err := sqlite.Open(ctx, path, nil)
	if err != nil {
		t.Fatalf("Open of a version 1 database: %v", err)
	}
	defer s.Close()
	if v, want := schemaVersion(t, path), sqlite.SchemaVersion(); v != want {
		t.Fatalf("schema version after Open = %d, want %d", v, want)
	}
	if got, err := s.Event(ctx, "c", "e"); err != nil || !got.Updated.Equal(ev.Updated) || got.Version != 1 {
		t.Fatalf("event after migration = %+v, %v", got, err)
	}
	if st, err := s.SyncState(ctx, "c"); err != nil || st.Cursor != "x" {
		t.Fatalf("sync state after migration = %+v, %v", st, err)
	}
	if seen, err := s.BeginNotification(ctx, "k", time.Now()); err != nil || seen {
		t.Fatalf("BeginNotification after migration = %v, %v", seen, err)
	}
}

func TestOpenNewerVersionFails(t *testing.T) {
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "new.db")
	s, err := sqlite.Open(ctx, path, nil)
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
	db, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec(`UPDATE schema_version SET version = 99`); err != nil {
		t.Fatal(err)
	}
	db.Close()

	_, err = sqlite.Open(ctx, path, nil)
	if !errors.Is(err, sqlite.ErrSchemaTooNew) {
		t.Fatalf("Open of a version 99 database: err = %v, want ErrSchemaTooNew", err)
	}
	if v := schemaVersion(t, path); v != 99 {
		t.Fatalf("failed Open changed the schema version to %d", v)
	}
}

func TestOpenBadConfig(t *testing.T) {
	for _, path := range []string{"", ":memory:", "file:x.db"} {
		if _, err := sqlite.Open(t.Context(), path, nil); err == nil {
			t.Errorf("Open(%q) succeeded", path)
		}
	}
	if _, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "x.db"), &sqlite.Config{BusyTimeout: -1}); err == nil {
		t.Error("Open with a negative BusyTimeout succeeded")
	}
}

func TestSecondOpenerSharesFile(t *testing.T) {
	// Two Stores (as two processes would) on one file: both migrate safely
	// and see each other's writes.
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "shared.db")
	a, err := sqlite.Open(ctx, path, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	b, err := sqlite.Open(ctx, path, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	if err := a.PutCalendar(ctx, calsync.Calendar{ID: "c"}); err != nil {
		t.Fatal(err)
	}
	if _, err := b.Calendar(ctx, "c"); err != nil {
		t.Fatalf("second Store does not see the first one's calendar: %v", err)
	}
}

// secretHashVersion is the first schema version that keeps subscription
// secrets as hashes; the one before it kept them in clear.
const secretHashVersion = 5

// A database written before secretHashVersion held each subscription's
// secret in clear. The migration replaces it with its SHA-256, and
// secure_delete makes SQLite overwrite what it frees, so the plaintext is
// gone from the file, not only from the table.
func TestMigrateHashesSecrets(t *testing.T) {
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "secrets.db")
	old, err := sqlite.OpenAt(ctx, path, nil, secretHashVersion-1)
	if err != nil {
		t.Fatal(err)
	}
	old.Close()
	// What an older calsync wrote: the secret in its own column.
	db, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	for id, secret := range fixture.LegacySecrets {
		if _, err := db.ExecContext(ctx, `INSERT INTO subscriptions (id, calendar_id, provider, resource_id, resource_uri, address, lifecycle_address, secret, expiration, created)
			VALUES (?, 'cal', 'google', 'res', '', 'https://example.com/hook', '', ?, 0, 0)`, id, secret); err != nil {
			t.Fatal(err)
		}
	}
	db.Close()

	s, err := sqlite.Open(ctx, path, nil)
	if err != nil {
		t.Fatalf("Open of a version %d database: %v", secretHashVersion-1, err)
	}
	fixture.CheckLegacySecretsHashed(t, ctx, s)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	files, err := filepath.Glob(path + "*") // the database and any -wal or -shm left
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for id, secret := range fixture.LegacySecrets {
			if secret != "" && bytes.Contains(b, []byte(secret)) {
				t.Errorf("%s still holds the plaintext secret of %s", filepath.Base(f), id)
			}
		}
	}
}

// secure_delete is on for every connection of the Store: what a deleted
// subscription or account token occupied is overwritten, not left in a
// free page.
func TestSecureDelete(t *testing.T) {
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "deleted.db")
	s, err := sqlite.Open(ctx, path, nil)
	if err != nil {
		t.Fatal(err)
	}
	const marker = "https://example.com/hook/c0ffee-d3l3t3d-subscr1pt10n"
	for i := range 50 {
		sub := calsync.Subscription{ID: fmt.Sprintf("sub-%02d", i), CalendarID: "cal", Provider: "google", Address: marker, Expiration: time.Unix(1, 0)}
		if err := s.PutSubscription(ctx, sub); err != nil {
			t.Fatal(err)
		}
	}
	for i := range 50 {
		if err := s.DeleteSubscription(ctx, fmt.Sprintf("sub-%02d", i)); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	files, _ := filepath.Glob(path + "*")
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if bytes.Contains(b, []byte(marker)) {
			t.Errorf("%s still holds a deleted subscription's bytes", filepath.Base(f))
		}
	}
}
