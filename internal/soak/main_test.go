package soak_test

import (
	"log/slog"
	"os"
	"testing"
)

// TestMain silences slog's default logger, every Engine's default Logger,
// unless CALSYNC_TEST_LOG is set: the soak fails syncs on purpose by the
// thousand, and each failure is logged.
func TestMain(m *testing.M) {
	if os.Getenv("CALSYNC_TEST_LOG") == "" {
		slog.SetDefault(slog.New(slog.DiscardHandler))
	}
	os.Exit(m.Run())
}
