// Package pgtest gives calsync's tests the test PostgreSQL server and
// schemas of their own in it.
package pgtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"os"
	"testing"

	"github.com/jackc/pgx/v5"
)

// EnvURL names the environment variable that holds the test server's URL
// (.ci/run sets it, so no PostgreSQL test skips in CI).
const EnvURL = "CALSYNC_TEST_POSTGRES_URL"

// URL returns the test server's URL, or skips tb saying how to set it.
func URL(tb testing.TB) string {
	tb.Helper()
	url := os.Getenv(EnvURL)
	if url == "" {
		tb.Skipf("PostgreSQL tests skipped: set %s, e.g. %s=postgres://postgres@127.0.0.1:5432/test?sslmode=disable (.ci/run sets it)", EnvURL, EnvURL)
	}
	return url
}

// Schema returns the name of a schema no other test uses (prefix and
// random hex), dropped with everything in it when tb ends. It does not
// create the schema: the code under test may be what does. It skips tb
// without a server, as URL does.
func Schema(tb testing.TB, prefix string) string {
	tb.Helper()
	url := URL(tb)
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	schema := prefix + hex.EncodeToString(b)
	tb.Cleanup(func() {
		ctx := context.Background()
		c, err := pgx.Connect(ctx, url)
		if err != nil {
			tb.Errorf("drop schema %s: %v", schema, err)
			return
		}
		defer c.Close(ctx)
		if _, err := c.Exec(ctx, "DROP SCHEMA IF EXISTS "+pgx.Identifier{schema}.Sanitize()+" CASCADE"); err != nil {
			tb.Errorf("drop schema %s: %v", schema, err)
		}
	})
	return schema
}
