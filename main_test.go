package calsync_test

import (
	"log/slog"
	"os"
	"testing"
)

// TestMain silences slog's default logger, which is every Engine's default
// Logger, unless CALSYNC_TEST_LOG is set: the tests fail syncs on purpose,
// and each failure is logged at Error.
func TestMain(m *testing.M) {
	if os.Getenv("CALSYNC_TEST_LOG") == "" {
		slog.SetDefault(slog.New(slog.DiscardHandler))
	}
	os.Exit(m.Run())
}
